"""Where a database's dumps live and how it is restored: stored on the asset, and refused on import, with the
line and the field, when a recovery could not use it."""

from __future__ import annotations

import pytest

from drportal.inventory.importer import COMMAND_ACTOR, InventoryError, import_inventory
from drportal.inventory.models import Asset

pytestmark = pytest.mark.django_db

DOC = """\
version: 1
providers:
  - slug: rackspace
    name: Rackspace
    kind: rackspace
    regions:
      - {slug: dfw, name: Dallas, zones: [{slug: dfw1, name: Dallas 1}]}
      - {slug: mci, name: Kansas City, zones: [{slug: mci1, name: Kansas City 1}]}
accounts:
  - {name: rs, provider: rackspace, driver: rackspace, credentials_env: {key: RS_USER, secret: RS_KEY}}
  - {name: rs-dns, provider: rackspace, driver: powerdns}
servers:
  - {name: db1, role: database, zone: rackspace/dfw/dfw1, account: rs}
customers:
  - slug: acme
    name: Acme
    databases:
      - name: db-acme
        server: db1
        dumps:
          - {account: rs, container: weekly-kc, prefix: db-acme/, region: rackspace/mci}
        restore: RESTORE
"""


def document(restore: str = "{database: acme, method: pg_restore}", **replace: str) -> str:
    text = DOC.replace("RESTORE", restore)
    for old, new in replace.items():
        text = text.replace(old, new)
    return text


def errors_of(text: str) -> str:
    with pytest.raises(InventoryError) as refused:
        import_inventory(text, COMMAND_ACTOR, "doc.yaml")
    return "\n".join(refused.value.errors)


def test_it_stores_where_the_dumps_live_and_how_to_restore_them():
    import_inventory(document(), COMMAND_ACTOR, "doc.yaml")

    asset = Asset.objects.get(name="db-acme")
    assert asset.dumps == [{"account": "rs", "container": "weekly-kc", "prefix": "db-acme/", "region": "rackspace/mci"}]
    assert asset.restore == {"database": "acme", "method": "pg_restore"}


def test_it_accepts_a_restore_command_with_the_path_of_the_dump():
    import_inventory(document('{database: acme, command: "psql -h {host} -d {database} -f {path}"}'),
                     COMMAND_ACTOR, "doc.yaml")

    assert Asset.objects.get(name="db-acme").restore["command"] == "psql -h {host} -d {database} -f {path}"


def test_it_refuses_an_unknown_account_or_region_for_the_dumps():
    errors = errors_of(document(**{"account: rs, container": "account: nope, container",
                                   "region: rackspace/mci}": "region: rackspace/ord}"}))

    assert "doc.yaml:21 customers[0].databases[0].dumps[0].account: unknown account 'nope'" in errors
    assert "doc.yaml:21 customers[0].databases[0].dumps[0].region: unknown region 'rackspace/ord'" in errors
    assert not Asset.objects.filter(name="db-acme").exists()


def test_it_refuses_an_account_that_cannot_read_object_storage():
    errors = errors_of(document(**{"account: rs, container": "account: rs-dns, container"}))

    assert "dumps[0].account: account 'rs-dns' (driver 'powerdns') cannot read object storage" in errors


def test_it_refuses_a_restore_that_says_neither_or_both_ways_to_load_the_dump():
    assert "give either method (pg_restore) or command, exactly one" in errors_of(document("{database: acme}"))
    both = '{database: acme, method: pg_restore, command: "psql -f {path}"}'
    assert "give either method (pg_restore) or command, exactly one" in errors_of(document(both))


def test_it_refuses_a_command_without_the_dump_or_an_unknown_target_server():
    assert "command: must contain {path}" in errors_of(document('{database: acme, command: "psql -d acme"}'))
    errors = errors_of(document("{database: acme, method: pg_restore, server: db9}"))
    assert "restore.server: unknown server 'db9'" in errors


def test_it_refuses_a_database_name_or_password_that_is_not_a_name():
    errors = errors_of(document("{database: 'acme; DROP DATABASE x', method: pg_restore, password_env: hunter2}"))

    assert "restore.database: 'acme; DROP DATABASE x' is not a database name" in errors
    assert "restore.password_env: the value is not the name of an environment variable" in errors
    assert "hunter2" not in errors


def test_it_refuses_a_restore_without_dumps():
    text = document().replace("        dumps:\n          - {account: rs, container: weekly-kc, prefix: db-acme/, "
                              "region: rackspace/mci}\n", "")

    assert "a restore needs dumps: say where the dumps live" in errors_of(text)
