"""``backup``, ``backups``, ``restore``: a tenant's data, on every target that offers them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlflowk8s.cli.context import app_of, confirm
from mlflowk8s.cli.progress import LiveProgress

if TYPE_CHECKING:
    from mlflowk8s.targets.day2 import BackupInfo

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The user (tenant).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def backup(
    ctx: typer.Context,
    name: NameArg,
    to: Annotated[
        Path | None,
        typer.Option(
            "--to",
            help="A new file (NAME.tar.gz) or a folder [default: .mlflowk8s/<env>/backups/NAME/].",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Back up a tenant: a consistent copy of its store and its artifacts in one archive.

    The archive's path is printed alone on the last line (whole, never shortened), so
    `path=$(mlflowk8s backup alice | tail -n1)` works; --json prints {"path": ...}.
    """
    from mlflowk8s.targets.day2 import operations

    app = app_of(ctx)
    ops = operations(app.lab.target(), "backup")
    with LiveProgress(app.console, enabled=not as_json) as progress:
        made = ops.backup(name, to, progress)
    if as_json:
        app.print_json({"path": str(made.path)})
        return
    app.say(f"Backed up {name} ({_size(made.size)}, MLflow {made.mlflow_version}) to:")
    print(made.path)


def backups(
    ctx: typer.Context,
    name: NameArg,
    keep: Annotated[
        int | None, typer.Option(min=0, help="Delete all but the newest N backups.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List a tenant's backups, oldest first; --keep N deletes all but the newest N."""
    from mlflowk8s.targets.day2 import operations

    app = app_of(ctx)
    ops = operations(app.lab.target(), "backups")
    removed = ops.prune_backups(name, keep) if keep is not None else []
    found = ops.backups(name)
    if as_json:
        app.print_json({"backups": [b.as_json() for b in found],
                        "deleted": [str(p) for p in removed]})  # fmt: skip
        return
    for path in removed:
        app.say(f"Deleted {path}")
    if not found:
        app.say(f"No backups of {name} yet: `mlflowk8s backup {name}`.")
        return
    rows: list[tuple[str, ...]] = [("CREATED", "SIZE", "MLFLOW", "TENANT", "PATH")]
    rows += [(b.created, _size(b.size), b.mlflow_version, b.tenant, str(b.path)) for b in found]
    app.print_columns(rows)


def restore(
    ctx: typer.Context,
    name: NameArg,
    archive: Annotated[Path, typer.Argument(metavar="BACKUP", help="The backup archive.")],
    from_tenant: Annotated[
        str | None,
        typer.Option(help="Accept a backup of this other tenant (copying data between users)."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Replace a tenant's runs and artifacts with a backup's.

    A safety backup of the current data is taken first (its path is printed). The tenant's
    server is stopped, the data swapped in, an older schema upgraded, the server started and
    checked. A backup of a newer MLflow schema, or of another tenant without --from-tenant,
    is refused.
    """
    from mlflowk8s.targets.day2 import operations

    app = app_of(ctx)
    target = app.lab.target()
    ops = operations(target, "restore")
    question = f"Replace ALL runs and artifacts of {name} with {archive}?"
    if not confirm(question, yes=yes, what=f"restore of {name}"):
        app.say("Not confirmed: nothing was changed.")
        raise typer.Exit(1)

    def safety(made: BackupInfo) -> None:
        app.say(f"Safety backup of {name}'s current data: {made.path}")

    with app.lab.run_lock(), LiveProgress(app.console) as progress:
        done = ops.restore(name, archive, progress, from_tenant=from_tenant, on_safety=safety)
    upgraded = f", schema upgraded from {done.upgraded_from}" if done.upgraded_from else ""
    app.say(
        f"Restored {name} from the backup of {done.backup.tenant} taken {done.backup.created}"
        f"{upgraded}: healthy. To undo: mlflowk8s restore {name} {done.safety.path}"
    )


def register(app: typer.Typer) -> None:
    app.command()(backup)
    app.command()(backups)
    app.command()(restore)
