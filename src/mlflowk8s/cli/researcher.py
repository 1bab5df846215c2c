"""Researcher commands: ``login``, ``env``, ``token``, ``doctor``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Researcher commands are registered here."""
