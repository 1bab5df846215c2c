"""The runner's own logic: finding terraform, reading diagnostics, locks, retries, health."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from mlflowk8s.health import classify_health
from mlflowk8s.terraform.binary import find_terraform
from mlflowk8s.terraform.events import ApplyProgress
from mlflowk8s.terraform.results import Diagnostic, RunResult, TerraformNotFound, lock_info
from mlflowk8s.terraform.retry import is_transient
from mlflowk8s.terraform.workspace import sync_infra
from tests.terraform.conftest import TfLab, wait_for

LOCK_DETAIL = (
    'Error message: writing "gs://tfs/mlflowk8s/default/platform/default.tflock" failed: '
    "googleapi: Error 412: Precondition failed, Precondition Failed\n"
    "Lock Info:\n"
    "  ID:        1795879442335243\n"
    "  Path:      gs://tfs/mlflowk8s/default/platform/default.tflock\n"
    "  Operation: OperationTypeApply\n"
    "  Who:       ada@lab-laptop\n"
    "  Version:   1.11.4\n"
    "  Created:   2026-11-28 15:24:02.330778967 +0000 UTC\n"
    "  Info:      \n\n\nTerraform acquires a state lock to protect the state ..."
)


def failed(*diagnostics: tuple[str, str]) -> RunResult:
    return RunResult(code=1, diagnostics=[Diagnostic("error", s, d) for s, d in diagnostics])


def fake_terraform(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "terraform"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def test_lock_info_is_read_from_terraforms_diagnostic() -> None:
    info = lock_info(failed(("Error acquiring the state lock", LOCK_DETAIL)))
    assert info is not None
    assert (info.lock_id, info.who, info.operation) == (
        "1795879442335243",
        "ada@lab-laptop",
        "OperationTypeApply",
    )
    assert info.created == "2026-11-28 15:24:02.330778967 +0000 UTC"
    assert lock_info(failed(("Error 412", "Precondition failed"))) is None


@pytest.mark.parametrize(
    ("summary", "detail"),
    [
        ("Error creating Network", "googleapi: Error 503: Unavailable., backendError"),
        ("Error creating Cluster", "googleapi: Error 429: Quota exceeded, rateLimitExceeded"),
        (
            "Error enabling service",
            "Error 403: Compute Engine API has not been used in project "
            "123 before or it is disabled. Enable it ... SERVICE_DISABLED",
        ),
        (
            "Error, failed to create instance",
            "Operation failed because another operation was already in progress.",
        ),
        (
            "Error reading Instance",
            'Get "https://sqladmin.googleapis.com/...": '
            "read tcp 10.0.0.2:5555->142.250.0.1:443: read: connection reset by peer",
        ),
        ("Error waiting", "net/http: TLS handshake timeout"),
        (
            "API did not recognize GroupVersionKind from manifest (CRD may not be installed)",
            'no matches for kind "HTTPRoute" in group "gateway.networking.k8s.io"',
        ),
        (
            "Failed to determine GroupVersionResource for manifest",
            'no matches for kind "HealthCheckPolicy" in version "networking.gke.io/v1"',
        ),
    ],
)
def test_transient_patterns(summary: str, detail: str) -> None:
    assert is_transient(failed((summary, detail)))


@pytest.mark.parametrize(
    ("summary", "detail"),
    [
        ("Error creating instance", "googleapi: Error 400: Invalid value for tier, invalid"),
        ("Error creating Bucket", "googleapi: Error 409: The bucket name is not available."),
        ("Error acquiring the state lock", LOCK_DETAIL),
        ("Unsupported argument", 'An argument named "nope" is not expected here.'),
    ],
)
def test_permanent_errors_are_not_retried(summary: str, detail: str) -> None:
    assert not is_transient(failed((summary, detail)))


def test_one_permanent_error_among_transient_ones_is_permanent() -> None:
    assert not is_transient(failed(
        ("Error creating Network", "googleapi: Error 503: backendError"),
        ("Error creating instance", "googleapi: Error 400: Invalid value"),
    ))  # fmt: skip


def test_health_behind_iap_is_not_unhealthy() -> None:
    assert classify_health(200) == (True, None)
    assert classify_health(302) == (None, "behind IAP")
    assert classify_health(401) == (None, "behind IAP")
    assert classify_health(503) == (False, "HTTP 503")
    assert classify_health(None) == (None, "unreachable")


def test_apply_progress_counts_done_over_total() -> None:
    seen: list[tuple[int, int, str]] = []
    follow = ApplyProgress(lambda d, t, c: seen.append((d, t, c)), total=2)

    def hook(kind: str, addr: str, **extra: object) -> None:
        follow({"type": kind, "hook": {"resource": {"addr": addr}, **extra}})

    hook("apply_start", "module.gke.a")
    hook("apply_progress", "module.gke.a", elapsed_seconds=10)
    hook("apply_complete", "module.gke.a")
    hook("apply_start", "b")
    hook("apply_errored", "b")
    assert seen == [
        (0, 2, "module.gke.a"), (0, 2, "module.gke.a (10s)"), (1, 2, "module.gke.a"),
        (1, 2, "b"), (2, 2, "b"),
    ]  # fmt: skip


def test_terraform_missing_or_too_old(tmp_path: Path) -> None:
    with pytest.raises(TerraformNotFound, match="terraform not found on PATH: install Terraform"):
        find_terraform({"PATH": str(tmp_path)})
    old = fake_terraform(tmp_path, 'echo \'{"terraform_version":"1.5.7"}\'\n')
    with pytest.raises(TerraformNotFound) as caught:
        find_terraform({"MLFLOWK8S_TERRAFORM": str(old), "PATH": "/usr/bin:/bin"})
    assert str(caught.value) == f"{old} is Terraform 1.5.7; mlflowk8s needs >= 1.9.0"
    with pytest.raises(TerraformNotFound, match="MLFLOWK8S_TERRAFORM=/nope is not an executable"):
        find_terraform({"MLFLOWK8S_TERRAFORM": "/nope"})


@pytest.mark.slow
def test_cli_names_a_too_old_terraform(tf_lab: TfLab, tmp_path: Path) -> None:
    old = fake_terraform(tmp_path, 'echo \'{"terraform_version":"1.5.7"}\'\n')
    tf_lab.cli.env["MLFLOWK8S_TERRAFORM"] = str(old)
    result = tf_lab("plan")
    assert result.code == 2
    assert result.stderr == f"error: {old} is Terraform 1.5.7; mlflowk8s needs >= 1.9.0\n"


@pytest.mark.slow
def test_second_ctrl_c_kills_a_terraform_that_does_not_stop(tf_lab: TfLab, tmp_path: Path) -> None:
    started = tmp_path / "started"
    # A terraform that ignores SIGINT while planning (as one stuck on an API call might).
    stuck = fake_terraform(
        tmp_path,
        f"""
