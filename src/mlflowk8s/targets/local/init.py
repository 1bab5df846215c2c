"""What `init` asks for a local lab: nothing; the servers need nothing outside the folder."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path

from mlflowk8s.targets.base import Prompt
from mlflowk8s.targets.local.settings import OPEN_ACCESS


class LocalInit:
    def settings(
        self,
        values: dict[str, str],
        options: Mapping[str, str | None],
        prompt: Prompt | None,
        env_file: Path,
    ) -> dict[str, str]:
        return values

    def prepare(
        self,
        values: Mapping[str, str],
        say: Callable[[str], None],
        busy: Callable[[str], AbstractContextManager[object]],
    ) -> bool:
        return False

    def next_step(self, values: Mapping[str, str]) -> str | None:
        return f"Note: {OPEN_ACCESS}. Next: `mlflowk8s add-user NAME`, then `mlflowk8s apply`."
