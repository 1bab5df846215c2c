"""``service install``: start a lab box's tenants at boot (systemd)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mlflowk8s.cli.context import app_of

service_app = typer.Typer(
    help="Start the lab's servers at boot on this machine (local target, systemd).",
    no_args_is_help=True,
)


@service_app.command("install")
def install(
    ctx: typer.Context,
    system: Annotated[
        bool,
        typer.Option(
            "--system",
            help="A system unit in /etc/systemd/system (needs root; starts at boot without "
            "lingering). Default: a user unit.",
        ),
    ] = False,
    print_only: Annotated[
        bool, typer.Option("--print", help="Print the unit instead of writing it.")
    ] = False,
) -> None:
    """Write a systemd unit that starts the lab's supervisord (and every tenant) at boot.

    A user unit starts at boot only with lingering on (`loginctl enable-linger`); the
    commands to enable it are printed after writing it.
    """
    from mlflowk8s.errors import OperationError, UsageError
    from mlflowk8s.fileio import write_atomic
    from mlflowk8s.targets.base import Serviceable

    app = app_of(ctx)
    target = app.lab.target()
    if not isinstance(target, Serviceable):
        raise UsageError(f"the {target.name} target runs no servers on this machine")
    unit = target.service_unit(system)
    if print_only:
        sys.stdout.write(unit.text)
        return
    try:
        changed = write_atomic(unit.path, unit.text, mode=0o644)
    except PermissionError as exc:
        raise OperationError(
            f"cannot write {unit.path} (permission denied): run it with sudo, or "
            f"`mlflowk8s service install{' --system' if system else ''} --print | sudo tee "
            f"{unit.path}`"
        ) from exc
    app.say(f"{'Wrote' if changed else 'Unchanged:'} {unit.path}")
    app.say("Then:")
    for step in unit.next_steps():
        app.say(f"  {step}")


def register(app: typer.Typer) -> None:
    app.add_typer(service_app, name="service")
