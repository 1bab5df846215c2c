"""The name patterns, defined once: tenants, environments, hosts, emails, setting keys.

Every pattern is a whole-string pattern: use ``fullmatch`` (``match`` with ``$`` accepts a
trailing newline, which then reaches tfvars and config files). Digits are ASCII only
(``\\d`` and ``str.isdigit`` accept superscripts and Arabic-Indic digits).
"""

from __future__ import annotations

import re

# A tenant: a DNS label (it names namespaces, databases, URL prefixes).
TENANT_RE = re.compile(r"[a-z]([a-z0-9-]*[a-z0-9])?")
MAX_TENANT_LENGTH = 20
# An environment: goes into state prefixes and cloud resource names, which limit it.
ENV_RE = re.compile(r"[a-z][a-z0-9-]{0,11}")
# A DNS label: letters, digits and hyphens, not at either end, at most 63 characters.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
# A host name with a top-level domain of letters (what IAM and certificates accept).
HOST_RE = re.compile(rf"(?=.{{1,253}}\Z)(?:{_LABEL}\.)+[a-z]{{2,63}}")
# An email as IAM accepts it, lower-case: dot-separated atoms (no leading, trailing or double
# dot) of at most 64 characters, '@', a host name.
_ATOM = r"[a-z0-9_%+-]+"
EMAIL_LOCAL_RE = re.compile(rf"(?=.{{1,64}}\Z){_ATOM}(?:\.{_ATOM})*")
ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ASCII_NUMBER_RE = re.compile(r"[0-9]+")


def is_host(value: str) -> bool:
    return HOST_RE.fullmatch(value) is not None


def is_email(value: str) -> bool:
    """Whether ``value`` (already lower-case) is an email address IAM accepts."""
    local, at, host = value.rpartition("@")
    return bool(at) and EMAIL_LOCAL_RE.fullmatch(local) is not None and is_host(host)


def ascii_int(value: str) -> int | None:
    """``value`` as a whole number written in ASCII digits, else None."""
    return int(value) if ASCII_NUMBER_RE.fullmatch(value) else None


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: error lines never echo a huge input."""
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= limit else text[: limit - 4] + "...'"
