"""Inventory as a document: one YAML file in, the whole inventory updated in place (docs/inventory.md).

Three passes, so that a bad document is rejected whole:
1. parse: YAML is composed into nodes (which carry line marks) and built into plain data by hand, so every
   value knows its line; anchors, merge keys and scalars are resolved like yaml.safe_load would;
2. check: the JSON Schema (schema.py), then references, duplicates and the models' own field validators,
   all before anything is written;
3. write: everything in one transaction, each object updated in place by its natural key and `full_clean()`ed
   before it is saved; any error raised in here rolls the whole document back.

Sections beyond the core (backup policies) are handled by code registered in SECTIONS by the app that owns
the models (backups/inventory_section.py), so this module never imports feature apps.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import shlex
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from croniter import croniter
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import DatabaseError, connection, models, transaction
from jsonschema import Draft202012Validator
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from drportal.audit import log as audit
from drportal.audit.models import AuditEvent
from drportal.inventory.choices import AssetKind
from drportal.inventory.models import (
    Asset,
    Customer,
    CustomerContact,
    ExternalContact,
    Office,
    Ownership,
    Person,
    Provider,
    ProviderAccount,
    Region,
    Server,
    Service,
    Zone,
)
from drportal.inventory.schema import SCHEMA
from drportal.inventory.validators import validate_hostname
from drportal.lib import inputs

Path = tuple[str | int, ...]

COMMAND_ACTOR = "command:import_inventory"
# Guards against documents built to exhaust memory or the stack (alias "billion laughs", deep nesting).
MAX_NODES = 200_000
MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 40
# A page of errors is useful; ten thousand of them (a wrong indentation repeated) are not.
MAX_ERRORS = 200
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_MERGE_TAG = "tag:yaml.org,2002:merge"
# One import at a time: two concurrent imports of the same document would both create the same rows.
_LOCK_KEY = zlib.crc32(b"drportal.inventory.import")
_VALIDATOR = Draft202012Validator(SCHEMA)
_AWS_KEY_ID = re.compile(r"^(AKIA|ASIA)[A-Z0-9]{16}$")
_SECRET_OPTION = re.compile(r"(secret|password|passwd|token|api_?key|private_?key|credential)", re.IGNORECASE)
# libyaml's composer is about ten times faster and keeps the same line marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InventoryError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass
class Document:
    """Parsed data plus the line of every value, and the errors found so far."""

    source: str
    data: Any = None
    lines: dict[Path, int] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)

    def line(self, path: Path) -> int:
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path, 1)

    def error(self, path: Path, message: str) -> None:
        line = self.line(path)
        self.problems.append((line, f"{self.source}:{line} {format_path(path)}: {message}"))

    def raise_if_errors(self) -> None:
        if self.problems:
            seen: set[str] = set()
            ordered = [m for _, m in sorted(self.problems, key=lambda p: p[0]) if not (m in seen or seen.add(m))]
            if len(ordered) > MAX_ERRORS:
                ordered = [*ordered[:MAX_ERRORS], f"{self.source}: ... and {len(ordered) - MAX_ERRORS} more errors"]
            raise InventoryError(ordered)

    def items(self, section: str) -> Iterator[tuple[Path, dict[str, Any]]]:
        for i, item in enumerate(self.data.get(section) or []):
            yield (section, i), item


# ---------------------------------------------------------------------------------------------- 1. parse


class _Builder:
    def __init__(self, doc: Document):
        self.doc = doc
        self.constructor = yaml.constructor.SafeConstructor()
        self.count = 0
        self.stack: set[int] = set()

    def build(self, node: Node, path: Path, line: int, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise InventoryError([f"{self.doc.source}:{line} the document is too large (more than {MAX_NODES} values)"])
        if depth > MAX_DEPTH:
            raise InventoryError([f"{self.doc.source}:{line} the document is nested too deeply"])
        self.doc.lines[path] = line
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.stack:
            self.doc.error(path, "a recursive alias is not allowed")
            return None
        self.stack.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(c, (*path, i), c.start_mark.line + 1, depth + 1) for i, c in enumerate(node.value)]
            return self.mapping(node, path, depth)
        finally:
            self.stack.discard(id(node))

    def mapping(self, node: MappingNode, path: Path, depth: int) -> dict[str, Any]:
        explicit: list[tuple[ScalarNode, Node]] = []
        merged: dict[str, Any] = {}
        here = self.doc.lines.get(path, node.start_mark.line + 1)
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                if not all(isinstance(s, MappingNode) for s in sources):
                    self.doc.error(path, "a merge key (<<) must name mappings")
                    continue
                # Built through build() so a mapping merged into itself is caught like any recursive alias.
                for source in sources:
                    for key, value in (self.build(source, path, here, depth + 1) or {}).items():
                        merged.setdefault(key, value)
            elif isinstance(key_node, ScalarNode):
                explicit.append((key_node, value_node))
            else:
                self.doc.lines[path] = key_node.start_mark.line + 1
                self.doc.error(path, "a key must be a plain string")
        self.doc.lines[path] = here
        result: dict[str, Any] = {}
        for key_node, value_node in explicit:
            # Keys stay the text they were written as: `no:` or `on:` do not turn into booleans.
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in result:
                self.doc.lines[(*path, key)] = line
                self.doc.error((*path, key), f"the key {key!r} appears twice")
                continue
            result[key] = self.build(value_node, (*path, key), line, depth + 1)
        # Merged keys never override explicit ones (YAML merge semantics).
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        # Dates stay text: the schema and the importer decide what a date field means.
        if node.tag == _TIMESTAMP_TAG:
            return node.value
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError) as exc:
            self.doc.error(path, f"cannot read value: {exc}".splitlines()[0])
            return None
        if isinstance(value, str):
            if "\x00" in value:
                self.doc.error(path, "contains a NUL character")
                return None
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                self.doc.error(path, "is not valid Unicode text")
                return None
            return value
        if value is None or isinstance(value, bool | int | float):
            return value
        self.doc.error(path, f"values of type {type(value).__name__} are not supported")
        return None


def parse(text: str, source: str = "<document>") -> Document:
    """The document's data with line numbers, or InventoryError naming the line of the syntax error."""
    doc = Document(source=source)
    try:
        inputs.check_yaml_text(text, max_bytes=MAX_BYTES, check_text=False)
    except inputs.InputError as exc:
        line = exc.field.removeprefix("line ") if exc.field.startswith("line ") else "1"
        raise InventoryError([f"{source}:{line} the document {exc.message}"]) from None
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        if exc.context_mark and mark is not exc.context_mark and exc.context_mark.line + 1 != line:
            what += f" (begun at line {exc.context_mark.line + 1})"
        raise InventoryError([f"{source}:{line} malformed YAML: {what}"]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        raise InventoryError([f"{source}:{line} malformed YAML: {exc.reason} ({exc.character!r})"]) from None
    except yaml.YAMLError as exc:
        raise InventoryError([f"{source}:1 malformed YAML: {exc}"]) from None
    except RecursionError:
        raise InventoryError([f"{source}:1 the document is nested too deeply"]) from None
    if node is None:
        raise InventoryError([f"{source}:1 the document is empty"])
    doc.data = _Builder(doc).build(node, (), node.start_mark.line + 1)
    doc.raise_if_errors()
    if not isinstance(doc.data, dict):
        raise InventoryError([f"{source}:1 the document must be a mapping with version: 1 and sections"])
    return doc


# ---------------------------------------------------------------------------------------------- 2. check


_SCHEMA_TYPES = {"object": "a mapping", "array": "a list", "string": "text", "integer": "an integer",
                 "boolean": "true or false", "number": "a number"}


def _type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", bool: "a boolean", int: "an integer", float: "a number"}
    return names.get(type(value), "nothing" if value is None else type(value).__name__)


def _schema_errors(doc: Document) -> None:
    for err in _VALIDATOR.iter_errors(doc.data):
        path: Path = tuple(err.absolute_path)
        check, value, schema = err.validator, err.instance, err.schema
        # Values under an account's credentials or options may be secrets pasted by mistake: never repeated
        # (error pages, logs, terminals).
        secretish = len(path) >= 3 and path[0] == "accounts" and path[2] in ("credentials_env", "options")
        shown = "the value" if secretish or schema.get("x-secret") else _short(value)
        if check == "required":
            missing = re.match(r"^'(.*)' is a required property$", err.message)
            doc.error(path, f"missing required field {missing.group(1) if missing else err.message!r}")
        elif check == "additionalProperties" and isinstance(value, dict):
            for key in value:
                if key not in schema.get("properties", {}):
                    doc.error((*path, key), f"unknown field {key!r}")
        elif check == "enum":
            what = next((p for p in reversed(path) if isinstance(p, str)), "value")
            options = ", ".join(str(o) for o in err.validator_value)
            doc.error(path, f"unknown {what} {_short(value)} (expected one of: {options})")
        elif check == "const":
            doc.error(path, f"{_short(value)} is not supported (expected {err.validator_value!r})")
        elif check == "type":
            types = [err.validator_value] if isinstance(err.validator_value, str) else err.validator_value
            wanted = " or ".join(_SCHEMA_TYPES.get(t, t) for t in types)
            doc.error(path, f"expected {wanted}, got {_type_name(value)}" + ("" if secretish else f" {shown}"))
        elif check in ("pattern", "anyOf") and "x-error" in schema:
            doc.error(path, f"{shown} {schema['x-error']}")
        elif check == "anyOf" and path and path[-2:-1] == ("contacts",):
            doc.error(path, "a contact needs an email or a name")
        elif check == "maxLength":
            doc.error(path, f"is longer than {err.validator_value} characters")
        elif check in ("maxItems", "maxProperties"):
            doc.error(path, f"has {len(value)} entries: at most {err.validator_value} are allowed "
                            f"(docs/inventory.md, Limits)")
        elif check == "minProperties":
            doc.error(path, "must name at least one thing")
        elif secretish:
            doc.error(path, f"the value is not allowed here ({check})")
        else:
            doc.error(path, err.message[:200])


def _ip_ok(value: str) -> bool:
    try:
        Server._meta.get_field("public_ips").base_field.clean(value, None)
    except ValidationError:
        return False
    return True


def _normal_ip(value: str) -> str:
    # The model field stores IPv6 in its compressed form; comparing that form keeps re-import a no-op.
    return Server._meta.get_field("public_ips").base_field.to_python(value)


def _hostname_ok(value: str) -> bool:
    try:
        validate_hostname(value)
    except ValidationError:
        return False
    return True


def _duplicates(
    doc: Document, section: str, key: Callable[[dict], Any], label: str, field_name: str | None = None
) -> dict[Any, Path]:
    seen: dict[Any, Path] = {}
    for path, item in doc.items(section):
        k = key(item)
        if k in seen:
            first = doc.line(seen[k])
            shown = "/".join(map(str, k)) if isinstance(k, tuple) else k
            where = (*path, field_name) if field_name else path
            doc.error(where, f"duplicate {label} {_short(shown)} (first at line {first})")
        else:
            seen[k] = path
    return seen


class Catalog:
    """What a reference may point at: names defined in this document, else rows already in the database
    (another document imported into the same install)."""

    def __init__(self, doc: Document):
        d = doc.data
        self.providers = {p["slug"]: p for p in d.get("providers", [])}
        self.regions: set[str] = set()
        self.zones: set[str] = set()
        for p in d.get("providers", []):
            for r in p.get("regions", []):
                self.regions.add(f"{p['slug']}/{r['slug']}")
                for z in r.get("zones", []):
                    self.zones.add(f"{p['slug']}/{r['slug']}/{z['slug']}")
        self.account_provider = {a["name"]: a["provider"] for a in d.get("accounts", [])}
        self.account_driver_names = {a["name"]: a["driver"] for a in d.get("accounts", [])}
        self.servers = {s["name"] for s in d.get("servers", [])}
        self.assets = {a["name"] for a in d.get("assets", [])} | self.servers
        for c in d.get("customers", []):
            self.assets |= {db["name"] for db in c.get("databases", [])}
        self.customers = {c["slug"] for c in d.get("customers", [])}
        self.services = {s["slug"] for s in d.get("services", [])}
        self.offices = {o["slug"] for o in d.get("offices", [])}

    def has_provider(self, slug: str) -> bool:
        return slug in self.providers or Provider.objects.filter(slug=slug).exists()

    def has_region(self, ref: str) -> bool:
        if ref in self.regions:
            return True
        provider, slug = ref.split("/")
        return Region.objects.filter(provider__slug=provider, slug=slug).exists()

    def has_zone(self, ref: str) -> bool:
        if ref in self.zones:
            return True
        provider, region, slug = ref.split("/")
        return Zone.objects.filter(region__provider__slug=provider, region__slug=region, slug=slug).exists()

    def account_driver(self, name: str) -> str | None:
        if name in self.account_driver_names:
            return self.account_driver_names[name]
        return ProviderAccount.objects.filter(name=name).values_list("driver", flat=True).first()

    def provider_of_account(self, name: str) -> str | None:
        if name in self.account_provider:
            return self.account_provider[name]
        return ProviderAccount.objects.filter(name=name).values_list("provider__slug", flat=True).first()

    def has(self, kind: str, name: str) -> bool:
        model, field_name = {
            "server": (Server, "name"),
            "asset": (Asset, "name"),
            "customer": (Customer, "slug"),
            "service": (Service, "slug"),
            "office": (Office, "slug"),
        }[kind]
        return name in getattr(self, f"{kind}s") or model.objects.filter(**{field_name: name}).exists()


def _check_references(doc: Document) -> Catalog:
    _duplicates(doc, "providers", lambda p: p["slug"], "provider", "slug")
    for path, p in doc.items("providers"):
        seen_regions: dict[str, Path] = {}
        for i, r in enumerate(p.get("regions", [])):
            rpath = (*path, "regions", i)
            if r["slug"] in seen_regions:
                doc.error((*rpath, "slug"), f"duplicate region {r['slug']!r} in provider {p['slug']!r}")
            seen_regions[r["slug"]] = rpath
            seen_zones: set[str] = set()
            for j, z in enumerate(r.get("zones", [])):
                if z["slug"] in seen_zones:
                    doc.error((*rpath, "zones", j, "slug"), f"duplicate zone {z['slug']!r} in region {r['slug']!r}")
                seen_zones.add(z["slug"])
    cat = Catalog(doc)

    _duplicates(doc, "accounts", lambda a: a["name"], "account", "name")
    for path, a in doc.items("accounts"):
        if not cat.has_provider(a["provider"]):
            doc.error((*path, "provider"), f"unknown provider {a['provider']!r}")
        for field_name, var in a.get("credentials_env", {}).items():
            if _AWS_KEY_ID.match(var):
                doc.error((*path, "credentials_env", field_name),
                          "looks like an AWS access key id, not the name of an environment variable "
                          "(secrets never go in the document)")
        for option in a.get("options", {}):
            if _SECRET_OPTION.search(option):
                doc.error((*path, "options", option), f"{option!r} looks like a secret: put it in an environment "
                                                      "variable and name that variable in credentials_env")

    _duplicates(doc, "servers", lambda s: s["name"], "server name", "name")
    for path, s in doc.items("servers"):
        if not _hostname_ok(s["name"]):
            doc.error((*path, "name"), f"{_short(s['name'])} is not a valid host name")
        for list_name in ("public_ips", "private_ips"):
            for i, ip in enumerate(s.get(list_name, [])):
                if not _ip_ok(ip):
                    doc.error((*path, list_name, i), f"{_short(ip)} is not a valid IP address")
        for i, name in enumerate(s.get("dns_names", [])):
            if not _hostname_ok(name):
                doc.error((*path, "dns_names", i), f"{_short(name)} is not a valid host name")
        if not cat.has_zone(s["zone"]):
            doc.error((*path, "zone"), f"unknown zone {s['zone']!r}")
        if "account" in s:
            provider = cat.provider_of_account(s["account"])
            zone_provider = s["zone"].split("/")[0]
            if provider is None:
                doc.error((*path, "account"), f"unknown account {s['account']!r}")
            elif provider != zone_provider:
                doc.error(
                    (*path, "zone"),
                    f"zone {s['zone']!r} belongs to provider {zone_provider!r}, but account {s['account']!r} "
                    f"is at provider {provider!r}",
                )

    asset_paths: dict[str, Path] = {}
    for path, s in doc.items("servers"):
        asset_paths.setdefault(s["name"], (*path, "name"))
    asset_items = list(doc.items("assets"))
    for cpath, c in doc.items("customers"):
        asset_items += [((*cpath, "databases", i), db) for i, db in enumerate(c.get("databases", []))]
    for path, a in asset_items:
        if a["name"] in asset_paths:
            first = doc.line(asset_paths[a["name"]])
            doc.error((*path, "name"), f"duplicate asset name {a['name']!r} (first at line {first}; "
                                       "every server is an asset under its own name)")
        else:
            asset_paths[a["name"]] = (*path, "name")
        kind = a.get("kind", AssetKind.DATABASE if "server" in a else AssetKind.MANAGED_DATABASE)
        if kind == AssetKind.DATABASE and "server" not in a:
            doc.error(path, "an asset of kind 'database' needs a server")
        if "server" in a and "zone" in a:
            doc.error((*path, "zone"), "give a server or a zone, not both (an asset on a server is where it is)")
        if "server" in a and not cat.has("server", a["server"]):
            doc.error((*path, "server"), f"unknown server {a['server']!r}")
        if "zone" in a and not cat.has_zone(a["zone"]):
            doc.error((*path, "zone"), f"unknown zone {a['zone']!r}")
        if "customer" in a and not cat.has("customer", a["customer"]):
            doc.error((*path, "customer"), f"unknown customer {a['customer']!r}")
        if "account" in a:
            provider = cat.provider_of_account(a["account"])
            if provider is None:
                doc.error((*path, "account"), f"unknown account {a['account']!r}")
            elif "zone" in a and provider != a["zone"].split("/")[0]:
                doc.error((*path, "zone"), f"zone {a['zone']!r} belongs to provider {a['zone'].split('/')[0]!r}, "
                                           f"but account {a['account']!r} is at provider {provider!r}")
        if "mirror_of" in a:
            if a["mirror_of"] == a["name"]:
                doc.error((*path, "mirror_of"), "an asset cannot be a mirror of itself")
            elif not cat.has("asset", a["mirror_of"]):
                doc.error((*path, "mirror_of"), f"unknown asset {a['mirror_of']!r}")
        _check_recovery(doc, cat, path, a)
    _check_mirror_cycles(doc, asset_items)
    _check_asset_names_against_database(doc, asset_items)

    _duplicates(doc, "customers", lambda c: c["slug"], "customer", "slug")
    for path, c in doc.items("customers"):
        for i, slug in enumerate(c.get("services", [])):
            if not cat.has("service", slug):
                doc.error((*path, "services", i), f"unknown service {slug!r}")
        seen: set[tuple[str, str]] = set()
        for i, contact in enumerate(c.get("contacts", [])):
            # The key the table enforces: one contact per purpose and email (and one without an email).
            key = (contact["purpose"], contact.get("email", ""))
            if key in seen:
                who = repr(key[1]) if key[1] else "without an email"
                doc.error((*path, "contacts", i), f"duplicate {contact['purpose']} contact {who}")
            seen.add(key)
        if "terminated_on" in c:
            try:
                dt.date.fromisoformat(c["terminated_on"])
            except ValueError:
                doc.error((*path, "terminated_on"), f"{c['terminated_on']!r} is not a date")

    _duplicates(doc, "services", lambda s: s["slug"], "service", "slug")
    for path, s in doc.items("services"):
        for i, name in enumerate(s.get("servers", [])):
            if not cat.has("server", name):
                doc.error((*path, "servers", i), f"unknown server {name!r}")
        for i, name in enumerate(s.get("assets", [])):
            if not cat.has("asset", name):
                doc.error((*path, "assets", i), f"unknown asset {name!r}")

    _duplicates(doc, "offices", lambda o: o["slug"], "office", "slug")
    _duplicates(doc, "people", lambda p: p["email"], "person (email)", "email")
    forwarding: dict[int, Path] = {}
    for path, p in doc.items("people"):
        order = p.get("call_forwarding_order")
        if order in forwarding:
            first = doc.line(forwarding[order])
            doc.error((*path, "call_forwarding_order"), f"call-forwarding order {order} is taken (line {first})")
        elif order is not None:
            forwarding[order] = path
        if "office" in p and not cat.has("office", p["office"]):
            doc.error((*path, "office"), f"unknown office {p['office']!r}")
    _duplicates(doc, "external_contacts", lambda e: (e["kind"], e["organisation"]), "external contact")

    _check_policies(doc, cat)
    return cat


# Storage drivers objectstore / s3 can read dumps through (drportal/cloud/adapters/objectstore.py, s3.py).
DUMP_DRIVERS = {"local", "cloudfiles", "rackspace", "openstack", "s3", "aws", "ec2"}


def _check_recovery(doc: Document, cat: Catalog, path: Path, a: dict[str, Any]) -> None:
    """Where a database's dumps live and how it is restored: every name must exist and the restore must say
    one way to load the dump, so a recovery never finds out at 3 a.m. that the inventory was incomplete."""
    for i, where in enumerate(a.get("dumps", [])):
        wpath = (*path, "dumps", i)
        driver = cat.account_driver(where["account"])
        if driver is None:
            doc.error((*wpath, "account"), f"unknown account {where['account']!r}")
        elif driver not in DUMP_DRIVERS:
            doc.error((*wpath, "account"), f"account {where['account']!r} (driver {driver!r}) cannot read object "
                                           f"storage; use one of {', '.join(sorted(DUMP_DRIVERS))}")
        if "region" in where and not cat.has_region(where["region"]):
            doc.error((*wpath, "region"), f"unknown region {where['region']!r}")
    restore = a.get("restore")
    if restore is None:
        return
    rpath = (*path, "restore")
    if "dumps" not in a:
        doc.error(rpath, "a restore needs dumps: say where the dumps live")
    target = restore.get("server", a.get("server"))
    if target is None and "host" not in restore:
        # A managed database has no server of ours: its restore names the address of the PostgreSQL it is loaded
        # into instead (restore.host).
        doc.error(rpath, "name the server the database is restored on (restore.server), or its address "
                         "(restore.host)")
    elif target is not None and not cat.has("server", target):
        doc.error((*rpath, "server"), f"unknown server {target!r}")
    if ("method" in restore) == ("command" in restore):
        doc.error(rpath, "give either method (pg_restore) or command, exactly one")
    if "command" in restore:
        try:
            argv = shlex.split(restore["command"])
        except ValueError as exc:
            doc.error((*rpath, "command"), f"cannot be split into arguments: {exc}")
        else:
            if not any("{path}" in arg for arg in argv):
                doc.error((*rpath, "command"), "must contain {path}, where the downloaded dump is put")


def _check_asset_names_against_database(doc: Document, asset_items: list[tuple[Path, dict]]) -> None:
    """A server's own asset and other assets share one namespace across documents: an asset must not take
    over a server's asset (or the reverse), or a server would lose its system-image asset."""
    names = {a["name"]: path for path, a in asset_items}
    for name, server in Asset.objects.filter(name__in=names, kind=AssetKind.SERVER).values_list("name", "server__name"):
        doc.error((*names[name], "name"), f"{name!r} is the asset of server {server!r} (choose another name)")
    servers = {s["name"]: path for path, s in doc.items("servers")}
    taken = Asset.objects.filter(name__in=servers).exclude(kind=AssetKind.SERVER).values_list("name", "kind")
    for name, kind in taken:
        doc.error((*servers[name], "name"), f"an asset of kind {kind!r} is already named {name!r}; every server "
                                           "is an asset under its own name")


def _check_mirror_cycles(doc: Document, asset_items: list[tuple[Path, dict]]) -> None:
    origin = {a["name"]: a.get("mirror_of") for _, a in asset_items}
    for path, a in asset_items:
        seen, name = {a["name"]}, a.get("mirror_of")
        while origin.get(name):
            if name in seen:
                doc.error((*path, "mirror_of"), f"mirrors form a loop through {name!r}")
                break
            seen.add(name)
            name = origin[name]


def _check_policies(doc: Document, cat: Catalog) -> None:
    _duplicates(doc, "backup_policies", lambda p: p["name"], "backup policy", "name")
    for path, p in doc.items("backup_policies"):
        protects = p["protects"]
        for kind in ("assets", "servers", "customers"):
            for i, name in enumerate(protects.get(kind, [])):
                if not cat.has(kind[:-1], name):
                    doc.error((*path, "protects", kind, i), f"unknown {kind[:-1]} {name!r}")
        if len(p["schedule"].split()) != 5 or not croniter.is_valid(p["schedule"]):
            doc.error((*path, "schedule"), f"{_short(p['schedule'])} is not a five-field cron expression")
        if "time_zone" in p:
            try:
                ZoneInfo(p["time_zone"])
            except (ZoneInfoNotFoundError, ValueError):
                doc.error((*path, "time_zone"), f"unknown time zone {p['time_zone']!r}")
        location = p.get("location", {"rule": "any"})
        if location["rule"] == "named_region" and "region" not in location:
            doc.error((*path, "location"), "a location with rule 'named_region' needs the region (provider/region)")
        if location["rule"] != "named_region" and "region" in location:
            doc.error((*path, "location", "region"), "only a location with rule 'named_region' takes a region")
        if "region" in location and not cat.has_region(location["region"]):
            doc.error((*path, "location", "region"), f"unknown region {location['region']!r}")


def parse_duration(value: str) -> dt.timedelta:
    """'5m', '26h', '35d', '2w' -> timedelta (the schema's duration pattern)."""
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[value[-1]]
    return dt.timedelta(**{unit: int(value[:-1])})


def check_shape(text: str, source: str = "<document>") -> Document:
    """Parse and validate against the schema (no database needed); InventoryError lists every problem."""
    doc = parse(text, source)
    _schema_errors(doc)
    doc.raise_if_errors()
    return doc


def check_meaning(doc: Document) -> None:
    """References, duplicates and field validators, against the document and the database. Read-only."""
    _check_references(doc)
    for name, section in SECTIONS.items():
        if section.validate and doc.data.get(name):
            section.validate(doc, list(doc.items(name)))
    doc.raise_if_errors()


# ---------------------------------------------------------------------------------------------- 3. write


@dataclass
class Change:
    obj: models.Model
    created: bool
    # Comparable values (related objects by primary key); readable ones are made for the audit record.
    before: dict[str, Any]
    after: dict[str, Any]
    related_before: dict[str, str | None] = field(default_factory=dict)
    path: Path = ()


def _key_id(model: type[models.Model], key: dict[str, Any]) -> tuple:
    return (model, *sorted((k, v.pk if isinstance(v, models.Model) else v) for k, v in key.items()))


@functools.cache
def _key_is_unique_check(model: type[models.Model], key_fields: frozenset[str]) -> bool:
    """True when finding a row by these key fields already proves every unique rule holds, so full_clean
    need not ask the database again: every unique set contains the key (a row clashing on it has our key).
    Models with check constraints are always validated."""
    unique_sets = [{f.name} for f in model._meta.fields if f.unique and not f.primary_key]
    unique_sets += [set(fields) for fields in model._meta.unique_together]
    for constraint in model._meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint) or not constraint.fields:
            return False
        unique_sets.append(set(constraint.fields))
    return all(key_fields <= unique for unique in unique_sets)


