"""Every staff page an admin can reach, crawled from the dashboard and from every URL without parameters:
no inline script, style or event handler (the CSP would block them), and a label for every form field."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from io import StringIO
from urllib.parse import urldefrag, urlparse

import pytest
from django.core.management import call_command
from django.urls import reverse

from backups.sweep import sweep
from drportal.incidents.models import Incident
from drportal.lib import clock
from scenarios import engine, loader
from tests.accounts.test_role_matrix import ALL_URLS, sample_url

SKIP = ("/admin/", "/static/", "/logout/", "/api/", "/healthz")
DOWNLOADS = (".csv", ".pdf", ".zip", ".json")
UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}



class PageAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.links: list[str] = []
        self.label_for: set[str] = set()
        self.fields: list[tuple[str, dict]] = []
        self.in_label = 0
        self.in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name, _ in attrs:
            if name == "style":
                self.problems.append(f"style= on <{tag}>")
            if name.startswith("on"):
                self.problems.append(f"{name}= on <{tag}>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script" and not a.get("src"):
            self.problems.append("<script> without src")
        if tag == "a" and a.get("href", "").startswith("javascript:"):
            self.problems.append("javascript: link")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea"):
            if tag == "input" and (a.get("type") or "text") in UNLABELLED_TYPES:
                return
            self.fields.append((tag, {**a, "_wrapped": bool(self.in_label)}))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.in_label:
            self.in_label -= 1

    def unlabelled(self) -> list[str]:
        return [f"<{tag} name={a.get('name')!r}>" for tag, a in self.fields
                if not (a["_wrapped"] or a.get("aria-label") or a.get("aria-labelledby")
                        or (a.get("id") and a["id"] in self.label_for))]


@pytest.fixture
def world(db, alice):
    call_command("import_inventory", "inventories/jivosoft.yaml", stdout=StringIO())
    sweep(clock.now())
    incident = Incident.objects.create(title="Rackspace Dallas offline", severity="sev1",
                                       disaster_class="datacenter_offline", declared_at=clock.now(),
                                       declared_by=alice)
    engine.start_run(incident, loader.library().get("jivosoft-datacenter-offline"), alice)
    return incident


def test_no_staff_page_has_inline_code_or_unlabelled_fields(client_as, world):
    client = client_as("ada")
    todo = [reverse("dashboard")]
    for name, pattern in ALL_URLS:
        if not getattr(pattern.pattern, "converters", {}) and not pattern.pattern.regex.groupindex:
            url = sample_url(name, pattern)
            if url:
                todo.append(url)
    seen: set[str] = set()
    problems: dict[str, list[str]] = {}
    pages = 0
    while todo and len(seen) < 250:
        url = urldefrag(todo.pop())[0]
        if url in seen or url.startswith(SKIP) or url.endswith(DOWNLOADS):
            continue
        seen.add(url)
        response = client.get(url)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        pages += 1
        audit = PageAudit()
        audit.feed(response.content.decode())
        found = audit.problems + [f"no label: {f}" for f in audit.unlabelled()]
        if found:
            problems[url] = sorted(set(found))
        for href in audit.links:
            parsed = urlparse(href)
            if not parsed.netloc and parsed.path.startswith("/") and not re.search(r"[?&]page=\d{2,}", href):
                todo.append(parsed.path + (f"?{parsed.query}" if parsed.query else ""))
    assert pages >= 30, f"only {pages} pages crawled"
    assert problems == {}


def test_the_audit_catches_what_the_csp_would_block():
    audit = PageAudit()
    audit.feed('<div style="color:red"><button onclick="x()">Go</button><script>alert(1)</script>'
               '<script src="/static/a.js"></script><label for="a">A</label><input id="a" name="a">'
               '<label>B <input name="b"></label><input name="c"><input type="hidden" name="d"></div>')
    assert audit.problems == ["style= on <div>", "onclick= on <button>", "<script> without src"]
    assert audit.unlabelled() == ["<input name='c'>"]
