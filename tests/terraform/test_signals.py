"""SIGTERM, SIGHUP, a lost state bucket, bad states, saved plans, hostile lock holders.

Real Terraform on the real gcs backend (fake-gcs-server), the fixture roots, the real CLI.
Waits are for the slow resource's started file (its create runs, the network's is done).
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.terraform.conftest import TfLab, wait_for
from tests.terraform.test_failures import LOCK, STATE, read_until, terraform_children

pytestmark = pytest.mark.slow

TENANTS_STATE = "mlflowk8s/default/tenants/default.tfstate"


def work(tf_lab: TfLab) -> Path:
    return tf_lab.path / ".mlflowk8s" / "default"


def saved_plans(tf_lab: TfLab) -> list[str]:
    return sorted(path.name for path in work(tf_lab).glob("*.tfplan"))


def start_slow_apply(tf_lab: TfLab, tmp_path: Path) -> subprocess.Popen[str]:
    started = tmp_path / "slow-started"
    tf_lab.knobs(sleep_seconds=300, started_file=started)
    process = tf_lab.spawn("apply", "--yes")
    read_until(process, "applying platform ...")
    wait_for(started.exists, timeout=120, what="the slow resource's create")
    return process


def upload(tf_lab: TfLab, name: str, data: bytes) -> None:
    url = (
        f"{tf_lab.gcs.endpoint}/upload/storage/v1/b/{tf_lab.bucket}/o"
        f"?uploadType=media&name={urllib.request.quote(name, safe='')}"
    )
    request = urllib.request.Request(url, data=data, method="POST")
    urllib.request.urlopen(request, timeout=10).close()


def delete(tf_lab: TfLab, name: str) -> None:
    quoted = urllib.request.quote(name, safe="")
    url = f"{tf_lab.gcs.endpoint}/storage/v1/b/{tf_lab.bucket}/o/{quoted}"
    urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10).close()


@pytest.mark.parametrize(
    ("signum", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")]
)
def test_signal_during_apply_saves_state_and_releases_the_lock(
    tf_lab: TfLab, tmp_path: Path, signum: int, code: int, name: str
) -> None:
    process = start_slow_apply(tf_lab, tmp_path)
    terraform = terraform_children(process.pid)
    assert terraform
    assert saved_plans(tf_lab) == ["platform.tfplan"]
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == code
    outcome = (
        f"error: interrupted ({name}): terraform (platform) stopped cleanly and saved its state\n"
    )
    note = f"{name}: stopping terraform cleanly, it saves the state and releases its lock"
    log = work(tf_lab) / "last-run.log"
    if signum == signal.SIGHUP:
        # The terminal is gone: nothing more is written to it; the log has the outcome.
        assert err == ""
        assert name not in out
        text = log.read_text()
        assert note in " ".join(text.split()) and text.endswith(outcome)
    else:
        assert err == outcome
        assert note in " ".join(out.split())
        assert not log.exists()
    assert all(not Path(f"/proc/{pid}").exists() for pid in terraform)
    assert tf_lab.objects() == [STATE]  # no lock left behind
    # Created before the signal: in the state, so the next plan does not create it again.
    assert "terraform_data.network" in tf_lab.addresses("platform")
    assert saved_plans(tf_lab) == []
    tf_lab.knobs(sleep_seconds=None)
    assert tf_lab("apply", "--yes").code == 0


def test_lost_state_bucket_stops_everything_until_the_state_is_pushed(
    tf_lab: TfLab, tmp_path: Path
) -> None:
    started = tmp_path / "slow-started"
    tf_lab.knobs(sleep_seconds=300, started_file=started)
    process = tf_lab.spawn("apply", "--yes")
    read_until(process, "applying platform ...")
    wait_for(started.exists, timeout=120, what="the slow resource's create")
    # The bucket goes (deleted, or access lost) while terraform holds unsaved state.
    for name in tf_lab.objects():
        delete(tf_lab, name)
    bucket_url = f"{tf_lab.gcs.endpoint}/storage/v1/b/{tf_lab.bucket}"
    urllib.request.urlopen(urllib.request.Request(bucket_url, method="DELETE"), timeout=10).close()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=600)
    root_dir = (work(tf_lab) / "infra" / "platform").resolve()
    errored = root_dir / "errored.tfstate"
    assert errored.exists(), err
    push = f"terraform -chdir={root_dir} state push {errored}"
    assert f"`{push}`" in err, err
    assert process.returncode == 143

    # Bucket back (empty): the next command stops before planning from the stale state.
    request = urllib.request.Request(
        f"{tf_lab.gcs.endpoint}/storage/v1/b",
        data=json.dumps({"name": tf_lab.bucket}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).close()
    tf_lab.knobs(sleep_seconds=None)
    again = tf_lab("plan")
    assert again.code == 1
    assert "planning" not in again.stdout
    assert f"`{push}`" in again.stderr
    assert tf_lab.objects() == []

    pushed = subprocess.run(shlex.split(push), env=tf_lab.cli.env, capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr
    errored.unlink()
    assert "terraform_data.network" in tf_lab.addresses("platform")
    assert tf_lab("apply", "--yes").code == 0


def test_unreachable_state_bucket_stops_init_after_its_deadline(tf_lab: TfLab) -> None:
    tf_lab.cli.env["STORAGE_EMULATOR_HOST"] = "http://127.0.0.1:1"  # nothing listens
    tf_lab.cli.env["MLFLOWK8S_STATE_TIMEOUT"] = "3"
    result = tf_lab("plan")
    assert result.code == 1
    assert result.stderr == (
        "error: terraform init (platform) did not finish within 3 s and was stopped; nothing "
        "was changed. The state bucket may be unreachable: check the network and the bucket "
        "(MLFLOWK8S_STATE_TIMEOUT sets the limit)\n"
    )


def applied_lab(tf_lab: TfLab) -> None:
    assert tf_lab("add-user", "alice", "--member", "alice@lab.org").code == 0
    result = tf_lab("apply", "--yes")
    assert result.code == 0, result.stderr
    assert tf_lab("status", "--no-health").code == 0  # reads both states


def test_corrupt_tenants_state_stops_plan_and_apply_before_any_change(tf_lab: TfLab) -> None:
    applied_lab(tf_lab)
    upload(tf_lab, TENANTS_STATE, b"{not a state")
    before = tf_lab.addresses("platform")
    tf_lab.knobs(sleep_seconds=1)  # the platform has a change to apply
    expected = (
        f"error: the tenants state gs://{tf_lab.bucket}/{TENANTS_STATE} is not a readable "
        "Terraform state (corrupt or overwritten): nothing was planned or changed"
    )
    plan = tf_lab("plan")
    assert plan.code == 1
    assert plan.stderr.startswith(expected), plan.stderr
    apply = tf_lab("apply", "--yes")
    assert apply.code == 1
    assert apply.stderr.startswith(expected), apply.stderr
    assert tf_lab.addresses("platform") == before


def test_deleted_tenants_state_stops_plan(tf_lab: TfLab) -> None:
    applied_lab(tf_lab)
    delete(tf_lab, TENANTS_STATE)
    plan = tf_lab("plan")
    assert plan.code == 1
    assert plan.stderr.startswith(
        f"error: the tenants state gs://{tf_lab.bucket}/{TENANTS_STATE} is missing (deleted), "
        "but it held resources before: Terraform would create them again; nothing was "
        "planned or changed"
    ), plan.stderr
    assert "create" not in plan.stdout


def test_plans_left_by_a_killed_run_are_removed_by_the_next(tf_lab: TfLab, tmp_path: Path) -> None:
    process = start_slow_apply(tf_lab, tmp_path)
    terraform = terraform_children(process.pid)
    process.kill()  # SIGKILL: no handler runs
    process.communicate(timeout=30)
    for pid in terraform:
        import os

        os.killpg(pid, signal.SIGKILL)
    assert saved_plans(tf_lab) == ["platform.tfplan"]
    tf_lab.knobs(sleep_seconds=None)
    held = tf_lab("plan")  # fails on the lock the killed run left, all the same
    assert held.code == 1 and "locked" in held.stderr
    assert saved_plans(tf_lab) == []


def test_lock_holder_is_shown_with_control_characters_escaped(tf_lab: TfLab) -> None:
    assert tf_lab("plan").code == 0
    who = "\x1b[31mmallory\x1b]0;owned\x07@host"
    lock = {
        "ID": "x", "Path": "", "Operation": "OperationTypeApply", "Who": who,
        "Version": "1.11.4", "Created": "2026-12-01T10:00:00Z", "Info": "",
    }  # fmt: skip
    upload(tf_lab, LOCK, json.dumps(lock).encode())
    result = tf_lab("plan")
    assert result.code == 1
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert re.search(
        r"locked by \\x1b\[31mmallory\\x1b\]0;owned\\x07@host since 2026-12-01 10:00:00 UTC",
        result.stderr,
    ), result.stderr


def test_second_signal_during_apply_forwards_a_second_sigint_never_a_kill(
    tf_lab: TfLab, tmp_path: Path
) -> None:
    from tests.terraform.test_runner import fake_terraform

    marks = tmp_path / "marks"
    marks.mkdir()
    # Stands in for Terraform's two-interrupt contract: the first SIGINT starts a graceful
    # stop that takes long (a state write retrying), the second makes it exit at once.
    change = {"resource": {"addr": "terraform_data.x"}, "action": "create"}
    planned = json.dumps({"type": "planned_change", "change": change})
    stand_in = fake_terraform(
        tmp_path,
        f"""
