"""Refresh docs/screenshots/ from a running `make run`, at a desktop and a phone width, and check that no page
scrolls sideways on the phone.

    PORT=8300 make run    # in another shell
    .venv/bin/python -m tests.browser.screens --url http://127.0.0.1:8300 --password "$(cat var/demo_password)"

Each page is opened as the role that uses it (headless Chromium from Debian, through Playwright); its first
screenful is saved as docs/screenshots/<name>-<width>.jpg. Exits 1, naming the pages, when one is wider than
the phone's screen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Debian's Chromium (no `playwright install`); the browser tests launch it the same way (tests/browser/conftest).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = {1400: 900, 390: 844}
# (name, role, path): what each role opens first.
PAGES = [
    ("dashboard", "manager", "/"),
    ("incidents", "ops", "/incidents/"),
    ("scenarios", "ops", "/scenarios/"),
    ("drills", "manager", "/scenarios/drills/"),
    ("backups", "ops", "/backups/"),
    ("exposure", "manager", "/backups/exposure/"),
    ("compliance", "manager", "/backups/compliance/"),
    ("notices", "support", "/notifications/"),
    ("outbox", "support", "/outbox/"),
    ("cloud-accounts", "admin", "/cloud/accounts/"),
]


def overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def take(url: str, password: str, out: Path = OUT) -> dict[str, int]:
    """Save every page at every width; the pages wider than the phone's screen, with by how many pixels."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    too_wide: dict[str, int] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width, height in WIDTHS.items():
            for role in sorted({role for _, role, _ in PAGES}):
                context = browser.new_context(viewport={"width": width, "height": height},
                                              timezone_id="America/Chicago")
                page = context.new_page()
                page.goto(f"{url}/login/")
                page.get_by_label("User name").fill(role)
                page.get_by_label("Password").fill(password)
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(f"{url}/")
                for name, who, path in PAGES:
                    if who != role:
                        continue
                    page.goto(f"{url}{path}")
                    page.screenshot(path=str(out / f"{name}-{width}.jpg"), type="jpeg", quality=60)
                    extra = overflow(page)
                    if width < 500 and extra > 1:
                        too_wide[path] = extra
                context.close()
        browser.close()
    return too_wide


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--password", required=True, help="the demo logins' password (var/demo_password)")
    args = parser.parse_args()
    too_wide = take(args.url.rstrip("/"), args.password)
    for path, extra in too_wide.items():
        print(f"{path} is {extra} px wider than a 390 px screen", file=sys.stderr)
    print(f"saved {len(PAGES) * len(WIDTHS)} screenshots in {OUT}")
    return 1 if too_wide else 0


if __name__ == "__main__":
    sys.exit(main())
