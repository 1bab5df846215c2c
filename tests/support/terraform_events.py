"""The real terraform behind a recorder of its stdout, to wait for events instead of time.

``recording_terraform(folder)`` writes an executable that runs the real ``terraform`` with
the same arguments, copies every stdout line (the ``-json`` UI's events) to its own stdout
and to a log file, and hands SIGINT on to Terraform: the CLI under test sees Terraform as
before, and a test can wait for one event (``apply_complete`` of a resource) in the log.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_WRAPPER = """\
#!{python}
import signal, subprocess, sys

terraform = subprocess.Popen([{terraform!r}, *sys.argv[1:]], stdout=subprocess.PIPE,
                             text=True, bufsize=1)
# The CLI signals only this process (Terraform runs in a session of its own).
signal.signal(signal.SIGINT, lambda signum, frame: terraform.send_signal(signal.SIGINT))
with open({log!r}, "a", encoding="utf-8") as log:
    for line in terraform.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        log.write(line)
        log.flush()
sys.exit(terraform.wait())
"""


@dataclass(frozen=True)
class RecordingTerraform:
    binary: Path
    log: Path

    def events(self) -> Iterator[dict[str, Any]]:
        if not self.log.exists():
            return
        for line in self.log.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except ValueError:  # a line still being written
                    continue

    def completed(self, address: str) -> bool:
        """Whether Terraform has reported ``apply_complete`` for ``address``."""
        return any(
            event.get("type") == "apply_complete"
            and (event.get("hook") or {}).get("resource", {}).get("addr") == address
            for event in self.events()
        )


def recording_terraform(folder: Path) -> RecordingTerraform:
    real = shutil.which("terraform")
    assert real is not None, "terraform is not on PATH"
    folder.mkdir(parents=True, exist_ok=True)
    binary, log = folder / "terraform", folder / "terraform-stdout.log"
    binary.write_text(_WRAPPER.format(python=sys.executable, terraform=real, log=str(log)))
    binary.chmod(0o755)
    return RecordingTerraform(binary, log)
