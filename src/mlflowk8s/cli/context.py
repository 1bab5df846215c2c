"""The shared context every command gets, and the output helpers they use.

Only this package turns :mod:`mlflowk8s.errors` into exit codes (see ``app.main``).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from mlflowk8s.errors import ConfirmationRequired

if TYPE_CHECKING:
    from rich.console import Console

    from mlflowk8s.settings import Settings
    from mlflowk8s.users import UsersFile


@dataclass
class LabContext:
    lab_dir: Path
    env: str = "default"
    verbose: bool = False
    _console: Console | None = field(default=None, repr=False)

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False)
        return self._console

    @property
    def work_dir(self) -> Path:
        from mlflowk8s.render import work_dir

        return work_dir(self.lab_dir, self.env)

    def settings(self) -> Settings:
        from mlflowk8s.settings import load_settings

        return load_settings(self.lab_dir)

    def users(self) -> UsersFile:
        from mlflowk8s.users import load_users

        return load_users(self.lab_dir)

    def print_json(self, data: Any) -> None:
        sys.stdout.write(json.dumps(data, indent=2, sort_keys=True) + "\n")

    def print_columns(self, rows: list[tuple[str, ...]]) -> None:
        """Print rows as left-aligned columns (first row is the header)."""
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                 for row in rows)  # fmt: skip
        sys.stdout.write("\n".join(lines) + "\n")

    def say(self, message: str) -> None:
        # Messages carry paths, addresses and Terraform's words: never Rich markup.
        self.console.print(message, soft_wrap=True, markup=False)


def lab(ctx: typer.Context) -> LabContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, LabContext)
    return obj


def interactive() -> bool:
    return sys.stdin.isatty()


def confirm(question: str, *, yes: bool, what: str) -> bool:
    """Ask a yes/no question; ``--yes`` answers it; no terminal and no ``--yes`` is an error."""
    if yes:
        return True
    if not interactive():
        raise ConfirmationRequired(f"{what} needs confirmation: run it on a terminal or pass --yes")
    return typer.confirm(question, default=False)


def confirm_by_typing(expected: str, *, yes: bool, what: str) -> bool:
    """Make the admin type ``expected`` (a project id, a folder name) to go on."""
    if yes:
        return True
    if not interactive():
        raise ConfirmationRequired(f"{what} needs confirmation: run it on a terminal or pass --yes")
    answer = typer.prompt(f"Type {expected!r} to confirm", default="", show_default=False)
    return bool(answer.strip() == expected)
