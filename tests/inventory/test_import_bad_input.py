"""A bad document is refused whole: every error names the line and the field, and nothing is written."""

from __future__ import annotations

import pytest

from drportal.inventory.importer import COMMAND_ACTOR, InventoryError, import_inventory
from drportal.inventory.models import Server
from tests.inventory.conftest import census, line_of

BASE = """\
version: 1
organisation: Jivosoft  # the seeded install's owner: these documents may change its objects
providers:
  - slug: rackspace
    name: Rackspace
    kind: rackspace
    regions:
      - slug: dfw
        name: Dallas
        zones: [{slug: dfw1, name: Dallas data center}]
  - slug: aws
    name: AWS
    kind: aws
    regions:
      - slug: us-east-1
        name: N. Virginia
        zones: [{slug: us-east-1a, name: us-east-1a}]
accounts:
  - {name: rs, provider: rackspace, driver: rackspace, credentials_env: {key: RS_USER, secret: RS_KEY}}
servers:
  - name: web1
    role: application
    zone: rackspace/dfw/dfw1
    account: rs
    public_ips: [203.0.113.10]
    dns_names: [www.example.test]
  - name: db1
    role: database
    zone: rackspace/dfw/dfw1
    account: rs
people:
  - {email: ceo@example.test, name: Chief}
"""


@pytest.fixture
def seeded(db, jivosoft_text):
    """A populated install, so a refused document has something it could have half-changed."""
    import_inventory(jivosoft_text, COMMAND_ACTOR, "jivosoft.yaml")
    return census()


def refuse(text: str) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        import_inventory(text, COMMAND_ACTOR, "bad.yaml")
    return caught.value.errors


