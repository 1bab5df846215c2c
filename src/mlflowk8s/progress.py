"""Live feedback during slow work: the core tells, the CLI shows (with Rich, or quietly)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Progress(Protocol):
    def step(self, message: str) -> None:
        """A new phase started (e.g. 'planning tenants')."""

    def advance(self, done: int, total: int, current: str) -> None:
        """Progress within a phase; ``current`` is what is being worked on."""

    def note(self, message: str) -> None:
        """Something worth telling the admin (a retry, a kept resource)."""


@dataclass
class QuietProgress:
    """Shows nothing; keeps the notes (for callers without a display)."""

    notes: list[str] = field(default_factory=list)

    def step(self, message: str) -> None:
        pass

    def advance(self, done: int, total: int, current: str) -> None:
        pass

    def note(self, message: str) -> None:
        self.notes.append(message)
