"""How the sections write: objects created or updated in place by their natural key, `full_clean()`ed before they
are saved, counted, and audited once each (Writer); and what a section gets to work with (Context)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from drportal.audit import log as audit
from drportal.audit.models import AuditEvent
from drportal.inventory.catalog import NATURAL_KEYS
from drportal.inventory.document import Document, Path
from drportal.inventory.models import (
    Ownership,
    Region,
    Zone,
)


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
        model, field_name = NATURAL_KEYS[kind]
        return model.objects.get(**{field_name: key})


def present(item: dict[str, Any], mapping: dict[str, str]) -> dict[str, Any]:
    """Model field -> value for the document keys that are present. Absent keys leave the stored value
    alone, so what discovery or a recovery wrote (node ids, status) survives a re-import."""
    return {model_name: item[doc_name] for model_name, doc_name in mapping.items() if doc_name in item}


def prime(ctx: Context, model: type[models.Model], key: str, values: list[Any], *related: str,
           prefetch: tuple[str, ...] = ()) -> None:
    rows = model.objects.filter(**{f"{key}__in": values}).select_related(*related).prefetch_related(*prefetch)
    ctx.writer.prime(model, [key], rows, [{key: v} for v in values])
