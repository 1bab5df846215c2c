"""The launcher's checks and server.py's launcher commands, without starting a server."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from mlflowk8s import launcher, server

POD = server.PodTarget("mlflow.lab.org", "lab-artifacts")
CLOUD_RUN = server.CloudRunTarget("alice-123.europe-west1.run.app", "lab-artifacts")


@pytest.mark.parametrize(
    ("raw", "allowed"),
    [
        (b"/alice", True),
        (b"/alice/", True),
        (b"/alice/api/2.0/mlflow/runs/get", True),
        (b"/alice/static-files/a%20b.js", True),
        (b"/alice/ajax-api/2.0/mlflow/artifacts/list", True),
        (b"/", False),
        (b"/health", False),
        (b"/alicex/health", False),
        (b"/bob/api/2.0/mlflow/runs/get", False),
        (b"alice/health", False),
        # Decoded and normalized, each of these would be /alice/... — the raw form is refused.
        (b"/bob/%2e%2e/alice/api/2.0/mlflow/runs/get", False),
        (b"/bob/%2E%2E/alice/health", False),
        (b"/alice/%2e%2e/alice/health", False),
        (b"/alice/..%2fbob/health", False),
        (b"/alice/..%2Fbob/health", False),
        (b"/alice/..%5cbob/health", False),
        (b"/alice/..%5Cbob/health", False),
        (b"/alice/../bob/health", False),
        (b"/alice/./health", False),
        (b"/alice/..", False),
        (b"/alice//health", False),
        (b"/alice\\..\\bob", False),
    ],
)
def test_path_guard_takes_only_the_tenants_raw_paths(raw: bytes, allowed: bool) -> None:
    assert launcher.path_allowed(raw, b"/alice") is allowed


def test_path_guard_without_prefix_still_refuses_traversal() -> None:
    assert launcher.path_allowed(b"/api/2.0/mlflow/runs/get", b"")
    assert not launcher.path_allowed(b"/x/%2e%2e/api", b"")
    assert not launcher.path_allowed(b"//api", b"")


@pytest.mark.parametrize(
    ("prefix", "message"),
    [
        ("alice", "must begin with a '/'"),
        ("/alice/", "must not end with a '/'"),
        ("/al{ice}", "must not contain '{' or '}'"),
        ("/al%69ce", "must not contain '%'"),
        ("/a/../b", "'..' segments"),
    ],
)
def test_bad_static_prefix_is_one_line_and_exit_2(
    prefix: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        launcher.prepare(["--static-prefix", prefix, "--backend-store-uri", "sqlite://"], {})
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_refusals_of_settings_the_launcher_cannot_serve() -> None:
    with pytest.raises(launcher.LaunchError, match="no tracking store"):
        launcher.prepare([], {})
    with pytest.raises(launcher.LaunchError, match="not supported"):
        launcher.prepare(["--backend-store-uri", "sqlite://"],
                         {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true"})  # fmt: skip
    with pytest.raises(launcher.LaunchError, match="client-only"):
        launcher.prepare(["--backend-store-uri", "sqlite://"], {"MLFLOW_WORKSPACE": "w"})


def test_main_exits_2_with_one_line_on_a_refused_setting(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_BACKEND_STORE_URI", raising=False)
    assert launcher.main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "MLFLOW_BACKEND_STORE_URI" in err


def _imported(nodes: list[ast.stmt] | ast.Module) -> set[str]:
    modules = set()
    for node in ast.walk(nodes) if isinstance(nodes, ast.Module) else nodes:
        if isinstance(node, ast.Import):
            modules |= {alias.name.partition(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative import"
            modules.add(str(node.module).partition(".")[0])
    return modules


def test_source_imports_only_stdlib_mlflow_and_uvicorn() -> None:
    """Pods run the source with `python -c` in MLflow's image, where mlflowk8s is absent;
    google-auth and google-cloud-storage (in that image) only inside the signing code, which
    runs for a gs:// destination only."""
    tree = ast.parse(server.launcher_source())
    assert _imported(tree) - set(sys.stdlib_module_names) == {"mlflow", "uvicorn", "google"}
    assert _imported(tree.body) <= set(sys.stdlib_module_names) | {"__future__"}
    assert server.launcher_source() == Path(launcher.__file__).read_text(encoding="utf-8")


def test_pod_form_runs_the_source_with_tenant_flags() -> None:
    command = server.launcher_command("alice", POD)
    assert command.argv[:3] == ["python", "-c", server.launcher_source()]
    assert command.argv[3:] == [
        "--host", "0.0.0.0", "--port", "5000", "--static-prefix", "/alice",
        "--allowed-hosts",
        "mlflow.lab.org,mlflow.lab.org:*,10.*,localhost,localhost:*,127.0.0.1,127.0.0.1:*",
        "--artifacts-destination", "gs://lab-artifacts/alice", "--serve-artifacts",
        "--forwarded-allow-ips=*", "--timeout-keep-alive=620",
    ]  # fmt: skip
    assert command.env == {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "2",
        "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": "3",
    }
    spec = server.tenant_server("alice", POD)
    assert spec.ready_path == "/alice/ready" == server.ready_path("alice")
    # The store comes from MLFLOW_BACKEND_STORE_URI (Terraform); the launcher reads it there.
    launch = launcher.prepare(command.argv[3:], {"MLFLOW_BACKEND_STORE_URI": "postgresql://db"})
    assert launch.env["_MLFLOW_SERVER_FILE_STORE"] == "postgresql://db"
    assert launch.uvicorn["timeout_keep_alive"] == 620
    assert launch.uvicorn["forwarded_allow_ips"] == "*"
    assert launch.prefix == "/alice"


def test_cloud_run_form_has_no_prefix() -> None:
    command = server.launcher_command("alice", CLOUD_RUN)
    flags = command.argv[3:]
    assert "--static-prefix" not in flags
    assert flags[flags.index("--port") + 1] == "8080"
    assert "--forwarded-allow-ips=*" in flags and not any("keep-alive" in f for f in flags)
    assert server.tenant_server("alice", CLOUD_RUN).ready_path == "/ready"
    launch = launcher.prepare(flags, {"MLFLOW_BACKEND_STORE_URI": "postgresql://db"})
    assert launch.prefix == "" and "_MLFLOW_STATIC_PREFIX" not in launch.env
    assert launch.env["_MLFLOW_SERVER_ARTIFACT_DESTINATION"] == "gs://lab-artifacts/alice"


def test_local_form_runs_this_python_without_proxy_trust(tmp_path: Path) -> None:
    command = server.launcher_command("bob", server.LocalTarget(5101, tmp_path / "bob"))
    assert command.argv[:3] == [sys.executable, "-m", "mlflowk8s.launcher"]
    launch = launcher.prepare(command.argv[3:], {})
    assert launch.uvicorn["host"] == "127.0.0.1" and launch.uvicorn["port"] == 5101
    assert "forwarded_allow_ips" not in launch.uvicorn
    assert launch.uvicorn["timeout_keep_alive"] == launcher.UVICORN_KEEP_ALIVE
    assert launch.env["_MLFLOW_SERVER_FILE_STORE"] == f"sqlite:///{tmp_path}/bob/mlflow.db"
    hosts = launch.env["MLFLOW_SERVER_ALLOWED_HOSTS"]
    assert hosts == "localhost,localhost:*,127.0.0.1,127.0.0.1:*"
