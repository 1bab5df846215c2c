"""Baseline for `make bench`: a minimal Typer app with mlflowk8s's commands and no bodies.

Typer's own start-up is the floor the real CLI is measured against.
"""

import typer

app = typer.Typer(add_completion=False)


@app.callback()
def root(lab_dir: str = ".", env: str = "default", verbose: bool = False) -> None:
    """Baseline."""


COMMANDS = "init render add-user remove-user users grant revoke plan apply status destroy unlock"
for name in [*COMMANDS.split(), "login", "env", "token", "doctor"]:

    def command(as_json: bool = typer.Option(False, "--json")) -> None:
        """Does nothing."""

    app.command(name)(command)

if __name__ == "__main__":
    app()
