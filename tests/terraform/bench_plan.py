"""Benchmark: `mlflowk8s plan` against the same Terraform commands run by hand.

Both run on the fixture roots against fake-gcs-server (and stand-ins for Google's token
endpoint and Service Usage, which the first apply asks), warm (initialised, platform and
tenants applied, nothing to change): the CLI's overhead (Python start-up, rendering,
version check, -json parsing) is the difference. Usage::

    .venv/bin/python -m tests.terraform.bench_plan [--users 10,100,500] [--repeat 3]

Prints one line per user count: CLI seconds, by-hand seconds, ratio (target <= 1.3).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from tests.support import fakegcs
from tests.support.iap_standin import admin_google

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "terraform"
IMAGE = "europe-docker.pkg.dev/lab/mlflow/server@sha256:" + "0" * 64


def _env(gcs: fakegcs.FakeGcs) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOWK8S_", "TF_VAR_"))}
    env.update(gcs.env())
    env.update({
        "MLFLOWK8S_INFRA_DIR": str(FIXTURES), "NO_COLOR": "1", "CHECKPOINT_DISABLE": "1",
        "TF_IN_AUTOMATION": "1",
    })  # fmt: skip
    return env


def _run(args: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")


def _timed(args: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    _run(args, cwd, env)
    return time.perf_counter() - start


def _lab(base: Path, gcs: fakegcs.FakeGcs, users: int, env: dict[str, str]) -> Path:
    lab = base / f"lab-{users}"
    lab.mkdir()
    secret = base / "client_secret.json"
    secret.write_text(json.dumps({"web": {"client_id": "1-a.apps.googleusercontent.com",
                                          "client_secret": "x"}}))  # fmt: skip
    cli = [sys.executable, "-m", "mlflowk8s"]
    (lab / ".env").write_text(f"MLFLOW_IMAGE={IMAGE}\n")  # pinned: init asks no registry
    _run([*cli, "init", "--no-input", "--project", "lab-project-1", "--region", "europe-west1",
          "--domain", "mlflow.lab.org", "--state-bucket", f"bench-{users}",
          "--artifact-bucket", "lab-artifacts", "--oauth-client-secret", str(secret)],
         lab, env)  # fmt: skip
    lines = ["users:"] + [
        f"  user{i:03d}:\n    members: [user:user{i:03d}@lab.org]" for i in range(users)
    ]
    (lab / "users.yaml").write_text("\n".join(lines) + "\n")
    _run([*cli, "apply", "--yes"], lab, env)
    return lab


def _hand_roots(base: Path, lab: Path, users: int, env: dict[str, str]) -> Path:
    """The fixture roots initialised by hand against the same state."""
    hand = base / f"hand-{users}"
    shutil.copytree(FIXTURES, hand)
    for root in ("platform", "tenants"):
        _run(["terraform", "init", "-input=false", f"-backend-config=bucket=bench-{users}",
              f"-backend-config=prefix=mlflowk8s/default/{root}"], hand / root, env)  # fmt: skip
    work = lab / ".mlflowk8s" / "default"
    for name in ("platform.tfvars.json", "tenants.tfvars.json"):
        shutil.copy(work / name, hand / name)
    return hand


def _by_hand(hand: Path, env: dict[str, str]) -> None:
    """What an admin types: plan platform, feed its outputs to the tenants, plan tenants."""
    _run(["terraform", "plan", "-input=false", "-out=platform.tfplan",
          "-var-file=../platform.tfvars.json"], hand / "platform", env)  # fmt: skip
    out = subprocess.run(["terraform", "output", "-json"], cwd=hand / "platform", env=env,
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    values = {name: item["value"] for name, item in json.loads(out).items()}
    (hand / "platform-outputs.tfvars.json").write_text(json.dumps(values))
    _run(["terraform", "plan", "-input=false", "-out=tenants.tfplan",
          "-var-file=../platform-outputs.tfvars.json", "-var-file=../tenants.tfvars.json"],
         hand / "tenants", env)  # fmt: skip


def bench(user_counts: Sequence[int], repeat: int) -> list[dict[str, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        base = Path(tmp)
        gcs = fakegcs.start(base / "fakegcs.log")
        try:
            google = stack.enter_context(admin_google("lab-project-1", base))
            env = {**_env(gcs), **google.env}
            for users in user_counts:
                urllib.request.urlopen(gcs.endpoint + "/storage/v1/b", timeout=5).close()
                lab = _lab(base, gcs, users, env)
                hand = _hand_roots(base, lab, users, env)
                hand_env = dict(env, TF_VAR_iap_oauth_client_secret="x")
                cli_times, hand_times = [], []
                for _ in range(repeat):
                    cli_times.append(_timed([sys.executable, "-m", "mlflowk8s", "plan"], lab, env))
                    start = time.perf_counter()
                    _by_hand(hand, hand_env)
                    hand_times.append(time.perf_counter() - start)
                cli, by_hand = statistics.median(cli_times), statistics.median(hand_times)
                rows.append({"users": users, "cli_s": cli, "hand_s": by_hand,
                             "ratio": cli / by_hand})  # fmt: skip
                print(f"plan, {users:4d} users: mlflowk8s {cli:6.2f} s, by hand {by_hand:6.2f} s, "
                      f"ratio {cli / by_hand:4.2f}", flush=True)  # fmt: skip
        finally:
            gcs.stop()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", default="10,100,500", help="comma-separated user counts")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args(argv)
    rows = bench([int(n) for n in args.users.split(",")], args.repeat)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
