"""The README's first command, run twice as a new admin would: the lab part of the one-liner
(after the virtualenv and the install, which this test's interpreter already has).

It must succeed again on a re-run and end with the tenant's URL and the next command, naming
mlflowk8s the way it was run (here, as in the README, by its path in the virtualenv).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.local.conftest import LocalLab, _shutdown, free_base_port

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[2] / "README.md"


def _lab_part() -> str:
    block = README.read_text().split("Try it on a fresh machine", 1)[1]
    line = re.search(r"```sh\n(.*?)\n```", block, re.S)
    assert line is not None
    commands = line.group(1)
    assert commands.startswith("python3 -m venv .venv && .venv/bin/pip install")
    return commands[commands.index("mkdir -p demo-lab") :]


def test_first_command_runs_again_and_ends_with_url_and_next_step(cli: Cli, tmp_path: Path) -> None:
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    tool = venv_bin / "mlflowk8s"  # the console script pip writes, for this interpreter
    tool.write_text(f"#!{sys.executable}\nfrom mlflowk8s.cli.app import main\n\nmain()\n")
    tool.chmod(0o755)
    demo = tmp_path / "demo-lab"
    demo.mkdir()
    base = free_base_port()
    # The port range only, so parallel tests do not meet on 5100; init keeps other settings.
    (demo / ".env").write_text(f"MLFLOWK8S_TARGET=local\nMLFLOWK8S_LOCAL_BASE_PORT={base}\n")
    lab = LocalLab(cli=Cli(lab=demo, env=cli.env), base_port=base)
    try:
        outputs = []
        for _ in range(2):
            proc = subprocess.run(["sh", "-c", _lab_part()], cwd=tmp_path, env=cli.env,
                                  capture_output=True, text=True, timeout=900)  # fmt: skip
            assert proc.returncode == 0, proc.stdout + proc.stderr
            outputs.append(proc.stdout)
        assert "User alice already exists with these members: nothing changed." in outputs[1]
        for out in outputs:
            lines = out.strip().splitlines()
            url = f"http://127.0.0.1:{base}/alice/"
            assert any(line.startswith("alice ") and url in line and " healthy " in line
                       for line in lines)  # fmt: skip
            assert lines[-1] == (
                'Next: eval "$(../.venv/bin/mlflowk8s env alice)"  # then run your training'
            )
    finally:
        leftovers = _shutdown(lab)
    assert not leftovers
