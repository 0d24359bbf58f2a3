"""Scenario files: YAML under scenarios/library/, checked against docs/scenario.schema.json and then for
the things a schema cannot say (step references, cycles, duplicate keys).

Every error names the file, the line and the reason. A file with errors is left out of the library (it
cannot be run), and the rest of the app keeps working: the errors are shown, not raised.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from django.conf import settings

from drportal.lib import inputs

LIBRARY_DIR = Path(__file__).resolve().parent / "library"
SCHEMA_PATH = Path(settings.BASE_DIR) / "docs" / "scenario.schema.json"

# The recovery actions promised by the recovery-actions issue. A scenario may name them before they are
# installed; the step then fails with a clear message at run time and readiness says "not installed".
CATALOGUE_ACTIONS = frozenset({
    "provision_from_image", "run_deployment", "restore_database", "transfer_ip", "dns_cutover",
    "verify_dns_propagation", "rotate_load_balancer", "verify_failover", "reconfigure_offsite", "simulated",
    "restore_repository", "export_customer_data", "retire_node",
})


@dataclass(frozen=True)
class ScenarioError:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class Scenario:
    id: str
    path: str
    data: dict[str, Any]
    digest: str
    warnings: list[ScenarioError] = field(default_factory=list)

    @property
    def title(self) -> str:
        return self.data["title"]

    @property
    def disaster_class(self) -> str:
        return self.data["disaster_class"]

    @property
    def steps(self) -> list[dict[str, Any]]:
        return self.data["steps"]

    @property
    def rto_minutes(self) -> int:
        return self.data["objectives"]["rto_minutes"]

    @property
    def rpo_minutes(self) -> int | None:
        """What the file sets, None when it leaves the objective to the plan's promise (scenarios.promise)."""
        return self.data["objectives"].get("rpo_minutes")

    @property
    def target_region_source(self) -> str:
        """Where the target region comes from, in words for the scenario page and the plan: the plan's own
        sentence naming it (`target_region_quote`), or, when the plan names none, that drportal's configuration
        chose it, so no page claims the plan said it. "" when the scenario has no target region."""
        if not self.data.get("target_region"):
            return ""
        quote = str(self.data.get("target_region_quote") or "").strip()
        if quote:
            return f"named by the plan: “{quote}”"
        return "target region chosen by drportal's configuration, not the plan"

    @property
    def last_reviewed(self) -> date:
        return date.fromisoformat(self.data["last_reviewed"])

    def step(self, step_id: str) -> dict[str, Any]:
        return next(s for s in self.steps if s["id"] == step_id)


@dataclass
class Library:
    scenarios: dict[str, Scenario]
    errors: list[ScenarioError]

    def get(self, scenario_id: str) -> Scenario | None:
        return self.scenarios.get(scenario_id)

    def errors_for(self, path: str) -> list[ScenarioError]:
        return [e for e in self.errors if e.file == path]


# A scenario is a few hundred lines; these bound what a hostile or broken file can cost to read.
MAX_BYTES = 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 30


class _TooLarge(Exception):
    def __init__(self, line: int, reason: str):
        super().__init__(reason)
        self.line, self.reason = line, reason


class _Located:
    """The parsed document plus the line of every JSON path in it (1-based)."""

    def __init__(self) -> None:
        self.lines: dict[tuple, int] = {}
        self.errors: list[tuple[int, str]] = []
        self.count = 0

    def build(self, node: yaml.Node, loader: yaml.SafeLoader, path: tuple = ()) -> Any:
        line = node.start_mark.line + 1
        self.lines[path] = line
        # Aliases are followed, so a small file can name a billion values ("billion laughs"): counted here,
        # before they are built. Depth too: the build recurses.
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge(line, f"the file is too large (more than {MAX_NODES} values, aliases included)")
        if len(path) > MAX_DEPTH:
            raise _TooLarge(line, f"the file nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = str(loader.construct_object(key_node))
                if key in out:
                    # PyYAML keeps the last value silently; a duplicated step field is almost always a mistake.
                    self.errors.append((key_node.start_mark.line + 1, f"duplicate key {key!r}"))
                out[key] = self.build(value_node, loader, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, loader, (*path, i)) for i, v in enumerate(node.value)]
        where = "/".join(str(p) for p in path) or "(top level)"
        try:
            value = loader.construct_object(node)
        except (ValueError, TypeError, OverflowError) as exc:
            # An impossible date (2026-02-30) fails in PyYAML's timestamp constructor.
            self.errors.append((line, f"{where}: cannot read the value: {exc}"))
            return None
        # Dates stay strings, so the document is plain JSON (the schema and Run.spec both need that).
        if isinstance(value, datetime | date):
            return value.isoformat()
        if isinstance(value, str) and inputs.text_problem(value):
            self.errors.append((line, f"{where}: {inputs.text_problem(value)}"))
            return None
        return value

    def line(self, path) -> int:
        path = tuple(path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


@lru_cache(maxsize=1)
def _schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(settings.BASE_DIR).resolve()))
    except ValueError:
        return str(path)


