"""`doctor` on a local lab compares this Python's MLflow client with the tenant's running
server (real supervisord, the real launcher), asked plainly: no sign-in on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlflowk8s import server
from tests.local.conftest import LocalLab
from tests.support.client_install import SKEWED_VERSION

pytestmark = pytest.mark.slow


def _doctor(lab: LocalLab) -> dict[str, dict[str, str]]:
    result = lab.cli("doctor", "--json")
    assert result.code == 0, result.stdout  # warnings only: nothing here fails
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert "credentials" not in checks  # a loopback server needs no Google login
    assert checks["reachability"]["status"] == "ok"
    return checks


def test_doctor_compares_the_client_with_the_running_server(
    local_lab: LocalLab, skewed_client: Path, tmp_path: Path
) -> None:
    local_lab.ok("add-user", "alice")
    local_lab.ok("apply", "--yes")
    local_lab.cli.env["MLFLOW_TRACKING_URI"] = local_lab.url("alice")
    pinned = server.MLFLOW_VERSION
    assert local_lab.tenants()["alice"]["mlflow_version"] == pinned  # status asks the same
    assert _doctor(local_lab)["mlflow version"] == {
        "name": "mlflow version", "status": "ok",
        "detail": f"client mlflow {pinned}, server MLflow {pinned}",
    }  # fmt: skip

    # A real mlflow-skinny of the previous minor, first on the path: what Python imports.
    local_lab.cli.env["PYTHONPATH"] = str(skewed_client)
    major, minor = pinned.split(".")[:2]
    assert _doctor(local_lab)["mlflow version"] == {
        "name": "mlflow version", "status": "warn",
        "detail": f"client mlflow-skinny {SKEWED_VERSION}, server MLflow {pinned}: "
                  "a minor version apart (calls may fail or lose fields)",
        "fix": f"pip install 'mlflow-skinny=={major}.{minor}.*'",
    }  # fmt: skip

    # An `mlflow` folder that no distribution installed (a checkout on the path) is no client.
    shadow = tmp_path / "shadow"
    (shadow / "mlflow").mkdir(parents=True)
    (shadow / "mlflow" / "__init__.py").write_text("")
    local_lab.cli.env["PYTHONPATH"] = str(shadow)
    assert _doctor(local_lab)["mlflow version"] == {
        "name": "mlflow version", "status": "warn",
        "detail": f"the tenant runs MLflow {pinned}; no MLflow client (mlflow or mlflow-skinny) "
                  "is installed in this Python",
        "fix": f"pip install 'mlflow-skinny=={major}.{minor}.*'",
    }  # fmt: skip
