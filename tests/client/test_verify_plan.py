"""What `mlflowk8s verify` sends and what it cannot check, decided before any request."""

from __future__ import annotations

from mlflowk8s.verify import Tenant, membership, membership_notes, plan_checks, tricks

ADMIN = "admin@lab.org"
ALICE = Tenant("alice", "https://mlflow.lab.org/alice/", ("user:alice@lab.org", f"user:{ADMIN}"))
BOB = Tenant("bob", "https://mlflow.lab.org/bob/", ("user:bob@lab.org",))
TEAM = Tenant("team", "https://mlflow.lab.org/team/", ("group:team@lab.org",))
API = "api/2.0/mlflow/experiments/search?max_results=1"


def test_membership_by_user_domain_and_unknown_through_a_group() -> None:
    assert membership(ALICE, "Admin@Lab.org") is True
    assert membership(BOB, ADMIN) is False
    assert membership(TEAM, ADMIN) is None
    assert membership(Tenant("all", "https://d/all/", ("domain:lab.org",)), ADMIN) is True
    assert membership(Tenant("x", "https://d/x/", ("domain:ab.org",)), ADMIN) is False


def test_path_tricks_on_one_domain_go_through_the_admins_tenant_raw() -> None:
    sent = [(name, r.url, r.target, r.host, r.token_header) for name, r in tricks(ALICE, BOB)]
    host, url, header = "mlflow.lab.org", BOB.url, "Proxy-Authorization"
    assert sent == [
        ("/alice/../bob/", url, f"/alice/../bob/{API}", host, header),
        ("/alice/%2e%2e/bob/", url, f"/alice/%2e%2e/bob/{API}", host, header),
        ("/alice/%2E%2E/bob/", url, f"/alice/%2E%2E/bob/{API}", host, header),
        ("//bob/", url, f"//bob/{API}", host, header),
        ("/alice/..;/bob/", url, f"/alice/..;/bob/{API}", host, header),
        ("/BOB/", url, f"/BOB/{API}", host, header),
        ("Host mlflow.lab.org.", url, f"/bob/{API}", "mlflow.lab.org.", header),
    ]


def test_host_tricks_when_every_tenant_has_its_own_host() -> None:
    mine = Tenant("alice", "https://alice-123.europe-west1.run.app/", (f"user:{ADMIN}",))
    other = Tenant("bob", "https://bob-123.europe-west1.run.app", ("user:bob@lab.org",))
    theirs = "bob-123.europe-west1.run.app"
    sent = [(name, r.url, r.target, r.host) for name, r in tricks(mine, other)]
    assert sent == [
        (f"Host {theirs} sent to alice-123.europe-west1.run.app", mine.url, f"/{API}", theirs),
        (
            f"absolute https://{theirs}/ sent to alice-123.europe-west1.run.app",
            mine.url,
            f"https://{theirs}/{API}",
            "alice-123.europe-west1.run.app",
        ),
        (f"Host {theirs.upper()}", other.url, f"/{API}", theirs.upper()),
        (f"Host {theirs}.", other.url, f"/{API}", f"{theirs}."),
    ]


def test_a_port_stays_after_the_trailing_dot() -> None:
    here = Tenant("alice", "http://127.0.0.1:8080/alice/", (f"user:{ADMIN}",))
    there = Tenant("bob", "http://127.0.0.1:8080/bob/", ())
    assert tricks(here, there)[-1][1].host == "127.0.0.1.:8080"


def test_what_runs_for_a_member_a_stranger_and_a_group_tenant() -> None:
    checks, not_run = plan_checks([ALICE, BOB, TEAM], ADMIN)
    ran = [(c.name, c.tenant, c.expected) for c in checks]
    assert ran[:5] == [
        ("signed out", "alice", "401 or 302 to accounts.google.com"),
        ("member, Authorization", "alice", "200 JSON"),
        ("member, Proxy-Authorization", "alice", "200 JSON"),
        ("health through the load balancer", "alice", "200"),
        ("signed out", "bob", "401 or 302 to accounts.google.com"),
    ]
    assert ran[5:7] == [("non-member, Authorization", "bob", "403"),
                        ("non-member, Proxy-Authorization", "bob", "403")]  # fmt: skip
    assert [name for name, *_ in ran[7:14]] == [f"trick {n}" for n, _ in tricks(ALICE, BOB)]
    assert ran[14:] == [("signed out", "team", "401 or 302 to accounts.google.com")]
    assert [(r.check, r.tenant, r.got) for r in not_run] == [
        ("health through the load balancer", "bob", f"not run: {ADMIN} is not a member"),
        *[(name, "team", f"not run: {ADMIN} may be in group:team@lab.org")
          for name in ("member", "non-member", "health", "path tricks")],
    ]  # fmt: skip


def test_a_named_tenant_is_reached_through_another_the_admin_belongs_to() -> None:
    checks, _ = plan_checks([BOB], ADMIN, through=[ALICE])
    assert {c.tenant for c in checks} == {"bob"}
    assert "trick /alice/../bob/" in [c.name for c in checks]


def test_member_of_every_or_no_tenant_says_what_could_not_run_and_how_to_run_it() -> None:
    both = Tenant("bob", BOB.url, (f"user:{ADMIN}",))
    assert membership_notes([ALICE, both], ADMIN) == [
        f"{ADMIN} is a member of every tenant: the non-member and path-trick checks could not "
        f"run. To run them, leave one tenant for a while: `mlflowk8s revoke bob user:{ADMIN}`, "
        f"`mlflowk8s apply`, `mlflowk8s verify`, then `mlflowk8s grant bob user:{ADMIN}` and "
        "`mlflowk8s apply`."
    ]
    assert membership_notes([BOB], ADMIN) == [
        f"{ADMIN} is a member of no tenant: the member, health and path-trick checks could "
        f"not run. To run them, grant yourself one tenant for a while: `mlflowk8s grant bob "
        f"user:{ADMIN}`, `mlflowk8s apply`, `mlflowk8s verify`, then `mlflowk8s revoke bob "
        f"user:{ADMIN}` and `mlflowk8s apply`."
    ]
    _, not_run = plan_checks([BOB], ADMIN)
    assert [(r.check, r.got) for r in not_run] == [
        ("health through the load balancer", f"not run: {ADMIN} is not a member"),
        ("path tricks", f"not run: {ADMIN} is a member of no tenant"),
    ]
    assert membership_notes([ALICE, BOB], ADMIN) == []
