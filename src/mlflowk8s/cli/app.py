"""The ``mlflowk8s`` command: global options, command registration, error handling.

Command modules import only Typer at start-up; each command imports what it needs, so
``--help`` and ``users`` stay fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mlflowk8s import __version__
from mlflowk8s.cli import backup as backup_commands
from mlflowk8s.cli import cost as cost_commands
from mlflowk8s.cli import lab as lab_commands
from mlflowk8s.cli import ops as ops_commands
from mlflowk8s.cli import researcher as researcher_commands
from mlflowk8s.cli import service as service_commands
from mlflowk8s.cli import tenant_ops as tenant_commands
from mlflowk8s.cli import users as user_commands
from mlflowk8s.cli import verify as verify_commands
from mlflowk8s.cli.context import App

HELP = """\
Run one shared, secure MLflow tracking service for a research lab.

Every user gets an isolated tracking server at https://DOMAIN/<user>/ (on GKE, behind
Identity-Aware Proxy) or http://127.0.0.1:<port>/<user>/ (local target).

First steps (admin):  mlflowk8s init, mlflowk8s add-user alice --member alice@lab.org,
mlflowk8s apply.  Researchers: mlflowk8s login, then eval "$(mlflowk8s env alice)".

Exit codes: 0 ok, 1 an operation failed, 2 bad input or usage, 130 interrupted
(plan --detailed-exitcode: 0 no changes, 2 changes, 1 any error).
Shell completion: mlflowk8s --install-completion (bash, zsh, fish).
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mlflowk8s {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    lab_dir: Annotated[
        Path,
        typer.Option(
            "--lab-dir",
            envvar="MLFLOWK8S_LAB_DIR",
            help="The lab folder holding .env and users.yaml.",
            file_okay=False,
        ),
    ] = Path("."),
    env: Annotated[
        str,
        typer.Option(
            "--env",
            envvar="MLFLOWK8S_ENV",
            help="Environment name (dev, prd, ...): own work folder and Terraform state.",
        ),
    ] = "default",
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks and more detail.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    from mlflowk8s.errors import UsageError
    from mlflowk8s.names import ENV_RE

    # The name goes into state prefixes and cloud resource names, which limit it.
    if ENV_RE.fullmatch(env) is None:
        raise UsageError(f"invalid --env {env!r}: use 1-12 lower-case letters, digits, '-'")
    ctx.obj = App(lab_dir=lab_dir, env=env, verbose=verbose)


for module in (
    lab_commands, user_commands, ops_commands, tenant_commands, backup_commands,
    service_commands, cost_commands, researcher_commands, verify_commands,
):  # fmt: skip
    module.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and turn our errors into one line and an exit code."""
    from mlflowk8s.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, MlflowK8sError
    from mlflowk8s.terraform.signals import SIGNALS

    args = argv or sys.argv[1:]
    verbose = any(arg in ("-v", "--verbose") for arg in args)
    # terraform's convention: with -detailed-exitcode, 2 means "changes", so errors are 1.
    detailed = "--detailed-exitcode" in args
    # SIGINT, SIGTERM and SIGHUP raise Interrupted (Typer turns KeyboardInterrupt into a
    # silent exit 130), so `finally` blocks run and saved plans go.
    SIGNALS.install_top_level()
    try:
        code = app(args=argv, prog_name="mlflowk8s", standalone_mode=False)
    except (MlflowK8sError, OSError) as exc:
        # OSError: a lab file or folder that cannot be read or written (permissions, disk).
        if verbose:
            import traceback

            traceback.print_exc()
        if isinstance(exc, MlflowK8sError):
            _error(str(exc))
            sys.exit(EXIT_FAILED if detailed and exc.exit_code == EXIT_USAGE else exc.exit_code)
        _error(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        sys.exit(EXIT_FAILED)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _error("aborted")
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:
        # Bad options and arguments: Click's exceptions, which Typer >= 0.26 vendors as its
        # own classes; both kinds know how to show themselves.
        show, exit_code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if not callable(show) or not isinstance(exit_code, int):
            raise
        show()
        sys.exit(EXIT_FAILED if detailed and exit_code == EXIT_USAGE else exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _error(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    from mlflowk8s.terraform.results import printable

    # Messages may quote the state bucket or Terraform: no control characters reach the
    # terminal.
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(printable(message))}"
    )
