"""Terraform's machine-readable UI (``-json``): one event per line, read into results.

The event types used (``planned_change``, ``diagnostic``, ``apply_start`` ...) are listed
in DESIGN.md ("Terraform facts").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mlflowk8s.terraform.results import Diagnostic, PlannedChange, RunResult

EventHandler = Callable[[dict[str, Any]], None]


def parse_event(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def collect(result: RunResult, event: dict[str, Any]) -> None:
    kind = event.get("type")
    if kind == "planned_change":
        change = event.get("change") or {}
        address = (change.get("resource") or {}).get("addr", "")
        result.changes.append(PlannedChange(address=address, action=str(change.get("action"))))
    elif kind == "diagnostic":
        diag = event.get("diagnostic") or {}
        result.diagnostics.append(
            Diagnostic(
                severity=str(diag.get("severity", "error")),
                summary=str(diag.get("summary", "")),
                detail=str(diag.get("detail", "")),
                address=diag.get("address"),
            )
        )


class ApplyProgress:
    """Turns apply/plan events into ``progress.advance`` calls: done/total and current."""

    def __init__(self, advance: Callable[[int, int, str], None], total: int = 0) -> None:
        self.advance = advance
        self.total = total
        self.done = 0

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("type", "")
        hook = event.get("hook") or {}
        address = (hook.get("resource") or {}).get("addr", "")
        if kind == "apply_start":
            self.advance(self.done, self.total, address)
        elif kind == "apply_progress":
            elapsed = hook.get("elapsed_seconds")
            shown = f"{address} ({elapsed}s)" if elapsed is not None else address
            self.advance(self.done, self.total, shown)
        elif kind in ("apply_complete", "apply_errored"):
            self.done += 1
            self.advance(self.done, max(self.total, self.done), address)
        elif kind in ("refresh_start", "refresh_complete"):
            self.advance(self.done, self.total, f"reading {address}")
        elif kind == "planned_change":
            change = event.get("change") or {}
            self.advance(0, 0, (change.get("resource") or {}).get("addr", ""))
