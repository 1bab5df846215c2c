"""service install: the systemd unit that starts a local lab's supervisord at boot."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import Cli


def _local_lab_with_config(cli: Cli) -> Path:
    assert cli("init", "--target", "local").code == 0
    root = cli.lab.resolve() / ".mlflowk8s" / "local"
    root.mkdir(parents=True)
    # What apply writes; the unit only points at it.
    (root / "supervisord.conf").write_text("[supervisord]\n")
    return root


def test_user_unit_content_and_next_steps(cli: Cli, tmp_path: Path) -> None:
    root = _local_lab_with_config(cli)
    cli.env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    printed = cli("service", "install", "--print")
    assert printed.code == 0
    text = printed.stdout
    assert (
        f"ExecStart={sys.executable} -m supervisor.supervisord -n -c {root}/supervisord.conf\n"
        in text
    )
    assert f"Environment=MLFLOWK8S_LOCAL_DIR={root}\n" in text
    assert "KillMode=mixed\n" in text and "Restart=on-failure\n" in text
    assert text.endswith("[Install]\nWantedBy=default.target\n")
    assert "User=" not in text
    assert not (tmp_path / "config").exists()  # --print writes nothing

    written = cli("service", "install")
    assert written.code == 0
    units = list((tmp_path / "config" / "systemd" / "user").glob("mlflowk8s-lab-local-*.service"))
    assert len(units) == 1 and units[0].read_text() == text
    out = written.stdout
    assert f"Wrote {units[0]}" in out
    assert f"systemctl --user enable --now {units[0].name}" in out
    assert "loginctl enable-linger" in out and "starts at boot only with lingering on" in out
    assert cli("service", "install").stdout.startswith(f"Unchanged: {units[0]}")
    if shutil.which("systemd-analyze"):  # where systemd is installed it parses the unit
        # System mode: a container has no user manager; each bad line names the file.
        check = subprocess.run(["systemd-analyze", "verify", str(units[0])],
                               capture_output=True, text=True, timeout=120)  # fmt: skip
        assert check.returncode == 0 and str(units[0]) not in check.stderr, check.stderr


def test_system_unit_runs_as_this_user(cli: Cli) -> None:
    _local_lab_with_config(cli)
    text = cli("service", "install", "--system", "--print").stdout
    assert "WantedBy=multi-user.target" in text and "\nUser=" in text


def test_refusals(cli: Cli) -> None:
    assert cli("init", "--target", "local").code == 0
    before_apply = cli("service", "install", "--print")
    assert before_apply.code == 2
    assert "run `mlflowk8s apply` once, then install the service" in before_apply.stderr
    (cli.lab / ".env").write_text(
        "GCP_PROJECT=demo-project\nGCP_REGION=europe-west1\nMLFLOW_DOMAIN=mlflow.lab.org\n"
        "TF_GCS_BUCKET=demo-tfstate\nMLFLOW_GCS_BUCKET=lab-artifacts\n"
    )
    gcp = cli("service", "install")
    assert gcp.code == 2 and "the gcp target runs no servers on this machine" in gcp.stderr
