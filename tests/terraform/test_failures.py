"""Locks, Ctrl-C, killed runs, failing and flaky resources: real Terraform, real gcs backend."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.support.terraform_events import recording_terraform
from tests.terraform.conftest import TfLab, wait_for

pytestmark = pytest.mark.slow  # real terraform + fake-gcs-server through the CLI

LOCK = "mlflowk8s/default/platform/default.tflock"
STATE = "mlflowk8s/default/platform/default.tfstate"


def read_until(process: subprocess.Popen[str], marker: str) -> list[str]:
    """Read the CLI's stdout (not a terminal: one line per phase) until ``marker``."""
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if line.rstrip("\n") == marker:
            return lines
    raise AssertionError(f"{marker!r} never came; got {lines}")


def terraform_children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def test_second_concurrent_apply_fails_naming_the_lock(tf_lab: TfLab, tmp_path: Path) -> None:
    tf_lab.knobs(sleep_seconds=30)
    first = tf_lab.spawn("apply", "--yes")
    try:
        read_until(first, "applying platform ...")
        # Another admin, another lab folder, same state bucket.
        other = tmp_path / "other-lab"
        other.mkdir()
        for name in (".env", "users.yaml"):
            shutil.copy(tf_lab.path / name, other / name)
        second = Cli(lab=other, env=dict(tf_lab.cli.env))("apply", "--yes")
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=60)
    assert second.code == 1
    match = re.fullmatch(
        r"error: the platform state is locked by (\S+@\S+) since "
        r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC) \(OperationTypeApply\), lock ID (\d+)\. "
        r"If no other run is active \(a crashed or killed one\), release it with "
        r"`mlflowk8s unlock (\d+)`\n",
        second.stderr,
    )
    assert match is not None, second.stderr
    assert match.group(3) == match.group(4)
    assert LOCK not in tf_lab.objects()


def test_ctrl_c_during_apply_stops_terraform_cleanly(tf_lab: TfLab, tmp_path: Path) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    tf_lab.knobs(sleep_seconds=60)
    terraform = recording_terraform(tmp_path / "recorder")
    tf_lab.cli.env["MLFLOWK8S_TERRAFORM"] = str(terraform.binary)
    process = tf_lab.spawn("apply", "--yes")
    read_until(process, "applying platform ...")
    # Ctrl-C once the resource the assertions look for is done (its apply_complete event).
    wait_for(
        lambda: terraform.completed("terraform_data.network"),
        timeout=300,
        what="apply_complete of terraform_data.network",
    )
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert (
        "Ctrl-C: stopping terraform cleanly, it saves the state and releases its lock "
        "(a second signal tells it to exit at once)" in out
    )
    assert err == (
        "error: interrupted (Ctrl-C): terraform (platform) stopped cleanly and saved its state\n"
    )
    assert tf_lab.objects() == [STATE]  # no lock left behind
    state = tf_lab.state("platform")  # readable JSON, with what was done before Ctrl-C
    assert "terraform_data.network" in tf_lab.addresses("platform")
    slow = [r for r in state["resources"] if r["name"] == "slow"]  # type: ignore[index, union-attr]
    # Interrupted while being created: absent or tainted, so the next apply (re)creates it.
    assert all(i.get("status") == "tainted" for r in slow for i in r["instances"])  # type: ignore[index]
    tf_lab.knobs(sleep_seconds=None)
    result = tf_lab("apply", "--yes")
    assert result.code == 0, result.stderr


