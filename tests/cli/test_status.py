"""status NAME and status --check on a local lab whose servers are not running."""

from __future__ import annotations

import json

from tests.conftest import Cli
from tests.local.conftest import free_base_port


def test_check_fails_for_an_active_tenant_without_a_server(cli: Cli) -> None:
    assert cli("init", "--target", "local").code == 0
    with (cli.lab / ".env").open("a") as env:
        env.write(f"MLFLOWK8S_LOCAL_BASE_PORT={free_base_port()}\n")
    for name in ("alice", "bob"):
        assert cli("add-user", name).code == 0
    assert cli("remove-user", "bob").code == 0
    checked = cli("status", "--check")
    assert (checked.code, checked.stderr) == (1, "error: unhealthy: alice\n")
    one = json.loads(cli("status", "bob", "--json").stdout)
    assert [(t["name"], t["state"], t["healthy"], t["mlflow_version"]) for t in one["tenants"]] == [
        ("bob", "retired", None, None)
    ]
    assert cli("status", "bob", "--check").code == 0  # retired tenants are not checked
    assert cli("status", "zed").code == 2
    both = cli("status", "--check", "--no-health")
    assert both.code == 2 and "--check needs the health probes" in both.stderr


def test_table_never_cuts_a_url_on_a_narrow_terminal(cli: Cli) -> None:
    assert cli("init", "--target", "local").code == 0
    assert cli("add-user", "alice").code == 0
    base = free_base_port()
    local = cli.lab / ".mlflowk8s" / "local"
    local.mkdir(parents=True)
    ports = {"version": 1, "host": "127.0.0.1", "ports": {"alice": base}}
    (local / "ports.json").write_text(json.dumps(ports))  # as apply records it
    cli.env["COLUMNS"] = "20"
    lines = cli("status").stdout.splitlines()
    assert lines[1].split() == ["alice", f"http://127.0.0.1:{base}/alice/",
                                "supervisord", "not", "running", "unhealthy", "-", "-"]  # fmt: skip
    assert "..." not in "".join(lines) and "…" not in "".join(lines)
