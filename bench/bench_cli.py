"""`make bench`: start-up and render times of the CLI on a lab of 500 users, and users.yaml
read and edit times at 500 and 2,000 users (the most a lab may have).

Prints medians beside a baseline measured in the same run (a Typer app with the same
commands and no bodies; for users.yaml, a plain ruamel.yaml load of the same file in a
fresh interpreter), and the ratio to it. Figures only: no assertion, since these machines
are shared and noisy.
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


USERS_RUNS = int(os.environ.get("BENCH_USERS_RUNS", "7"))
PLAIN_LOAD = "import sys; from ruamel.yaml import YAML; YAML().load(open(sys.argv[1]))"


def timed(argv: list[str], cwd: Path, env: dict[str, str], before: Path | None = None) -> float:
    """Wall time of one command; ``before`` (a cache file) is deleted first: a cold read."""
    if before is not None:
        before.unlink(missing_ok=True)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def users_figures(count: int, env: dict[str, str], tool: list[str]) -> list[tuple[str, float]]:
    """Median seconds of reads and edits of a users.yaml of ``count`` users."""
    with tempfile.TemporaryDirectory() as tmp:
        lab = Path(tmp)
        make_lab(lab, count)
        cache = lab / ".mlflowk8s" / "users.cache.json"
        plain = [sys.executable, "-c", PLAIN_LOAD, "users.yaml"]
        runs: dict[str, list[float]] = {
            "plain ruamel load": [], "users (cold)": [], "users (cached)": [], "grant (edit)": [],
            "revoke (edit)": [],
        }  # fmt: skip
        for _ in range(USERS_RUNS):
            runs["plain ruamel load"].append(timed(plain, lab, env))
            runs["users (cold)"].append(timed([*tool, "users"], lab, env, before=cache))
            runs["users (cached)"].append(timed([*tool, "users"], lab, env))
            runs["grant (edit)"].append(timed([*tool, "grant", "user000", "x@lab.org"], lab, env))
            runs["revoke (edit)"].append(timed([*tool, "revoke", "user000", "x@lab.org"], lab, env))
        size = (lab / "users.yaml").stat().st_size
    print(f"users.yaml of {count} users ({size / 1024:.0f} KiB), median of {USERS_RUNS} runs")
    return [(name, statistics.median(values)) for name, values in runs.items()]


def print_users_table(env: dict[str, str], tool: list[str]) -> None:
    for count in (500, 2000):
        figures = users_figures(count, env, tool)
        floor = figures[0][1]
        print(f"{'command':<20}{'seconds':>10}{'baseline':>10}{'ratio':>8}")
        for name, seconds in figures:
            print(f"{name:<20}{seconds:>10.3f}{floor:>10.3f}{seconds / floor:>8.2f}")


def make_lab(path: Path, users: int = USERS) -> None:
    (path / ".env").write_text(
        "GCP_PROJECT=bench-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
        "TF_GCS_BUCKET=bench-tfstate\nMLFLOW_GCS_BUCKET=bench-artifacts\n"
    )
    lines = ["users:"]
    for i in range(users):
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
    print_users_table(env, tool)


if __name__ == "__main__":
    main()
