"""plan --detailed-exitcode: 0 no changes, 2 changes, 1 on any error, as terraform's."""

from __future__ import annotations

from tests.conftest import Cli
from tests.local.conftest import free_base_port


def test_detailed_exit_codes(cli: Cli) -> None:
    assert cli("init", "--target", "local").code == 0
    with (cli.lab / ".env").open("a") as env:
        env.write(f"MLFLOWK8S_LOCAL_BASE_PORT={free_base_port()}\n")
    assert cli("plan", "--detailed-exitcode").code == 0  # no users: nothing to start
    assert cli("add-user", "alice").code == 0
    assert cli("plan", "--detailed-exitcode").code == 2
    assert cli("plan", "--json", "--detailed-exitcode").code == 2
    assert cli("plan").code == 0
    # Errors are 1, usage errors included (2 would read as "changes").
    bad_user = cli("plan", "--detailed-exitcode", "--user", "zed")
    assert (bad_user.code, bad_user.stderr) == (1, "error: no user 'zed' in users.yaml\n")
    assert cli("plan", "--detailed-exitcode", "--no-such-option").code == 1
    assert cli("plan", "--user", "zed").code == 2
