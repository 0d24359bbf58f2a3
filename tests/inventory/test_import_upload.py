"""The admin-only upload page at /inventory/import/."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from drportal.audit.models import AuditEvent
from drportal.inventory.models import Server
from tests.inventory.conftest import census, line_of

URL = reverse("inventory:import")


def upload(client, text: str, name: str = "jivosoft.yaml"):
    return client.post(URL, {"document": SimpleUploadedFile(name, text.encode(), "application/yaml")}, follow=True)


def test_it_shows_the_form_to_an_admin(client_as):
    response = client_as("ada").get(URL)
    assert response.status_code == 200
    assert b'type="file"' in response.content


def test_an_admin_imports_a_document(client_as, ada, jivosoft_text):
    response = upload(client_as("ada"), jivosoft_text)
    assert response.redirect_chain == [(URL, 302)]
    assert "Imported: 83 created, 0 updated, 0 unchanged" in response.content.decode()
    assert Server.objects.count() == 7
    # The audit names the person who uploaded, not a command.
    assert AuditEvent.objects.filter(actor=ada, action="inventory.server.created").count() == 7


def test_it_shows_every_error_and_saves_nothing(client_as, jivosoft_text):
    client = client_as("ada")
    before = census()
    bad = jivosoft_text.replace("public_ips: [203.0.113.24]", "public_ips: [203.0.113.300]")
    bad = bad.replace("name: jv-db1\n    role: database\n    zone: rackspace/dfw/dfw1",
                      "name: jv-db1\n    role: database\n    zone: rackspace/dfw/nowhere")
    response = upload(client, bad, "jv-bad.yaml")
    page = response.content.decode()
    assert response.status_code == 200
    assert "The document was rejected; nothing was saved." in page
    ip_line, zone_line = line_of(bad, "203.0.113.300"), line_of(bad, "rackspace/dfw/nowhere")
    ip_error = "servers[3].public_ips[0]: &#x27;203.0.113.300&#x27; is not a valid IP address"
    assert f"jv-bad.yaml:{ip_line} {ip_error}" in page
    assert f"jv-bad.yaml:{zone_line} servers[4].zone: unknown zone &#x27;rackspace/dfw/nowhere&#x27;" in page
    assert census() == before


def test_it_refuses_an_empty_file(client_as):
    response = upload(client_as("ada"), "", "x.yaml")
    assert response.status_code == 200
    assert "The submitted file is empty." in response.content.decode()
    assert Server.objects.count() == 0


def test_it_names_the_line_of_a_yaml_error(client_as):
    response = upload(client_as("ada"), "version: 1\nservers: [\n", "x.yaml")
    assert "x.yaml:3 malformed YAML" in response.content.decode()


def test_ops_may_not_open_it(client_as):
    assert client_as("alice").get(URL).status_code == 403


def test_ops_may_not_post_a_document(client_as, jivosoft_text):
    response = client_as("alice").post(URL, {"document": SimpleUploadedFile("j.yaml", jivosoft_text.encode())})
    assert response.status_code == 403
    assert Server.objects.count() == 0


def test_anonymous_users_are_sent_to_sign_in(client, db):
    response = client.get(URL)
    assert response.status_code in (302, 403)
    assert Server.objects.count() == 0