CASES = {
    "invalid IP": (
        ("public_ips: [203.0.113.10]", "public_ips: [10.0.0.300]"),
        "public_ips: [10.0.0.300]",
        "servers[0].public_ips[0]: '10.0.0.300' is not a valid IP address",
    ),
    "invalid host name in dns_names": (
        ("dns_names: [www.example.test]", "dns_names: [www..example.test]"),
        "dns_names: [www..example",
        "servers[0].dns_names[0]: 'www..example.test' is not a valid host name",
    ),
    "invalid server name": (
        ("- name: db1", "- name: db_1!"),
        "- name: db_1!",
        "servers[1].name: 'db_1!' is not a valid host name",
    ),
    "duplicate server names": (
        ("- name: db1", "- name: web1"),
        "- name: web1\n    role: database",
        "servers[1].name: duplicate server name 'web1' (first at line 21)",
    ),
    "unknown zone": (
        ("zone: rackspace/dfw/dfw1\n    account: rs\n    public_ips",
         "zone: rackspace/dfw/dfw7\n    account: rs\n    public_ips"),
        "zone: rackspace/dfw/dfw7",
        "servers[0].zone: unknown zone 'rackspace/dfw/dfw7'",
    ),
    "unknown role": (
        ("role: database", "role: webserver"),
        "role: webserver",
        "servers[1].role: unknown role 'webserver' "
        "(expected one of: database, application, cache, load_balancer, other)",
    ),
    "zone of another provider": (
        ("zone: rackspace/dfw/dfw1\n    account: rs\npeople",
         "zone: aws/us-east-1/us-east-1a\n    account: rs\npeople"),
        "zone: aws/us-east-1/us-east-1a",
        "servers[1].zone: zone 'aws/us-east-1/us-east-1a' belongs to provider 'aws', but account 'rs' is at provider "
        "'rackspace'",
    ),
    "wrong type": (
        ("public_ips: [203.0.113.10]", "public_ips: 203.0.113.10"),
        "public_ips: 203.0.113.10",
        "servers[0].public_ips: expected a list, got text '203.0.113.10'",
    ),
    "unknown field": (
        ("    account: rs\n    public_ips", "    acount: rs\n    public_ips"),
        "acount: rs",
        "servers[0].acount: unknown field 'acount'",
    ),
    "duplicate key": (
        ("    role: application\n", "    role: application\n    role: database\n"),
        "role: database\n    zone: rackspace/dfw/dfw1\n    account: rs\n    public",
        "servers[0].role: the key 'role' appears twice",
    ),
    "a secret where an environment variable name belongs": (
        ("secret: RS_KEY", "secret: 'hunter2-Zx9/+='"),
        "hunter2",
        "accounts[0].credentials_env.secret: the value is not the name of an environment variable",
    ),
    # Passes every check before writing and is refused by the model's EmailField while writing:
    # proves the transaction takes back what was already written.
    "invalid email, refused while writing": (
        ("ceo@example.test", "ceo-at-example"),
        "ceo-at-example",
        "people[0].email: Enter a valid email address.",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_bad_document_is_refused_naming_line_and_field_and_nothing_is_written(seeded, case):
    (old, new), marker, message = CASES[case]
    assert old in BASE
    text = BASE.replace(old, new, 1)
    errors = refuse(text)
    line = line_of(text, marker) if "\n" not in marker else text[: text.index(marker)].count("\n") + 1
    assert any(e.startswith(f"bad.yaml:{line} {message}") for e in errors), errors
    assert census() == seeded
    assert not Server.objects.filter(name__in=["web1", "db1"]).exists()


def test_the_base_document_itself_is_good(db):
    assert import_inventory(BASE, COMMAND_ACTOR).startswith("12 created")


def test_malformed_yaml_names_the_line(seeded):
    text = BASE.replace("role: database", "role: [database")
    errors = refuse(text)
    assert len(errors) == 1
    # The flow sequence opened on the role line never closes; YAML notices at the next key.
    assert errors[0].startswith(f"bad.yaml:{line_of(text, 'role: [database') + 1} malformed YAML: while parsing a flow")
    assert f"(begun at line {line_of(text, 'role: [database')})" in errors[0]
    assert census() == seeded


def test_a_tab_indented_document_names_its_line(db):
    text = BASE.replace("    role: database", "\trole: database")
    errors = refuse(text)
    assert len(errors) == 1
    assert errors[0].startswith(f"bad.yaml:{line_of(text, chr(9))} malformed YAML: while scanning")
    assert "tab" in errors[0] or "\\t" in errors[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "bad.yaml:1 the document is empty"),
        ("- a\n- b\n", "bad.yaml:1 the document must be a mapping with version: 1 and sections"),
        ("version: 1\n---\nversion: 1\n", "bad.yaml:2 malformed YAML"),
        ("version: 2\n", "bad.yaml:1 version: 2 is not supported (expected 1)"),
        ("servers: []\n", "bad.yaml:1 (document): missing required field 'version'"),
        ("version: 1\nservers: [{name: a, role: other, zone: !!binary aGk=}]\n",
         "bad.yaml:2 servers[0].zone: values of type bytes are not supported"),
        ("version: 1\nx: &a [*a]\n", "bad.yaml:2 x[0]: a recursive alias is not allowed"),
        ("version: 1\norganisation: \"a\\0b\"\n", "bad.yaml:2 organisation: contains a NUL character"),
    ],
)
def test_odd_documents_are_refused_with_a_line(db, text, message):
    errors = refuse(text)
    assert any(e.startswith(message) for e in errors), errors


def test_an_alias_bomb_is_refused(db):
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    errors = refuse("\n".join(lines) + "\n")
    assert len(errors) == 1
    assert errors[0].endswith(" the document is too large (more than 200000 values)")


def test_every_error_is_reported_at_once(db):
    text = BASE.replace("[203.0.113.10]", "[10.0.0.300]").replace("role: database", "role: webserver")
    assert len(refuse(text)) == 1  # the schema error stops the checks that need a well-formed document
    text = BASE.replace("[203.0.113.10]", "[10.0.0.300, 10.0.0.301]").replace("- name: db1", "- name: web1")
    errors = refuse(text)
    assert [e.split(" ", 2)[1] for e in errors] == ["servers[0].public_ips[0]:", "servers[0].public_ips[1]:",
                                                      "servers[1].name:"]


def test_references_to_what_another_document_created_are_allowed(seeded):
    text = """\
version: 1
servers:
  - {name: jv-extra1, role: other, zone: rackspace/mci/mci1, account: jivosoft-rackspace}
"""
    assert import_inventory(text, COMMAND_ACTOR).startswith("2 created")
    assert Server.objects.get(name="jv-extra1").zone.region.slug == "mci"


def test_two_contacts_of_one_purpose_without_email_are_refused(db):
    text = """\
version: 1
customers:
  - slug: acme
    name: Acme
    contacts:
      - {purpose: outage, name: Ann}
      - {purpose: outage, name: Bob}
"""
    assert refuse(text) == ["bad.yaml:7 customers[0].contacts[1]: duplicate outage contact without an email"]


