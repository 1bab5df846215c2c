"""Running the CLI on a pseudo-terminal, as an admin at a keyboard would: prompts show,
answers are typed, and whatever the CLI decides from ``isatty()`` is what a person gets."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path


def on_terminal(
    args: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    answers: list[tuple[bytes, bytes]],
    timeout: float = 300,
) -> tuple[int, str]:
    """Run ``mlflowk8s ARGS``, typing each answer once its prompt (the output's last
    bytes since the previous answer) shows; the exit code and everything it printed.
    Fails when a prompt never showed."""
    pending = list(answers)
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflowk8s", *args],
        cwd=cwd, env=dict(env), stdin=terminal, stdout=terminal, stderr=terminal,
    )  # fmt: skip
    os.close(terminal)
    seen = b""
    answered = 0  # where the output after the last answer starts: a repeated prompt is new
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(controller, 1024)
            except OSError:  # the terminal's other end closed: the CLI has ended
                break
            if not chunk:
                break
            seen += chunk
            if pending and seen[answered:].endswith(pending[0][0]):
                os.write(controller, pending.pop(0)[1])
                answered = len(seen)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(controller)
    text = seen.decode(errors="replace").replace("\r\n", "\n")
    assert pending == [], f"prompts never shown: {pending}\n{text}"
    return code, text
