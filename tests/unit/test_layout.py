"""Where things live: the core never imports the CLI, targets stay in their packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mlflowk8s import targets
from tests.conftest import REPO

SRC = REPO / "src" / "mlflowk8s"
MODULES = sorted(SRC.rglob("*.py"))


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def relative(path: Path) -> str:
    return str(path.relative_to(SRC))


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_only_the_cli_imports_the_cli(path: Path) -> None:
    if relative(path).startswith("cli/") or path.name == "__main__.py":
        return
    assert not any(name.startswith("mlflowk8s.cli") for name in imports(path))


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_no_code_outside_targets_compares_a_target_name(path: Path) -> None:
    if relative(path).startswith("targets/"):
        return
    names = set(targets.REGISTRY)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            constants = {o.value for o in operands if isinstance(o, ast.Constant)}
            assert not constants & names, f"{relative(path)}:{node.lineno}"


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_the_terraform_machinery_knows_no_target(path: Path) -> None:
    if not relative(path).startswith("terraform/"):
        return
    assert not any(name.startswith("mlflowk8s.targets") for name in imports(path))
    assert "gcp" not in path.read_text(encoding="utf-8").lower()


def test_every_registered_target_is_a_package_with_its_settings_and_init() -> None:
    for name in targets.REGISTRY:
        cls = targets.target_class(name)
        assert cls.name == name
        assert (SRC / "targets" / name / "__init__.py").is_file()
        assert callable(cls.init.settings) and callable(cls.init.prepare)
        assert isinstance(dict(cls.settings_checks), dict)
    assert targets.DEFAULT_TARGET in targets.REGISTRY


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_only_the_lab_reads_the_lab_files(path: Path) -> None:
    if relative(path).startswith("lab/"):
        return
    called = {
        node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
    }
    assert not called & {"load_settings", "load_users", "parse_users"}, relative(path)


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_no_target_package_imports_another_target_package(path: Path) -> None:
    # What two targets share lives outside both (google/ for the Google targets).
    parts = Path(relative(path)).parts
    if parts[0] != "targets" or len(parts) < 3:
        return
    own = f"mlflowk8s.targets.{parts[1]}"
    others = {f"mlflowk8s.targets.{name}" for name in targets.REGISTRY} - {own}
    found = [n for n in imports(path) if any(n == o or n.startswith(o + ".") for o in others)]
    assert not found, f"{relative(path)} imports {found}"


@pytest.mark.parametrize("path", MODULES, ids=relative)
def test_the_shared_google_pieces_import_no_target_package(path: Path) -> None:
    if not relative(path).startswith("google/"):
        return
    found = [n for n in imports(path) if n.startswith("mlflowk8s.targets.")]
    assert found in ([], ["mlflowk8s.targets.base"]), f"{relative(path)} imports {found}"
