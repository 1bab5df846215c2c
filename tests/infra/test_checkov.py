"""checkov on infra/: nothing fails except the checked-in skip list, each with a reason."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import INFRA, REPO

SKIP_FILE = INFRA / ".checkov-skip.yaml"
_SKIP_RE = re.compile(r"^\s*-\s*(CKV\w+)\s*(#\s*(.*))?$")


def checkov_binary() -> Path:
    path = Path(os.environ.get("CHECKOV") or REPO / ".venv-checkov" / "bin" / "checkov")
    if not path.exists():
        pytest.fail(
            f"checkov not found at {path}: create its own virtualenv with "
            "`python3 -m venv .venv-checkov && .venv-checkov/bin/pip install checkov` "
            "(or `make install`), or point $CHECKOV at a checkov binary"
        )
    return path


def skip_list() -> dict[str, str]:
    entries = {}
    for line in SKIP_FILE.read_text().splitlines():
        match = _SKIP_RE.match(line)
        if match:
            assert match.group(1) not in entries, f"{match.group(1)} is listed twice"
            entries[match.group(1)] = (match.group(3) or "").strip()
    return entries


def run_checkov(*extra: str) -> dict[str, Any]:
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "ERROR"}
    proc = subprocess.run(
        [str(checkov_binary()), "-d", str(INFRA), "--framework", "terraform",
         "--skip-download", "--compact", "-o", "json", *extra],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    reports = report if isinstance(report, list) else [report]
    assert len(reports) == 1, [r.get("check_type") for r in reports]
    result: dict[str, Any] = reports[0]
    # checkov exits 0 on a parse error: the summary is the only place that says so.
    assert result["summary"]["parsing_errors"] == 0, result["summary"]
    assert result["summary"]["resource_count"] > 0
    return result


def test_every_skip_has_a_reason() -> None:
    entries = skip_list()
    assert entries, "the skip list is empty or unreadable"
    assert [check for check, reason in entries.items() if len(reason) < 10] == []


def test_checkov_fails_only_the_listed_checks() -> None:
    report = run_checkov()
    failed = {f["check_id"] for f in report["results"]["failed_checks"]}
    listed = set(skip_list())
    unexpected = [
        f"{f['check_id']} {f['resource']} ({f['file_path']}): {f['check_name']}"
        for f in report["results"]["failed_checks"]
        if f["check_id"] not in listed
    ]
    assert unexpected == [], "checkov findings outside infra/.checkov-skip.yaml"
    assert listed - failed == set(), "stale entries in infra/.checkov-skip.yaml"


def test_checkov_with_the_skip_list_passes() -> None:
    summary = run_checkov("--config-file", str(SKIP_FILE))["summary"]
    assert summary["failed"] == 0, summary
    assert summary["passed"] > 0, summary
