"""Capture servers: real HTTP(S) servers on an address of 127.0.0.0/8 that record every
request's headers, to see where a token goes.

Each answers ``{}`` (an empty MLflow response) unless a route says otherwise; as an HTTP
proxy it sees absolute URLs and answers them itself, so nothing leaves the machine.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Reply = tuple[int, dict[str, str], bytes]
Route = Callable[[str, str], Reply | None]  # (method, path) -> reply, or None: the default


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]

    def token(self) -> str | None:
        """The bearer token in either header IAP reads, if any."""
        for name in ("Proxy-Authorization", "Authorization"):
            value = self.headers.get(name, "")
            if value.startswith("Bearer "):
                return value.removeprefix("Bearer ")
        return None


@dataclass
class Capture:
    host: str
    routes: list[Route] = field(default_factory=list)
    tls: tuple[Path, Path] | None = None  # certificate, key
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        capture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                capture.seen.append(Seen(self.command, self.path, dict(self.headers.items())))
                reply = None
                for route in capture.routes:
                    reply = route(self.command, self.path)
                    if reply is not None:
                        break
                status, headers, body = reply or (200, {"Content-Type": "application/json"}, b"{}")
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((self.host, 0), Handler)
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}{path}"

    def tokens(self) -> list[str | None]:
        return [seen.token() for seen in self.seen]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def self_signed(folder: Path, ip: str) -> tuple[Path, Path]:
    """A certificate for ``ip`` (and its key), for an https capture server."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / f"{ip}.pem", folder / f"{ip}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