def parse(text: str, name: str, registry: frozenset[str] | None = None) -> tuple[Scenario | None, list[ScenarioError]]:
    """Parse one scenario document. Returns (scenario or None, errors)."""
    errors: list[ScenarioError] = []
    located = _Located()
    try:
        inputs.check_yaml_text(text, max_bytes=MAX_BYTES, check_text=False)
    except inputs.InputError as exc:
        line = int(exc.field.removeprefix("line ")) if exc.field.startswith("line ") else 1
        return None, [ScenarioError(name, line, f"the file {exc.message}")]
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = located.build(node, loader) if node is not None else None
        finally:
            loader.dispose()
    except _TooLarge as exc:
        return None, [ScenarioError(name, exc.line, exc.reason)]
    except RecursionError:
        return None, [ScenarioError(name, 1, "the file nests too deeply")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [ScenarioError(name, line, f"YAML syntax: {problem}")]
    errors += [ScenarioError(name, line, reason) for line, reason in located.errors]
    if not isinstance(data, dict):
        return None, [*errors, ScenarioError(name, 1, "a scenario is a mapping with id, title, steps, ...")]

    validator = jsonschema.Draft202012Validator(_schema(), format_checker=jsonschema.FormatChecker())
    for err in sorted(validator.iter_errors(data), key=lambda e: located.line(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        errors.append(ScenarioError(name, located.line(err.absolute_path), f"{where}: {_reason(err)}"))
    if errors:
        return None, errors

    warnings: list[ScenarioError] = []
    errors += _check_graph(data, located, name, registry, warnings)
    if errors:
        return None, errors
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
    return Scenario(id=data["id"], path=name, data=data, digest=digest, warnings=warnings), []


def _reason(err: jsonschema.ValidationError) -> str:
    # The kind-specific branches live in if/then; jsonschema reports the innermost reason, which is the
    # useful one ("'instructions' is a required property"), so keep it and trim long reprs.
    message = err.message
    return message if len(message) < 300 else message[:297] + "..."


def _check_handover(steps: list[dict], index: dict[str, int], step: dict, i: int, located: _Located,
                    name: str) -> list[ScenarioError]:
    source = step.get("on_handover_from")
    if source and source not in step.get("after", []):
        return [ScenarioError(name, located.line(("steps", i, "on_handover_from")),
                              f"step {step['id']!r} must list {source!r} in 'after' to follow its handover")]
    if source in index and step.get("for_each") and step["for_each"] != steps[index[source]].get("for_each"):
        # The follow-up's rows run for the items the source handed over, matched by item: a per-server
        # follow-up of a per-database step would match none and restore nothing.
        return [ScenarioError(name, located.line(("steps", i, "on_handover_from")),
                              f"step {step['id']!r} follows the handover of {source!r} item by item: both "
                              f"must fan out over the same thing (for_each), or {step['id']!r} not at all")]
    return []


def _check_graph(
    data: dict, located: _Located, name: str, registry: frozenset[str] | None, warnings: list[ScenarioError]
) -> list[ScenarioError]:
    errors: list[ScenarioError] = []
    steps = data["steps"]
    index: dict[str, int] = {}
    for i, step in enumerate(steps):
        if step["id"] in index:
            errors.append(ScenarioError(name, located.line(("steps", i, "id")), f"duplicate step id {step['id']!r}"))
        index.setdefault(step["id"], i)

    for i, step in enumerate(steps):
        for j, dep in enumerate(step.get("after", [])):
            if dep not in index:
                errors.append(ScenarioError(name, located.line(("steps", i, "after", j)),
                                            f"step {step['id']!r} waits for unknown step {dep!r}"))
            elif dep == step["id"]:
                errors.append(ScenarioError(name, located.line(("steps", i, "after", j)),
                                            f"step {step['id']!r} waits for itself"))
        if step["kind"] == "decision":
            for k, option in enumerate(step["options"]):
                for m, target in enumerate(option["next"]):
                    where = located.line(("steps", i, "options", k, "next", m))
                    if target not in index:
                        errors.append(ScenarioError(name, where, f"option {option['value']!r} of {step['id']!r} "
                                                                 f"leads to unknown step {target!r}"))
                    elif step["id"] not in steps[index[target]].get("after", []):
                        errors.append(ScenarioError(name, where, f"step {target!r} follows decision {step['id']!r} "
                                                                 f"and must list it in 'after'"))
        for param_name, source in (step.get("inputs") or {}).items():
            if source.partition(".")[0] not in step.get("after", []):
                errors.append(ScenarioError(name, located.line(("steps", i, "inputs", param_name)),
                                            f"step {step['id']!r} takes {param_name} from {source!r}: that step "
                                            "must be in its 'after' (its outputs exist only once it has run)"))
        errors += _check_handover(steps, index, step, i, located, name)
        if step["kind"] == "automated":
            action = step["action"]
            installed = registry if registry is not None else frozenset()
            if action not in installed and action not in CATALOGUE_ACTIONS:
                errors.append(ScenarioError(name, located.line(("steps", i, "action")),
                                            f"unknown action {action!r}"))
            elif action not in installed and registry is not None:
                warnings.append(ScenarioError(name, located.line(("steps", i, "action")),
                                              f"action {action!r} is not installed yet; the step fails until it is"))
        errors += _check_placeholders(data, step, i, located, name)
    if errors:
        return errors

    cycle = _find_cycle({s["id"]: s.get("after", []) for s in steps})
    if cycle:
        errors.append(ScenarioError(name, located.line(("steps", index[cycle[0]])),
                                    "steps wait for each other in a cycle: " + " -> ".join(cycle)))
    return errors


# The names every step can bind (scenarios.engine.incident_bindings), and those a fan-out adds per item.
RUN_NAMES = frozenset({"incident_id", "incident_title", "public_summary", "servers", "databases", "zones",
                       "failed_region", "rto_minutes", "rpo_minutes", "customers"})
FOR_EACH_NAMES = {"server": frozenset({"server", "item"}),
                  "database": frozenset({"database", "server", "attached_storage", "item"}),
                  "customer": frozenset({"customer", "item"})}
# Texts of a step that people read or an action receives.
BOUND_FIELDS = ("title", "params", "subject", "body")


def _placeholders(value: Any) -> set[str]:
    import string

    if isinstance(value, str):
        try:
            return {field.split(".")[0].split("[")[0] for _, field, _, _ in string.Formatter().parse(value) if field}
        except ValueError:
            return set()
    if isinstance(value, list):
        return set().union(set(), *(_placeholders(v) for v in value))
    if isinstance(value, dict):
        return set().union(set(), *(_placeholders(v) for v in value.values()))
    return set()


def _check_placeholders(data: dict, step: dict, i: int, located: _Located, name: str) -> list[ScenarioError]:
    """Every {name} a step's texts use must be one its run can bind: per-item names only in a step that runs
    for each server or database, target_region in a title or notice only when the scenario names one,
    failed_region only for a class that loses a whole zone or region. Otherwise a page or a notice would read
    "( on )" or "in None"."""
    from drportal.incidents.scope import SERVER_ONLY_CLASSES

    allowed = set(RUN_NAMES) | FOR_EACH_NAMES.get(step.get("for_each", ""), frozenset())
    if data.get("target_region"):
        allowed.add("target_region")
    if data["disaster_class"] in SERVER_ONLY_CLASSES:
        allowed.discard("failed_region")
    errors = []
    for field_name in BOUND_FIELDS:
        # An action parameter bound to an unset target_region would be bound to nothing: a rebuild "in another
        # region" would quietly land in the account's default region, the one that was lost. A scenario that
        # names {target_region} anywhere must name the region.
        for unknown in sorted(_placeholders(step.get(field_name)) - allowed):
            why = ("its run has no such name" if unknown not in {"server", "database", "item", "attached_storage",
                                                                 "target_region", "failed_region"}
                   else "the scenario names no target_region" if unknown == "target_region"
                   else "a single-server disaster class has no failed region" if unknown == "failed_region"
                   else f"the step does not run for each {'server' if unknown == 'server' else 'database'}")
            errors.append(ScenarioError(name, located.line(("steps", i, field_name)),
                                        f"step {step['id']!r} uses {{{unknown}}} in its {field_name}, but {why}"))
    return errors


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if colour.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if dep not in colour:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        colour[node] = 2
        return None

    for node in graph:
        if node not in colour:
            found = visit(node)
            if found:
                return found
    return None


def installed_actions() -> frozenset[str]:
    import scenarios.simulated  # noqa: F401  (registers the simulated action)
    from drportal.cloud.actions.base import REGISTRY

    return frozenset(REGISTRY)


def load_dir(directory: Path | None = None) -> Library:
    directory = directory or LIBRARY_DIR
    registry = installed_actions()
    scenarios: dict[str, Scenario] = {}
    errors: list[ScenarioError] = []
    seen_at: dict[str, str] = {}
    for path in sorted(directory.glob("*.y*ml")):
        name = display_path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(ScenarioError(name, 1, f"cannot read: {exc}"))
            continue
        scenario, found = parse(text, name, registry)
        errors += found
        if scenario is None:
            continue
        if scenario.id in seen_at:
            errors.append(ScenarioError(name, 1,
                                        f"scenario id {scenario.id!r} is already used by {seen_at[scenario.id]}"))
            continue
        seen_at[scenario.id] = name
        scenarios[scenario.id] = scenario
    return Library(scenarios=scenarios, errors=errors)


_cache: dict[str, Any] = {}


def library(directory: Path | None = None) -> Library:
    """The library, re-read only when a file changed (by name, size and mtime)."""
    directory = directory or Path(getattr(settings, "SCENARIOS_DIR", LIBRARY_DIR))
    stamp = tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(directory.glob("*.y*ml")))
    key = str(directory)
    if _cache.get(key, (None,))[0] != stamp:
        _cache[key] = (stamp, load_dir(directory))
    return _cache[key][1]
