// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  for (const el of document.querySelectorAll("[data-confirm]")) {
    el.addEventListener("click", (ev) => {
      if (!window.confirm(el.dataset.confirm)) ev.preventDefault();
    });
  }
});
