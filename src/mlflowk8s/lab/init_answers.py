"""Answers typed at `init`'s prompts, kept when `init` fails after them (no credentials,
no network), so the next `init` offers them as defaults instead of asking from scratch.

They are kept in the work folder, not in ``.env``: `init` writes no lab file before the
target's step (the state bucket) succeeded, so a half-set-up folder never reads as a lab.
The answers are names (project, region, domain, buckets), never secrets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

from mlflowk8s.fileio import dumps, write_atomic
from mlflowk8s.lab.locks import WORK_DIR_NAME, lab_lock

ANSWERS_FILE = "init-answers.json"


def answers_path(folder: Path) -> Path:
    return folder / WORK_DIR_NAME / ANSWERS_FILE


def kept_answers(folder: Path) -> dict[str, str]:
    """What the last failed `init` was told at its prompts ({} if nothing is kept)."""
    try:
        data = json.loads(answers_path(folder).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # unreadable or half-written: asking again is the safe default
    if not isinstance(data, dict):
        return {}
    return {str(key): value for key, value in data.items() if isinstance(value, str)}


def keep_answers(folder: Path, answers: Mapping[str, str]) -> Path:
    """Add ``answers`` to the kept ones (atomically, under the lab lock); the file's path."""
    path = answers_path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with lab_lock(folder):
        write_atomic(path, dumps({**kept_answers(folder), **answers}), mode=0o600)
    return path


def forget_answers(folder: Path) -> None:
    """`init` succeeded: the answers are in ``.env`` now."""
    path = answers_path(folder)
    if path.exists():
        with lab_lock(folder):
            path.unlink(missing_ok=True)


class RecordingPrompt:
    """Wraps `init`'s prompt and remembers every answer it returned, by setting."""

    def __init__(self, prompt: Callable[[str, str], str]) -> None:
        self._prompt = prompt
        self.answers: dict[str, str] = {}

    def __call__(self, key: str, label: str) -> str:
        value = self._prompt(key, label)
        self.answers[key] = value
        return value
