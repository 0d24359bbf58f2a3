"""No function over 60 lines without a comment saying why (issue 15): `make lint` runs this after private_names.

A function longer than LIMIT lines (from its `def` to its last line) needs a `# long because: ...` comment in
it (or on the line above its `def`) saying why it is not split. The ones that were long when this check came are
listed in ALLOWED, to be shortened or given their reason; a new long function fails, and an entry that is no
longer long (or no longer exists) fails too, so the list only shrinks.

Usage: long_functions.py [--root DIR] [--no-allowed] [--list] PACKAGE...
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

LIMIT = 60
REASON = "# long because:"

# "module:qualified name" of the long functions of today, each still to be shortened or to say why it is long.
ALLOWED: set[str] = {
    # The notices benchmark's one scenario, step by step: to go into set-up, send and measure parts.
    "bench.notices:run",
    # The plan document's PDF, page by page: to go into one function per page.
    "scenarios.plandoc:pdf",
}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def long_functions(path: Path, root: Path, limit: int = LIMIT) -> list[tuple[str, int, int]]:
    """(module:qualname, line, length) of each function in `path` over `limit` lines without a reason."""
    text = path.read_text()
    lines = text.splitlines()
    module = _module_name(path, root)
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                length = child.end_lineno - child.lineno + 1
                # The line above the def (or above its decorators) may carry the reason too.
                first = min([child.lineno, *(d.lineno for d in child.decorator_list)]) - 1
                body = lines[max(first - 1, 0):child.end_lineno]
                if length > limit and not any(REASON in line for line in body):
                    found.append((f"{module}:{name}", child.lineno, length))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(text, filename=str(path)), "")
    return found


def check(root: Path, packages: list[str], allowed: set[str]) -> tuple[list[str], list[tuple[str, int, int]]]:
    """One message per long function not allowed and per allowed entry that is no longer long; and all found."""
    errors, seen, found = [], set(), []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # generated
            for name, line, length in long_functions(path, root):
                found.append((name, line, length))
                if name in allowed:
                    seen.add(name)
                    continue
                errors.append(f"{path.relative_to(root)}:{line}: {name} is {length} lines (over {LIMIT}): "
                              f"split it, or say why in a '{REASON} ...' comment")
    errors += [f"allowed long function no longer found (remove it from ALLOWED): {name}"
               for name in sorted(allowed - seen)]
    return errors, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path.cwd())
    parser.add_argument("--no-allowed", action="store_true", help="ignore ALLOWED (for a tree of one's own)")
    parser.add_argument("--list", action="store_true", help="print every long function without a reason")
    parser.add_argument("packages", nargs="+")
    args = parser.parse_args(argv)
    errors, found = check(args.root.resolve(), args.packages, set() if args.no_allowed else ALLOWED)
    if args.list:
        for name, line, length in sorted(found, key=lambda f: -f[2]):
            print(f"{length:4d} {name} (line {line})")
        return 0
    for error in errors:
        print(error)
    print(f"Long functions: {'BROKEN' if errors else 'KEPT'} ({len(errors)} problems, {len(ALLOWED)} allowed).")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
