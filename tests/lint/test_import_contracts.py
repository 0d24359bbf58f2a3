"""`make lint` holds the apps' layers and refuses import cycles (issue 15).

The contracts are the real ones from pyproject.toml, run by the real lint-imports: once over the real tree, and
over a small tree in tmp_path with the same packages, so a deliberately bad import there must break them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    # lint-imports puts its working directory first on sys.path, so the tree linted is the one in `cwd`.
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120,
                          check=False)


def real_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def write_tree(tmp_path: Path) -> Path:
    """Every module the real contracts name, empty, with the real contracts minus today's ignored imports
    (which this tree does not have)."""
    config = real_config()
    names = {name.strip() for layer in config["contracts"][0]["layers"] for name in layer.split("|")}
    for name in names | set(config["root_packages"]) | {"backups.sweep", "backups.exposure"}:
        path = tmp_path.joinpath(*name.split("."))
        if ROOT.joinpath(*name.split(".")).with_suffix(".py").exists():  # a module in the real tree: a module here
            path.parent.mkdir(parents=True, exist_ok=True)
            path.with_suffix(".py").touch()
        else:
            path.mkdir(parents=True, exist_ok=True)
            (path / "__init__.py").touch()
    lines = ["[tool.importlinter]", f"root_packages = {json.dumps(config['root_packages'])}"]
    for contract in config["contracts"]:
        lines.append("[[tool.importlinter.contracts]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in contract.items() if key != "ignore_imports"]
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return tmp_path


def test_the_real_tree_keeps_every_contract():
    result = lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_tree_with_the_real_layers_and_no_bad_import_is_kept(tmp_path):
    result = lint_imports(write_tree(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr


def test_an_upward_import_from_the_lowest_layer_breaks_the_layers(tmp_path):
    tree = write_tree(tmp_path)
    (tree / "drportal" / "lib" / "upward.py").write_text("import scenarios\n")

    result = lint_imports(tree)

    assert result.returncode == 1
    assert "drportal.lib is not allowed to import scenarios" in result.stdout
    assert "drportal.lib.upward -> scenarios (l.1)" in result.stdout


def test_backups_paging_staff_by_importing_notifications_breaks_the_layers(tmp_path):
    # The real violation today (ignored in pyproject.toml until it goes): a new one like it must fail.
    tree = write_tree(tmp_path)
    (tree / "backups" / "sweep.py").write_text("def late():\n    from notifications import api\n")
    (tree / "notifications" / "api.py").touch()

    result = lint_imports(tree)

    assert result.returncode == 1
    assert "backups is not allowed to import notifications" in result.stdout


def test_a_cycle_between_two_modules_of_one_app_breaks_no_cycles_even_inside_a_function(tmp_path):
    tree = write_tree(tmp_path)
    (tree / "backups" / "sweep.py").write_text("from backups import exposure\n")
    # Hidden in a function it is still a cycle: it only moves the ImportError from import time to run time.
    (tree / "backups" / "exposure.py").write_text("def down():\n    from backups import sweep\n")

    result = lint_imports(tree)

    assert result.returncode == 1
    assert "No cycles are allowed in backups." in result.stdout
