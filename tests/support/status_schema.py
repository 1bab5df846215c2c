"""The one schema of `status --json`, the same for every target: each target's test runs its
output through :func:`check`."""

from __future__ import annotations

import re
from typing import Any

# Every tenant carries exactly these, whichever target it runs on.
TENANT_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "url": (str,),
    "members": (list,),
    "state": (str,),
    "healthy": (bool, type(None)),
    "health_note": (str, type(None)),
    "mlflow_version": (str, type(None)),
}
_VERSION = re.compile(r"\d+\.\d+\.\d+\S*")


def check(data: Any) -> dict[str, dict[str, Any]]:
    """``data`` is `status --json` output of the one schema; its tenants by name."""
    assert isinstance(data, dict) and set(data) == {"tenants", "facts"}, data
    assert isinstance(data["facts"], dict)
    by_name: dict[str, dict[str, Any]] = {}
    for tenant in data["tenants"]:
        assert set(tenant) == set(TENANT_FIELDS), tenant
        for field, types in TENANT_FIELDS.items():
            assert isinstance(tenant[field], types), (field, tenant)
        assert all(isinstance(member, str) for member in tenant["members"]), tenant
        version = tenant["mlflow_version"]
        assert version is None or _VERSION.fullmatch(version), tenant
        if tenant["state"].startswith("retired"):
            assert version is None, tenant  # no server, no version
        by_name[tenant["name"]] = tenant
    return by_name
