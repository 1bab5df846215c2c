"""`make bench`: start-up and render times of the CLI on a lab of 500 users.

Prints medians beside a baseline measured in the same run (a Typer app with the same
commands and no bodies), and the ratio to it. Figures only: no assertion, since these
machines are shared and noisy.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = int(os.environ.get("BENCH_RUNS", "15"))
USERS = 500
HERE = Path(__file__).resolve().parent


def medians(commands: dict[str, list[str]], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """Median wall time of each command; runs are interleaved so load drift hits all alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, argv in commands.items():
            start = time.perf_counter()
            subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def make_lab(path: Path) -> None:
    (path / ".env").write_text(
        "GCP_PROJECT=bench-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
        "TF_GCS_BUCKET=bench-tfstate\nMLFLOW_GCS_BUCKET=bench-artifacts\n"
    )
    lines = ["users:"]
    for i in range(USERS):
        lines += [f"  user{i:03d}:", f"    members: [user:user{i:03d}@lab.org]"]
    (path / "users.yaml").write_text("\n".join(lines) + "\n")


def main() -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    tool = [sys.executable, "-m", "mlflowk8s"]
    baseline = [sys.executable, str(HERE / "baseline_app.py")]
    with tempfile.TemporaryDirectory() as tmp:
        lab = Path(tmp)
        make_lab(lab)
        got = medians(
            {
                "baseline --help": [*baseline, "--help"],
                "baseline users": [*baseline, "users"],
                "--help": [*tool, "--help"],
                "users": [*tool, "users"],
                "render": [*tool, "render"],
            },
            lab,
            env,
        )
    rows = [
        ("--help", got["--help"], got["baseline --help"], "<= 1.25x"),
        ("users", got["users"], got["baseline users"], "<= 1.25x"),
        ("render", got["render"], got["baseline users"], "< 0.5 s"),
    ]
    print(f"mlflowk8s CLI, median of {RUNS} runs, lab of {USERS} users")
    print(f"{'command':<10}{'seconds':>10}{'baseline':>10}{'ratio':>8}  target")
    for name, seconds, floor, target in rows:
        print(f"{name:<10}{seconds:>10.3f}{floor:>10.3f}{seconds / floor:>8.2f}  {target}")


if __name__ == "__main__":
    main()
