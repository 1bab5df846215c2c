"""Streaming HTTP relay pieces for the stand-ins: read a request body in chunks, forward a
request upstream and its answer back, never holding a whole body in memory."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK = 1024 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}  # fmt: skip


def body_chunks(handler: BaseHTTPRequestHandler) -> Iterator[bytes]:
    """The request's body, chunk by chunk (Content-Length or chunked transfer encoding)."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return
            remaining = size
            while remaining:
                data = handler.rfile.read(min(CHUNK, remaining))
                if not data:
                    raise ConnectionError("request body ended early")
                remaining -= len(data)
                yield data
            handler.rfile.readline()
    remaining = int(handler.headers.get("Content-Length") or 0)
    while remaining:
        data = handler.rfile.read(min(CHUNK, remaining))
        if not data:
            raise ConnectionError("request body ended early")
        remaining -= len(data)
        yield data


def reply(handler: BaseHTTPRequestHandler, status: int, body: bytes = b"",
          headers: dict[str, str] | None = None) -> None:  # fmt: skip
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def forward(handler: BaseHTTPRequestHandler, upstream: tuple[str, int],
            body: Iterator[bytes] | None = None, host: str | None = None) -> None:  # fmt: skip
    """Send the handler's request to ``upstream`` (its body streamed) and stream the answer
    back; ``host`` replaces the Host header when given."""
    connection = http.client.HTTPConnection(*upstream, timeout=600)
    try:
        connection.putrequest(handler.command, handler.path, skip_host=True,
                              skip_accept_encoding=True)  # fmt: skip
        chunked_in = handler.headers.get("Transfer-Encoding", "").lower() == "chunked"
        for name, value in handler.headers.items():
            if name.lower() in HOP_BY_HOP or (name.lower() == "host" and host):
                continue
            connection.putheader(name, value)
        if host:
            connection.putheader("Host", host)
        if chunked_in:
            connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for data in body if body is not None else body_chunks(handler):
            connection.send(b"%x\r\n%s\r\n" % (len(data), data) if chunked_in else data)
        if chunked_in:
            connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        handler.send_response(response.status, response.reason)
        length = response.getheader("Content-Length")
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                handler.send_header(name, value)
        if length is None and handler.command != "HEAD":
            handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        if handler.command == "HEAD":
            return
        while data := response.read(CHUNK):
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if length is None else data)
        if length is None:
            handler.wfile.write(b"0\r\n\r\n")
    finally:
        connection.close()


class Server(ThreadingHTTPServer):
    daemon_threads = True


def serve(handler_class: type[BaseHTTPRequestHandler]) -> Server:
    """Start ``handler_class`` on a free 127.0.0.1 port in a daemon thread."""
    server = Server(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
