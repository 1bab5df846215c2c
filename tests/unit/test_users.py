"""users.yaml model: validation, round trip, edits."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlflowk8s.errors import ConfigFileError, UsageError
from mlflowk8s.lab.users import (
    MAX_NAME_LENGTH,
    NAME_RE,
    RESERVED_NAMES,
    normalize_member,
    parse_users,
    validate_name,
)

valid_names = st.from_regex(r"\A[a-z]([a-z0-9-]{0,18}[a-z0-9])?\Z").filter(
    lambda n: n not in RESERVED_NAMES and not n.startswith(("kube-", "goog"))
)
atoms = st.text(string.ascii_lowercase + string.digits + "_+-", min_size=1, max_size=6)
emails = st.builds(
    "{}@{}.{}".format,
    st.lists(atoms, min_size=1, max_size=3).map(".".join),
    st.text(string.ascii_lowercase + string.digits, min_size=1, max_size=12),
    st.sampled_from(["org", "com", "edu", "io"]),
)


@given(valid_names)
def test_valid_names_are_accepted(name: str) -> None:
    assert validate_name(name) == name


@given(st.text(max_size=30))
def test_any_accepted_name_is_a_short_dns_label(name: str) -> None:
    try:
        validate_name(name)
    except UsageError:
        return
    assert 1 <= len(name) <= MAX_NAME_LENGTH
    assert NAME_RE.match(name)
    assert name not in RESERVED_NAMES


@pytest.mark.parametrize(
    "name",
    ["", "Alice", "1abc", "abc-", "a_b", "a" * 21, "api", "health", "static-files",
     "kube-system", "google", "goog", "default", "ajax-api", "metrics", "version"],
)  # fmt: skip
def test_bad_and_reserved_names_are_rejected(name: str) -> None:
    with pytest.raises(UsageError):
        validate_name(name)


@given(emails)
def test_bare_email_means_user(email: str) -> None:
    assert normalize_member(email) == f"user:{email}"


@given(st.sampled_from(["user", "group", "serviceAccount"]), emails)
def test_member_kinds_round_trip(kind: str, email: str) -> None:
    member = f"{kind}:{email}"
    assert normalize_member(member) == member
    assert normalize_member(normalize_member(member)) == member


@pytest.mark.parametrize(
    "member", ["alice", "user:", "robot:a@b.org", "domain:a@b.org", "user:a@b", "group:lab.org"]
)
def test_bad_members_are_rejected(member: str) -> None:
    with pytest.raises(UsageError):
        normalize_member(member)


def test_domain_member() -> None:
    assert normalize_member("domain:lab.org") == "domain:lab.org"


HAND_WRITTEN = """\
# Lab users. Ask Carla before adding anyone.
users:
  # the PI
  zed:
    members: [user:zed@lab.org]   # keep first
  alice:
    members:
      - user:alice@lab.org