def test_killed_run_leaves_a_lock_that_unlock_clears(tf_lab: TfLab) -> None:
    tf_lab.knobs(sleep_seconds=60)
    process = tf_lab.spawn("apply", "--yes")
    read_until(process, "applying platform ...")
    wait_for(lambda: LOCK in tf_lab.objects(), what="the apply's state lock")
    terraform = terraform_children(process.pid)
    process.kill()  # SIGKILL: no handler runs
    process.communicate(timeout=30)
    for pid in terraform:  # a crashed machine takes terraform with it
        os.killpg(pid, signal.SIGKILL)
    tf_lab.knobs(sleep_seconds=None)

    held = tf_lab("plan")
    assert held.code == 1
    lock_id = re.search(r"`mlflowk8s unlock (\d+)`", held.stderr)
    assert lock_id is not None, held.stderr
    assert LOCK in tf_lab.objects()

    wrong = tf_lab("unlock", "42")
    assert wrong.code == 2
    assert wrong.stderr == (
        f"error: no state lock 42 in environment default; locked now: "
        f"platform ({lock_id.group(1)})\n"
    )
    result = tf_lab("unlock", lock_id.group(1))
    assert result.code == 0, result.stderr
    assert result.stdout == f"Released lock {lock_id.group(1)} on the platform state.\n"
    assert LOCK not in tf_lab.objects()
    assert tf_lab("apply", "--yes").code == 0


def test_unlock_without_a_lock_is_a_usage_error(tf_lab: TfLab) -> None:
    result = tf_lab("unlock", "1234")
    assert result.code == 2
    assert result.stderr == "error: no state lock 1234 in environment default: no state is locked\n"


def test_failing_resource_shows_terraforms_diagnostic(tf_lab: TfLab) -> None:
    tf_lab.knobs(fail="permanent")
    result = tf_lab("apply", "--yes")
    assert result.code == 1
    assert "retry" not in result.stdout
    assert tf_lab.counter.read_text().strip() == "1"  # tried once
    assert result.stderr.startswith(
        "error: terraform apply (platform) failed: local-exec provisioner error "
        "(terraform_data.failing[0]): Error running command '"
    )
    assert result.stderr.endswith(
        "': exit status 1. Output: googleapi: Error 400: Invalid value for field "
        "resource.settings.tier: db-nope., invalid\n"
    )
    assert STATE in tf_lab.objects() and LOCK not in tf_lab.objects()


def test_transient_error_is_retried_after_planning_again(tf_lab: TfLab) -> None:
    tf_lab.knobs(fail="transient", fail_times=2)
    result = tf_lab("apply", "--yes")
    assert result.code == 0, result.stderr
    assert tf_lab.counter.read_text().strip() == "3"
    lines = result.stdout.splitlines()
    retries = [line for line in lines if "retry" in line]
    assert retries == [
        "platform: transient error (local-exec provisioner error: Google's API is "
        "rate-limiting or failing); retry 1/3 in 0 s",
        "platform: transient error (local-exec provisioner error: Google's API is "
        "rate-limiting or failing); retry 2/3 in 0 s",
    ]
    # Each retry plans again (the saved plan is stale after a partial apply).
    after_first = lines[lines.index(retries[0]) + 1 :]
    assert after_first[:2] == ["planning platform ...", "applying platform ..."]
    assert "terraform_data.failing[0]" in tf_lab.addresses("platform")


def test_a_retry_that_would_touch_more_asks_first(tf_lab: TfLab) -> None:
    tf_lab.knobs(fail="transient", fail_times=1, appear_on_retry="true")
    # No terminal here: only --yes can answer, and it does.
    result = tf_lab("apply", "--yes")
    assert result.code == 0, result.stderr
    assert (
        "platform: planning again after the error found changes the confirmed plan did not "
        "show:" in result.stdout
    )
    assert "terraform_data.late[0]" in tf_lab.addresses("platform")


def test_transient_error_gives_up_after_three_retries(tf_lab: TfLab) -> None:
    tf_lab.knobs(fail="transient", fail_times=10)
    result = tf_lab("apply", "--yes")
    assert result.code == 1
    assert tf_lab.counter.read_text().strip() == "4"
    assert result.stderr.endswith(
        "Output: googleapi: Error 503: The service is currently unavailable., backendError "
        "(still failing after 3 retries)\n"
    )
