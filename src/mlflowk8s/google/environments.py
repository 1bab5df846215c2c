"""What the other environments of a lab hold, read from their state in the state bucket.

Every Google target keeps its roots' state at ``mlflowk8s/<env>/<root>/default.tfstate``
(the ``gcs`` backend's object for the default workspace). An environment's own outputs
are Terraform's to read (``terraform output``); the *other* environments' are read here
from their state objects, without initialising their roots, to keep one environment from
deleting what another one names.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mlflowk8s.errors import OperationError

STATE_PREFIX = "mlflowk8s/"
_PLATFORM_STATE = re.compile(r"^mlflowk8s/(?P<env>[^/]+)/(?P<root>[^/]*platform)/default\.tfstate$")


def platform_output_by_env(client: Any, state_bucket: str, output: str) -> dict[str, Any]:
    """Each environment's value of the platform output ``output`` (absent: not listed)."""
    from google.api_core import exceptions as gexc

    found: dict[str, Any] = {}
    try:
        for blob in client.list_blobs(state_bucket, prefix=STATE_PREFIX):
            match = _PLATFORM_STATE.match(blob.name)
            if match is None:
                continue
            state = json.loads(blob.download_as_bytes())
            value = (state.get("outputs") or {}).get(output, {}).get("value")
            if value is not None:
                found[match["env"]] = value
    except gexc.GoogleAPIError as exc:
        raise OperationError(
            f"cannot read the environments' state in gs://{state_bucket}: "
            f"{exc.__class__.__name__}: {exc}"
        ) from exc
    except ValueError as exc:
        raise OperationError(f"a state object in gs://{state_bucket} is not JSON: {exc}") from exc
    return found
