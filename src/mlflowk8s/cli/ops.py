"""``plan``, ``apply``, ``status``, ``destroy``, ``unlock``: the same for every target."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mlflowk8s.cli.context import App, app_of, confirm, confirm_by_typing
from mlflowk8s.cli.progress import LiveProgress

if TYPE_CHECKING:
    from mlflowk8s.targets.base import Plan, Status, StopsDatabase, Target, TenantStatus

UserOpt = Annotated[
    str | None,
    typer.Option(
        "--user",
        help="Touch only this user's tenant resources (the platform is still planned in full).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def _check_user(app: App, user: str | None) -> None:
    if user is not None:
        app.lab.users().get(user)


def _print_plan(app: App, plan: Plan) -> None:
    from rich.table import Table

    for note in plan.notes:
        app.say(note)
    if not plan.changes:
        app.say("No changes: the lab matches users.yaml and .env.")
        return
    counts = plan.counts()
    summary = Table("root", "add", "change", "destroy", box=None, title="Plan")
    for root, per in counts.items():
        added = per.get("create", 0) + per.get("start", 0)
        changed = per.get("update", 0) + per.get("replace", 0) + per.get("restart", 0)
        removed = per.get("delete", 0) + per.get("stop", 0)
        summary.add_row(root, str(added), str(changed), str(removed))
    app.console.print(summary)
    details = Table("root", "action", "resource", box=None)
    for change in plan.changes:
        details.add_row(change.root, change.action, change.address)
    app.console.print(details)


def _health_word(tenant: TenantStatus) -> str:
    if tenant.health_note:
        return tenant.health_note
    return {True: "healthy", False: "unhealthy", None: "-"}[tenant.healthy]


def _print_status(app: App, status: Status) -> None:
    # Plain columns: a URL is never wrapped or cut with "..." on a narrow terminal.
    if status.tenants:
        rows: list[tuple[str, ...]] = [("USER", "URL", "STATE", "HEALTH", "MLFLOW", "MEMBERS")]
        rows += [
            (t.name, t.url or "-", t.state, _health_word(t), t.mlflow_version or "-",
             ", ".join(t.members) or "-")
            for t in status.tenants
        ]  # fmt: skip
        app.print_columns(rows)
    else:
        app.say("No tenants.")
    for key, value in status.facts.items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else value
        app.say(f"{key}: {shown}")


def plan(
    ctx: typer.Context,
    user: UserOpt = None,
    as_json: JsonOpt = False,
    detailed_exitcode: Annotated[
        bool,
        typer.Option(
            "--detailed-exitcode",
            help="Exit 0 with no changes, 2 with changes, 1 on any error (usage errors too), "
            "as terraform plan -detailed-exitcode does.",
        ),
    ] = False,
) -> None:
    """Show what `apply` would change, per root, without changing anything."""

    app = app_of(ctx)
    _check_user(app, user)
    with app.lab.run_lock(), LiveProgress(app.console, enabled=not as_json) as progress:
        result = app.lab.target().plan(user, progress)
        # `apply` plans again: a saved plan would only keep every input, secrets too, on disk.
        result.discard()
    if as_json:
        app.print_json(result.as_json())
    else:
        _print_plan(app, result)
    if detailed_exitcode and result.changes:
        raise typer.Exit(2)


def apply(ctx: typer.Context, user: UserOpt = None, yes: YesOpt = False) -> None:
    """Plan, confirm, then create or update the lab; ends with every tenant's URL.

    When the platform changes, the tenants are planned again once it is applied; if that
    plan changes or deletes anything the first did not show, apply asks again.
    """
    from mlflowk8s.targets.base import Preflight, Settles

    app = app_of(ctx)
    _check_user(app, user)
    target = app.lab.target()
    with app.lab.run_lock():
        if isinstance(target, Preflight):
            target.preflight()
        with LiveProgress(app.console) as progress:
            result = target.plan(user, progress)
        try:
            _print_plan(app, result)
            if not result.changes:
                if isinstance(target, Settles):
                    # A re-run after Ctrl-C: servers may still be starting; wait as apply does.
                    with LiveProgress(app.console) as progress:
                        target.settle(progress)
                status = target.status()
                _print_status(app, status)
                _next_step(app, status)
                return
            if not confirm("Apply these changes?", yes=yes, what="apply"):
                app.say("Not confirmed: nothing was changed.")
                raise typer.Exit(1)
            with LiveProgress(app.console) as progress:

                def approve(late: Plan) -> bool:
                    with progress.paused():
                        _print_plan(app, late)
                        return confirm("Apply these changes too?", yes=yes, what="apply")

                status = target.apply(result, user, progress, approve)
        finally:
            result.discard()
    _print_status(app, status)
    _next_step(app, status)


def _next_step(app: App, status: Status) -> None:
    """The command a researcher types next, with this very mlflowk8s (on PATH or not)."""
    first = next((t for t in status.tenants if t.healthy and t.url), None)
    if first is not None:
        app.say(f'Next: eval "$({_own_command()} env {first.name})"  # then run your training')


def _own_command() -> str:
    """``mlflowk8s`` when that name on PATH is this program, else the path it was run by."""
    import os
    import shutil
    import sys

    on_path = shutil.which("mlflowk8s")
    run_as = sys.argv[0]
    if (
        on_path
        and os.path.basename(run_as) == "mlflowk8s"
        and os.path.realpath(on_path) == (os.path.realpath(run_as))
    ):
        return "mlflowk8s"
    if os.path.basename(run_as) == "mlflowk8s":
        return run_as
    return "mlflowk8s" if on_path else f"{sys.executable} -m mlflowk8s"


def status(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="Only this user's tenant.")
    ] = None,
    as_json: JsonOpt = False,
    no_health: Annotated[
        bool, typer.Option("--no-health", help="Do not probe each tenant's health.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Exit 1 when an active tenant is unhealthy, naming it (for cron and monitors).",
        ),
    ] = False,
) -> None:
    """Every tenant's URL, members, state and health, and the lab's address facts.

    JSON: tenants[].name, url, state, healthy (true, false, or null: not checkable from
    here, e.g. behind IAP), mlflow_version (what the running server reports locally, what
    the deployed image runs on Google targets; null when not known).
    """
    import sys

    from mlflowk8s.errors import OperationError, UsageError

    app = app_of(ctx)
    if no_health and check:
        raise UsageError("--check needs the health probes: drop --no-health")
    if name is not None:
        app.lab.users().get(name)
    result = app.lab.target().status(check_health=not no_health)
    if name is not None:
        result.tenants = [t for t in result.tenants if t.name == name]
    if as_json:
        app.print_json(result.as_json())
    else:
        _print_status(app, result)
    if check:
        active = [t for t in result.tenants if not t.state.startswith("retired")]
        down = [t.name for t in active if t.healthy is False]
        unknown = [t.name for t in active if t.healthy is None]
        if down:
            also = f" (not checkable from here: {', '.join(unknown)})" if unknown else ""
            raise OperationError(f"unhealthy: {', '.join(down)}{also}")
        if unknown:
            sys.stderr.write(f"not checkable from here: {', '.join(unknown)} (health unknown)\n")


def destroy(
    ctx: typer.Context,
    delete_data: Annotated[
        bool,
        typer.Option(help="Also delete databases, artifacts, network and addresses."),
    ] = False,
    stop_database: Annotated[
        bool | None,
        typer.Option(
            "--stop-database/--keep-database-running",
            help="With the data kept: stop the database (a stopped Cloud SQL instance is "
            "billed for its storage and backups only; the next `apply` starts it) or leave "
            "it as it is. Asked on a terminal; with --yes and neither option, it is stopped.",
            show_default=False,
        ),
    ] = None,
    yes: YesOpt = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON for scripts: delete_data, database_stopped (true: stopped by "
            "this run, false: left as it was, null: no database kept), kept.",
        ),
    ] = False,
) -> None:
    """Stop every tenant and remove the servers; the lab's data stays unless --delete-data.

    Keeping the data keeps the database, which costs money while it runs: on the Google
    targets destroy offers to stop it, and `apply` starts it again.
    """
    import sys

    from mlflowk8s.targets.base import STOP_DATABASE_BY_DEFAULT, Destroyed

    app = app_of(ctx)
    target = app.lab.target()
    offer = _database_offer(target, delete_data, stop_database)
    word = target.destroy_confirmation_word()
    what = "destroy --delete-data" if delete_data else "destroy"
    say = (lambda message: sys.stderr.write(message + "\n")) if as_json else app.say
    say(
        "This deletes ALL the lab's data."
        if delete_data
        else "Servers go; databases, artifacts and addresses stay."
    )
    if not confirm_by_typing(word, yes=yes, what=what, err=as_json):
        say("Not confirmed: nothing was changed.")
        raise typer.Exit(1)
    if offer is not None and stop_database is None:
        stop_database = STOP_DATABASE_BY_DEFAULT if yes else confirm(
            f"Stop {offer.stoppable_database} too? Stopped, it is billed for its storage and "
            "backups only; `mlflowk8s apply` starts it again.",
            yes=False, what=what, default=STOP_DATABASE_BY_DEFAULT, err=as_json,
        )  # fmt: skip
    with app.lab.run_lock(), LiveProgress(app.console, enabled=not as_json) as progress:
        if offer is not None:
            done = offer.destroy_keeping_data(bool(stop_database), progress)
        else:
            done = Destroyed(target.destroy(delete_data, progress))
    if as_json:
        app.print_json({"delete_data": delete_data, "database_stopped": done.database_stopped,
                        "kept": done.kept})  # fmt: skip
        return
    for item in done.kept:
        app.say(f"Kept: {item}")
    app.say("Destroyed.")


def _database_offer(target: Target, delete_data: bool, choice: bool | None) -> StopsDatabase | None:
    """The target, when this destroy offers to stop its database; a choice made on the
    command line where none is offered is a usage error."""
    from mlflowk8s.errors import UsageError
    from mlflowk8s.targets.base import StopsDatabase

    offered = not delete_data and isinstance(target, StopsDatabase)
    if choice is not None and not offered:
        flag = "--stop-database" if choice else "--keep-database-running"
        raise UsageError(
            f"{flag} goes with destroy that keeps the data: drop --delete-data"
            if delete_data
            else f"the {target.name} target keeps no database to stop: drop {flag}"
        )
    return target if offered and isinstance(target, StopsDatabase) else None


def unlock(
    ctx: typer.Context,
    lock_id: Annotated[str, typer.Argument(help="The lock ID an error message named.")],
) -> None:
    """Release a state lock left by a killed or crashed run (make sure none is active)."""
    from mlflowk8s.errors import UsageError
    from mlflowk8s.targets.base import Lockable

    app = app_of(ctx)
    target = app.lab.target()
    if not isinstance(target, Lockable):
        raise UsageError(f"the {target.name} target has no state lock to release")
    where = target.unlock(lock_id)
    app.say(f"Released lock {lock_id} on the {where} state.")


def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command()(apply)
    app.command()(status)
    app.command()(destroy)
    app.command()(unlock)
