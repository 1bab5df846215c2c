"""Shell completion through Typer's own machinery, for bash, zsh and fish."""

from __future__ import annotations

import pytest

from tests.conftest import Cli


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_script_for_each_shell(cli: Cli, shell: str) -> None:
    result = cli("--show-completion", shell)
    assert result.code == 0
    assert "_MLFLOWK8S_COMPLETE" in result.stdout


def test_bash_completes_commands(cli: Cli) -> None:
    cli.env.update({"_MLFLOWK8S_COMPLETE": "complete_bash", "COMP_WORDS": "mlflowk8s back",
                    "COMP_CWORD": "1"})  # fmt: skip
    result = cli()
    assert result.code == 0
    assert result.stdout.split() == ["backup", "backups"]


def test_help_names_completion_and_detailed_exit_codes(cli: Cli) -> None:
    out = cli("--help").stdout
    assert "--install-completion" in out
    plan_help = " ".join(cli("plan", "--help").stdout.split())  # unwrapped
    assert "Exit 0 with no changes, 2 with changes, 1 on any error (usage errors too)" in plan_help
