"""A real PostgreSQL server in a temporary folder, on a free port of 127.0.0.1.

Uses the Debian server binaries (/usr/lib/postgresql/*/bin); as root, the server runs as
``nobody`` (PostgreSQL refuses root). Local TCP connections are trusted: that stands in
for the Cloud SQL Auth Proxy's IAM sign-in, which needs no password either.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def server_binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        raise RuntimeError(
            "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin: "
            "install Debian's postgresql package (.ci/run does)"
        )
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Postgres:
    port: int
    psql: Path

    def sql(self, statement: str, user: str = "postgres", dbname: str = "postgres") -> str:
        """Run SQL with psql; raises CalledProcessError (stderr kept) when it fails."""
        proc = subprocess.run(
            [str(self.psql), "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", dbname,
             "-v", "ON_ERROR_STOP=1", "-At", "-c", statement],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return proc.stdout.strip()


@contextmanager
def postgres() -> Iterator[Postgres]:
    """Start a server in a fresh folder under the system's temp dir; remove it afterwards.

    Its own folder, not pytest's: as root the server runs as ``nobody``, which cannot
    enter pytest's private (0700) folders.
    """
    bin_dir = server_binaries()
    as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="mlflowk8s-pg-"))
    try:
        with _server(bin_dir, folder, as_user) as db:
            yield db
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _server(bin_dir: Path, folder: Path, as_user: list[str]) -> Iterator[Postgres]:
    data, sockets = folder / "data", folder / "sockets"
    data.mkdir()
    sockets.mkdir()
    if as_user:
        for path in (folder, data, sockets):
            shutil.chown(path, "nobody")
    initdb = subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
         "--auth=trust", "--no-sync", "-E", "UTF8"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if initdb.returncode != 0:
        raise RuntimeError(f"initdb failed: {initdb.stdout}{initdb.stderr}")
    port = free_port()
    log = (folder / "postgres.log").open("w")
    server = subprocess.Popen(
        [*as_user, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
         "-h", "127.0.0.1", "-k", str(sockets), "-c", "fsync=off"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    db = Postgres(port=port, psql=bin_dir / "psql")
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                db.sql("SELECT 1")
                break
            except subprocess.CalledProcessError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL did not start: {(folder / 'postgres.log').read_text()}"
                    ) from None
                time.sleep(0.2)
        yield db
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
