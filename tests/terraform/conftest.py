"""Real Terraform, real ``gcs`` backend (fake-gcs-server), the fixture roots, the real CLI."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, Cli, CliResult
from tests.support.fakegcs import FakeGcs
from tests.support.iap_standin import AdminGoogle, admin_google

FIXTURE_ROOTS = REPO / "tests" / "fixtures" / "terraform"
PROJECT = "lab-project-1"
DOMAIN = "mlflow.lab.org"
IMAGE = "europe-docker.pkg.dev/lab/mlflow/server@sha256:" + "0" * 64
OAUTH_SECRET = "s3cret-not-for-logs"

if shutil.which("terraform") is None:  # pragma: no cover - the dev image has it
    pytest.skip("terraform is not on PATH", allow_module_level=True)


@dataclass
class TfLab:
    """A GCP lab folder wired to fake-gcs-server and the fixture roots."""

    cli: Cli
    gcs: FakeGcs
    bucket: str
    counter: Path
    google: AdminGoogle

    @property
    def path(self) -> Path:
        return self.cli.lab

    def __call__(self, *args: str, input: str | None = None, timeout: float = 300) -> CliResult:
        return self.cli(*args, input=input, timeout=timeout)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """Start the CLI without waiting (signals, concurrency)."""
        return subprocess.Popen(
            [sys.executable, "-m", "mlflowk8s", *args],
            cwd=self.path, env=self.cli.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def knobs(self, **values: object) -> None:
        """Set fixture_* variables of the fixture roots (TF_VAR_fixture_*)."""
        for key, value in values.items():
            name = f"TF_VAR_fixture_{key}"
            if value is None:
                self.cli.env.pop(name, None)
            else:
                self.cli.env[name] = str(value)

    def objects(self) -> list[str]:
        return self.gcs.objects(self.bucket)

    def state(self, root: str, env: str = "default") -> dict[str, object]:
        import urllib.parse
        import urllib.request

        name = urllib.parse.quote(f"mlflowk8s/{env}/{root}/default.tfstate", safe="")
        url = f"{self.gcs.endpoint}/storage/v1/b/{self.bucket}/o/{name}?alt=media"
        with urllib.request.urlopen(url, timeout=10) as response:
            data = json.load(response)
        assert isinstance(data, dict)
        return data

    def addresses(self, root: str, env: str = "default") -> list[str]:
        """Resource instance addresses in a root's state, as `terraform state list` shows."""
        out: list[str] = []
        for res in self.state(root, env).get("resources", []):  # type: ignore[union-attr]
            if res.get("mode") != "managed":
                continue
            base = f"{res['module']}." if res.get("module") else ""
            for inst in res["instances"]:
                out.append(f"{base}{res['type']}.{res['name']}{_key(inst.get('index_key'))}")
        return sorted(out)


def _key(key: object) -> str:
    if key is None:
        return ""
    return f'["{key}"]' if isinstance(key, str) else f"[{key}]"


@pytest.fixture(scope="session")
def google_apis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdminGoogle]:
    with admin_google(PROJECT, tmp_path_factory.mktemp("admin")) as google:
        yield google


@pytest.fixture
def tf_lab(
    cli: Cli, fake_gcs: FakeGcs, google_apis: AdminGoogle, tmp_path: Path
) -> Iterator[TfLab]:
    bucket = f"tfs-{uuid.uuid4().hex[:10]}"
    counter = tmp_path / "fixture-counter"
    secret = tmp_path / "client_secret.json"
    secret.write_text(
        json.dumps({"web": {"client_id": "123-abc.apps.googleusercontent.com",
                            "client_secret": OAUTH_SECRET}}),
        encoding="utf-8",
    )  # fmt: skip
    cli.env.update(fake_gcs.env())
    cli.env.update(google_apis.env)
    cli.env.update(
        {
            "MLFLOWK8S_INFRA_DIR": str(FIXTURE_ROOTS),
            "MLFLOWK8S_RETRY_DELAY": "0",
            "TF_VAR_fixture_counter_file": str(counter),
            # Exists while the fixture's cluster does; the tenants root cannot plan without it.
            "TF_VAR_fixture_cluster_file": str(tmp_path / "cluster-alive"),
            # Exists while the fixture's VPC is peered (the Compute stand-in removes it).
            "TF_VAR_fixture_peering_file": str(tmp_path / "vpc-peered"),
            "MLFLOWK8S_PEERING_WAIT_SECONDS": "5",
        }
    )
    google_apis.reset()
    # Pinned already: init keeps it and asks no registry.
    (cli.lab / ".env").write_text(f"MLFLOW_IMAGE={IMAGE}\n", encoding="utf-8")
    result = cli(
        "init", "--no-input", "--project", PROJECT, "--region", "europe-west1",
        "--domain", DOMAIN, "--state-bucket", bucket, "--artifact-bucket", "lab-artifacts",
        "--oauth-client-secret", str(secret),
    )  # fmt: skip
    assert result.code == 0, result.stderr
    yield TfLab(cli=cli, gcs=fake_gcs, bucket=bucket, counter=counter, google=google_apis)


def wait_for(predicate: object, timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def interrupt(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
