"""The YAML reader of users.yaml: round-trip (comments and order survive edits), and strict
about what the file never needs (anchors, aliases, duplicate keys, deep nesting), refused at
their line before anything is built."""

from __future__ import annotations

from typing import Any

from mlflowk8s.names import shown

# Nesting deeper than users > name > members > member is never valid.
MAX_DEPTH = 8


def round_trip_yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip mode keeps comments and order
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


class Refused(Exception):
    """YAML the users file never needs, found while composing (before anything is built)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _composer() -> Any:
    """A composer that refuses anchors, aliases and duplicate keys, at their line.

    Aliases let a few hundred bytes expand to gigabytes (every command hung on one), and a
    duplicate key would silently let the last block win (``alice:`` twice).
    """
    from ruamel.yaml.composer import Composer
    from ruamel.yaml.events import AliasEvent
    from ruamel.yaml.nodes import ScalarNode

    class StrictComposer(Composer):
        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.parser.peek_event()
            if isinstance(event, AliasEvent) or getattr(event, "anchor", None) is not None:
                raise Refused(
                    "anchors and aliases (&name, *name, <<) are not allowed: write each "
                    "user out", event.start_mark.line + 1,
                )  # fmt: skip
            return super().compose_node(parent, index)

        def compose_mapping_node(self, anchor: Any) -> Any:
            node = super().compose_mapping_node(anchor)
            seen: dict[str, int] = {}
            for key, _ in node.value:
                if not isinstance(key, ScalarNode):
                    continue
                line = key.start_mark.line + 1
                if key.value in seen:
                    raise Refused(
                        f"{shown(key.value)} is written twice (first at line "
                        f"{seen[key.value]}): keep one", line,
                    )  # fmt: skip
                seen[key.value] = line
            return node

    return StrictComposer


def strict_yaml() -> Any:
    yaml = round_trip_yaml()
    yaml.Composer = _composer()
    yaml.max_depth = MAX_DEPTH
    return yaml
