"""The root command: only `init` makes a folder a lab; every other lab command refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli

LAB_COMMANDS = [
    ["users"],
    ["add-user", "carol"],
    ["remove-user", "carol"],
    ["grant", "carol", "carol@lab.org"],
    ["revoke", "carol", "carol@lab.org"],
    ["render"],
    ["plan"],
    ["apply", "--yes"],
    ["status"],
    ["destroy", "--yes"],
    ["unlock", "123"],
]


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", LAB_COMMANDS, ids=lambda c: c[0])
def test_a_command_in_a_folder_that_is_no_lab_exits_2_and_creates_nothing(
    cli: Cli, lab_dir: Path, command: list[str]
) -> None:
    (lab_dir / "notes.txt").write_text("not a lab\n")
    result = cli(*command)
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: this folder is not a lab (no .env or users.yaml): run `mlflowk8s init` "
        "there, or pass --lab-dir\n"
    )
    assert tree(lab_dir) == ["notes.txt"]


@pytest.mark.parametrize("command", [["users"], ["plan"]], ids=lambda c: c[0])
def test_a_missing_lab_dir_exits_2_and_is_not_created(
    cli: Cli, lab_dir: Path, command: list[str]
) -> None:
    missing = lab_dir / "typo"
    result = cli("--lab-dir", str(missing), *command)
    assert result.code == 2
    assert result.stderr == (
        f"error: no lab folder {missing}: check --lab-dir, or run `mlflowk8s init` there\n"
    )
    assert tree(lab_dir) == []


def test_help_imports_no_target(cli: Cli) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from mlflowk8s.cli.app import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('mlflowk8s.targets.')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli.env, check=True
    ).stdout
    assert out.splitlines()[-1] == "[]"
