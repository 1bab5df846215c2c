"""Rich live progress for slow work, and its quiet form for scripts (--json, no terminal)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.spinner import Spinner


class LiveProgress:
    """Shows the phase, current item, done/total and elapsed time; notes print above it."""

    def __init__(self, console: Console, enabled: bool = True) -> None:
        self.console = console
        self.enabled = enabled
        self._phase = ""
        self._current = ""
        self._done = 0
        self._total = 0
        self._started = time.monotonic()
        self._live: Live | None = None

    def __enter__(self) -> LiveProgress:
        if self.enabled and self.console.is_terminal:
            from rich.live import Live

            self._live = Live(
                self._render(),
                console=self.console,
                transient=True,
                refresh_per_second=4,
                get_renderable=self._render,
            )
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hide the live line while the admin reads a table or answers a question."""
        if self._live is None:
            yield
            return
        self._live.stop()
        try:
            yield
        finally:
            self._live.start()

    def _render(self) -> Spinner:
        from rich.spinner import Spinner

        elapsed = time.monotonic() - self._started
        count = f" {self._done}/{self._total}" if self._total else ""
        text = f"{self._phase}{count} [{elapsed:4.0f}s] {self._current}"
        return Spinner("dots", text=text)

    def step(self, message: str) -> None:
        self._phase, self._current, self._done, self._total = message, "", 0, 0
        if self.enabled and self._live is None:
            self.console.print(f"{message} ...", markup=False)

    def advance(self, done: int, total: int, current: str) -> None:
        self._done, self._total, self._current = done, total, current

    def note(self, message: str) -> None:
        if self.enabled:
            self.console.print(message, markup=False)