"""


def test_comments_and_order_survive_edits(tmp_path: Path) -> None:
    users = parse_users(tmp_path / "users.yaml", HAND_WRITTEN)
    users.add("bob", ["bob@lab.org"])
    users.grant("zed", "group:pis@lab.org")
    users.retire("alice")
    text = users.dumps()
    assert text.startswith("# Lab users. Ask Carla before adding anyone.\nusers:\n  # the PI\n")
    assert "# keep first" in text
    names = [u.name for u in parse_users(tmp_path / "u", text).all_users()]
    assert names == ["zed", "alice", "bob"]
    reread = parse_users(tmp_path / "u", text)
    assert reread.get("zed").members == ("user:zed@lab.org", "group:pis@lab.org")
    assert reread.get("alice").retired
    assert [u.name for u in reread.active_users()] == ["zed", "bob"]


@given(st.dictionaries(valid_names, st.lists(emails, max_size=3, unique=True), max_size=6))
def test_round_trip_keeps_every_user(spec: dict[str, list[str]]) -> None:
    users = parse_users(Path("users.yaml"), "users: {}\n")
    for name, members in spec.items():
        users.add(name, members)
    reread = parse_users(Path("users.yaml"), users.dumps())
    assert {u.name: list(u.members) for u in reread.all_users()} == {
        name: [f"user:{m}" for m in members] for name, members in spec.items()
    }
    assert reread.dumps() == users.dumps()


def test_retired_user_comes_back_with_its_members(tmp_path: Path) -> None:
    users = parse_users(tmp_path / "users.yaml", HAND_WRITTEN)
    users.retire("alice")
    assert users.add("alice", ["alice2@lab.org"]) == "restored"
    assert users.get("alice") == users.get("alice").__class__(
        "alice", ("user:alice@lab.org", "user:alice2@lab.org"), False
    )


def test_duplicate_active_user_is_rejected(tmp_path: Path) -> None:
    users = parse_users(tmp_path / "users.yaml", HAND_WRITTEN)
    with pytest.raises(UsageError, match="already exists"):
        users.add("zed", [])


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("users:\n  alice: [\n", 3, "not valid YAML"),
        ("people: {}\n", 1, "top-level 'users:'"),
        ("users:\n  ok: {}\n  Bad: {}\n", 3, "invalid user name 'Bad'"),
        ("users:\n  alice:\n    members: [alice]\n", 3, "invalid member 'alice'"),
        ("users:\n  alice:\n    members: [robot:r@lab.org]\n", 3, "invalid member 'robot:r@"),
        ("users:\n  alice:\n    members:\n      - a@lab.org\n      - 7\n", 5, "member '7' of"),
        ("users:\n  alice:\n    members: [true]\n", 3, "member 'True' of 'alice' must be text"),
        ("users:\n  alice:\n    members: [[a@lab.org]]\n", 3, "must be text"),
        ("users:\n  12: {}\n", 2, "user name '12' must be text"),
        (
            "users:\n  a: {}\n  b:\n    members: []\n    members: []\n",
            5,
            "'members' is written twice \\(first at line 4\\)",
        ),
        ("x: &x [a@lab.org]\nusers:\n  alice:\n    members: *x\n", 1, "aliases"),
        ("users:\n  alice: &a {}\n", 2, "anchors and aliases"),
        ("users:\n  alice:\n    members: [[[[[[[[a@lab.org]]]]]]]]\n", 3, "nested deeper"),
        ("users:\n  alice:\n    colour: red\n", 2, "unknown keys: colour"),
        ("users:\n  alice:\n    retired: maybe\n", 3, "true or false"),
    ],
)
def test_malformed_files_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(ConfigFileError, match=message) as info:
        parse_users(Path("/lab/users.yaml"), text)
    assert str(info.value).startswith(f"/lab/users.yaml:{line}: ")


def test_a_hand_written_bare_email_is_a_user_member(tmp_path: Path) -> None:
    path = tmp_path / "users.yaml"
    users = parse_users(path, "users:\n  alice:\n    members: [alice@lab.org]  # the PI\n")
    assert users.get("alice").members == ("user:alice@lab.org",)
    assert users.grant("alice", "user:alice@lab.org") is False
    users.revoke("alice", "alice@lab.org")
    assert users.get("alice").members == ()
    assert "# the PI" in users.dumps()


def test_read_only_loads_follow_every_change_of_the_file(tmp_path: Path) -> None:
    from mlflowk8s.lab.users import load_users

    users_yaml = tmp_path / "users.yaml"
    users_yaml.write_text("users:\n  alice:\n    members: [user:a@lab.org]\n")
    assert [u.name for u in load_users(tmp_path).all_users()] == ["alice"]
    assert (tmp_path / ".mlflowk8s/users.cache.json").exists()
    assert [u.name for u in load_users(tmp_path).all_users()] == ["alice"]  # from the cache
    users_yaml.write_text("users:\n  alicf:\n    members: [user:a@lab.org]\n")  # same size
    assert [u.name for u in load_users(tmp_path).all_users()] == ["alicf"]
    (tmp_path / ".mlflowk8s/users.cache.json").write_text("{broken")
    assert [u.name for u in load_users(tmp_path).all_users()] == ["alicf"]
    users_yaml.write_text("users:\n  Bad: {}\n")
    with pytest.raises(ConfigFileError, match=r"users\.yaml:2: invalid user name 'Bad'"):
        load_users(tmp_path)


@pytest.mark.parametrize("name", ["bob\n", "bob\r\n", "\nbob", "bob ", "bób", "bob\x00"])
def test_a_name_with_anything_around_it_is_rejected(name: str) -> None:
    with pytest.raises(UsageError):
        validate_name(name)


@pytest.mark.parametrize(
    "member",
    ["user:.@a.bc", "user:a@-.co", "user:a@co-.org", "user:.a@lab.org", "user:a.@lab.org",
     "user:a..b@lab.org", "user:" + "a" * 65 + "@lab.org", "user:a@lab.o", "user:a@lab.c0m",
     "user:a@" + "b" * 64 + ".org", "user:a@lab.org\nuser:b@lab.org", "a@lab.org\x00",
     "group:a b@lab.org", "domain:-lab.org", "domain:lab.org.", "serviceAccount:a@@lab.org"],
)  # fmt: skip
def test_members_iam_would_refuse_are_rejected(member: str) -> None:
    with pytest.raises(UsageError):
        normalize_member(member)


def test_the_longest_local_part_iam_accepts_is_accepted() -> None:
    member = "user:" + "a" * 64 + "@lab.org"
    assert normalize_member(member) == member


@pytest.mark.parametrize(
    ("member", "stored"),
    [("ALICE@LAB.ORG", "user:alice@lab.org"), ("group:ML-Team@Lab.Org", "group:ml-team@lab.org"),
     ("domain:LAB.org", "domain:lab.org"), ("serviceAccount:Job@P.iam.gserviceaccount.com",
      "serviceAccount:job@p.iam.gserviceaccount.com")],
)  # fmt: skip
def test_members_are_stored_lower_case(member: str, stored: str) -> None:
    assert normalize_member(member) == stored


@given(st.text(max_size=40))
def test_an_accepted_member_is_one_clean_lower_case_line(text: str) -> None:
    try:
        member = normalize_member(text)
    except UsageError:
        return
    kind, _, value = member.partition(":")
    assert kind in ("user", "group", "serviceAccount", "domain")
    assert value == value.lower() and value.isascii() and value.isprintable()
    assert " " not in value and "\n" not in value


def test_one_member_written_in_two_cases_is_one_member(tmp_path: Path) -> None:
    text = "users:\n  alice:\n    members: [user:alice@lab.org, user:ALICE@LAB.ORG]\n"
    users = parse_users(tmp_path / "users.yaml", text)
    assert users.get("alice").members == ("user:alice@lab.org",)
    assert users.grant("alice", "Alice@Lab.org") is False
    users.revoke("alice", "ALICE@lab.org")
    assert "alice@" not in users.dumps().lower()


def test_error_lines_never_echo_a_huge_value(tmp_path: Path) -> None:
    huge = "a" * 100_000
    texts = [f"users:\n  alice:\n    members: [{huge}]\n", f"users:\n  {huge}: {{}}\n",
             f"users:\n  alice:\n    retired: {huge}\n", f"users:\n  alice: [\n{huge}"]  # fmt: skip
    for text in texts:
        with pytest.raises(ConfigFileError) as info:
            parse_users(Path("users.yaml"), text)
        assert len(str(info.value)) < 300


def test_a_file_over_one_mib_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    text = "users: {}\n" + "#" * (1 << 20) + "\n"
    with pytest.raises(ConfigFileError, match=r"is 1,048,587 bytes, more than the 1 MiB"):
        parse_users(tmp_path / "users.yaml", text)


def users_text(count: int) -> str:
    return "users:\n" + "".join(
        f"  u{i}:\n    members: [user:u{i}@lab.org]\n" for i in range(count)
    )


def test_more_than_2000_users_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match=r"users\.yaml:1: holds 2001 users, more than "):
        parse_users(tmp_path / "users.yaml", users_text(2001))
    users = parse_users(tmp_path / "users.yaml", users_text(2000))
    with pytest.raises(UsageError, match="already holds 2000 users"):
        users.add("bob", [])
    users.retire("u1")
    assert users.add("u1", []) == "restored"  # bringing one back adds nobody
