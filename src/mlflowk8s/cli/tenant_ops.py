"""``logs`` and ``restart``: one tenant's server, on every target that offers them."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from mlflowk8s.cli.context import app_of
from mlflowk8s.cli.progress import LiveProgress

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The user (tenant).")]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``2d`` -> seconds."""
    from mlflowk8s.errors import UsageError

    match = re.fullmatch(r"(\d+)([smhd])", text.strip())
    if match is None:
        raise UsageError(f"--since {text!r}: use a number and a unit, e.g. 90s, 15m, 1h, 2d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def logs(
    ctx: typer.Context,
    name: NameArg,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl-C ends).")
    ] = False,
    since: Annotated[
        str | None, typer.Option(help="Only lines from this long ago on: 90s, 15m, 1h, 2d.")
    ] = None,
    lines: Annotated[
        int | None, typer.Option("--lines", "-n", min=0, help="Only the last N lines.")
    ] = None,
) -> None:
    """Print a tenant's server log, access lines included (oldest first)."""
    from mlflowk8s.targets.day2 import operations

    app = app_of(ctx)
    seconds = parse_since(since) if since is not None else None
    ops = operations(app.lab.target(), "logs")
    try:
        for line in ops.logs(name, follow=follow, since=seconds, lines=lines):
            sys.stdout.write(line + "\n")
            if follow:
                sys.stdout.flush()
    except KeyboardInterrupt:
        if not follow:
            raise
        # Ctrl-C is how -f ends: no error line, but the shell still learns it was interrupted.
        raise typer.Exit(130) from None
    except BrokenPipeError:
        raise typer.Exit(0) from None  # `logs alice | head`


def restart(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="The user (tenant).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every active user's server.")] = False,
) -> None:
    """Give a tenant's server a new process (the others are untouched); waits until it is
    healthy and says so."""
    from mlflowk8s.errors import UsageError
    from mlflowk8s.targets.day2 import operations

    app = app_of(ctx)
    if (name is None) == (not every):
        raise UsageError("name one user, or pass --all")
    names = [u.name for u in app.lab.users().active_users()] if every else [name or ""]
    if not names:
        raise UsageError("the lab has no active users")
    ops = operations(app.lab.target(), "restart")
    with app.lab.run_lock(), LiveProgress(app.console) as progress:
        done = ops.restart(names, progress)
    for item in done:
        change = f" ({item.before} -> {item.after})" if item.before or item.after else ""
        app.say(f"Restarted {item.name}{change}: healthy.")


def register(app: typer.Typer) -> None:
    app.command()(logs)
    app.command()(restart)
