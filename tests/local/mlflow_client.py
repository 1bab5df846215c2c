"""The real MLflow client, configured by ``MLFLOW_TRACKING_URI`` only; prints one JSON line.

mlflow_client.py log       log a run with a param, a metric and an artifact
mlflow_client.py read RUN  read that run and its artifact back, and list what is there
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def log() -> dict[str, object]:
    import mlflow

    mlflow.set_experiment("isolation")
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("lr", "0.1")
        mlflow.log_metric("loss", 0.25)
        with tempfile.TemporaryDirectory() as tmp:
            note = Path(tmp) / "note.txt"
            note.write_text("hello from alice\n")
            mlflow.log_artifact(str(note))
    return {"run_id": run.info.run_id}


def read(run_id: str) -> dict[str, object]:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    experiments = client.search_experiments()
    runs = client.search_runs([e.experiment_id for e in experiments])
    seen = {
        "experiments": sorted(e.name for e in experiments),
        "runs": sorted(r.info.run_id for r in runs),
    }
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:
        return {**seen, "found": False, "error": exc.error_code}
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="note.txt", dst_path=tmp
        )
        artifact = Path(path).read_text()
    return {
        **seen,
        "found": True,
        "params": run.data.params,
        "metrics": run.data.metrics,
        "artifact": artifact,
    }


if __name__ == "__main__":
    result = log() if sys.argv[1] == "log" else read(sys.argv[2])
    sys.stdout.write(json.dumps(result) + "\n")
