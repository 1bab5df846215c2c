"""``cost``: what the lab costs a month, from its users and settings (every target)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from mlflowk8s.cli.context import app_of

if TYPE_CHECKING:
    from mlflowk8s.cli.context import App
    from mlflowk8s.targets.base import CostEstimate


def show_estimate(app: App, estimate: CostEstimate) -> None:
    from rich.table import Table

    table = Table("item", "usage", "USD/month", box=None,
                  title=f"{estimate.target}: {estimate.users} active users")  # fmt: skip
    for line in estimate.lines:
        table.add_row(line.item, line.usage, f"{line.monthly_usd:,.2f}")
    table.add_row("total", "", f"{estimate.total:,.2f}")
    if estimate.per_user is not None:
        table.add_row("per user", "", f"{estimate.per_user:,.2f}")
    app.console.print(table)
    if estimate.prices:
        app.say(f"Prices assumed ({estimate.prices_as_of}):")
        for what, shown in estimate.prices.items():
            app.say(f"  {what}: {shown}")
    if estimate.assumptions:
        app.say("Assumptions:")
        for assumption in estimate.assumptions:
            app.say(f"  {assumption}")


def cost(
    ctx: typer.Context,
    users: Annotated[
        int | None,
        typer.Option("--users", min=0, help="Estimate for this many users instead of the lab's."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The month's estimate for this lab: each item, the prices it assumes and their date.

    From the lab's active users and settings (tier, Spot, ...); --users N asks "what if".
    List prices, not a bill: verify them before quoting.
    """
    from mlflowk8s.errors import UsageError
    from mlflowk8s.targets.base import Costable

    app = app_of(ctx)
    target = app.lab.target()
    if not isinstance(target, Costable):
        raise UsageError(f"the {target.name} target has no cost estimate")
    estimate = target.cost(users)
    if as_json:
        app.print_json(estimate.as_json())
    else:
        show_estimate(app, estimate)


def register(app: typer.Typer) -> None:
    app.command()(cost)