class Writer:
    """Creates or updates objects by natural key, counts them, and writes one audit record for each one
    created or changed (none for an unchanged one)."""

    def __init__(self, doc: Document, actor: Any, adopt: bool = False):
        self.doc = doc
        self.actor = actor
        self.organisation = str(doc.data.get("organisation") or "").strip()
        self.adopt = adopt
        # Objects of other organisations, loaded per model the first time one of its objects would change.
        self._owners: dict[str, dict[int, str]] = {}
        self._touched: set[tuple[str, int]] = set()
        self._adopted: set[tuple[str, int]] = set()
        self.counts = {"created": 0, "updated": 0, "unchanged": 0, "removed": 0}
        # Audit events of this import, written together by flush() inside the import's transaction.
        self.events: list[AuditEvent] = []
        # Rows loaded in bulk by prime(): key id -> row, and the key ids asked for (found or not).
        self._rows: dict[tuple, models.Model] = {}
        self._asked: set[tuple] = set()

    def prime(self, model: type[models.Model], key_fields: list[str], rows: Any, asked: list[dict[str, Any]]) -> None:
        """Load the rows for many keys in one query, so upsert() need not ask one by one (a re-import of
        thousands of objects would otherwise cost several queries each)."""
        for row in rows:
            key = {}
            for name in key_fields:
                f = model._meta.get_field(name)
                key[name] = getattr(row, f.attname)
            self._rows[_key_id(model, key)] = row
        self._asked |= {_key_id(model, k) for k in asked}

    @staticmethod
    def _value(obj: models.Model, f: Any) -> Any:
        return getattr(obj, f.attname) if f.is_relation else audit.jsonable(getattr(obj, f.name))

    def upsert(
        self, model: type[models.Model], key: dict[str, Any], values: dict[str, Any], path: Path,
        doc_names: dict[str, str] | None = None,
    ) -> Change | None:
        """None when the model refused a value (the error is recorded on the document)."""
        kid = _key_id(model, key)
        obj = self._rows.get(kid) if kid in self._asked else model.objects.filter(**key).first()
        created = obj is None
        if obj is None:
            obj = model(**key)
        fields = [model._meta.get_field(n) for n in (*key, *values)]
        before = {} if created else {f.name: self._value(obj, f) for f in fields}
        related_before: dict[str, str | None] = {}
        for f in fields:
            if not created and f.is_relation and f.name in values:
                new = values[f.name]
                old_id = getattr(obj, f.attname)
                if old_id != (new.pk if new is not None else None):
                    related_before[f.name] = str(getattr(obj, f.name)) if old_id is not None else None
        for name, value in values.items():
            setattr(obj, name, value)
        # Related objects were found or created by this import, so their existence needs no query; unique
        # rules are proven by the key lookup when every unique set contains the key.
        related = [f.name for f in fields if f.is_relation]
        unique_proven = _key_is_unique_check(model, frozenset(key))
        try:
            obj.full_clean(exclude=related, validate_unique=not unique_proven, validate_constraints=not unique_proven)
        except ValidationError as exc:
            self._model_errors(exc, path, doc_names or {})
            return None
        after = {f.name: self._value(obj, f) for f in fields}
        if created or before != after:
            obj.save()
            self._rows[kid] = obj
            self._asked.add(kid)
        return Change(obj, created, before, after, related_before, path)

    def _readable(self, change: Change, names: Any, side: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        source = change.after if side == "after" else change.before
        for name in names:
            f = change.obj._meta.get_field(name)
            if f.many_to_many or not f.is_relation:
                out[name] = source[name]
            elif side == "before":
                out[name] = change.related_before.get(name)
            else:
                related = getattr(change.obj, name)
                out[name] = str(related) if related is not None else None
        return out

    def _model_errors(self, exc: ValidationError, path: Path, doc_names: dict[str, str]) -> None:
        for name, errors in exc.error_dict.items() if hasattr(exc, "error_dict") else [("__all__", exc.error_list)]:
            fpath = path if name == "__all__" else (*path, doc_names.get(name, name))
            for error in errors:
                nth = (error.params or {}).get("nth") if error.code == "item_invalid" else None
                message = " ".join(error.messages)
                self.doc.error((*fpath, nth - 1) if nth else fpath, message)

    def set_m2m(self, change: Change, name: str, objs: list[models.Model]) -> None:
        manager = getattr(change.obj, name)
        # A row this import created has no links yet: no need to ask (one query per object saved).
        current = [] if change.created else list(manager.all())
        if {o.pk for o in current} != {o.pk for o in objs}:
            manager.add(*objs) if change.created else manager.set(objs)
            change.before[name] = sorted(str(o) for o in current)
            change.after[name] = sorted(str(o) for o in objs)

    def owner(self, obj: models.Model) -> str:
        """The organisation whose document the object belongs to, when that is another one than this
        document's; "" otherwise."""
        label = obj._meta.label_lower
        if label not in self._owners:
            rows = Ownership.objects.filter(model=label).exclude(organisation=self.organisation)
            self._owners[label] = dict(rows.values_list("object_id", "organisation"))
        return self._owners[label].get(obj.pk, "")

    def _refused_move(self, change: Change) -> tuple[bool, str]:
        """(refused, note) for a change to an existing object that another organisation's document owns."""
        owner = self.owner(change.obj)
        if not owner:
            return False, ""
        if self.adopt:
            self._adopted.add((change.obj._meta.label_lower, change.obj.pk))
            return False, f"; adopted from {owner}"
        changed = ", ".join(audit.changes(change.before, change.after)[1])
        this = self.organisation or "one without an organisation"
        self.doc.error(change.path, f"{change.obj._meta.verbose_name} {str(change.obj)!r} belongs to the "
                                    f"inventory of {owner}; this document ({this}) would change its {changed}. "
                                    f"Import with the adopt option (--adopt, or 'adopt' on the upload page) to "
                                    f"move it to this organisation")
        return True, ""

    def commit(self, change: Change | None, note: str = "") -> None:
        if change is None:
            return
        if self.organisation:
            self._touched.add((change.obj._meta.label_lower, change.obj.pk))
        if not change.created and change.before != change.after:
            refused, adopted = self._refused_move(change)
            if refused:
                return
            note += adopted
        label = change.obj._meta.model_name
        if change.created:
            after = self._readable(change, change.after, "after")
            self.events.append(audit.build(self.actor, f"inventory.{label}.created", change.obj, after=after,
                                           note=note))
            self.counts["created"] += 1
        elif change.before != change.after:
            changed = audit.changes(change.before, change.after)[1]
            before, after = self._readable(change, changed, "before"), self._readable(change, changed, "after")
            self.events.append(audit.build(self.actor, f"inventory.{label}.updated", change.obj, before, after,
                                           note=note))
            self.counts["updated"] += 1
        else:
            self.counts["unchanged"] += 1

    def flush(self) -> None:
        audit.record_many(self.events)
        self.events = []
        if not self.organisation:
            return
        # Unowned objects this document names become its own (the first import of an existing install).
        Ownership.objects.bulk_create([Ownership(model=m, object_id=pk, organisation=self.organisation)
                                       for m, pk in sorted(self._touched)], ignore_conflicts=True)
        by_model: dict[str, list[int]] = {}
        for m, pk in self._adopted:
            by_model.setdefault(m, []).append(pk)
        for m, pks in by_model.items():
            Ownership.objects.filter(model=m, object_id__in=pks).update(organisation=self.organisation)

    def remove(self, obj: models.Model, note: str = "") -> None:
        audit.record(self.actor, f"inventory.{obj._meta.model_name}.removed", obj, before={"repr": str(obj)}, note=note)
        obj.delete()
        self.counts["removed"] += 1


class Context:
    """What a section handler gets: the document, the writer, and lookups of what the core sections wrote
    (or what is already in the database)."""

    def __init__(self, doc: Document, writer: Writer):
        self.doc = doc
        self.writer = writer
        self.note = f"import {doc.source}"
        self._cache: dict[tuple[str, str], models.Model] = {}
        # Customers are audited once, after their services are linked.
        self.pending_customers: list[tuple[Path, dict[str, Any], Change]] = []

    def remember(self, kind: str, key: str, obj: models.Model) -> None:
        self._cache[(kind, key)] = obj

    def get(self, kind: str, key: str) -> Any:
        if (kind, key) not in self._cache:
            self._cache[(kind, key)] = self._load(kind, key)
        return self._cache[(kind, key)]

    @staticmethod
    def _load(kind: str, key: str) -> models.Model:
        if kind == "zone":
            provider, region, slug = key.split("/")
            return Zone.objects.get(region__provider__slug=provider, region__slug=region, slug=slug)
        if kind == "region":
            provider, slug = key.split("/")
            return Region.objects.get(provider__slug=provider, slug=slug)
        model, field_name = {
            "provider": (Provider, "slug"),
            "account": (ProviderAccount, "name"),
            "server": (Server, "name"),
            "asset": (Asset, "name"),
            "customer": (Customer, "slug"),
            "service": (Service, "slug"),
            "office": (Office, "slug"),
        }[kind]
        return model.objects.get(**{field_name: key})


def _present(item: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Model field -> value for the document keys that are present. Absent keys leave the stored value
    alone, so what discovery or a recovery wrote (node ids, status) survives a re-import."""
    return {model_name: item[doc_name] for model_name, doc_name in mapping.items() if doc_name in item}


def _prime(ctx: Context, model: type[models.Model], key: str, values: list[Any], *related: str,
           prefetch: tuple[str, ...] = ()) -> None:
    rows = model.objects.filter(**{f"{key}__in": values}).select_related(*related).prefetch_related(*prefetch)
    ctx.writer.prime(model, [key], rows, [{key: v} for v in values])


def _write_locations(ctx: Context) -> None:
    w = ctx.writer
    _prime(ctx, Provider, "slug", [p["slug"] for _, p in ctx.doc.items("providers")])
    _prime(ctx, ProviderAccount, "name", [a["name"] for _, a in ctx.doc.items("accounts")], "provider")
    for path, p in ctx.doc.items("providers"):
        change = w.upsert(Provider, {"slug": p["slug"]}, {"name": p["name"], "kind": p["kind"]}, path)
        w.commit(change, ctx.note)
        if change is None:
            continue
        ctx.remember("provider", p["slug"], change.obj)
        for i, r in enumerate(p.get("regions", [])):
            rpath = (*path, "regions", i)
            rc = w.upsert(Region, {"provider": change.obj, "slug": r["slug"]}, {"name": r["name"]}, rpath)
            w.commit(rc, ctx.note)
            if rc is None:
                continue
            ctx.remember("region", f"{p['slug']}/{r['slug']}", rc.obj)
            for j, z in enumerate(r.get("zones", [])):
                zc = w.upsert(Zone, {"region": rc.obj, "slug": z["slug"]}, {"name": z["name"]}, (*rpath, "zones", j))
                w.commit(zc, ctx.note)
                if zc is not None:
                    ctx.remember("zone", f"{p['slug']}/{r['slug']}/{z['slug']}", zc.obj)
    for path, a in ctx.doc.items("accounts"):
        values = {"provider": ctx.get("provider", a["provider"]), "driver": a["driver"]}
        values |= _present(a, {"credentials_env": "credentials_env", "options": "options"})
        change = w.upsert(ProviderAccount, {"name": a["name"]}, values, path)
        w.commit(change, ctx.note)
        if change is not None:
            ctx.remember("account", a["name"], change.obj)


SERVER_FIELDS = {
    "role": "role", "provider_node_id": "provider_node_id", "image": "image", "size": "size",
    "dns_names": "dns_names", "stateless": "stateless", "status": "status", "metadata": "metadata",
}


def _write_servers(ctx: Context) -> None:
    w = ctx.writer
    names = [s["name"] for _, s in ctx.doc.items("servers")]
    _prime(ctx, Server, "name", names, "zone__region__provider", "account")
    _prime(ctx, Asset, "name", names, "server", "account", "zone")
    for path, s in ctx.doc.items("servers"):
        values = _present(s, SERVER_FIELDS) | {"zone": ctx.get("zone", s["zone"])}
        for list_name in ("public_ips", "private_ips"):
            if list_name in s:
                values[list_name] = [_normal_ip(ip) for ip in s[list_name]]
        if "account" in s:
            values["account"] = ctx.get("account", s["account"])
        change = w.upsert(Server, {"name": s["name"]}, values, path)
        w.commit(change, ctx.note)
        if change is None:
            continue
        server = change.obj
        ctx.remember("server", server.name, server)
        # Every server is an asset too: its system images are what backup policies of kind system_image protect.
        asset = w.upsert(
            Asset, {"name": server.name}, {"kind": AssetKind.SERVER, "server": server, "account": server.account,
                                           "zone": None}, (*path, "name")
        )
        w.commit(asset, ctx.note)
        if asset is not None:
            ctx.remember("asset", server.name, asset.obj)


ASSET_FIELDS = {"external_id": "external_id", "description": "description", "metadata": "metadata",
                "dumps": "dumps", "restore": "restore"}


def _asset_values(ctx: Context, a: dict[str, Any], customer: Customer | None) -> dict[str, Any]:
    values = _present(a, ASSET_FIELDS)
    values["kind"] = a.get("kind", AssetKind.DATABASE if "server" in a else AssetKind.MANAGED_DATABASE)
    values["server"] = ctx.get("server", a["server"]) if "server" in a else None
    values["zone"] = ctx.get("zone", a["zone"]) if "zone" in a else None
    if customer is not None or "customer" in a:
        values["customer"] = customer or ctx.get("customer", a["customer"])
    if "account" in a:
        values["account"] = ctx.get("account", a["account"])
    values["mirror_of"] = ctx.get("asset", a["mirror_of"]) if "mirror_of" in a else None
    return values


def _write_assets(ctx: Context) -> None:
    w = ctx.writer
    pending: list[tuple[Path, dict[str, Any], Customer | None]] = [(p, a, None) for p, a in ctx.doc.items("assets")]
    for path, c in ctx.doc.items("customers"):
        customer = ctx.get("customer", c["slug"])
        pending += [((*path, "databases", i), db, customer) for i, db in enumerate(c.get("databases", []))]
    names = {a["name"] for _, a, _ in pending}
    _prime(ctx, Asset, "name", sorted(names), "server", "zone", "customer", "account", "mirror_of")
    done: set[str] = set()
    # Origins before their mirrors (loops were refused in the check pass, so this ends).
    while pending:
        ready = [(p, a, c) for p, a, c in pending if a.get("mirror_of") not in names or a["mirror_of"] in done]
        if not ready:
            break
        for path, a, customer in ready:
            change = w.upsert(Asset, {"name": a["name"]}, _asset_values(ctx, a, customer), path)
            w.commit(change, ctx.note)
            done.add(a["name"])
            if change is not None:
                ctx.remember("asset", a["name"], change.obj)
        pending = [x for x in pending if x[1]["name"] not in done]


def _write_customers(ctx: Context) -> None:
    _prime(ctx, Customer, "slug", [c["slug"] for _, c in ctx.doc.items("customers")], prefetch=("services",))
    for path, c in ctx.doc.items("customers"):
        values = _present(c, {"name": "name", "tier": "tier", "status": "status"})
        if "terminated_on" in c:
            day = dt.date.fromisoformat(c["terminated_on"])
            values["terminated_at"] = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        change = ctx.writer.upsert(Customer, {"slug": c["slug"]}, values, path, {"terminated_at": "terminated_on"})
        if change is None:
            continue
        ctx.remember("customer", c["slug"], change.obj)
        # Committed (audited) after services are linked, so a customer gets one record, not two.
        ctx.pending_customers.append((path, c, change))


def _write_services(ctx: Context) -> None:
    w = ctx.writer
    slugs = [s["slug"] for _, s in ctx.doc.items("services")]
    _prime(ctx, Service, "slug", slugs, prefetch=("servers", "assets"))
    for path, s in ctx.doc.items("services"):
        values = _present(s, {"name": "name", "public_name": "public_name", "description": "description"})
        change = w.upsert(Service, {"slug": s["slug"]}, values, path)
        if change is None:
            continue
        if "servers" in s:
            w.set_m2m(change, "servers", [ctx.get("server", n) for n in s["servers"]])
        if "assets" in s:
            w.set_m2m(change, "assets", [ctx.get("asset", n) for n in s["assets"]])
        w.commit(change, ctx.note)
        ctx.remember("service", s["slug"], change.obj)


def _finish_customers(ctx: Context) -> None:
    w = ctx.writer
    listed = [change.obj for _, c, change in ctx.pending_customers if "contacts" in c]
    existing: dict[int, list[CustomerContact]] = {}
    rows = list(CustomerContact.objects.filter(customer__in=listed))
    for row in rows:
        existing.setdefault(row.customer_id, []).append(row)
    asked = [{"customer": change.obj, "purpose": contact["purpose"], "email": contact.get("email", "")}
             for _, c, change in ctx.pending_customers for contact in c.get("contacts", [])]
    w.prime(CustomerContact, ["customer", "purpose", "email"], rows, asked)
    for path, c, change in ctx.pending_customers:
        if "services" in c:
            w.set_m2m(change, "services", [ctx.get("service", slug) for slug in c["services"]])
        w.commit(change, ctx.note)
        if "contacts" not in c:
            continue
        # The document's list is the customer's whole list: contacts it no longer names are removed.
        kept: set[int] = set()
        for i, contact in enumerate(c["contacts"]):
            key = {"customer": change.obj, "purpose": contact["purpose"]}
            key["email"] = contact.get("email", "")
            values = _present(contact, {"name": "name", "phone": "phone"})
            cc = w.upsert(CustomerContact, key, values, (*path, "contacts", i))
            w.commit(cc, ctx.note)
            if cc is not None:
                kept.add(cc.obj.pk)
        for stale in existing.get(change.obj.pk, []):
            if stale.pk not in kept:
                w.remove(stale, ctx.note)


PERSON_FIELDS = {
    "name": "name", "title": "title", "phone": "phone", "is_key_personnel": "key_personnel",
    "call_forwarding_order": "call_forwarding_order", "on_site_rank": "on_site_rank", "has_laptop": "laptop",
    "has_home_internet": "home_internet", "coworking_member": "coworking_member",
}
OFFICE_FIELDS = {k: k for k in ("name", "address", "city", "main_phone", "person_in_charge_role", "notes")}
EXTERNAL_FIELDS = {k: k for k in ("name", "phone", "email", "account_number", "notes")}


def _write_people(ctx: Context) -> None:
    w = ctx.writer
    _prime(ctx, Office, "slug", [o["slug"] for _, o in ctx.doc.items("offices")])
    _prime(ctx, Person, "email", [p["email"] for _, p in ctx.doc.items("people")], "office")
    externals = [{"kind": e["kind"], "organisation": e["organisation"]} for _, e in ctx.doc.items("external_contacts")]
    rows = ExternalContact.objects.filter(organisation__in=[e["organisation"] for e in externals])
    w.prime(ExternalContact, ["kind", "organisation"], rows, externals)
    for path, o in ctx.doc.items("offices"):
        change = w.upsert(Office, {"slug": o["slug"]}, _present(o, OFFICE_FIELDS), path)
        w.commit(change, ctx.note)
        if change is not None:
            ctx.remember("office", o["slug"], change.obj)
    for path, p in ctx.doc.items("people"):
        values = _present(p, PERSON_FIELDS)
        if "office" in p:
            values["office"] = ctx.get("office", p["office"])
        w.commit(w.upsert(Person, {"email": p["email"]}, values, path, PERSON_FIELDS), ctx.note)
    for path, e in ctx.doc.items("external_contacts"):
        key = {"kind": e["kind"], "organisation": e["organisation"]}
        w.commit(w.upsert(ExternalContact, key, _present(e, EXTERNAL_FIELDS), path), ctx.note)


# ------------------------------------------------------------------------------------------ sections


@dataclass
class Section:
    """A document section whose models live in another app. `validate` runs in the check pass (report
    problems with doc.error(path, message)); `apply` runs inside the import's transaction and writes through
    ctx.writer (upsert / set_m2m / commit) so counts, audit records and rollback work as for the core."""

    name: str
    apply: Callable[[Context, list[tuple[Path, dict[str, Any]]]], None]
    validate: Callable[[Document, list[tuple[Path, dict[str, Any]]]], None] | None = None


SECTIONS: dict[str, Section] = {}

# Sections the schema accepts whose handler an app registers; until it does they are checked, not stored.
PLUGGABLE = ("backup_policies",)


def register_section(section: Section) -> None:
    if section.name not in PLUGGABLE:
        raise ValueError(f"{section.name!r} is not a pluggable section of the inventory document")
    SECTIONS[section.name] = section


# ------------------------------------------------------------------------------------------ entry point


def import_inventory(text: str, actor: Any, source: str = "<document>", adopt: bool = False) -> str:
    """Apply one inventory document whole, or raise InventoryError with every problem (line and field)
    and write nothing. Returns a summary like "12 created, 3 updated, 40 unchanged". Objects another
    organisation's document owns are changed only with `adopt`, which makes them this organisation's."""
    doc = check_shape(text, source)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            check_meaning(doc)
            ctx = Context(doc, Writer(doc, actor, adopt=adopt))
            # Each step needs the objects of the ones before; a refused object stops the import after its step.
            for step in (_write_locations, _write_servers, _write_customers, _write_assets, _write_services,
                         _finish_customers, _write_people):
                step(ctx)
                doc.raise_if_errors()
            for name, section in SECTIONS.items():
                if doc.data.get(name):
                    section.apply(ctx, list(doc.items(name)))
                    doc.raise_if_errors()
            ctx.writer.flush()
    except DatabaseError as exc:
        # A constraint the checks did not foresee: the transaction is rolled back, the document refused.
        raise InventoryError([f"{source}: the database refused the document ({type(exc).__name__}): "
                              f"{(str(exc).splitlines() or [''])[0][:200]}"]) from exc
    except ObjectDoesNotExist as exc:
        # A referenced row deleted by someone else between the check and the write (the lock covers imports
        # only): rolled back like any other refusal.
        raise InventoryError([f"{source}: a referenced object disappeared during the import: {exc}"]) from exc
    counts = ctx.writer.counts
    summary = f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged"
    if counts["removed"]:
        summary += f", {counts['removed']} removed"
    pending = [n for n in PLUGGABLE if doc.data.get(n) and n not in SECTIONS]
    for name in pending:
        summary += f"; {len(doc.data[name])} {name} checked but not stored (no handler registered yet)"
    return summary
