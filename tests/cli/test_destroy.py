"""destroy's database choice on a target that keeps no database (local): refused in one
line before anything is asked or changed; `--json` says what was done."""

from __future__ import annotations

import json

from tests.conftest import Cli
from tests.local.conftest import free_base_port


def test_the_database_options_are_refused_where_no_database_is_kept(cli: Cli) -> None:
    assert cli("init", "--target", "local").code == 0
    for flag in ("--stop-database", "--keep-database-running"):
        result = cli("destroy", flag, "--yes")
        assert (result.code, result.stdout) == (2, "")
        assert result.stderr == (
            f"error: the local target keeps no database to stop: drop {flag}\n"
        )


def test_destroy_json_says_what_was_done(cli: Cli) -> None:
    assert cli("init", "--target", "local").code == 0
    with (cli.lab / ".env").open("a") as env:
        env.write(f"MLFLOWK8S_LOCAL_BASE_PORT={free_base_port()}\n")
    result = cli("destroy", "--yes", "--json")
    assert result.code == 0, result.stderr
    done = json.loads(result.stdout)
    assert (done["delete_data"], done["database_stopped"]) == (False, None)
    assert len(done["kept"]) == 1 and done["kept"][0].startswith(
        "every user's runs and artifacts: "
    )
    assert result.stderr == "Servers go; databases, artifacts and addresses stay.\n"
