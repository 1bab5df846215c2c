"""``add-user``, ``remove-user``, ``users``, ``grant``, ``revoke``: edit users.yaml."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from mlflowk8s.cli.context import app_of, confirm

if TYPE_CHECKING:
    from mlflowk8s.lab.users import UsersFile

NameArg = Annotated[str, typer.Argument(help="User (tenant) name: a lower-case DNS label.")]
MemberArg = Annotated[
    str,
    typer.Argument(help="user:EMAIL, group:EMAIL, serviceAccount:EMAIL, domain:DOMAIN or EMAIL."),
]


def add_user(
    ctx: typer.Context,
    name: NameArg,
    member: Annotated[
        list[str] | None,
        typer.Option("--member", "-m", help="Who may use this tenant (repeatable)."),
    ] = None,
) -> None:
    """Add a user (or bring back a retired one). Run `apply` to create its server.

    Adding a user that exists with the same members changes nothing and succeeds, so a
    setup script can be run again.
    """
    from mlflowk8s.lab.users import normalize_member

    app = app_of(ctx)
    current = app.lab.users()
    if name in {u.name for u in current.active_users()}:
        wanted = {normalize_member(m) for m in member or []}
        if wanted == set(current.get(name).members):
            app.say(f"User {name} already exists with these members: nothing changed.")
            return
    with app.lab.editing_users() as users:
        outcome = users.add(name, member or [])
    verb = "Restored" if outcome == "restored" else "Added"
    app.say(f"{verb} user {name}. Run `mlflowk8s apply`.")


def remove_user(
    ctx: typer.Context,
    name: NameArg,
    purge: Annotated[
        bool,
        typer.Option(help="Also delete the user's database and artifacts (asks first)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Retire a user: `apply` then removes its server and access but keeps its data.

    With --purge the user's data is deleted now and the entry is removed.
    """
    app = app_of(ctx)
    if purge:
        app.lab.users().get(name)
        question = f"Delete ALL data (runs, artifacts) of {name}? This cannot be undone."
        if not confirm(question, yes=yes, what=f"purging {name}"):
            app.say("Not confirmed: nothing was changed.")
            raise typer.Exit(1)
        from mlflowk8s.cli.progress import LiveProgress

        with app.lab.run_lock(), LiveProgress(app.console) as progress:
            app.lab.target().purge_user(name, progress)
        with app.lab.editing_users() as users:
            users.purge(name)
        app.say(f"Purged user {name} and its data.")
        return
    with app.lab.editing_users() as users:
        changed = users.retire(name)
    if changed:
        app.say(f"Retired user {name}; its data stays. Run `mlflowk8s apply` to stop its server.")
    else:
        app.say(f"User {name} was already retired.")


def list_users(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    all_users: Annotated[bool, typer.Option("--all", help="Include retired users.")] = False,
) -> None:
    """List the lab's users and their members."""
    app = app_of(ctx)
    users_file = app.lab.users()
    users = users_file.all_users() if all_users else users_file.active_users()
    if as_json:
        app.print_json({"users": [user.as_dict() for user in users]})
        return
    if not users:
        app.say("No users yet: `mlflowk8s add-user NAME --member EMAIL`.")
        return
    # Plain aligned columns: a Rich table of 500 rows costs more than the rest of the command.
    rows = [("USER", "MEMBERS", *(["STATE"] if all_users else []))]
    for user in users:
        state = ["retired" if user.retired else "active"] if all_users else []
        rows.append((user.name, ", ".join(user.members) or "-", *state))
    app.print_columns(rows)


def _member_edit(
    verb: str, edit: Callable[[UsersFile, str, str], object]
) -> Callable[[typer.Context, str, str], None]:
    def command(ctx: typer.Context, name: NameArg, member: MemberArg) -> None:
        app = app_of(ctx)
        with app.lab.editing_users() as users:
            edit(users, name, member)
        app.say(f"{verb} {member} for {name}. Run `mlflowk8s apply` to update access.")

    return command


grant = _member_edit("Granted", lambda users, name, member: users.grant(name, member))
grant.__doc__ = "Give MEMBER access to user NAME's tracking server."
revoke = _member_edit("Revoked", lambda users, name, member: users.revoke(name, member))
revoke.__doc__ = "Take MEMBER's access to user NAME's tracking server away."


def register(app: typer.Typer) -> None:
    app.command("add-user")(add_user)
    app.command("remove-user")(remove_user)
    app.command("users")(list_users)
    app.command("grant")(grant)
    app.command("revoke")(revoke)