case "$1" in
  version) echo '{{"terraform_version":"1.11.4"}}' ;;
  plan) trap '' INT; touch {started}; sleep 60 ;;
esac
""",
    )
    tf_lab.cli.env["MLFLOWK8S_TERRAFORM"] = str(stuck)
    process = tf_lab.spawn("plan")
    wait_for(started.exists, what="the fake terraform to start planning")
    process.send_signal(signal.SIGINT)
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=1)  # still waiting for terraform to stop
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert err == (
        "error: interrupted (Ctrl-C, then again): terraform (platform) was killed; its state "
        "lock may still be held (the next run names it and how to release it)\n"
    )


def test_a_failing_event_handler_stops_terraform(tmp_path: Path) -> None:
    from mlflowk8s.terraform.runner import Terraform

    stopped = tmp_path / "stopped"
    # Emits one event, then runs until it is told to stop (and says it was).
    slow = fake_terraform(
        tmp_path,
        f"""trap 'touch {stopped}; exit 1' INT
echo '{{"type":"apply_start","hook":{{"resource":{{"addr":"a.b"}}}}}}'
i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
""",
    )

    def broken(event: dict[str, object]) -> None:
        raise RuntimeError("display failed")

    tf = Terraform(slow, tmp_path, "platform", env={"PATH": "/usr/bin:/bin"})
    with pytest.raises(RuntimeError):
        tf.run(["apply"], on_event=broken, json_ui=True)
    assert stopped.exists(), "terraform got SIGINT (to release its lock) and ended"


@pytest.mark.slow
def test_changed_backend_settings_init_again(tf_lab: TfLab) -> None:
    assert tf_lab("plan").code == 0
    other = tf_lab.bucket + "-b"
    assert tf_lab("init", "--no-input", "--state-bucket", other).code == 0
    assert tf_lab("plan").stdout.splitlines()[0] == "initialising platform ..."
    assert tf_lab.gcs.objects(other) == ["mlflowk8s/default/platform/default.tfstate"]
    again = tf_lab("plan").stdout.splitlines()
    assert "initialising platform ..." not in again
    assert "planning platform ..." in again


def test_sync_infra_mirrors_sources_and_keeps_the_labs_lock_file(tmp_path: Path) -> None:
    source, dest = tmp_path / "infra", tmp_path / "work"
    (source / "platform").mkdir(parents=True)
    (source / "platform" / "main.tf").write_text("# v1\n")
    (source / "platform" / ".terraform.lock.hcl").write_text("# packaged\n")
    first = sync_infra(source, dest)
    (dest / "platform" / ".terraform.lock.hcl").write_text("# the lab's\n")
    (dest / "platform" / "old.tf").write_text("# removed upstream\n")
    (dest / "platform" / ".terraform").mkdir()
    (dest / "platform" / ".terraform" / "keep.tf").write_text("")
    assert sync_infra(source, dest) == first
    assert sorted(p.name for p in (dest / "platform").iterdir()) == [
        ".terraform",
        ".terraform.lock.hcl",
        "main.tf",
    ]
    assert (dest / "platform" / ".terraform.lock.hcl").read_text() == "# the lab's\n"
    (source / "platform" / "main.tf").write_text("# v2\n")
    assert sync_infra(source, dest) != first
    assert json.dumps(sorted(p.name for p in (dest / "platform" / ".terraform").iterdir())) == (
        '["keep.tf"]'
    )


def test_probe_reads_health_without_following_iaps_redirect() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from mlflowk8s.health import probe_all
    from mlflowk8s.targets.base import TenantStatus

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = {"/alice/health": 200, "/bob/health": 302, "/carol/health": 503}
            self.send_response(code.get(self.path, 404))
            if self.path == "/bob/health":
                self.send_header("Location", "https://accounts.google.com/o/oauth2/v2/auth")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        tenants = [TenantStatus(name, f"{base}/{name}/") for name in ("alice", "bob", "carol")]
        tenants.append(TenantStatus("dave", "http://127.0.0.1:9/dave/"))  # nothing listens
        probe_all(tenants)
    finally:
        server.shutdown()
    assert [(t.name, t.healthy, t.health_note) for t in tenants] == [
        ("alice", True, None),
        ("bob", None, "behind IAP"),
        ("carol", False, "HTTP 503"),
        ("dave", None, "unreachable"),
    ]


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("kubernetes_namespace_v1.system", "kubernetes_namespace_v1"),
        ('module.tenant["alice"].kubernetes_manifest.route', "kubernetes_manifest"),
        (
            'module.tenant["a"].google_iap_web_iam_member.access["user:bob@lab.org"]',
            "google_iap_web_iam_member",
        ),
        (
            "module.db_admin.module.wi[0].kubernetes_service_account_v1.this[0]",
            "kubernetes_service_account_v1",
        ),
        ("data.google_client_config.this", "google_client_config"),
    ],
)
def test_resource_type_of_an_address(address: str, kind: str) -> None:
    from mlflowk8s.terraform.results import resource_type

    assert resource_type(address) == kind


@pytest.mark.slow
def test_objects_of_a_gone_cluster_are_forgotten_not_destroyed(
    tf_lab: TfLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflowk8s.lab import Lab
    from mlflowk8s.progress import QuietProgress
    from mlflowk8s.targets.gcp import destroy
    from mlflowk8s.targets.gcp.roots import Roots

    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    assert tf_lab("apply", "--yes").code == 0
    for key, value in tf_lab.cli.env.items():
        monkeypatch.setenv(key, value)
    # The fixture has no kubernetes_* resources: let the per-tenant namespaces stand in.
    monkeypatch.setattr(destroy, "CLUSTER_OBJECT_TYPES", ("terraform_data",))
    monkeypatch.setattr(destroy, "resource_type", lambda a: "terraform_data" * ("namespace" in a))
    destroy.forget_cluster_objects(Roots(Lab(tf_lab.path), QuietProgress()))
    remaining = tf_lab.addresses("tenants")
    assert 'module.tenant["alice"].terraform_data.namespace[0]' not in remaining
    assert 'module.tenant["alice"].terraform_data.database' in remaining


@pytest.mark.slow
def test_ctrl_c_reaches_both_parallel_plans(tf_lab: TfLab, tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    # A terraform whose platform has outputs, so both roots are planned at the same time.
    slow = fake_terraform(
        tmp_path,
        f"""
