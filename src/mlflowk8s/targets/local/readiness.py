"""Waiting for local tenants' servers to answer their readiness route (their store answers)."""

from __future__ import annotations

import time

from mlflowk8s import health
from mlflowk8s.errors import OperationError
from mlflowk8s.targets.base import Progress
from mlflowk8s.targets.local import supervisor as sv
from mlflowk8s.targets.local.state import DEAD, program_name

PROBE_TIMEOUT = 2.0
POLL = 0.25  # a server answers within a poll of being ready; probes cost little


def healthy(urls: dict[str, str]) -> dict[str, bool]:
    """Each tenant's readiness: its server answers and reads its store."""
    return {
        name: code == 200 for name, code in health.probe(urls, PROBE_TIMEOUT, ready=True).items()
    }


def versions(urls: dict[str, str]) -> dict[str, str | None]:
    """What each running server says at ``<prefix>/version`` (None: no answer)."""
    from concurrent.futures import ThreadPoolExecutor

    from mlflowk8s.mlflow_versions import served

    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(health.MAX_PARALLEL, len(urls))) as pool:
        answers = pool.map(lambda url: served(url, timeout=PROBE_TIMEOUT), urls.values())
        return dict(zip(urls, answers, strict=True))


def wait(supervisor: sv.Supervisor, urls: dict[str, str], timeout: int, progress: Progress) -> None:
    """Until every tenant in ``urls`` is ready; one that fails to start, or is not ready
    within ``timeout`` seconds, is an error naming its log and last lines."""
    names = sorted(urls)
    if not names:
        return
    progress.step(f"waiting for {len(names)} server(s) to answer /<user>/health")
    pending = set(names)
    deadline = time.monotonic() + timeout
    while True:
        answered = healthy({n: urls[n] for n in sorted(pending)})
        pending -= {n for n, ok in answered.items() if ok}
        progress.advance(len(names) - len(pending), len(names), ", ".join(sorted(pending)))
        if not pending:
            return
        live = supervisor.processes()
        failed = [n for n in sorted(pending) if live.get(program_name(n), DEAD).state
                  in ("FATAL", "STOPPED")]  # fmt: skip
        if failed or time.monotonic() > deadline:
            name = (failed or sorted(pending))[0]
            log = supervisor.layout.program_log(program_name(name))
            why = "failed to start" if failed else f"did not answer within {timeout} s"
            last = sv.tail(log)
            raise OperationError(
                f"the server of {name} {why} ({urls[name]}health); see {log}"
                + (f"; its last lines:\n{last}" if last else "")
            )
        time.sleep(POLL)
