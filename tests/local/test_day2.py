"""Day-2 commands on the local target, end to end: real supervisord, tenant servers, the real
MLflow client; backups are real archives restored into real stores.

One lab with two tenants covers backup/restore, restart, a killed server, logs, Ctrl-C during
apply and status --check, so each server starts as few times as it can.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
import threading
import urllib.request
from pathlib import Path

import pytest

from tests.local.conftest import LocalLab

pytestmark = pytest.mark.slow


def _runs(lab: LocalLab, user: str) -> list[str]:
    return sorted(lab.client(user, "read", "none")["runs"])


def _start(lab: LocalLab, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mlflowk8s", *args],
        cwd=lab.cli.lab, env=lab.cli.env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def _read_until(proc: subprocess.Popen[str], needle: str) -> str:
    """stdout lines until one holds ``needle`` (the process must print it)."""
    assert proc.stdout is not None
    seen = ""
    for line in proc.stdout:
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never printed; got {seen!r}")


def test_backup_restore_restart_logs_and_health(local_lab: LocalLab) -> None:
    lab = local_lab
    lab.ok("add-user", "alice")
    lab.ok("add-user", "bob")
    lab.ok("apply", "--yes")
    first = lab.client("alice", "log")["run_id"]

    # backup: the path alone on the last line, 0600 in 0700 folders, a manifest.
    made = lab.ok("backup", "alice")
    path = Path(made.stdout.strip().splitlines()[-1])
    backups = lab.cli.lab.resolve() / ".mlflowk8s" / "default" / "backups"
    assert path.parent == backups / "alice" and path.name.endswith("Z.tar.gz")
    assert path.stat().st_mode & 0o777 == 0o600
    assert {p.stat().st_mode & 0o777 for p in (backups, backups / "alice")} == {0o700}
    with tarfile.open(path) as tar:
        names = tar.getnames()
        handle = tar.extractfile("manifest.json")
        assert handle is not None
        manifest = json.loads(handle.read())
    assert names[:2] == ["manifest.json", "mlflow.db"]
    assert any(n.endswith("/note.txt") for n in names)
    assert manifest["tenant"] == "alice" and manifest["mlflow_version"] == "3.17.2"
    assert manifest["schema_revision"] and manifest["created"].endswith("Z")
    as_json = json.loads(lab.ok("backup", "alice", "--json").stdout)
    assert Path(as_json["path"]).parent == path.parent

    # A second run, then restore: exactly the backed-up run and its artifact come back.
    second = lab.client("alice", "log")["run_id"]
    assert _runs(lab, "alice") == sorted([first, second])
    bob_pids = lab.pids("bob")
    restored = lab.ok("restore", "alice", str(path), "--yes")
    safety_line = next(
        line for line in restored.stdout.splitlines() if line.startswith("Safety backup")
    )
    safety = Path(safety_line.rpartition(": ")[2])
    assert safety.is_file() and safety != path
    assert "healthy" in restored.stdout.splitlines()[-1]
    assert _runs(lab, "alice") == [first]
    back = lab.client("alice", "read", first)
    assert back["artifact"] == "hello from alice\n" and back["metrics"] == {"loss": 0.25}
    assert lab.pids("bob") == bob_pids
    # The safety backup holds what was replaced: restoring it brings the second run back.
    lab.ok("restore", "alice", str(safety), "--yes")
    assert _runs(lab, "alice") == sorted([first, second])

    # Another tenant's backup needs --from-tenant; a newer schema is refused.
    refused = lab.cli("restore", "bob", str(path), "--yes")
    assert refused.code == 2
    assert "is a backup of alice, not of bob: pass --from-tenant alice" in refused.stderr
    newer = _with_revision(path, "ffffffffffff")
    refused = lab.cli("restore", "alice", str(newer), "--yes")
    assert refused.code == 2 and "newer than this MLflow (3.17.2" in refused.stderr
    lab.ok("restore", "bob", str(path), "--from-tenant", "alice", "--yes")
    assert _runs(lab, "bob") == [first]

    listed = json.loads(lab.ok("backups", "alice", "--json").stdout)["backups"]
    assert len(listed) == 4  # two taken, two safety backups
    pruned = json.loads(lab.ok("backups", "alice", "--keep", "1", "--json").stdout)
    assert len(pruned["deleted"]) == 3 and len(pruned["backups"]) == 1

    # restart: a new process for alice only, waited for.
    before = {user: lab.pids(user) for user in ("alice", "bob")}
    out = lab.ok("restart", "alice").stdout
    (old,), (new,) = before["alice"], lab.pids("alice")
    assert old != new
    assert out.strip().splitlines()[-1] == f"Restarted alice (pid {old} -> pid {new}): healthy."
    assert lab.pids("bob") == before["bob"]
    assert lab.tenants()["alice"]["healthy"] is True

    # A stopped server fails status --check, named; a killed one comes back by itself.
    assert lab.supervisorctl("stop", "mlflow-alice").returncode == 0
    checked = lab.cli("status", "--check")
    assert checked.code == 1 and checked.stderr == "error: unhealthy: alice\n"
    assert lab.tenants()["alice"]["state"] == "stopped"
    assert lab.supervisorctl("start", "mlflow-alice").returncode == 0
    lab.wait_healthy("alice")
    assert lab.cli("status", "--check").code == 0
    (pid,) = lab.pids("alice")
    os.kill(pid, signal.SIGKILL)
    lab.wait_healthy("alice")
    assert lab.pids("alice") != {pid}
    status = lab.tenants()["alice"]
    assert status["mlflow_version"] == "3.17.2"

    # logs: access lines included; -n, --since; -f shows a request made after it started.
    urllib.request.urlopen(f"{status['url']}health?marker=one", timeout=30).close()
    tail = lab.ok("logs", "alice", "-n", "3").stdout.splitlines()
    assert len(tail) == 3
    recent = lab.ok("logs", "alice", "--since", "1h").stdout
    assert '"GET /alice/health?marker=one HTTP/1.1" 200' in recent
    assert "marker=one" not in lab.ok("logs", "bob").stdout
    follower = _start(lab, "logs", "alice", "-f", "-n", "0")
    seen = threading.Event()

    def request_until_seen() -> None:
        # The follower starts at the end of the file as it finds it: ask until it shows one.
        while not seen.is_set():
            urllib.request.urlopen(f"{status['url']}health?marker=two", timeout=30).close()
            seen.wait(0.5)

    pinger = threading.Thread(target=request_until_seen)
    pinger.start()
    try:
        followed = _read_until(follower, "marker=two")
    finally:
        seen.set()
        pinger.join()
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=60) == 130
    assert "marker=one" not in followed  # -n 0: nothing from before

    # Ctrl-C while apply waits for a new server: it says what was left; a re-run waits too.
    lab.ok("add-user", "carol")
    applying = _start(lab, "apply", "--yes")
    _read_until(applying, "waiting for 1 server(s)")
    applying.send_signal(signal.SIGINT)
    _, err = applying.communicate(timeout=120)
    assert applying.returncode == 130
    assert "interrupted: supervisord keeps running" in err and "carol (" in err
    again = lab.ok("apply", "--yes").stdout
    assert "No changes" in again
    carol = next(line for line in again.splitlines() if line.startswith("carol "))
    assert " running " in carol and " healthy " in carol


def _with_revision(archive: Path, revision: str) -> Path:
    """A copy of ``archive`` whose store (and manifest) claim another schema revision."""
    work = archive.parent / "newer"
    work.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    with sqlite3.connect(work / "mlflow.db") as db:
        db.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    manifest = json.loads((work / "manifest.json").read_text())
    manifest["schema_revision"] = revision
    (work / "manifest.json").write_text(json.dumps(manifest))
    out = archive.parent.parent / "newer.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for name in ("manifest.json", "mlflow.db", "artifacts"):
            tar.add(work / name, arcname=name)
    return out