def test_an_asset_may_not_take_over_a_servers_asset_from_another_document(seeded):
    text = "version: 1\nassets:\n  - {name: jv-web1, kind: code_repository}\n"
    assert refuse(text) == [
        "bad.yaml:3 assets[0].name: 'jv-web1' is the asset of server 'jv-web1' (choose another name)"
    ]
    assert census() == seeded


def test_a_server_may_not_take_over_an_asset_from_another_document(seeded):
    text = "version: 1\nservers:\n  - {name: jv-source-code, role: other, zone: rackspace/dfw/dfw1}\n"
    assert refuse(text) == [
        "bad.yaml:3 servers[0].name: an asset of kind 'code_repository' is already named 'jv-source-code'; "
        "every server is an asset under its own name"
    ]


def test_a_flood_of_errors_is_cut_to_a_page(db):
    servers = "\n".join(f"  - {{name: s{i}, role: other, zone: a/b/c, public_ips: [10.0.0.{300 + i}]}}"
                        for i in range(150))
    errors = refuse(f"version: 1\nservers:\n{servers}\n")
    assert len(errors) == 201
    assert errors[-1] == "bad.yaml: ... and 100 more errors"


def test_merge_keys_work_and_explicit_keys_win(db):
    text = """\
version: 1
providers: [{slug: p, name: P, kind: other, regions: [{slug: r, name: R, zones: [{slug: z, name: Z}]}]}]
defaults: &app {role: application, zone: p/r/z, stateless: true}
"""
    errors = refuse(text)  # `defaults` is no section: the anchor must live inside one
    assert errors == ["bad.yaml:3 defaults: unknown field 'defaults'"]
    text = """\
version: 1
providers: [{slug: p, name: P, kind: other, regions: [{slug: r, name: R, zones: [{slug: z, name: Z}]}]}]
servers:
  - &app {name: app1, role: application, zone: p/r/z, stateless: true}
  - {<<: *app, name: app2, stateless: false}
"""
    assert import_inventory(text, COMMAND_ACTOR).startswith("7 created")
    app2 = Server.objects.get(name="app2")
    assert (app2.role, app2.stateless) == ("application", False)


def test_a_mapping_merged_into_itself_is_refused(db):
    errors = refuse("version: 1\norganisation: &a {<<: *a}\n")
    assert errors == ["bad.yaml:2 organisation: a recursive alias is not allowed"]


def test_a_managed_asset_in_a_zone_of_another_provider_than_its_account_is_refused(db):
    text = BASE.replace("people:\n", "assets:\n  - {name: rds, kind: managed_database, zone: aws/us-east-1/us-east-1a, "
                                     "account: rs}\npeople:\n")
    assert refuse(text) == [
        f"bad.yaml:{line_of(text, 'name: rds')} assets[0].zone: zone 'aws/us-east-1/us-east-1a' belongs to provider "
        "'aws', but account 'rs' is at provider 'rackspace'"
    ]


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        ("secret: RS_KEY", "secret: AKIAIOSFODNN7EXAMPLE", "accounts[0].credentials_env.secret",
         "looks like an AWS access key id"),
        ("secret: RS_KEY", "secret: hunter2", "accounts[0].credentials_env.secret",
         "the value is not the name of an environment variable"),
        ("credentials_env: {key: RS_USER, secret: RS_KEY}", "options: {api_key: abc123}", "accounts[0].options.api_key",
         "'api_key' looks like a secret"),
    ],
)
def test_secrets_are_refused_where_variable_names_belong(db, old, new, field, message):
    text = BASE.replace(old, new)
    errors = refuse(text)
    assert errors[0].startswith(f"bad.yaml:{line_of(text, new)} {field}: {message}"), errors
    assert "abc123" not in " ".join(errors)
    assert "hunter2" not in " ".join(errors)
    assert "AKIA" not in " ".join(errors)


def test_a_secret_of_the_wrong_type_is_not_repeated_either(db):
    errors = refuse(BASE.replace("secret: RS_KEY", "secret: 98765432109876"))
    assert errors == [f"bad.yaml:{line_of(BASE, 'secret: RS_KEY')} accounts[0].credentials_env.secret: expected text, "
                      "got an integer"]
