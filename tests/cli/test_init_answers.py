"""An interactive `init` that fails after its prompts keeps the typed answers, says so and
what is left, and the next `init` offers them as defaults (Enter accepts them).

The real CLI on a pseudo-terminal. Stand-ins: no Google credentials at first
(tests/support/unreachable_google.py), then fake-gcs-server for Cloud Storage; the
registry stand-in for ghcr.io, where the image is pinned.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import Cli
from tests.support.fakegcs import FakeGcs
from tests.support.registry import Registry
from tests.support.terminal import on_terminal
from tests.support.unreachable_google import without_credentials


def _on_terminal(cli: Cli, args: list[str], answers: list[tuple[bytes, bytes]]) -> tuple[int, str]:
    return on_terminal(args, cwd=cli.lab, env=cli.env, answers=answers, timeout=120)


def test_answers_survive_a_failed_credential_check_and_come_back_as_defaults(
    cli: Cli, registry: Registry, fake_gcs: FakeGcs, tmp_path: Path
) -> None:
    registry.publish_servers_image()
    cli.env.update(registry.env())
    cli.env["COLUMNS"] = "1000"
    without_credentials(cli, tmp_path)
    code, text = _on_terminal(cli, ["init", "--domain", "mlflow.lab.org"], [
        (b"project id: ", b"typed-project\n"),
        (b"europe-west1): ", b"europe-north1\n"),
    ])  # fmt: skip
    assert code == 1, text
    # Without the terminal's escapes (the spinner, bold) and line folds.
    said = " ".join(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).split())
    assert "error: no Google credentials found: run `gcloud auth application-default login`" in said
    assert (
        "Your answers (GCP_PROJECT, GCP_REGION) are kept in .mlflowk8s/init-answers.json and "
        "nothing else was written (no state bucket, no .env yet): once that is fixed, run "
        "`mlflowk8s init` again, it offers them as defaults"
    ) in said
    kept = cli.lab / ".mlflowk8s" / "init-answers.json"
    assert json.loads(kept.read_text()) == {"GCP_PROJECT": "typed-project",
                                            "GCP_REGION": "europe-north1"}  # fmt: skip
    assert oct(kept.stat().st_mode & 0o777) == "0o600"
    assert not (cli.lab / ".env").exists()

    # Credentials fixed (Cloud Storage answers): Enter takes each kept answer.
    cli.env.update(fake_gcs.env())
    code, text = _on_terminal(cli, ["init", "--domain", "mlflow.lab.org"], [
        (b"project id [typed-project]: ", b"\n"),
        (b"europe-west1) [europe-north1]: ", b"\n"),
    ])  # fmt: skip
    assert code == 0, text
    env = (cli.lab / ".env").read_text()
    assert "GCP_PROJECT=typed-project\nGCP_REGION=europe-north1\n" in env
    assert not kept.exists()


def test_a_failed_init_without_prompts_keeps_nothing(cli: Cli, tmp_path: Path) -> None:
    without_credentials(cli, tmp_path)
    cli.env["MLFLOWK8S_IMAGE_REGISTRY_URL"] = "http://registry.invalid"
    result = cli("init", "--no-input", "--project", "demo-project", "--region", "europe-west1",
                 "--domain", "mlflow.lab.org")  # fmt: skip
    assert result.code == 1
    assert "kept" not in result.stderr
    assert list(cli.lab.iterdir()) == []
