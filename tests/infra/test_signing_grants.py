"""Every Terraform file of infra/: Token Creator only on a tenant's own service account.

The state-level checks (tests/infra/iam_grants.py, on the roots' `terraform test` runs) see
what the mocked roots apply; this reads the configuration itself, so a grant in a run the
tests do not apply, or a role spelled in a local or a variable, is caught too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2

from tests.infra.conftest import INFRA
from tests.infra.iam_grants import SELF_GRANT_TYPE, TOKEN_CREATOR

# Signing permissions a custom role could hold instead of the predefined role.
SIGNING = ("signBlob", "signJwt", "getAccessToken", "implicitDelegation")
SIGNING_PERMISSIONS = tuple(f"iam.serviceAccounts.{name}" for name in SIGNING)
# The two grants there are: a GKE tenant's and a Cloud Run tenant's, each on itself.
EXPECTED = {
    ("modules/tenant/signing.tf", "self_signing"),
    ("cloudrun/tenants/signing.tf", "self_signing"),
}


def tf_files() -> list[Path]:
    return sorted(p for p in INFRA.rglob("*.tf") if ".terraform" not in p.parts)


def unquoted(value: str) -> str:
    """python-hcl2 keeps labels and string literals in their quotes."""
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value


def resources(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        parsed = hcl2.load(handle)
    return [
        (unquoted(kind), unquoted(name), body)
        for block in parsed.get("resource", [])
        for kind, named in block.items()
        for name, body in named.items()
    ]


def account_of(reference: str) -> str:
    """``${google_service_account.tenant[each.key].member}``: the account before ``.member``."""
    match = re.fullmatch(r"\$\{(.+)\.(name|member|email|id)\}", reference)
    assert match, f"not a plain reference to a service account attribute: {reference!r}"
    return match.group(1)


def test_the_token_creator_role_is_granted_on_a_tenants_own_account_only() -> None:
    found = set()
    for path in tf_files():
        for kind, name, body in resources(path):
            text = json.dumps(body)
            if TOKEN_CREATOR.removeprefix("roles/") not in text:
                continue
            where = f"infra/{path.relative_to(INFRA)}: {kind}.{name}"
            assert kind == SELF_GRANT_TYPE, f"{where}: only one member on one service account"
            assert unquoted(body["role"]) == TOKEN_CREATOR, where
            on, member = account_of(body["service_account_id"]), account_of(body["member"])
            assert on == member, f"{where}: {member} may sign as {on}, not itself"
            found.add((str(path.relative_to(INFRA)), name))
    assert found == EXPECTED


def test_the_role_is_named_nowhere_else() -> None:
    # Not in a local, a variable's default or a for_each set that a grant could pick up.
    mentions = {
        str(path.relative_to(INFRA)): path.read_text(encoding="utf-8").count(TOKEN_CREATOR)
        for path in tf_files()
    }
    assert {path: n for path, n in mentions.items() if n} == {path: 1 for path, _ in EXPECTED}


def test_no_custom_role_holds_signing_permissions() -> None:
    for path in tf_files():
        text = path.read_text(encoding="utf-8")
        for permission in SIGNING_PERMISSIONS:
            assert permission not in text, f"infra/{path.relative_to(INFRA)} names {permission}"
