"""Stand-in for Cloud Run's front end: relays requests to a service, refusing HTTP/1 request
bodies over 32 MiB with 413 as Cloud Run does (mlflow/mlflow#10332). Bodies are streamed,
never held; a chunked body is cut off with 413 once it passes the limit."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support import relay

REQUEST_LIMIT = 32 * 1024 * 1024


class _TooLarge(Exception):
    pass


@dataclass
class CloudRunFront:
    upstream: tuple[str, int]
    limit: int = REQUEST_LIMIT
    refused: list[str] = field(default_factory=list)  # "METHOD path (bytes)" of each 413
    largest: int = 0  # the largest request body relayed
    server: relay.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> CloudRunFront:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _refuse(self, size: int) -> None:
                front.refused.append(f"{self.command} {self.path.partition('?')[0]} ({size})")
                self.close_connection = True
                relay.reply(self, 413, b"Request Entity Too Large", {"Connection": "close"})

            def _capped(self) -> Iterator[bytes]:
                seen = 0
                for data in relay.body_chunks(self):
                    seen += len(data)
                    if seen > front.limit:
                        raise _TooLarge(seen)
                    yield data
                front.largest = max(front.largest, seen)

            def _relay(self) -> None:
                declared = int(self.headers.get("Content-Length") or 0)
                if declared > front.limit:
                    self._refuse(declared)
                    return
                try:
                    relay.forward(self, front.upstream, body=self._capped())
                except _TooLarge as exc:
                    self._refuse(int(str(exc.args[0])))

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

        self.server = relay.serve(Handler)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
