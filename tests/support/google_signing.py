"""Stand-ins for the Google APIs behind keyless signed URLs, on 127.0.0.1.

* :class:`Google` — the metadata server a Cloud Run or GKE workload gets its identity and
  access tokens from (``GCE_METADATA_HOST``), and the IAM Credentials ``signBlob`` method
  (``MLFLOWK8S_IAM_CREDENTIALS_ENDPOINT``), which signs with a local RSA key, only as the
  workload's own service account and only with a token it issued.
* :class:`StorageGate` — Cloud Storage's XML API in front of fake-gcs-server, which has no
  XML multipart upload (``POST ?uploads``, ``PUT ?partNumber&uploadId``, ``POST ?uploadId``,
  ``DELETE ?uploadId`` all answer 400/404) and accepts any signature. The gate checks every
  V4 signature (recomputed from the request as received, verified with the stand-in's
  public key, expiry included), keeps upload parts on disk and composes them into the
  object through fake-gcs-server's JSON API; every other request is relayed unchanged.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
import shutil
import tempfile
import threading
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.support import relay

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


@dataclass
class Google:
    """Metadata server and IAM Credentials for one workload identity, ``email``."""

    email: str
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 2048))
    tokens: set[str] = field(default_factory=set)
    signed: list[bytes] = field(default_factory=list)  # every payload signed, in order
    refused: list[str] = field(default_factory=list)  # every signBlob refused, and why
    server: relay.Server | None = None

    @property
    def address(self) -> str:
        assert self.server is not None
        return f"127.0.0.1:{self.server.server_address[1]}"

    @property
    def endpoint(self) -> str:
        return f"http://{self.address}"

    def env(self) -> dict[str, str]:
        """What points google-auth's metadata lookups and the launcher's signing here."""
        return {"GCE_METADATA_HOST": self.address, "GCE_METADATA_IP": self.address,
                "MLFLOWK8S_IAM_CREDENTIALS_ENDPOINT": self.endpoint}  # fmt: skip

    def verify(self, payload: bytes, signature: bytes) -> bool:
        try:
            self.key.public_key().verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    def start(self) -> Google:
        google = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                meta = {"Metadata-Flavor": "Google", "Content-Type": "text/plain"}
                if self.headers.get("Metadata-Flavor") != "Google":
                    relay.reply(self, 403, b"missing Metadata-Flavor", meta)
                    return
                account = "/computeMetadata/v1/instance/service-accounts/default/"
                if path in ("/", ""):
                    relay.reply(self, 200, b"", meta)
                elif path == account:
                    scopes = ["https://www.googleapis.com/auth/cloud-platform"]
                    info = {"email": google.email, "aliases": ["default"], "scopes": scopes}
                    relay.reply(self, 200, json.dumps(info).encode(),
                                {**meta, "Content-Type": "application/json"})  # fmt: skip
                elif path == account + "email":
                    relay.reply(self, 200, google.email.encode(), meta)
                elif path == account + "token":
                    token = "ya29.standin-" + secrets.token_urlsafe(16)
                    google.tokens.add(token)
                    body = {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
                    relay.reply(self, 200, json.dumps(body).encode(),
                                {**meta, "Content-Type": "application/json"})  # fmt: skip
                elif path == "/computeMetadata/v1/project/project-id":
                    relay.reply(self, 200, b"standin-project", meta)
                elif path == "/computeMetadata/v1/universe/universe-domain":
                    relay.reply(self, 200, b"googleapis.com", meta)
                else:
                    relay.reply(self, 404, b"", meta)

            def do_POST(self) -> None:
                body = b"".join(relay.body_chunks(self))
                path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
                prefix, suffix = "/v1/projects/-/serviceAccounts/", ":signBlob"
                if not (path.startswith(prefix) and path.endswith(suffix)):
                    relay.reply(self, 404)
                    return
                account = path[len(prefix) : -len(suffix)]
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token not in google.tokens:
                    google.refused.append("unknown token")
                    relay.reply(self, 401, b'{"error": {"code": 401}}')
                    return
                if account != google.email:  # no Token Creator role on any other account
                    google.refused.append(f"not the caller's own account: {account}")
                    relay.reply(self, 403, b'{"error": {"message": "Permission '
                                b"'iam.serviceAccounts.signBlob' denied\"}}")  # fmt: skip
                    return
                payload = base64.b64decode(json.loads(body)["payload"])
                google.signed.append(payload)
                signature = google.key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
                answer = {"keyId": "standin", "signedBlob": base64.b64encode(signature).decode()}
                relay.reply(self, 200, json.dumps(answer).encode(),
                            {"Content-Type": "application/json"})  # fmt: skip

        self.server = relay.serve(Handler)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="-_.~")


def v4_problem(google: Google, method: str, raw_target: str, headers: Any,
               now: datetime.datetime | None = None) -> str | None:  # fmt: skip
    """Why a V4-signed request is not valid (None: it is), checked from the request as
    received: Cloud Storage's canonical request, the stand-in's key, the expiry."""
    path, _, query = raw_target.partition("?")
    params = urllib.parse.parse_qsl(query, keep_blank_values=True)
    values = dict(params)
    if values.get("X-Goog-Algorithm") != "GOOG4-RSA-SHA256":
        return "not a V4 RSA signature"
    email, _, scope = values.get("X-Goog-Credential", "").partition("/")
    if email != google.email:
        return f"signed as {email!r}"
    signed_at = datetime.datetime.strptime(values["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(
        tzinfo=datetime.UTC
    )
    expires = signed_at + datetime.timedelta(seconds=int(values["X-Goog-Expires"]))
    if (now or datetime.datetime.now(datetime.UTC)) > expires:
        return "expired"
    names = values["X-Goog-SignedHeaders"].split(";")
    canonical_headers = "".join(f"{name}:{str(headers.get(name, '')).strip()}\n" for name in names)
    canonical_query = "&".join(
        f"{_quote(k)}={_quote(v)}" for k, v in sorted(params) if k != "X-Goog-Signature"
    )
    canonical = "\n".join([method, path, canonical_query, canonical_headers,
                           values["X-Goog-SignedHeaders"], "UNSIGNED-PAYLOAD"])  # fmt: skip
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = "\n".join(["GOOG4-RSA-SHA256", values["X-Goog-Date"], scope, digest])
    if not google.verify(to_sign.encode(), bytes.fromhex(values.get("X-Goog-Signature", ""))):
        return "bad signature"
    return None


@dataclass
class Upload:
    bucket: str
    name: str
    content_type: str
    parts: dict[int, Path] = field(default_factory=dict)


@dataclass
class StorageGate:
    """Cloud Storage's XML multipart API and V4 signature checks in front of fake-gcs-server."""

    google: Google
    upstream: tuple[str, int]
    spool: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="gate-")))
    uploads: dict[str, Upload] = field(default_factory=dict)
    signed_requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    rejected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: relay.Server | None = None

    @property
    def endpoint(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def env(self) -> dict[str, str]:
        return {"STORAGE_EMULATOR_HOST": self.endpoint}

    def _compose(self, upload: Upload, numbers: list[int]) -> tuple[int, str]:
        """Upload the parts, in order, as one object through fake-gcs-server's JSON API."""
        host, port = self.upstream
        name = urllib.parse.quote(upload.name, safe="")
        url = (f"http://{host}:{port}/upload/storage/v1/b/{upload.bucket}/o"
               f"?uploadType=media&name={name}")  # fmt: skip
        total = sum(upload.parts[n].stat().st_size for n in numbers)

        def stream() -> Any:
            for number in numbers:
                with upload.parts[number].open("rb") as part:
                    while data := part.read(relay.CHUNK):
                        yield data

        request = urllib.request.Request(url, data=stream(), method="POST", headers={
            "Content-Type": upload.content_type, "Content-Length": str(total)})  # fmt: skip
        with urllib.request.urlopen(request, timeout=600) as response:
            return int(response.status), str(json.load(response).get("etag", ""))

    def start(self) -> StorageGate:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _signature_ok(self) -> bool:
                if "X-Goog-Signature=" not in self.path:
                    return True  # the server's own JSON/XML calls (emulator: no auth)
                problem = v4_problem(gate.google, self.command, self.path, self.headers)
                if problem:
                    gate.rejected.append(f"{self.command} {self.path.partition('?')[0]}: {problem}")
                    for _ in relay.body_chunks(self):
                        pass
                    relay.reply(self, 403, f"<Error>{problem}</Error>".encode())
                    return False
                gate.signed_requests.append((self.command, self.path.partition("?")[0]))
                return True

            def _target(self) -> tuple[str, str, dict[str, str]]:
                path, _, query = self.path.partition("?")
                bucket, _, name = urllib.parse.unquote(path).lstrip("/").partition("/")
                return bucket, name, dict(urllib.parse.parse_qsl(query, keep_blank_values=True))

            def _xml(self, status: int, root: ElementTree.Element) -> None:
                relay.reply(self, status, ElementTree.tostring(root),
                            {"Content-Type": "application/xml"})  # fmt: skip

            def _relay(self) -> None:
                if self._signature_ok():
                    host, port = gate.upstream
                    relay.forward(self, gate.upstream, host=f"{host}:{port}")

            do_GET = do_HEAD = do_PATCH = _relay

            def do_POST(self) -> None:
                bucket, name, query = self._target()
                if "uploads" in query and name:
                    if not self._signature_ok():
                        return
                    for _ in relay.body_chunks(self):
                        pass
                    upload_id = secrets.token_hex(12)
                    (gate.spool / upload_id).mkdir()
                    content_type = self.headers.get("Content-Type", "application/octet-stream")
                    with gate.lock:
                        gate.uploads[upload_id] = Upload(bucket, name, content_type)
                    root = ElementTree.Element(f"{{{S3_NS}}}InitiateMultipartUploadResult")
                    for tag, text in (("Bucket", bucket), ("Key", name), ("UploadId", upload_id)):
                        ElementTree.SubElement(root, f"{{{S3_NS}}}{tag}").text = text
                    self._xml(200, root)
                elif "uploadId" in query and name:
                    if not self._signature_ok():
                        return
                    body = b"".join(relay.body_chunks(self))
                    upload = gate.uploads.get(query["uploadId"])
                    if upload is None or (upload.bucket, upload.name) != (bucket, name):
                        relay.reply(self, 404, b"<Error>NoSuchUpload</Error>")
                        return
                    listed = [int(p.findtext("PartNumber") or 0)
                              for p in ElementTree.fromstring(body).iter("Part")]  # fmt: skip
                    if not listed or any(n not in upload.parts for n in listed):
                        relay.reply(self, 400, b"<Error>InvalidPart</Error>")
                        return
                    status, etag = gate._compose(upload, listed)
                    shutil.rmtree(gate.spool / query["uploadId"], ignore_errors=True)
                    del gate.uploads[query["uploadId"]]
                    root = ElementTree.Element(f"{{{S3_NS}}}CompleteMultipartUploadResult")
                    ElementTree.SubElement(root, f"{{{S3_NS}}}ETag").text = etag
                    self._xml(status, root)
                else:
                    self._relay()

            def do_PUT(self) -> None:
                bucket, name, query = self._target()
                if "uploadId" not in query:
                    self._relay()
                    return
                if not self._signature_ok():
                    return
                upload = gate.uploads.get(query["uploadId"])
                number = int(query.get("partNumber", "0"))
                if (
                    upload is None
                    or (upload.bucket, upload.name) != (bucket, name)
                    or not (1 <= number <= 10_000)
                ):
                    for _ in relay.body_chunks(self):
                        pass
                    relay.reply(self, 404, b"<Error>NoSuchUpload</Error>")
                    return
                path = gate.spool / query["uploadId"] / f"{number:05d}"
                digest = hashlib.md5()
                with path.open("wb") as out:
                    for data in relay.body_chunks(self):
                        digest.update(data)
                        out.write(data)
                upload.parts[number] = path
                relay.reply(self, 200, b"", {"ETag": f'"{digest.hexdigest()}"'})

            def do_DELETE(self) -> None:
                _, _, query = self._target()
                if "uploadId" not in query:
                    self._relay()
                    return
                for _ in relay.body_chunks(self):
                    pass
                with gate.lock:
                    gate.uploads.pop(query["uploadId"], None)
                shutil.rmtree(gate.spool / query["uploadId"], ignore_errors=True)
                relay.reply(self, 204)

        self.server = relay.serve(Handler)
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        shutil.rmtree(self.spool, ignore_errors=True)
