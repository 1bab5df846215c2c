"""A researcher's training job: the real MLflow client, configured only by the environment.

Run as a subprocess by the end-to-end tests with nothing but what ``mlflowk8s env`` exports
(``MLFLOW_TRACKING_URI``, ``MLFLOW_TRACKING_AUTH=mlflowk8s``) and test credentials set; the
mlflowk8s request-auth plugin (entry point) must add the IAP token by itself.
Prints one JSON line with what it read back.

    client_job.py long EXPERIMENT SECONDS ARTIFACT_MIB
    client_job.py seed EXPERIMENT
    client_job.py probe
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def _everything(client: object) -> dict[str, object]:
    """All experiments and runs this tenant's server shows."""
    from mlflow import MlflowClient

    assert isinstance(client, MlflowClient)
    experiments = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in experiments], max_results=1000)
    return {
        "experiments": sorted(e.name for e in experiments),
        "runs": sorted(r.info.run_name or "" for r in runs),
        "params": sorted({key for r in runs for key in r.data.params}),
    }


def long_run(experiment: str, seconds: float, artifact_mib: int) -> dict[str, object]:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_experiment(experiment)
    payload = os.urandom(artifact_mib * 1024 * 1024)
    started = time.monotonic()
    steps = 0
    with mlflow.start_run(run_name=f"{experiment}-run") as run:
        mlflow.log_params({"lr": 0.01, "layers": 4, "who": experiment})
        uploaded = False
        while time.monotonic() - started < seconds:
            mlflow.log_metric("loss", 1.0 / (steps + 1), step=steps)
            steps += 1
            if not uploaded and time.monotonic() - started > seconds / 2:
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "weights.bin"
                    path.write_bytes(payload)
                    mlflow.log_artifact(str(path), artifact_path="model")
                uploaded = True
            time.sleep(0.05)
        run_id = run.info.run_id
    client = MlflowClient()
    read = client.get_run(run_id)
    history = client.get_metric_history(run_id, "loss")
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=tmp)
        data = (Path(local) / "model" / "weights.bin").read_bytes()
    return {
        "run_id": run_id,
        "seconds": time.monotonic() - started,
        "steps": steps,
        "status": read.info.status,
        "params": read.data.params,
        "metric_points": len(history),
        "artifact_ok": hashlib.sha256(data).digest() == hashlib.sha256(payload).digest(),
        "artifact_bytes": len(data),
        "seen": _everything(client),
    }


def seed(experiment: str) -> dict[str, object]:
    import mlflow

    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"{experiment}-run") as run:
        mlflow.log_param("secret_of", experiment)
        mlflow.log_metric("accuracy", 0.9)
    return {"run_id": run.info.run_id}


def probe() -> dict[str, object]:
    from mlflow import MlflowClient

    return _everything(MlflowClient())


def main(argv: list[str]) -> None:
    mode, *args = argv
    if mode == "long":
        result = long_run(args[0], float(args[1]), int(args[2]))
    elif mode == "seed":
        result = seed(args[0])
    else:
        result = probe()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
