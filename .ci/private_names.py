"""No module uses another module's underscore names (issue 15): `make lint` runs this after lint-imports.

import-linter has no contract for names (its private_modules contract covers `_module.py` files only), so this
walks the source: `from x import _name` and `x._name` on an imported first-party module are refused. A name
another module needs is public API: name it without the underscore and document it where it lives.

Usage: private_names.py [--root DIR] PACKAGE...   exit 1 and one line per use when any is found.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

# Uses that exist today and are still to go, each with why it stays for now. A new use fails `make lint`;
# an entry here that no longer matches fails too, so the list only shrinks.
ALLOWED: dict[tuple[str, str], str] = {
    # The confirm page reads a subscriber's token without confirming it yet: to go public as subscribers.read
    # (subscribers.py is being changed on another branch).
    ("notifications.status_views", "notifications.subscribers._read"): "token read before confirming",
    # The benchmarks share one Django set-up: to go public as bench.backups_bench.setup_django (or a small
    # bench/support.py); backups_bench.py is being changed on other branches.
    ("bench.metrics_scrape", "bench.backups_bench._setup_django"): "shared bench set-up",
    ("bench.pages", "bench.backups_bench._setup_django"): "shared bench set-up",
    ("bench.readiness", "bench.backups_bench._setup_django"): "shared bench set-up",
    # The readiness benchmark signs in as the pages benchmark does: to go public with the set-up above.
    ("bench.readiness", "bench.pages._admin_client"): "shared signed-in client",
}


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _is_module(name: str, root: Path) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def uses_in(path: Path, root: Path, packages: set[str]) -> list[tuple[str, str, int]]:
    """(target module, name, line) for each use of another first-party module's underscore name in `path`."""
    module = _module_name(path, root)
    tree = ast.parse(path.read_text(), filename=str(path))
    first_party = lambda name: name.split(".")[0] in packages  # noqa: E731
    aliases: dict[str, str] = {}  # local name -> first-party module it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if first_party(alias.name):
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(node, module, path.name == "__init__.py")
            if not first_party(source):
                continue
            for alias in node.names:
                if _is_module(f"{source}.{alias.name}", root):
                    # A private *module* is import-linter's private_modules contract, not ours.
                    aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif _private(alias.name) and source != module:
                    found.append((source, alias.name, node.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            target = _dotted(node.value, aliases)
            if target and target != module and _is_module(target, root):
                found.append((target, node.attr, node.lineno))
    return found


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value, aliases)
        return f"{head}.{node.attr}" if head else None
    return None


def check(root: Path, packages: list[str], allowed: dict[tuple[str, str], str]) -> list[str]:
    """One message per use that is not allowed, and per allowed entry that no longer matches anything."""
    errors, seen = [], set()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            importer = _module_name(path, root)
            for target, name, line in uses_in(path, root, set(packages)):
                if (importer, f"{target}.{name}") in allowed:
                    seen.add((importer, f"{target}.{name}"))
                    continue
                errors.append(f"{path.relative_to(root)}:{line}: {importer} uses {target}.{name}, "
                              f"another module's underscore name (make it public where it lives)")
    errors += [f"allowed use no longer found (remove it from ALLOWED): {importer} -> {name}"
               for importer, name in sorted(set(allowed) - seen)]
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--no-allowed", action="store_true", help="ignore ALLOWED (for a tree of one's own)")
    parser.add_argument("packages", nargs="+")
    args = parser.parse_args(argv)
    errors = check(args.root.resolve(), args.packages, {} if args.no_allowed else ALLOWED)
    for error in errors:
        print(error)
    print(f"Private names: {'BROKEN' if errors else 'KEPT'} ({len(errors)} problems).")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
