"""Input and output tables of the Terraform modules' READMEs, from their variables and outputs.

    python tools/tfdocs.py           rewrite the tables between the markers
    python tools/tfdocs.py --check   exit 1 naming every README whose tables are stale

The tables live between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` (appended
when a README has no markers yet); the text around them is the module's own.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parent.parent
MODULES = REPO / "infra" / "modules"
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"


def _unquote(value: str) -> str:
    """python-hcl2 keeps string literals quoted and wraps expressions in ${...}."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return str(json.loads(value))
        except ValueError:
            return value[1:-1]
    if value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, str):
        return _unquote(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "__is_block__"}
    return value


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{_cell(text)}`"


def _blocks(folder: Path, kind: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(folder.glob("*.tf")):
        with path.open(encoding="utf-8") as handle:
            for block in hcl2.load(handle).get(kind, []):
                for name, body in block.items():
                    found.append((_unquote(name), _plain(body)))
    return sorted(found)


def tables(folder: Path) -> str:
    lines = [
        "## Inputs",
        "",
        "| name | description | type | default |",
        "| --- | --- | --- | --- |",
    ]
    for name, body in _blocks(folder, "variable"):
        shown = _code(json.dumps(body["default"])) if "default" in body else "required"
        kind = _code(str(body.get("type", "any")))
        sensitive = " (sensitive)" if body.get("sensitive") is True else ""
        description = _cell(str(body.get("description", "")))
        lines.append(f"| {_code(name)} | {description}{sensitive} | {kind} | {shown} |")
    lines += ["", "## Outputs", "", "| name | description |", "| --- | --- |"]
    for name, body in _blocks(folder, "output"):
        lines.append(f"| {_code(name)} | {_cell(str(body.get('description', '')))} |")
    return "\n".join(lines)


def updated(readme: str, generated: str) -> str:
    section = f"{BEGIN}\n{generated}\n{END}"
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return f"{head}{section}{tail}"
    return f"{readme.rstrip()}\n\n{section}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale READMEs")
    parser.add_argument("--modules", type=Path, default=MODULES, help="folder of the modules")
    args = parser.parse_args(argv)
    stale = []
    for folder in sorted(p for p in args.modules.iterdir() if (p / "variables.tf").is_file()):
        readme = folder / "README.md"
        current = readme.read_text(encoding="utf-8") if readme.exists() else f"# {folder.name}\n"
        wanted = updated(current, tables(folder))
        if wanted == current:
            continue
        stale.append(readme.relative_to(args.modules.parent))
        if not args.check:
            readme.write_text(wanted, encoding="utf-8")
    if args.check and stale:
        names = ", ".join(map(str, stale))
        print(f"stale module docs: {names}; run `make docs`", file=sys.stderr)
        return 1
    for name in stale:
        print(f"updated {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