case "$1" in
  version) echo '{{"terraform_version":"1.11.4"}}' ;;
  output) echo '{{}}' ;;
  plan) echo '{planned}' ;;
  apply)
    n=0
    trap 'n=$((n+1)); touch {marks}/sigint-$n; if [ $n -ge 2 ]; then exit 1; fi' INT
    touch {marks}/apply
    while true; do sleep 0.1; done ;;
esac
""",
    )
    tf_lab.cli.env["MLFLOWK8S_TERRAFORM"] = str(stand_in)
    process = tf_lab.spawn("apply", "--yes")
    wait_for((marks / "apply").exists, what="the apply to start")
    process.send_signal(signal.SIGTERM)
    wait_for((marks / "sigint-1").exists, what="the first SIGINT")
    assert process.poll() is None  # still reading terraform while it stops
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert sorted(p.name for p in marks.iterdir()) == ["apply", "sigint-1", "sigint-2"]
    assert err == (
        "error: interrupted (SIGTERM, then again): terraform (platform) was told to exit at "
        "once; its state lock may still be held (the next run names it and how to release it)\n"
    )
    assert (
        "SIGTERM again: terraform was told to exit at once. It may leave the state lock held "
        "and the state unsaved: the next command says so; release a lock with `mlflowk8s "
        "unlock LOCK_ID` and push an errored.tfstate as that command shows"
    ) in " ".join(out.split())  # notes wrap at 80 columns without a terminal
