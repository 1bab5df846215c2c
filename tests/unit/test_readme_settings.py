"""The README's configuration table against the settings' definitions: every Google
setting is listed, required ones say so, and the bucket names `init` writes are the ones
it writes (google/settings.py), said as written by `init`, not as run-time defaults."""

from __future__ import annotations

import re

from mlflowk8s.google.settings import BUCKET_PATTERNS as PATTERNS
from mlflowk8s.lab import settings as lab
from mlflowk8s.targets.cloudrun import settings as cloudrun
from mlflowk8s.targets.gcp import settings as gcp
from tests.conftest import REPO

KEY = re.compile(r"`([A-Z][A-Z0-9_]+)`")


def _table() -> dict[str, str]:
    """key -> its default cell, from the table under "## Configuration reference"."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration reference", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    table: dict[str, str] = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split(" | ")]
        for key in KEY.findall(cells[0]):
            table[key] = cells[-1]
    return table


def test_every_google_setting_is_in_the_table_and_nothing_else() -> None:
    known = {*gcp.CHECKS, *cloudrun.CHECKS, gcp.OAUTH_CLIENT_SECRET_FILE, gcp.MLFLOW_IMAGE,
             lab.TARGET, lab.DESKTOP_CLIENT_FILE, lab.IAP_AUDIENCE}  # fmt: skip
    table = _table()
    assert known - set(table) == set()
    assert set(table) - known == set()


def test_bucket_defaults_are_said_as_written_by_init() -> None:
    table = _table()
    for key, pattern in PATTERNS.items():
        assert table[key] == f"written by `init`: `{pattern.format(project='<project>')}`"
    assert [key for key, cell in table.items() if cell.startswith("written by `init`")] == list(
        PATTERNS
    )


def test_required_settings_say_so() -> None:
    table = _table()
    for key in {*gcp.REQUIRED, *cloudrun.REQUIRED} - set(PATTERNS):
        assert "required" in table[key], key
