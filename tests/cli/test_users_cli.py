"""add-user, remove-user, users, grant, revoke, render through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.support.terminal import on_terminal

LOCAL_ENV = "MLFLOWK8S_TARGET=local\n"
GCP_ENV = (
    "GCP_PROJECT=demo-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
    "TF_GCS_BUCKET=demo-tfstate\nMLFLOW_GCS_BUCKET=lab-artifacts\n"
)
USERS = """\
# Lab users
users:
  alice:
    members: [user:alice@lab.org]   # the PI
"""


def snapshot(lab: Path) -> dict[str, bytes]:
    return {str(p.relative_to(lab)): p.read_bytes() for p in lab.rglob("*") if p.is_file()
            and ".mlflowk8s" not in p.parts}  # fmt: skip


@pytest.fixture
def lab(lab_dir: Path) -> Path:
    (lab_dir / ".env").write_text(GCP_ENV)
    (lab_dir / "users.yaml").write_text(USERS)
    return lab_dir


def test_user_lifecycle_output_and_file(cli: Cli, lab: Path) -> None:
    assert cli("add-user", "bob", "-m", "bob@lab.org", "-m", "group:ml@lab.org").stdout == (
        "Added user bob. Run `mlflowk8s apply`.\n"
    )
    assert cli("grant", "bob", "serviceAccount:job@p.iam.gserviceaccount.com").code == 0
    assert cli("revoke", "bob", "group:ml@lab.org").code == 0
    assert cli("remove-user", "alice").stdout == (
        "Retired user alice; its data stays. Run `mlflowk8s apply` to stop its server.\n"
    )
    assert (lab / "users.yaml").read_text() == (
        "# Lab users\nusers:\n  alice:\n    members: [user:alice@lab.org]   # the PI\n"
        "    retired: true\n"
        "  bob:\n    members: [user:bob@lab.org, serviceAccount:job@p.iam.gserviceaccount.com]\n"
    )
    assert json.loads(cli("users", "--json").stdout) == {"users": [
        {"name": "bob", "members": ["user:bob@lab.org",
         "serviceAccount:job@p.iam.gserviceaccount.com"], "retired": False},
    ]}  # fmt: skip
    assert cli("users", "--all").stdout == (
        "USER   MEMBERS                                                         STATE\n"
        "alice  user:alice@lab.org                                              retired\n"
        "bob    user:bob@lab.org, serviceAccount:job@p.iam.gserviceaccount.com  active\n"
    )
    assert cli("add-user", "alice").stdout == "Restored user alice. Run `mlflowk8s apply`.\n"
    assert [u["name"] for u in json.loads(cli("users", "--json").stdout)["users"]] == [
        "alice", "bob",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add-user", "Alice"], "error: invalid user name 'Alice'"),
        (["add-user", "api"], "error: user name 'api' is reserved"),
        (["add-user", "kube-x"], "error: user name 'kube-x' is reserved"),
        (["add-user", "alice"], "error: user 'alice' already exists in users.yaml"),
        (["add-user", "carol", "-m", "carol"], "error: invalid member 'carol'"),
        (["remove-user", "zed"], "error: no user 'zed' in users.yaml"),
        (["grant", "zed", "a@lab.org"], "error: no user 'zed' in users.yaml"),
        (["grant", "alice", "robot:x@lab.org"], "error: invalid member 'robot:x@lab.org'"),
        (["revoke", "alice", "bob@lab.org"], "error: user:bob@lab.org is not a member of 'alice'"),
        (["--env", "Prod", "users"], "error: invalid --env 'Prod'"),
        (["remove-user", "alice", "--purge"], "error: purging alice needs confirmation"),
    ],
)
def test_bad_input_exits_2_and_changes_no_file(
    cli: Cli, lab: Path, args: list[str], message: str
) -> None:
    before = snapshot(lab)
    result = cli(*args)
    assert result.code == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert snapshot(lab) == before


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        ("users.yaml", "users:\n  alice: [\n", "users.yaml:3: not valid YAML"),
        ("users.yaml", "users:\n  ok: {}\n  Bad: {}\n", "users.yaml:3: invalid user name 'Bad'"),
        (".env", "GCP_PROJECT=demo-project\n!!!\n", ".env:2: not a KEY=value line"),
        (".env", "MLFLOWK8S_TARGET=moon\n", ".env:1: MLFLOWK8S_TARGET='moon' is not one of"),
        (".env", "MY_KEY=a\n\nMY_KEY=b\n", ".env:3: MY_KEY is set twice"),
    ],
)
@pytest.mark.parametrize("command", [["add-user", "carol"], ["render"], ["users"]])
def test_malformed_lab_files_name_file_and_line(
    cli: Cli, lab: Path, file: str, text: str, message: str, command: list[str]
) -> None:
    (lab / file).write_text(text)
    before = snapshot(lab)
    result = cli(*command)
    if file == ".env" and command != ["render"]:  # editing users never reads .env
        assert result.code == 0
        return
    assert result.code == 2, result.stdout
    assert result.stderr.startswith(f"error: {message}")
    assert len(result.stderr.splitlines()) == 1
    assert snapshot(lab) == before


def test_a_mistyped_lab_dir_is_not_made_a_lab(cli: Cli, lab: Path) -> None:
    result = cli("--lab-dir", str(lab / "typo"), "add-user", "carol")
    assert result.code == 2
    assert result.stderr == f"error: no lab folder {lab / 'typo'}: check --lab-dir, or run " \
        "`mlflowk8s init` there\n"  # fmt: skip
    assert not (lab / "typo").exists()


def test_an_unwritable_work_folder_is_one_line_and_exit_1(cli: Cli, lab: Path) -> None:
    (lab / ".mlflowk8s").write_text("a file where the work folder belongs")
    before = snapshot(lab)
    result = cli("add-user", "carol")
    assert result.code == 1
    assert result.stderr == "error: File exists: .mlflowk8s\n"
    assert snapshot(lab) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--bogus"], "No such option: --bogus"), (["add-user"], "Missing argument 'name'")],
)
def test_bad_options_show_usage_and_exit_2(
    cli: Cli, lab: Path, args: list[str], message: str
) -> None:
    result = cli(*args)
    assert result.code == 2
    assert message in result.stderr
    assert "Usage: mlflowk8s" in result.stderr
    assert "Traceback" not in result.stderr


def test_verbose_shows_the_traceback(cli: Cli, lab: Path) -> None:
    result = cli("-v", "add-user", "Alice")
    assert result.code == 2
    assert "Traceback" in result.stderr


def test_twenty_concurrent_add_users_all_land(cli: Cli, lab: Path) -> None:
    names = [f"user{i:02d}" for i in range(20)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mlflowk8s", "add-user", name, "-m", f"{name}@lab.org"],
            cwd=lab,
            env=cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    codes = [proc.wait(timeout=120) for proc in procs]
    assert codes == [0] * 20
    listed = json.loads(cli("users", "--json").stdout)["users"]
    assert sorted(u["name"] for u in listed) == sorted(["alice", *names])
    assert (lab / "users.yaml").read_text().startswith("# Lab users\n")


def test_render_prints_paths_and_json(cli: Cli, lab: Path) -> None:
    result = cli("render")
    assert result.stdout.splitlines() == [
        ".mlflowk8s/default/platform.tfvars.json",
        ".mlflowk8s/default/tenants.tfvars.json",
    ]
    data = json.loads(cli("render", "--json").stdout)
    assert data["platform"]["project_id"] == "demo-project"
    assert data["tenants"]["users"]["alice"]["members"] == ["user:alice@lab.org"]
    on_disk = json.loads((lab / ".mlflowk8s/default/tenants.tfvars.json").read_text())
    assert on_disk == data["tenants"]
    assert cli("--env", "dev", "render").stdout.splitlines()[0] == (
        ".mlflowk8s/dev/platform.tfvars.json"
    )


@pytest.mark.parametrize("command", ["render", "status", "plan", "destroy"])
def test_gcp_commands_without_gcp_settings_list_them(cli: Cli, lab: Path, command: str) -> None:
    (lab / ".env").write_text("GCP_PROJECT=demo-project\n")
    result = cli(command, *(["--yes"] if command == "destroy" else []))
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: missing settings in .env: GCP_REGION, MLFLOW_DOMAIN, TF_GCS_BUCKET, "
        "MLFLOW_GCS_BUCKET (run `mlflowk8s init` to set them)"
    )
    assert not (lab / ".mlflowk8s" / "default" / "infra").exists(), "nothing copied"


def test_version(cli: Cli) -> None:
    from mlflowk8s import __version__

    assert cli("--version").stdout == f"mlflowk8s {__version__}\n"


def test_add_user_again_with_the_same_members_is_a_no_op(cli: Cli, lab: Path) -> None:
    before = snapshot(lab)
    again = cli("add-user", "alice", "-m", "alice@lab.org")
    assert (again.code, again.stdout) == (
        0, "User alice already exists with these members: nothing changed.\n",
    )  # fmt: skip
    assert snapshot(lab) == before
    other = cli("add-user", "alice", "-m", "bob@lab.org")
    assert other.code == 2 and "already exists" in other.stderr


def test_purge_answered_no_changes_nothing(cli: Cli, lab: Path) -> None:
    """On a terminal (a pseudo-terminal here), answering "n" says nothing was changed."""
    before = snapshot(lab)
    code, out = on_terminal(["remove-user", "alice", "--purge"], cwd=lab, env=cli.env,
                            answers=[(b"[y/N]: ", b"n\n")], timeout=120)  # fmt: skip
    assert code == 1
    assert "Not confirmed: nothing was changed." in out
    assert snapshot(lab) == before
