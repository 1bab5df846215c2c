"""`users` and the other readers of users.yaml agree: one YAML 1.2 reader for every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Cli

GCP_ENV = (
    "GCP_PROJECT=demo-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
    "TF_GCS_BUCKET=demo-tfstate\nMLFLOW_GCS_BUCKET=lab-artifacts\n"
)


def snapshot(lab: Path) -> dict[str, bytes]:
    return {str(p.relative_to(lab)): p.read_bytes() for p in lab.rglob("*") if p.is_file()
            and ".mlflowk8s" not in p.parts}  # fmt: skip


@pytest.mark.parametrize("word", ["yes", "No", "on", "OFF", "y", "n"])
@pytest.mark.parametrize(
    "command",
    [["users"], ["users", "--all"], ["render"], ["plan"], ["grant", "alice", "a2@lab.org"],
     ["remove-user", "alice"]],
    ids=lambda c: " ".join(c),
)  # fmt: skip
def test_a_yaml_1_1_boolean_is_refused_by_every_reader(
    cli: Cli, lab_dir: Path, word: str, command: list[str]
) -> None:
    (lab_dir / ".env").write_text(GCP_ENV)
    (lab_dir / "users.yaml").write_text(
        f"users:\n  alice:\n    members: [alice@lab.org]\n    retired: {word}\n"
    )
    before = snapshot(lab_dir)
    result = cli(*command)
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: users.yaml:4: retired of 'alice' is '{word}': YAML 1.1 reads it as a boolean, "
        "YAML 1.2 as text; write true/false\n"
    )
    assert snapshot(lab_dir) == before


def test_the_cache_follows_the_content_not_the_clock(cli: Cli, lab_dir: Path) -> None:
    import os

    users_yaml = lab_dir / "users.yaml"
    users_yaml.write_text("users:\n  alice:\n    members: [alice@lab.org]\n")
    assert cli("users").stdout.startswith("USER   MEMBERS\nalice")
    stat = users_yaml.stat()
    # Same size, same modification time, another content: a stat-keyed cache would miss it.
    users_yaml.write_text("users:\n  alicf:\n    members: [alice@lab.org]\n")
    os.utime(users_yaml, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cli("users").stdout.startswith("USER   MEMBERS\nalicf")
