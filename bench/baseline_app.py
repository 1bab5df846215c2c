"""Baseline for `make bench`: a minimal Typer app with mlflowk8s's commands and no bodies.

Typer's own start-up is the floor the real CLI is measured against.
"""

import typer

app = typer.Typer(add_completion=False)


@app.callback()
def root(lab_dir: str = ".", env: str = "default", verbose: bool = False) -> None:
    """Baseline."""


for name in ["init", "render", "add-user", "remove-user", "users", "grant", "revoke", "plan",
             "apply", "status", "destroy", "unlock", "login", "env", "token", "doctor"]:  # fmt: skip

    def command(as_json: bool = typer.Option(False, "--json")) -> None:
        """Does nothing."""

    app.command(name)(command)

if __name__ == "__main__":
    app()
