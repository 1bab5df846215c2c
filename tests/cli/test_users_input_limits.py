"""Hostile or mistaken input through the real console script: users.yaml and .env values.

Every case is one short error line, exit 2, and no lab file changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Cli

GCP_ENV = (
    "GCP_PROJECT=demo-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
    "TF_GCS_BUCKET=demo-tfstate\nMLFLOW_GCS_BUCKET=lab-artifacts\n"
)
READERS = [["users"], ["render"], ["plan"], ["add-user", "carol"], ["grant", "alice", "c@lab.org"]]


def snapshot(lab: Path) -> dict[str, bytes]:
    return {str(p.relative_to(lab)): p.read_bytes() for p in lab.rglob("*") if p.is_file()
            and ".mlflowk8s" not in p.parts}  # fmt: skip


def one_line_refusal(cli: Cli, lab: Path, command: list[str]) -> str:
    before = snapshot(lab)
    result = cli(*command)
    assert result.code == 2, result.stderr[:500]
    assert result.stdout in ("", "comparing users.yaml with the running servers ...\n")
    assert len(result.stderr.splitlines()) == 1 and len(result.stderr) < 300, result.stderr[:500]
    assert snapshot(lab) == before
    return result.stderr


@pytest.fixture
def lab(lab_dir: Path) -> Path:
    (lab_dir / ".env").write_text(GCP_ENV)
    return lab_dir


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_user_written_twice_is_refused_by_every_reader(
    cli: Cli, lab: Path, command: list[str]
) -> None:
    (lab / "users.yaml").write_text(
        "users:\n  alice:\n    members: [alice@lab.org]\n"
        "  alice:\n    members: [mallory@evil.example]\n"
    )
    assert one_line_refusal(cli, lab, command) == (
        "error: users.yaml:4: 'alice' is written twice (first at line 2): keep one\n"
    )


def laughs(levels: int, leaf: str) -> str:
    """Nested aliases: a few hundred bytes that expand to ``9**levels`` members."""
    lines = [f"l0: &l0 [{', '.join([leaf] * 9)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels + 1)]
    return "\n".join([*lines, "users:", "  alice:", f"    members: *l{levels}", ""])


@pytest.mark.parametrize(
    "text",
    # The first hung every command; the second printed a 10 MB error line.
    [laughs(8, "a@lab.org"), laughs(5, "[x]")],
    ids=["expanding-members", "huge-error-line"],
)
@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_yaml_aliases_are_refused_before_they_expand(
    cli: Cli, lab: Path, text: str, command: list[str]
) -> None:
    assert len(text) < 600
    (lab / "users.yaml").write_text(text)
    assert one_line_refusal(cli, lab, command) == (
        "error: users.yaml:1: anchors and aliases (&name, *name, <<) are not allowed: "
        "write each user out\n"
    )


@pytest.mark.parametrize(
    ("members", "shown"),
    [("[1]", "'1'"), ("[false]", "'False'"), ("[null]", "'None'"), ("[{a: b}]", "\"{'a': 'b'}\"")],
)
def test_members_that_are_not_text_are_refused(
    cli: Cli, lab: Path, members: str, shown: str
) -> None:
    (lab / "users.yaml").write_text(f"users:\n  alice:\n    members: {members}\n")
    assert one_line_refusal(cli, lab, ["render"]) == (
        f"error: users.yaml:3: member {shown} of 'alice' must be text such as user:EMAIL\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add-user", "bob\n"], "error: invalid user name 'bob\\n'"),
        (["add-user", "bob", "-m", "user:.@a.bc"], "error: invalid member 'user:.@a.bc'"),
        (["add-user", "bob", "-m", "user:a@-.co"], "error: invalid member 'user:a@-.co'"),
        (["add-user", "bob", "-m", "a" * 65 + "@lab.org"], "error: invalid member 'aaaa"),
        (["add-user", "bob", "-m", "a" * 300 + "@lab.org"], "error: invalid member 'aaaa"),
        (["grant", "alice", "bob@lab.org\nuser:eve@evil.example"], "error: invalid member"),
    ],
)
def test_names_and_members_iam_would_refuse_are_refused_here(
    cli: Cli, lab: Path, args: list[str], message: str
) -> None:
    (lab / "users.yaml").write_text("users:\n  alice:\n    members: [alice@lab.org]\n")
    assert one_line_refusal(cli, lab, args).startswith(message)


def test_members_are_one_member_whatever_their_case(cli: Cli, lab: Path) -> None:
    assert cli("add-user", "alice", "-m", "Alice@LAB.org").code == 0
    assert cli("grant", "alice", "user:ALICE@LAB.ORG").code == 0
    assert cli("grant", "alice", "group:ML@Lab.Org").code == 0
    assert (
        (lab / "users.yaml")
        .read_text()
        .endswith("  alice:\n    members: [user:alice@lab.org, group:ml@lab.org]\n")
    )
    # Written by hand in two cases: one member in the Terraform inputs.
    (lab / "users.yaml").write_text(
        "users:\n  alice:\n    members: [user:alice@lab.org, user:ALICE@LAB.ORG]\n"
    )
    data = json.loads(cli("render", "--json").stdout)
    assert data["tenants"]["users"]["alice"]["members"] == ["user:alice@lab.org"]


def test_edits_write_through_a_symlinked_users_file(cli: Cli, lab: Path, tmp_path: Path) -> None:
    kept = tmp_path / "config-repo" / "users.yaml"
    kept.parent.mkdir()
    kept.write_text("# kept in the lab's config repository\nusers: {}\n")
    kept.chmod(0o640)
    (lab / "users.yaml").symlink_to(kept)
    assert cli("add-user", "bob", "-m", "bob@lab.org").code == 0
    assert (lab / "users.yaml").is_symlink()
    assert (lab / "users.yaml").readlink() == kept
    assert kept.read_text() == (
        "# kept in the lab's config repository\nusers:\n  bob:\n    members: [user:bob@lab.org]\n"
    )
    assert kept.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in kept.parent.iterdir()] == ["users.yaml"], "no temporary file left"


def many_users(count: int) -> str:
    return "users:\n" + "".join(f"  u{i}:\n    members: [u{i}@lab.org]\n" for i in range(count))


def test_more_than_2000_users_are_refused_by_every_reader(cli: Cli, lab: Path) -> None:
    (lab / "users.yaml").write_text(many_users(2001))
    for command in (["users"], ["render"], ["add-user", "carol"]):
        assert one_line_refusal(cli, lab, command) == (
            "error: users.yaml:1: holds 2001 users, more than the 2000 a lab may have (one IAM "
            "policy holds 1,500 principals): split the lab\n"
        )


def test_the_2001st_user_is_not_added(cli: Cli, lab: Path) -> None:
    (lab / "users.yaml").write_text(many_users(2000))
    assert cli("users", "--json").code == 0
    assert one_line_refusal(cli, lab, ["add-user", "carol"]).startswith(
        "error: users.yaml already holds 2000 users, the most it may: one IAM policy holds "
        "1,500 principals;"
    )


def test_a_users_file_over_one_mib_is_refused(cli: Cli, lab: Path) -> None:
    (lab / "users.yaml").write_text(many_users(10) + "# padding\n" * 110_000)
    for command in (["users"], ["render"], ["add-user", "carol"]):
        assert one_line_refusal(cli, lab, command).startswith("error: users.yaml: is 1,100,")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('MLFLOW_DOMAIN="mlflow.lab.org\\n"', "MLFLOW_DOMAIN='mlflow.lab.org\\n' is not"),
        ('GCP_PROJECT="demo-project\\n"', "GCP_PROJECT='demo-project\\n' is not"),
        ('GCP_REGION="europe-west1\\n"', "GCP_REGION='europe-west1\\n' is not"),
        ('TF_GCS_BUCKET="demo-tfstate\\n"', "TF_GCS_BUCKET='demo-tfstate\\n' is not"),
        ('MLFLOW_GCS_BUCKET="lab-artifacts\\n"', "MLFLOW_GCS_BUCKET='lab-artifacts\\n' is not"),
        ("GKE_MIN_NODES=²", "GKE_MIN_NODES='²' is not a whole number (digits 0-9)"),
        ("GKE_MAX_NODES=\u0665", "GKE_MAX_NODES='\u0665' is not a whole number (digits 0-9)"),
    ],
)
def test_gcp_settings_with_a_newline_or_foreign_digits_are_refused(
    cli: Cli, lab: Path, line: str, message: str
) -> None:
    key = line.partition("=")[0]
    kept = [entry for entry in GCP_ENV.splitlines() if not entry.startswith(f"{key}=")]
    (lab / ".env").write_text("\n".join([*kept, line]) + "\n")
    (lab / "users.yaml").write_text("users: {}\n")
    line_no = 5 if key in GCP_ENV else 6
    assert one_line_refusal(cli, lab, ["render"]).startswith(f"error: .env:{line_no}: {message}")
    assert not (lab / ".mlflowk8s" / "default" / "platform.tfvars.json").exists()


@pytest.mark.parametrize("value", ["¹⁵⁰⁰", "\u0665\u0661\u0660\u0660", "5100\n"])
def test_a_local_port_in_foreign_digits_is_refused(cli: Cli, lab: Path, value: str) -> None:
    (lab / ".env").write_text(f'MLFLOWK8S_TARGET=local\nMLFLOWK8S_LOCAL_BASE_PORT="{value}"\n')
    (lab / "users.yaml").write_text("users:\n  alice:\n    members: [alice@lab.org]\n")
    assert one_line_refusal(cli, lab, ["plan"]).startswith(
        f"error: MLFLOWK8S_LOCAL_BASE_PORT={value!r} in .env is not a number from 1024 to 65535"
    )
