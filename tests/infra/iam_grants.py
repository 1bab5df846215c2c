"""Who may sign as whom, read from the state an apply run of `terraform test -verbose` prints.

A tenant's server signs its storage URLs as its own service account (IAM Credentials
signBlob), which needs ``roles/iam.serviceAccountTokenCreator`` on that account. The same
role on the project (or a folder or the organization) would let every tenant sign as every
other, and as the DB admin: these helpers hold every root to "on itself, for itself".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TOKEN_CREATOR = "roles/iam.serviceAccountTokenCreator"
# The one way a root may grant it: one member on one service account (checked to be itself).
SELF_GRANT_TYPE = "google_service_account_iam_member"

_BLOCK_RE = re.compile(
    r'^# (?P<address>\S+):\nresource "(?P<type>[a-z0-9_]+)" "[^"]+" \{\n(?P<body>.*?)^\}',
    re.MULTILINE | re.DOTALL,
)
_ATTR_RE = re.compile(r'^    (?P<name>[a-z0-9_]+)\s+= "(?P<value>(?:[^"\\]|\\.)*)"$', re.MULTILINE)


@dataclass(frozen=True)
class Block:
    address: str
    type: str
    attrs: dict[str, str]  # the top-level string attributes
    body: str


def state_blocks(text: str) -> list[Block]:
    """Every resource of the state printed in ``text`` (one run's section)."""
    return [
        Block(m["address"], m["type"], dict(_ATTR_RE.findall(m["body"])), m["body"])
        for m in _BLOCK_RE.finditer(text)
    ]


def other_token_creator_grants(blocks: list[Block]) -> list[str]:
    """IAM naming the Token Creator role other than one member on one service account: on
    the project, a folder or the organization (every account), or a binding or policy."""
    return [b.address for b in blocks if b.type != SELF_GRANT_TYPE and TOKEN_CREATOR in b.body]


def self_signing_grants(blocks: list[Block]) -> dict[str, str]:
    """Token Creator grants on service accounts: address -> the account they are on.

    Fails on any grant whose member is not the very account it is granted on.
    """
    accounts = {b.attrs["name"]: b for b in blocks if b.type == "google_service_account"}
    grants = {}
    for block in blocks:
        if block.type != SELF_GRANT_TYPE:
            continue
        if block.attrs.get("role") != TOKEN_CREATOR:
            continue
        account = accounts.get(block.attrs["service_account_id"])
        assert account is not None, f"{block.address} is on no service account of this state"
        # The account's own member attribute, or the serviceAccount:EMAIL built from it.
        itself = {account.attrs.get("member"), f"serviceAccount:{account.attrs.get('email')}"}
        assert block.attrs["member"] in itself, (
            f"{block.address}: {block.attrs['member']} may sign as {account.address}, "
            "which is not itself"
        )
        grants[block.address] = account.address
    return grants
