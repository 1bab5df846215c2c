"""A systemd unit that starts a local lab's supervisord at boot (``mlflowk8s service``).

supervisord runs in the foreground (``-n``) so systemd supervises it directly; on stop,
systemd signals supervisord alone first (``KillMode=mixed``), which stops every tenant's
server gracefully, and kills what is left after the timeout. The environment carries the
lab's marker, as when ``apply`` starts supervisord, so the lab's processes stay findable.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from mlflowk8s.errors import UsageError
from mlflowk8s.targets.local import supervisor as sv

SYSTEM_FOLDER = Path("/etc/systemd/system")
STOP_TIMEOUT = 90  # tenants' stopwaitsecs (15 s) each, stopped in parallel, plus slack


@dataclass(frozen=True)
class Unit:
    name: str
    path: Path
    text: str
    system: bool
    conf: Path

    def next_steps(self) -> list[str]:
        ctl = "sudo systemctl" if self.system else "systemctl --user"
        stop = " ".join(_quote(w) for w in (sys.executable, "-m", "supervisor.supervisorctl",
                                            "-c", str(self.conf), "shutdown"))  # fmt: skip
        steps = [
            f"{stop}   # only if `mlflowk8s apply` started supervisord: one per lab",
            f"{ctl} daemon-reload",
            f"{ctl} enable --now {self.name}",
        ]
        if not self.system:
            steps.append(
                f"sudo loginctl enable-linger {getpass.getuser()}   # a user unit starts at "
                "boot only with lingering on (otherwise at your first login)"
            )
        return steps


def unit_name(root: Path) -> str:
    """``mlflowk8s-<lab folder>-<digest>.service``: readable, and unique per lab and env."""
    lab = root.parents[1].name  # root is <lab>/.mlflowk8s/local[-env]
    label = re.sub(r"[^A-Za-z0-9_.-]", "-", lab)[:40] or "lab"
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    return f"mlflowk8s-{label}-{root.name}-{digest}.service"


def _quote(word: str) -> str:
    """One systemd command-line word: ``%`` doubled, quoted when it holds spaces or quotes."""
    if "\n" in word:
        raise UsageError(f"a line break cannot go into a systemd unit: {word!r}")
    word = word.replace("%", "%%")
    if re.fullmatch(r"[A-Za-z0-9_./:=@+,-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(layout: sv.Layout, system: bool, user: str | None = None) -> str:
    python = sys.executable
    daemon = " ".join(_quote(w) for w in (python, "-m", "supervisor.supervisord", "-n",
                                          "-c", str(layout.conf)))  # fmt: skip
    lines = [
        "# Written by mlflowk8s service install: starts this lab's tenants at boot.",
        "[Unit]",
        f"Description=mlflowk8s local lab {layout.root.parents[1]} (supervisord)",
        "After=network-online.target",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={daemon}",
        f"WorkingDirectory={_quote(str(layout.root))}",
        f"Environment={_quote(f'{sv.MARKER_ENV}={layout.root}')}",
        "KillMode=mixed",
        f"TimeoutStopSec={STOP_TIMEOUT}",
        "Restart=on-failure",
        "RestartSec=5",
        "UMask=0077",
    ]
    if system:
        lines.append(f"User={user or getpass.getuser()}")
    lines += ["", "[Install]", f"WantedBy={'multi-user.target' if system else 'default.target'}"]
    return "\n".join(lines) + "\n"


def unit(layout: sv.Layout, system: bool) -> Unit:
    if not layout.conf.is_file():
        raise UsageError(
            f"no {layout.conf} yet: run `mlflowk8s apply` once, then install the service"
        )
    name = unit_name(layout.root)
    if system:
        folder = SYSTEM_FOLDER
    else:
        config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        folder = Path(config) / "systemd" / "user"
    return Unit(name, folder / name, render(layout, system), system, layout.conf)