case "$1" in
  version) echo '{{"terraform_version":"1.11.4"}}' ;;
  output) echo '{{"cluster_name": {{"value": "mlflow-default"}}}}' ;;
  plan) touch {marks}/$(basename "$PWD"); exec sleep 60 ;;
esac
""",
    )
    tf_lab.cli.env["MLFLOWK8S_TERRAFORM"] = str(slow)
    process = tf_lab.spawn("plan")
    wait_for(lambda: len(list(marks.iterdir())) == 2, what="both plans to start")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)  # both stopped: no 60 s wait
    assert process.returncode == 130
    assert err in {
        f"error: interrupted (Ctrl-C): terraform ({root}) stopped cleanly and saved its state\n"
        for root in ("platform", "tenants")
    }
    assert sorted(p.name for p in marks.iterdir()) == ["platform", "tenants"]


@pytest.mark.slow
def test_bench_plan_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.terraform import bench_plan

    assert bench_plan.main(["--users", "2", "--repeat", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("plan,    2 users: mlflowk8s "), line
    assert " by hand " in line and " ratio " in line


def test_every_retryable_pattern_says_why_and_the_reason_is_the_first_match() -> None:
    from mlflowk8s.terraform.retry import RETRYABLE, reason_for

    assert all(rule.reason and rule.pattern.pattern for rule in RETRYABLE)
    overloaded = Diagnostic("error", "Error creating Network", "googleapi: Error 503: backendError")
    assert reason_for(overloaded) == "Google's API is rate-limiting or failing"
    assert reason_for(Diagnostic("error", "Unsupported argument", "nope")) is None
    unregistered = Diagnostic(
        "error",
        "API did not recognize GroupVersionKind from manifest (CRD may not be installed)",
        'no matches for kind "Gateway" in group "gateway.networking.k8s.io"',
    )
    reason = "the new cluster is still registering its custom resource kinds"
    assert reason_for(unregistered) == reason


def test_text_from_terraform_or_the_bucket_is_printed_with_control_characters_escaped() -> None:
    from mlflowk8s.terraform.results import printable

    assert printable("a\x1b[2Jb\rc\x07\u2028d\x9b") == "a\\x1b[2Jb\\rc\\x07\\u2028d\\x9b"
    assert printable("line one\n\tline two: ok") == "line one\n\tline two: ok"
    hostile = Diagnostic("error", "Error \x1b]0;title\x07", "detail \x1b[31mred")
    assert hostile.text() == "Error \\x1b]0;title\\x07: detail \\x1b[31mred"
