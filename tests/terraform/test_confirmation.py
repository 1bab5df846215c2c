"""apply changes only what the admin confirmed: real Terraform, real gcs backend.

The target is driven in-process here so that the test can act between the plan the admin
saw and the apply (another admin's edit, a cluster that comes back meanwhile).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlflowk8s.errors import OperationError
from mlflowk8s.lab import Lab
from mlflowk8s.targets.base import Plan
from mlflowk8s.targets.gcp.target import GcpTarget
from tests.terraform.conftest import TfLab
from tests.terraform.test_failures import read_until

pytestmark = pytest.mark.slow  # real terraform + fake-gcs-server

DEPLOYMENT = 'module.tenant["alice"].terraform_data.deployment[0]'


class Quiet:
    def step(self, message: str) -> None:
        pass

    def advance(self, done: int, total: int, current: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@pytest.fixture
def in_process(tf_lab: TfLab, monkeypatch: pytest.MonkeyPatch) -> TfLab:
    """Give this process the CLI's environment (fake-gcs-server, fixture roots, knobs)."""
    for key, value in tf_lab.cli.env.items():
        if key.startswith(("MLFLOWK8S_", "TF_VAR_", "STORAGE_EMULATOR", "GOOGLE_", "CLOUDSDK")):
            monkeypatch.setenv(key, value)
    return tf_lab


def target(tf_lab: TfLab) -> GcpTarget:
    return GcpTarget(Lab(tf_lab.path))


def set_image(tf_lab: TfLab, image: str) -> None:
    env_file = tf_lab.path / ".env"
    text = re.sub(r"(?m)^MLFLOW_IMAGE=.*$", f"MLFLOW_IMAGE={image}", env_file.read_text())
    env_file.write_text(text)


def test_apply_refuses_a_plan_whose_inputs_changed_meanwhile(in_process: TfLab) -> None:
    tf_lab = in_process
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    assert tf_lab("apply", "--yes").code == 0
    tf_lab("add-user", "bob", "--member", "bob@lab.org")
    lab = target(tf_lab)
    shown = lab.plan(None, Quiet())
    assert {c.user for c in shown.changes} == {"bob"}
    tf_lab("add-user", "carol", "--member", "carol@lab.org")  # another admin, meanwhile

    with pytest.raises(OperationError, match="changed since the plan was shown"):
        lab.apply(shown, None, Quiet())
    assert not any("bob" in a or "carol" in a for a in tf_lab.addresses("tenants"))
    assert not list((tf_lab.path / ".mlflowk8s" / "default").glob("*.tfplan"))


def test_tenant_changes_planned_after_the_platform_need_a_second_yes(
    in_process: TfLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    tf_lab = in_process
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    assert tf_lab("apply", "--yes").code == 0
    before = tf_lab.state("tenants")["serial"]
    cluster_file = Path(tf_lab.cli.env["TF_VAR_fixture_cluster_file"])
    # The cluster cannot be reached (the tenants cannot be planned), the platform changes,
    # and alice's server image changes: the first plan cannot show the tenants' update.
    cluster_file.unlink()
    monkeypatch.setenv("TF_VAR_fixture_sleep_seconds", "1")
    set_image(tf_lab, "europe-docker.pkg.dev/lab/mlflow/server@sha256:" + "1" * 64)
    lab = target(tf_lab)
    shown = lab.plan(None, Quiet())
    assert {c.root for c in shown.changes} == {"platform"}
    assert "asks again before changing or deleting any" in shown.notes[0]
    cluster_file.touch()  # the cluster answers again by the time the platform is applied

    asked: list[Plan] = []

    def decline(late: Plan) -> bool:
        asked.append(late)
        return False

    with pytest.raises(OperationError, match="the platform's changes are applied, the tenants'"):
        lab.apply(shown, None, Quiet(), decline)
    assert [(c.action, c.address) for c in asked[0].changes] == [("update", DEPLOYMENT)]
    assert "terraform_data.slow[0]" in tf_lab.addresses("platform")
    assert tf_lab.state("tenants")["serial"] == before
    assert not list((tf_lab.path / ".mlflowk8s" / "default").glob("*.tfplan"))

    # Asked again on the next run (the tenants are planned up front now) and applied.
    shown = lab.plan(None, Quiet())
    assert [(c.action, c.address) for c in shown.changes] == [("update", DEPLOYMENT)]
    lab.apply(shown, None, Quiet(), decline)
    assert len(asked) == 1, "what the first plan showed needs no second yes"
    assert tf_lab.state("tenants")["serial"] != before


def test_plan_keeps_no_plan_files(tf_lab: TfLab) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    result = tf_lab("plan", "--json")
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["counts"] == {"platform": {"create": 8}}
    # A saved plan holds every input value, the OAuth client secret among them.
    assert not list((tf_lab.path / ".mlflowk8s" / "default").glob("*.tfplan"))


def test_a_second_run_in_the_same_lab_fails_at_once(tf_lab: TfLab) -> None:
    tf_lab("add-user", "alice", "--member", "alice@lab.org")
    tf_lab.knobs(sleep_seconds=30)
    first = tf_lab.spawn("apply", "--yes")
    try:
        read_until(first, "applying platform ...")
        second = tf_lab("plan")
        add = tf_lab("add-user", "bob", "--member", "bob@lab.org")
    finally:
        first.send_signal(2)
        first.communicate(timeout=60)
    assert second.code == 1
    assert second.stderr.startswith(
        "error: another plan, apply or destroy of environment default is running in this lab"
    ), second.stderr
    assert add.code == 0, "editing users.yaml stays possible during a long apply"


def test_a_declined_retry_applies_nothing_more(
    in_process: TfLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    tf_lab = in_process
    for knob, value in {"fail": "transient", "fail_times": "1", "appear_on_retry": "true"}.items():
        monkeypatch.setenv(f"TF_VAR_fixture_{knob}", value)
    lab = target(tf_lab)
    shown = lab.plan(None, Quiet())
    asked: list[Plan] = []

    def decline(late: Plan) -> bool:
        asked.append(late)
        return False

    with pytest.raises(
        OperationError, match=r"^platform: not confirmed \(terraform_data\.late\[0\]\): "
    ):
        lab.apply(shown, None, Quiet(), decline)
    assert "terraform_data.late[0]" in [c.address for c in asked[0].changes]
    assert "terraform_data.late[0]" not in tf_lab.addresses("platform")
    assert not list((tf_lab.path / ".mlflowk8s" / "default").glob("*.tfplan"))
