"""End to end: real tenant servers and the real MLflow client, behind a local IAP.

Only Google stands in (token endpoint, JWKS, IAP). The tenants run exactly the command
``mlflowk8s.server.launcher_command`` gives the local target; the client is configured by
nothing but what `mlflowk8s env NAME` exports (MLFLOW_TRACKING_URI, MLFLOW_TRACKING_AUTH=
mlflowk8s, the audience) and credentials; the stand-in IAP on 127.0.0.1 is reached as a
tunnel set as the tracking URI would be.

One test function on purpose: CI runs pytest with xdist, which would start the servers
once per worker for a module-scoped fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.client.helpers import (
    ALICE,
    ALICE_JOB,
    BOB,
    BOB_JOB,
    CLIENT_JOB,
    DESKTOP_CLIENT,
    IAP_AUDIENCE,
    base_env,
    login,
    run_cli,
    write_json,
)
from tests.support.iap_standin import GoogleStandIn, IAPStandIn, Tenant, start_tenant

pytestmark = pytest.mark.slow

LIFETIME = 5  # seconds an ID token lives
LONG_RUN_SECONDS = 3 * LIFETIME + 2
ARTIFACT_MIB = 5
MAX_SERVER_RSS = 1024**3  # DESIGN.md measured ~360 MB with the tenant flags, 1.7 GB without


def _client(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CLIENT_JOB), *args],
        env=env, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def _result(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert proc.returncode == 0, f"client failed:\n{proc.stdout}\n{proc.stderr[-4000:]}"
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_long_runs_of_a_person_and_a_job_refresh_tokens_without_a_401(tmp_path: Path) -> None:
    started = time.monotonic()
    with ExitStack() as stack:
        google = GoogleStandIn(lifetime=LIFETIME)
        stack.callback(google.stop)
        google.add_desktop_client(DESKTOP_CLIENT)
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(start_tenant, user, tmp_path / user, tmp_path / f"{user}.log")
                for user in ("alice", "bob")
            ]
            tenants: dict[str, Tenant] = {}
            for future in futures:
                try:
                    tenant = future.result()
                except Exception:
                    for other in futures:
                        if other is not future and other.exception() is None:
                            other.result().stop()
                    raise
                tenants[tenant.user] = tenant
                stack.callback(tenant.stop)
        iap = IAPStandIn(
            google.jwks_uri,
            audiences=[IAP_AUDIENCE, DESKTOP_CLIENT],
            backends={user: tenant.port for user, tenant in tenants.items()},
            access={"alice": {ALICE, ALICE_JOB}, "bob": {BOB, BOB_JOB}},
        )
        stack.callback(iap.stop)
        servers_up = time.monotonic() - started

        # Jobs: service-account keys whose token_uri is the stand-in.
        alice_key = write_json(tmp_path / "alice-job.json", google.service_account_key(ALICE_JOB))
        bob_key = write_json(tmp_path / "bob-job.json", google.service_account_key(BOB_JOB))

        def env_for(user: str, **credentials: str) -> dict[str, str]:
            return base_env(
                tmp_path / f"home-{user}-{len(credentials)}",
                MLFLOW_TRACKING_URI=iap.url(user),
                MLFLOW_TRACKING_AUTH="mlflowk8s",
                MLFLOWK8S_IAP_AUDIENCE=IAP_AUDIENCE,
                MLFLOW_DISABLE_TELEMETRY="true",
                **credentials,
            )

        # Bob's job logs a run of its own meanwhile (alice must never see it).
        pool = stack.enter_context(ThreadPoolExecutor(2))
        bob_env = env_for("bob", GOOGLE_APPLICATION_CREDENTIALS=str(bob_key))
        seeding = pool.submit(_client, bob_env, "seed", "bob-exp")

        # A person: `mlflowk8s login` once (the real loopback flow, against the stand-in).
        google.consent_email = ALICE
        client_file = write_json(
            tmp_path / "desktop-client.json", google.client_file(DESKTOP_CLIENT)
        )
        config_home = tmp_path / "alice-home" / ".config"
        person_env = base_env(tmp_path / "alice-home", XDG_CONFIG_HOME=str(config_home))
        signed_in = login(tmp_path / "lab", person_env, client_file)
        assert signed_in.returncode == 0, signed_in.stderr
        assert f"Signed in as {ALICE}" in signed_in.stdout
        stored = config_home / "mlflowk8s" / "credentials.json"
        assert stored.stat().st_mode & 0o777 == 0o600
        assert google.clients[DESKTOP_CLIENT] not in signed_in.stdout + signed_in.stderr

        seeded = _result(seeding.result())
        assert seeded["run_id"]

        # The long runs: the person and the job log to alice at the same time.
        before = iap.snapshot()
        person = pool.submit(
            _client,
            env_for("alice", XDG_CONFIG_HOME=str(config_home)),
            "long", "person-exp", str(LONG_RUN_SECONDS), str(ARTIFACT_MIB),
        )  # fmt: skip
        job = pool.submit(
            _client,
            # The job sends its token in Authorization (MLFLOWK8S_IAP_HEADER), the person in
            # Proxy-Authorization (the default): IAP takes either.
            env_for(
                "alice",
                GOOGLE_APPLICATION_CREDENTIALS=str(alice_key),
                MLFLOWK8S_IAP_HEADER="Authorization",
            ),
            "long", "job-exp", str(LONG_RUN_SECONDS), str(ARTIFACT_MIB),
        )  # fmt: skip
        results = {"person": _result(person.result()), "job": _result(job.result())}
        after = iap.snapshot()
        rejected = {code: after.get(code, 0) - before.get(code, 0) for code in (401, 403)}
        assert rejected == {401: 0, 403: 0}, iap.stats.rejected

        for kind, result in results.items():
            assert float(str(result["seconds"])) > 3 * LIFETIME
            assert result["status"] == "FINISHED"
            assert result["params"] == {"lr": "0.01", "layers": "4", "who": f"{kind}-exp"}
            assert result["metric_points"] == result["steps"]
            assert result["artifact_ok"] is True
            assert result["artifact_bytes"] == ARTIFACT_MIB * 1024 * 1024
            seen = result["seen"]
            assert isinstance(seen, dict)
            assert "bob-exp" not in seen["experiments"]
            assert "bob-exp-run" not in seen["runs"]
            assert "secret_of" not in seen["params"]
            assert f"{kind}-exp-run" in seen["runs"]

        assert set(iap.stats.headers) == {"Proxy-Authorization", "Authorization"}

        # Every token lived LIFETIME seconds: the runs needed fresh ones, and got them.
        refreshes = {email: len(iap.stats.tokens[email]) for email in (ALICE, ALICE_JOB)}
        issued = {email: len(google.issued_to(email)) for email in (ALICE, ALICE_JOB)}
        for email in (ALICE, ALICE_JOB):
            assert refreshes[email] >= 4, (refreshes, issued)

        # Bob's data stays bob's: alice's credentials are refused at /bob/ (403).
        # ... and, with no credentials at all, a clear error (once) and IAP saw no token.
        before = iap.snapshot()
        denying = pool.submit(_client, env_for("bob", XDG_CONFIG_HOME=str(config_home)), "probe")
        nothing = _client(env_for("alice"), "probe")
        denied = denying.result()
        assert denied.returncode != 0
        assert "403" in denied.stderr
        assert nothing.returncode != 0
        assert nothing.stderr.count("run `mlflowk8s login`") == 1, nothing.stderr
        assert "GOOGLE_APPLICATION_CREDENTIALS" in nothing.stderr
        assert "Invalid IAP credentials: empty token" in nothing.stderr
        assert iap.snapshot().get(401, 0) > before.get(401, 0)
        # ... and signed in but without MLFLOW_TRACKING_AUTH: no token, one line naming it.
        forgot = dict(env_for("alice", XDG_CONFIG_HOME=str(config_home)))
        del forgot["MLFLOW_TRACKING_AUTH"]
        unset = _client(forgot, "probe")
        assert unset.returncode != 0
        assert unset.stderr.count("set MLFLOW_TRACKING_AUTH=mlflowk8s") == 1, unset.stderr
        assert "Invalid IAP credentials: empty token" in unset.stderr

        rss = {user: tenant.rss_bytes() for user, tenant in tenants.items()}
        pss = {user: tenant.pss_bytes() for user, tenant in tenants.items()}
        processes = {user: len(tenant.group_pids()) for user, tenant in tenants.items()}
        for user, value in rss.items():
            assert 0 < value < MAX_SERVER_RSS, (user, value)

        # The same person, from the command line: token and doctor against the stand-in.
        token = run_cli(tmp_path / "lab", person_env, "token")
        assert token.returncode == 0, token.stderr
        health = requests.get(
            iap.url("alice") + "health",
            headers={"Proxy-Authorization": f"Bearer {token.stdout.strip()}"},
            timeout=10,
        )
        assert health.status_code == 200

    figures = {
        "e2e_seconds": round(time.monotonic() - started, 1),
        "servers_start_seconds": round(servers_up, 1),
        "token_lifetime_seconds": LIFETIME,
        "long_run_seconds": {k: round(float(str(v["seconds"])), 1) for k, v in results.items()},
        "tokens_seen_at_iap": refreshes,
        "tokens_issued": issued,
        "server_rss_mib": {user: round(value / 2**20) for user, value in rss.items()},
        "server_pss_mib": {user: round(value / 2**20) for user, value in pss.items()},
        "server_processes": processes,
        "proxied_requests": iap.stats.requests,
        "uploaded_mib": round(iap.stats.bytes_up / 2**20, 1),
    }
    sys.stderr.write(f"\nE2E FIGURES {json.dumps(figures)}\n")
    report = os.environ.get("MLFLOWK8S_E2E_REPORT")
    if report:
        Path(report).write_text(json.dumps(figures, indent=2))
    for tenant in tenants.values():
        assert tenant.group_pids() == [], f"{tenant.user}'s server outlived the test"
