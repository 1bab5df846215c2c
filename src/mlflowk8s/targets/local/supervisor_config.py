"""supervisord's config for a lab: where its files live, and the text it is started with.

One ``[program:mlflow-<user>]`` section per tenant; a section's text decides whether its
tenant restarts (:func:`section_digest`), so rendering is deterministic.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlflowk8s.errors import UsageError
from mlflowk8s.targets.local import rundir

MAX_SOCKET_PATH = rundir.MAX_SOCKET_PATH


@dataclass(frozen=True)
class Program:
    """One supervised program: the command, its extra environment and its log file."""

    name: str
    command: list[str]
    env: Mapping[str, str]
    directory: Path
    logfile: Path
    startsecs: int = 10
    stopwaitsecs: int = 15


@dataclass(frozen=True)
class Layout:
    """Where supervisord's files live for one lab (``.mlflowk8s/local/``)."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "supervisord.conf"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def program_log(self, program: str) -> Path:
        """Where supervisord writes a program's output (rotated beside it as ``.1``..)."""
        return self.logs / f"{program}.log"

    @property
    def pidfile(self) -> Path:
        return self.root / "supervisord.pid"

    @property
    def socket(self) -> Path:
        """The control socket, in a private folder (:mod:`rundir`)."""
        return rundir.socket_path(self.root)

    def choose_socket(self) -> Path:
        """Make the socket's private folder (a deep lab's is chosen and recorded once)."""
        return rundir.socket_path(self.root, choose=True)

    @property
    def server_url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def identifier(self) -> str:
        return f"mlflowk8s:{self.root}"


def _value(text: str, expansions: int = 1) -> str:
    """Escape a config value: supervisord expands ``%(name)s`` and ini files end at newlines.

    supervisord expands most values once, but program log file names twice.
    """
    if "\n" in text or "\r" in text:
        raise UsageError(f"a line break cannot go into supervisord's config: {text!r}")
    return text.replace("%", "%" * 2**expansions)


def _environment(env: Mapping[str, str]) -> str:
    """Render ``KEY="value",...`` as supervisord's ``environment=`` parses it (no escapes)."""
    parts = []
    for key, value in sorted(env.items()):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise UsageError(f"invalid environment variable name {key!r}")
        if '"' not in value:
            parts.append(f'{key}="{value}"')
        elif "'" not in value:
            parts.append(f"{key}='{value}'")
        else:
            raise UsageError(f"{key}: a value with both quote kinds cannot go into supervisord")
    return _value(",".join(parts))


def render_program(program: Program) -> str:
    """The ``[program:NAME]`` section; its text decides whether a tenant restarts."""
    lines = [
        f"[program:{program.name}]",
        f"command={_value(shlex.join(program.command))}",
        f"directory={_value(str(program.directory))}",
        f"environment={_environment(program.env)}",
        "autostart=true",
        # `mlflow server` exits 0 when its uvicorn child dies: restart on any exit.
        "autorestart=true",
        f"startsecs={program.startsecs}",
        "startretries=3",
        "stopsignal=TERM",
        f"stopwaitsecs={program.stopwaitsecs}",
        # Signal the whole process group, or the uvicorn child outlives its parent.
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        f"stdout_logfile={_value(str(program.logfile), expansions=2)}",
        "stdout_logfile_maxbytes=10MB",
        "stdout_logfile_backups=3",
    ]
    return "\n".join(lines) + "\n"


def render_config(layout: Layout, programs: list[Program]) -> str:
    """The whole supervisord.conf: daemon, control socket (owner only) and programs."""
    root = _value(str(layout.root))
    head = f"""\
; Written by mlflowk8s apply; edits are overwritten. Control it with:
;   supervisorctl -c {layout.conf} status
[unix_http_server]
file={_value(str(layout.socket))}
chmod=0700

[supervisord]
identifier={_value(layout.identifier)}
logfile={_value(str(layout.logs / "supervisord.log"))}
logfile_maxbytes=10MB
logfile_backups=3
pidfile={_value(str(layout.pidfile))}
directory={root}
childlogdir={_value(str(layout.logs))}
umask=022

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl={_value(layout.server_url)}
"""
    sections = [render_program(p) for p in sorted(programs, key=lambda p: p.name)]
    return "\n".join([head, *sections])


def section_digest(program: Program) -> str:
    return hashlib.sha256(render_program(program).encode()).hexdigest()
