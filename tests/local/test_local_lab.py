"""The local target end to end: real supervisord, real tenant servers, the real client.

Each server takes seconds to start on a small machine, so the two scenarios below cover
issue 6's list with as few starts as they can.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.local.conftest import LocalLab, cmdline, health, lab_pids

pytestmark = pytest.mark.slow


def _wait_gone(pids: set[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while any(Path(f"/proc/{pid}").exists() and _not_zombie(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {pids}"
        time.sleep(0.2)


def _not_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_tenants_start_isolate_restart_retire_and_destroy(local_lab: LocalLab) -> None:
    lab = local_lab
    lab.ok("add-user", "alice")
    lab.ok("add-user", "bob")
    applied = lab.ok("apply", "--yes")
    alice_url = f"http://127.0.0.1:{lab.base_port}/alice/"
    bob_url = f"http://127.0.0.1:{lab.base_port + 1}/bob/"
    assert alice_url in applied.stdout and bob_url in applied.stdout
    tenants = lab.tenants()
    assert {n: (t["url"], t["state"], t["healthy"]) for n, t in tenants.items()} == {
        "alice": (alice_url, "running", True),
        "bob": (bob_url, "running", True),
    }
    # Each answers on its own prefix only.
    assert health(alice_url) == 200 and health(bob_url) == 200
    assert health(f"http://127.0.0.1:{lab.base_port}/bob/") == 404
    assert health(f"http://127.0.0.1:{lab.base_port}/") == 404

    # The real client logs a run with an artifact to alice and reads it back; bob sees nothing.
    run_id = lab.client("alice", "log")["run_id"]
    alice = lab.client("alice", "read", run_id)
    assert alice["found"] and alice["artifact"] == "hello from alice\n"
    assert alice["params"] == {"lr": "0.1"} and alice["metrics"] == {"loss": 0.25}
    assert alice["experiments"] == ["Default", "isolation"]
    bob = lab.client("bob", "read", run_id)
    assert bob == {"experiments": ["Default"], "runs": [], "found": False,
                   "error": "RESOURCE_DOES_NOT_EXIST"}  # fmt: skip
    data = lab.root / "data"
    assert lab.root.stat().st_mode & 0o777 == 0o700
    assert (data / "alice" / "mlflow.db").is_file()
    assert len(list((data / "alice" / "artifacts").rglob("note.txt"))) == 1
    assert not list((data / "bob" / "artifacts").rglob("*.txt"))

    # A new user starts alone: the others keep their processes.
    before = {user: lab.pids(user) for user in ("alice", "bob")}
    assert all(len(pids) == 1 for pids in before.values())  # one process per tenant
    assert all(" -m mlflowk8s.launcher " in cmdline(p) for pids in before.values() for p in pids)
    lab.ok("add-user", "carol")
    plan = json.loads(lab.ok("plan", "--json").stdout)
    assert [(c["action"], c["user"]) for c in plan["changes"]] == [("start", "carol")]
    lab.ok("apply", "--yes")
    assert {user: lab.pids(user) for user in ("alice", "bob")} == before
    assert lab.tenants()["carol"]["healthy"] is True

    # Retiring bob stops his server; his data stays.
    lab.ok("remove-user", "bob")
    plan = json.loads(lab.ok("plan", "--json").stdout)
    assert [(c["action"], c["user"]) for c in plan["changes"]] == [("stop", "bob")]
    lab.ok("apply", "--yes")
    _wait_gone(before["bob"])
    assert not lab.pids("bob") and health(bob_url) is None
    assert lab.tenants()["bob"]["state"] == "retired"
    assert (data / "bob" / "mlflow.db").is_file()
    assert lab.pids("alice") == before["alice"]

    # Crash recovery: alice's server killed (-9) is running and healthy again with no admin
    # action (supervisord restarts it; no orphan child holds the port), its data intact.
    (server_pid,) = before["alice"]
    os.kill(server_pid, signal.SIGKILL)
    _wait_gone(before["alice"])
    assert lab.wait_healthy("alice")["url"] == alice_url
    assert lab.client("alice", "read", run_id)["artifact"] == "hello from alice\n"
    restarted = lab.pids("alice")
    assert len(restarted) == 1 and not restarted & before["alice"]
    # Killed again right after its restart: the same.
    os.kill(next(iter(restarted)), signal.SIGKILL)
    _wait_gone(restarted)
    lab.wait_healthy("alice")
    assert lab.client("alice", "read", run_id)["found"] is True
    assert "BACKOFF" not in lab.supervisorctl("status").stdout

    # Destroy stops every process of the lab and keeps the data.
    destroyed = lab.ok("destroy", "--yes")
    assert f"Kept: every user's runs and artifacts: {data}" in destroyed.stdout
    assert not lab_pids(lab.root)
    assert all(health(url) is None for url in (alice_url, bob_url))
    assert sorted(p.name for p in data.iterdir()) == ["alice", "bob", "carol"]
    assert (data / "alice" / "mlflow.db").is_file()
    assert {t["state"] for t in lab.tenants().values()} == {"supervisord not running", "retired"}


def test_taken_port_supervisord_down_orphans_and_purge(local_lab: LocalLab) -> None:
    lab = local_lab
    lab.ok("add-user", "dave")
    lab.ok("apply", "--yes")
    dave_port = lab.base_port
    assert lab.tenants()["dave"]["healthy"] is True

    # supervisord goes down (a reboot); users.yaml changes meanwhile.
    assert lab.supervisorctl("shutdown").returncode == 0
    _wait_gone(lab_pids(lab.root))
    lab.ok("add-user", "erin")
    assert lab.tenants()["dave"]["state"] == "supervisord not running"

    # Another program took dave's port: apply names it and starts nothing.
    ports_before = (lab.root / "ports.json").read_text()
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", dave_port))
        squatter.listen()
        plan = json.loads(lab.ok("plan", "--json").stdout)
        assert f"Port {dave_port} of dave is in use by another program" in plan["notes"][1]
        failed = lab.cli("apply", "--yes")
    assert failed.code == 1
    assert f"already in use by another program: port {dave_port} (dave);" in failed.stderr
    assert "nothing was started" in failed.stderr
    assert not lab_pids(lab.root)
    assert (lab.root / "ports.json").read_text() == ports_before

    # Port free again: apply starts supervisord and both servers.
    lab.ok("apply", "--yes")
    tenants = lab.tenants()
    assert [(t["name"], t["healthy"]) for t in tenants.values()] == [
        ("dave", True), ("erin", True),
    ]  # fmt: skip
    assert tenants["erin"]["url"] == f"http://127.0.0.1:{lab.base_port + 1}/erin/"
    assert "running (pid" in lab.status()["facts"]["supervisord"]

    # supervisord killed outright: its servers are orphaned. apply ends them and starts afresh.
    orphans = lab.pids("dave") | lab.pids("erin")
    daemon = int((lab.root / "supervisord.pid").read_text())
    os.kill(daemon, signal.SIGKILL)
    _wait_gone({daemon})
    assert lab.status()["facts"]["supervisord"] == "not running"
    plan = json.loads(lab.ok("plan", "--json").stdout)
    assert [(c["action"], c["user"]) for c in plan["changes"]] == [
        ("start", "dave"), ("start", "erin"),
    ]  # fmt: skip
    assert "2 process(es) of this lab run without supervisord" in plan["notes"][1]
    lab.ok("apply", "--yes")
    assert not orphans & lab_pids(lab.root)
    assert all(t["healthy"] for t in lab.tenants().values())

    # A changed program (here: dave's port edited by hand) restarts; erin keeps her processes.
    erin = lab.pids("erin")
    ports = json.loads((lab.root / "ports.json").read_text())
    ports["ports"]["dave"] = new_port = lab.base_port + 5
    (lab.root / "ports.json").write_text(json.dumps(ports))
    plan = json.loads(lab.ok("plan", "--json").stdout)
    assert [(c["action"], c["user"]) for c in plan["changes"]] == [("restart", "dave")]
    with socket.socket() as squatter:  # the new port is checked before dave is stopped
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", new_port))
        squatter.listen()
        failed = lab.cli("apply", "--yes")
    assert failed.code == 1 and f"port {new_port} (dave)" in failed.stderr
    assert health(f"http://127.0.0.1:{dave_port}/dave/") == 200
    lab.ok("apply", "--yes")
    assert lab.tenants()["dave"]["url"] == f"http://127.0.0.1:{new_port}/dave/"
    assert lab.tenants()["dave"]["healthy"] is True
    assert health(f"http://127.0.0.1:{dave_port}/dave/") is None
    assert lab.pids("erin") == erin

    # --purge stops erin now and deletes her data; dave is untouched.
    dave = lab.pids("dave")
    lab.ok("remove-user", "erin", "--purge", "--yes")
    assert not lab.pids("erin") and not (lab.root / "data" / "erin").exists()
    assert lab.pids("dave") == dave
    assert list(lab.tenants()) == ["dave"]

    # destroy --delete-data removes data and logs; the port record stays.
    lab.ok("destroy", "--delete-data", "--yes")
    assert not lab_pids(lab.root)
    assert not (lab.root / "data").exists()
    assert json.loads((lab.root / "ports.json").read_text())["ports"] == {
        "dave": new_port, "erin": dave_port + 1,
    }  # fmt: skip
