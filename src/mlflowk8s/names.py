"""The name patterns, defined once: tenants, environments, hosts, emails, setting keys."""

from __future__ import annotations

import re

# A tenant: a DNS label (it names namespaces, databases, URL prefixes).
TENANT_RE = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
MAX_TENANT_LENGTH = 20
# An environment: goes into state prefixes and cloud resource names, which limit it.
ENV_RE = re.compile(r"[a-z][a-z0-9-]{0,11}")  # whole string: use fullmatch
HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+\.)+[A-Za-z]{2,63}$")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
