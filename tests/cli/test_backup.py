"""backup, backups, restore, logs, restart where a target has no day-2 operations yet, and
the local refusals that need no running server."""

from __future__ import annotations

import pytest

from tests.conftest import Cli

GCP_ENV = (
    "GCP_PROJECT=demo-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
    "TF_GCS_BUCKET=demo-tfstate\nMLFLOW_GCS_BUCKET=lab-artifacts\n"
)


@pytest.mark.parametrize(
    "args",
    [["backup", "alice"], ["backups", "alice"], ["restore", "alice", "x.tar.gz", "--yes"],
     ["logs", "alice"], ["restart", "alice"]],
)  # fmt: skip
def test_gcp_target_says_not_yet(cli: Cli, args: list[str]) -> None:
    (cli.lab / ".env").write_text(GCP_ENV)
    (cli.lab / "users.yaml").write_text("users:\n  alice:\n    members: [user:a@lab.org]\n")
    result = cli(*args)
    assert result.code == 2
    assert result.stderr == (
        f"error: `mlflowk8s {args[0]}` is not available on the gcp target yet; it works on "
        "the local target\n"
    )


def test_local_refusals_before_any_server(cli: Cli) -> None:
    assert cli("init", "--target", "local").code == 0
    assert cli("add-user", "alice").code == 0
    nothing = cli("backup", "alice")
    assert nothing.code == 2 and "alice has no store yet" in nothing.stderr
    assert cli("backups", "alice").stdout == "No backups of alice yet: `mlflowk8s backup alice`.\n"
    assert cli("logs", "alice").stderr.startswith("error: alice has no log yet")
    since = cli("logs", "alice", "--since", "yesterday")
    assert since.code == 2 and "--since 'yesterday': use a number and a unit" in since.stderr
    both = cli("restart", "alice", "--all")
    assert both.code == 2 and "name one user, or pass --all" in both.stderr
    down = cli("restart", "alice")
    assert down.code == 2 and "has no local server yet: run `mlflowk8s apply`" in down.stderr
    refused = cli("restore", "alice", "x.tar.gz")
    assert refused.code == 2 and "restore of alice needs confirmation" in refused.stderr
