"""The app object every command gets from ``ctx.obj``: the lab, and the output helpers.

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

    from mlflowk8s.lab import Lab
    from mlflowk8s.lab.settings import Settings


@dataclass
class App:
    """What the global options chose: the lab folder (opened on first use), the environment."""

    lab_dir: Path
    env: str = "default"
    verbose: bool = False
    _console: Console | None = field(default=None, repr=False)
    _lab: Lab | None = field(default=None, repr=False)

    @property
    def lab(self) -> Lab:
        """The lab; a folder that is none (or is missing) is one error, exit 2."""
        if self._lab is None:
            from mlflowk8s.lab import Lab

            self._lab = Lab.open(self.lab_dir, self.env)
        return self._lab

    def lab_if_any(self) -> Lab | None:
        """The lab, or None in a folder that is none (researchers need no lab)."""
        from mlflowk8s.lab import Lab, is_lab

        if self._lab is None and self.lab_dir.is_dir() and is_lab(self.lab_dir):
            self._lab = Lab(self.lab_dir, self.env)
        return self._lab

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(highlight=False)
        return self._console

    def settings(self) -> Settings:
        """The lab's settings; none outside a lab (a researcher's machine)."""
        found = self.lab_if_any()
        if found is None:
            from mlflowk8s.lab.settings import ENV_FILE, Settings

            return Settings(path=self.lab_dir / ENV_FILE)
        return found.settings()

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


def app_of(ctx: typer.Context) -> App:
    obj = ctx.find_root().obj
    assert isinstance(obj, App)
    return obj


def interactive() -> bool:
    return sys.stdin.isatty()


def confirm(
    question: str, *, yes: bool, what: str, default: bool = False, err: bool = False
) -> bool:
    """Ask a yes/no question; ``--yes`` answers it; no terminal and no ``--yes`` is an error.
    ``default``: the answer Enter gives; ``err``: ask on stderr (stdout carries ``--json``)."""
    if yes:
        return True
    if not interactive():
        raise ConfirmationRequired(f"{what} needs confirmation: run it on a terminal or pass --yes")
    return typer.confirm(question, default=default, err=err)


def confirm_by_typing(expected: str, *, yes: bool, what: str, err: bool = False) -> bool:
    """Make the admin type ``expected`` (a project id, a folder name) to go on."""
    if yes:
        return True
    if not interactive():
        raise ConfirmationRequired(f"{what} needs confirmation: run it on a terminal or pass --yes")
    answer = typer.prompt(f"Type {expected!r} to confirm", default="", show_default=False,
                          err=err)  # fmt: skip
    return bool(answer.strip() == expected)
