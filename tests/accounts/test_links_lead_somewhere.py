"""A link a person is shown is a link they may follow: every link in the navigation bars of the staff pages
opens for the role that was shown it. (A newcomer's walk found support offered "Compliance" and managers
"API tokens" on the backups pages, each answering 403.)"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

pytestmark = pytest.mark.django_db

PAGES = ["/", "/backups/", "/backups/policies/", "/backups/exposure/", "/backups/unmatched/", "/incidents/",
         "/scenarios/", "/inventory/servers/"]


class NavLinks(HTMLParser):
    """The hrefs inside <nav> elements."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.hrefs = 0, set()

    def handle_starttag(self, tag, attrs):
        if tag == "nav":
            self.depth += 1
        elif tag == "a" and self.depth:
            href = dict(attrs).get("href") or ""
            if href.startswith("/") and not href.startswith("//"):
                self.hrefs.add(href)

    def handle_endtag(self, tag):
        if tag == "nav" and self.depth:
            self.depth -= 1


def nav_links(html: str) -> set[str]:
    parser = NavLinks()
    parser.feed(html)
    return parser.hrefs


@pytest.mark.parametrize("who", ["alice", "mona", "sam", "ada"])
def test_every_navigation_link_a_role_is_shown_opens_for_it(who, client, users):
    client.force_login(users[who])
    shown: set[str] = set()
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, f"{who} could not open {page}"
        shown |= nav_links(response.content.decode())
    assert "/backups/" in shown, "the walk read no navigation at all"
    dead = {href: client.get(href).status_code for href in sorted(shown) if "logout" not in href}
    assert {href: code for href, code in dead.items() if code == 403} == {}, f"{who} is shown links that refuse them"


def test_support_is_not_offered_the_compliance_report_nor_managers_the_ingestion_tokens(client, users):
    client.force_login(users["sam"])
    assert "/backups/compliance/" not in nav_links(client.get("/backups/").content.decode())
    client.force_login(users["mona"])
    links = nav_links(client.get("/backups/").content.decode())
    assert "/backups/compliance/" in links
    assert "/backups/tokens/" not in links
