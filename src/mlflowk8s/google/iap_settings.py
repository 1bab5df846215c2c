"""The project's IAP settings: which OAuth clients may call IAP programmatically.

``projects/N/iap_web`` holds one settings object per project, shared by every environment
(and every target) of the lab in that project, so no environment's Terraform owns it: the
CLI reads, modifies and writes ``accessSettings.oauthSettings.programmaticClients`` only.

Which environment asked for which client is kept in a small record per environment in the
state bucket, ``mlflowk8s/<env>/iap-programmatic-clients.json``: a client id leaves the
settings only when no other environment's record lists it. (Platform outputs cannot
tell: the clients are not Terraform's, and the targets' roots differ.)
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlflowk8s.errors import OperationError
from mlflowk8s.google_api import IAP, admin_session, endpoint, error_message, request_json

FIELD_MASK = "iapSettings.accessSettings.oauthSettings.programmaticClients"
RECORD = "mlflowk8s/{env}/iap-programmatic-clients.json"
_RECORD_RE = re.compile(r"^mlflowk8s/(?P<env>[^/]+)/iap-programmatic-clients\.json$")


@dataclass(frozen=True)
class IapChange:
    added: list[str]
    removed: list[str]
    # Ids this environment no longer wants but another environment's record still lists.
    kept_for: dict[str, list[str]]


def _url(project_number: str, env: Mapping[str, str]) -> str:
    return f"{endpoint(IAP, env)}/v1/projects/{project_number}/iap_web:iapSettings"


def _failed(what: str, code: int, body: Any) -> OperationError:
    detail = error_message(body)
    return OperationError(
        f"IAP settings of project number {what}: HTTP {code}" + (f": {detail}" if detail else "")
    )


def programmatic_clients(session: Any, project_number: str, env: Mapping[str, str]) -> list[str]:
    code, body = request_json(session, "GET", _url(project_number, env))
    if code != 200:
        raise _failed(project_number, code, body)
    oauth = ((body.get("accessSettings") or {}).get("oauthSettings")) or {}
    return [str(client) for client in oauth.get("programmaticClients", [])]


def _write(session: Any, project_number: str, clients: list[str], env: Mapping[str, str]) -> None:
    name = f"projects/{project_number}/iap_web"
    body = {"name": name, "accessSettings": {"oauthSettings": {"programmaticClients": clients}}}
    code, answer = request_json(
        session, "PATCH", _url(project_number, env), body, params={"updateMask": FIELD_MASK}
    )
    if code != 200:
        raise _failed(project_number, code, answer)


# -- the environments' records in the state bucket -------------------------------------


def _records(storage: Any, state_bucket: str) -> dict[str, tuple[str, set[str]]]:
    """Every environment's record: (project number, client ids)."""
    out: dict[str, tuple[str, set[str]]] = {}
    for blob in storage.list_blobs(state_bucket, prefix="mlflowk8s/"):
        match = _RECORD_RE.match(blob.name)
        if match is None:
            continue
        try:
            data = json.loads(blob.download_as_bytes())
        except ValueError as exc:
            raise OperationError(f"gs://{state_bucket}/{blob.name} is not JSON: {exc}") from exc
        ids = {str(client) for client in data.get("client_ids", [])}
        out[match["env"]] = (str(data.get("project_number")), ids)
    return out


def recorded(storage: Any, state_bucket: str, project_number: str) -> dict[str, set[str]]:
    """Every environment's recorded client ids for this project."""
    return {
        name: ids
        for name, (number, ids) in _records(storage, state_bucket).items()
        if number == project_number
    }


def recorded_project(storage: Any, state_bucket: str, env_name: str) -> str | None:
    """The project number this environment's record is for; None without a record."""
    from google.api_core import exceptions as gexc

    try:
        record = _records(storage, state_bucket).get(env_name)
    except gexc.GoogleAPIError as exc:
        raise OperationError(
            f"cannot read the IAP client records in gs://{state_bucket}: "
            f"{exc.__class__.__name__}: {exc}"
        ) from exc
    return record[0] if record else None


def _record(
    storage: Any, state_bucket: str, env_name: str, project_number: str, ids: Iterable[str]
) -> None:
    blob = storage.bucket(state_bucket).blob(RECORD.format(env=env_name))
    data = {"project_number": project_number, "client_ids": sorted(set(ids))}
    blob.upload_from_string(json.dumps(data, indent=2) + "\n", content_type="application/json")


def _forget(storage: Any, state_bucket: str, env_name: str) -> None:
    from google.api_core import exceptions as gexc

    with contextlib.suppress(gexc.NotFound):  # forgotten already
        storage.bucket(state_bucket).delete_blob(RECORD.format(env=env_name))


def sync_programmatic_clients(
    *,
    storage: Any,
    state_bucket: str,
    env_name: str,
    project_number: str,
    wanted: Iterable[str],
    env: Mapping[str, str],
    session: Any = None,
) -> IapChange:
    """Make the project's allow-list hold ``wanted`` for environment ``env_name``.

    Ids this environment listed before and no longer wants are removed unless another
    environment's record lists them. ``wanted`` empty (``destroy --delete-data``) removes
    the environment's record too. Safe to run again after a failure: the record is
    widened before the settings change and narrowed only after.
    """
    from google.api_core import exceptions as gexc

    session = session or admin_session()
    want = set(wanted)
    try:
        records = recorded(storage, state_bucket, project_number)
        before = records.pop(env_name, set())
        others = set().union(*records.values()) if records else set()
        current = programmatic_clients(session, project_number, env)
        drop = (before - want) - others
        result = [client for client in current if client not in drop]
        result += sorted(want - set(result))
        if before | want != before:
            _record(storage, state_bucket, env_name, project_number, before | want)
        if result != current:
            _write(session, project_number, result, env)
        if want:
            if want != before:
                _record(storage, state_bucket, env_name, project_number, want)
        else:
            _forget(storage, state_bucket, env_name)
    except gexc.GoogleAPIError as exc:
        raise OperationError(
            f"cannot keep the IAP client record in gs://{state_bucket}: "
            f"{exc.__class__.__name__}: {exc}"
        ) from exc
    kept_for = {
        client: sorted(name for name, ids in records.items() if client in ids)
        for client in sorted((before - want) & others)
    }
    return IapChange(
        added=sorted(want - set(current)),
        removed=sorted(set(current) & drop),
        kept_for=kept_for,
    )
