"""`mlflowk8s verify` against real `mlflow server` tenants behind the IAP stand-in.

Google stands in (token endpoint, JWKS, IAP: tests/support/iap_standin.py); the tenants run
exactly the command the local target runs. Every check passes on a correct setup, and each
fails when the stand-in lets the request through: no IAP at all, a missing member check, a
member check that reads the path before the routing decodes and normalizes it.

One test function on purpose: CI runs pytest with xdist, which would start the servers
once per worker for a module-scoped fixture.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest

from mlflowk8s.verify import Report, Tenant, verify
from tests.client.helpers import ALICE, BOB, DESKTOP_CLIENT, IAP_AUDIENCE
from tests.support.iap_standin import GoogleStandIn, IAPStandIn, start_tenant

pytestmark = pytest.mark.slow

ADMIN = "admin@lab.org"
TIMEOUT = 60.0  # seconds per answer: a shared machine's MLflow can be slow
SIGNED_OUT = "401 or 302 to accounts.google.com"
REFUSED = "refused (no 2xx)"


def _rows(report: Report) -> list[tuple[str, str, str, str, bool | None]]:
    return [(r.check, r.tenant, r.expected, r.got, r.ok) for r in report.results]


def _failed(report: Report) -> list[tuple[str, str, str]]:
    return [(r.check, r.tenant, r.got) for r in report.failed]


def test_every_check_passes_on_a_correct_lab_and_each_fails_on_its_fault(
    tmp_path: Path,
) -> None:
    with ExitStack() as stack:
        google = GoogleStandIn(lifetime=600)
        stack.callback(google.stop)
        google.add_desktop_client(DESKTOP_CLIENT)
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(start_tenant, user, tmp_path / user, tmp_path / f"{user}.log")
                for user in ("alice", "bob")
            ]
            for future in futures:  # stop every server that came up, even when one did not
                if future.exception() is None:
                    stack.callback(future.result().stop)
            servers = {future.result().user: future.result() for future in futures}
            ports = {user: server.port for user, server in servers.items()}
        iap = IAPStandIn(
            google.jwks_uri,
            audiences=[IAP_AUDIENCE, DESKTOP_CLIENT],
            backends=ports,
            access={"alice": {ALICE, ADMIN}, "bob": {BOB}},
        )
        stack.callback(iap.stop)
        alice = Tenant("alice", iap.url("alice"), (f"user:{ALICE}", f"user:{ADMIN}"))
        bob = Tenant("bob", iap.url("bob"), (f"user:{BOB}",))
        tokens: list[str] = []

        def token(email: str = ADMIN) -> str:
            tokens.append(google.id_token(email, DESKTOP_CLIENT, "login"))
            return tokens[-1]

        def run(*tenants: Tenant, admin: str = ADMIN) -> Report:
            return verify(tenants or (alice, bob), admin, lambda: token(admin),
                          lambda: "ACTIVE", TIMEOUT)  # fmt: skip

        # A correct lab: IAP checks the token and the member on the path it routes.
        correct = run()
        dotted = f"127.0.0.1.:{iap.port}"
        assert _rows(correct) == [
            ("certificate", "-", "ACTIVE", "ACTIVE", True),
            ("signed out", "alice", SIGNED_OUT, "HTTP 401", True),
            ("member, Authorization", "alice", "200 JSON", "HTTP 200", True),
            ("member, Proxy-Authorization", "alice", "200 JSON", "HTTP 200", True),
            ("health through the load balancer", "alice", "200", "HTTP 200", True),
            ("signed out", "bob", SIGNED_OUT, "HTTP 401", True),
            ("non-member, Authorization", "bob", "403", "HTTP 403", True),
            ("non-member, Proxy-Authorization", "bob", "403", "HTTP 403", True),
            # alice's server answers 404 for paths outside its routes.
            ("trick /alice/../bob/", "bob", REFUSED, "HTTP 404", True),
            ("trick /alice/%2e%2e/bob/", "bob", REFUSED, "HTTP 404", True),
            ("trick /alice/%2E%2E/bob/", "bob", REFUSED, "HTTP 404", True),
            ("trick //bob/", "bob", REFUSED, "HTTP 403", True),  # read as /bob/: a stranger
            ("trick /alice/..;/bob/", "bob", REFUSED, "HTTP 404", True),
            ("trick /BOB/", "bob", REFUSED, "HTTP 404", True),  # no such tenant
            (f"trick Host {dotted}", "bob", REFUSED, "HTTP 403", True),
            ("health through the load balancer", "bob", "200",
             f"not run: {ADMIN} is not a member", None),
        ]  # fmt: skip
        assert correct.ok and correct.notes == []
        assert iap.stats.headers["Authorization"] and iap.stats.headers["Proxy-Authorization"]
        assert not any(t in str(correct.as_json()) for t in tokens)  # a token is a key

        # No IAP at all: everything reaches the servers.
        iap.require_token = False
        assert _failed(run()) == [
            ("signed out", "alice", "HTTP 200"),
            ("signed out", "bob", "HTTP 200"),
            ("non-member, Authorization", "bob", "HTTP 200"),
            ("non-member, Proxy-Authorization", "bob", "HTTP 200"),
            ("trick //bob/", "bob", "HTTP 200"),
        ]
        iap.require_token = True

        # IAP checks tokens but forgets the member check.
        iap.check_members = False
        assert _failed(run()) == [
            ("non-member, Authorization", "bob", "HTTP 200"),
            ("non-member, Proxy-Authorization", "bob", "HTTP 200"),
            ("trick //bob/", "bob", "HTTP 200"),
        ]
        iap.check_members = True

        # The member check reads the raw path and Host, the routing a normalized one.
        iap.normalizes_differently = True
        assert _failed(run()) == [
            (f"trick {name}", "bob", "HTTP 200")
            for name in ("/alice/../bob/", "/alice/%2e%2e/bob/", "/alice/%2E%2E/bob/",
                         "//bob/", "/alice/..;/bob/", "/BOB/", f"Host {dotted}")
        ]  # fmt: skip
        iap.normalizes_differently = False

        # IAP does not accept the desktop client's tokens (not allow-listed in IAP settings).
        iap.audiences.remove(DESKTOP_CLIENT)
        assert _failed(run()) == [
            ("member, Authorization", "alice", "HTTP 401"),
            ("member, Proxy-Authorization", "alice", "HTTP 401"),
            ("health through the load balancer", "alice", "HTTP 401"),
            ("non-member, Authorization", "bob", "HTTP 401"),
            ("non-member, Proxy-Authorization", "bob", "HTTP 401"),
        ]
        iap.audiences.append(DESKTOP_CLIENT)

        # Someone who is a member of no tenant: only refusals can be checked.
        stranger = run(admin="carol@lab.org")
        assert stranger.ok
        assert [(r.check, r.tenant, r.got) for r in stranger.not_run] == [
            ("health through the load balancer", "alice", "not run: carol@lab.org is not a member"),
            ("path tricks", "alice", "not run: carol@lab.org is a member of no tenant"),
            ("health through the load balancer", "bob", "not run: carol@lab.org is not a member"),
            ("path tricks", "bob", "not run: carol@lab.org is a member of no tenant"),
        ]
        assert [r.got for r in stranger.results if r.check.startswith("non-member")] == [
            "HTTP 403"
        ] * 4
        assert stranger.notes[0].startswith("carol@lab.org is a member of no tenant")

        # A member of every tenant: nothing to refuse, and the report says so.
        iap.access["bob"].add(ADMIN)
        both = Tenant("bob", bob.url, (f"user:{BOB}", f"user:{ADMIN}"))
        member = run(alice, both)
        assert member.ok and member.not_run == []
        assert [r.check for r in member.results if r.tenant == "bob"] == [
            "signed out",
            "member, Authorization",
            "member, Proxy-Authorization",
            "health through the load balancer",
        ]
        assert member.notes[0].startswith(f"{ADMIN} is a member of every tenant")

        # alice's server is down: the load balancer has nothing to pass her requests to.
        servers["alice"].stop()
        down = [(r.check, r.got.split(":")[0]) for r in run(alice).failed]
        assert down == [
            ("member, Authorization", "no answer"),
            ("member, Proxy-Authorization", "no answer"),
            ("health through the load balancer", "no answer"),
        ]
