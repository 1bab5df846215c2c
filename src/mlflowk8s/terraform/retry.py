"""When a failed Terraform run is worth running again, why, and how often.

ONE table of (error pattern, reason shown to the admin). Everything else fails at once.
Google API errors come as "googleapi: Error NNN: message, reason".
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mlflowk8s.errors import OperationError, UsageError
from mlflowk8s.terraform.results import Diagnostic, RunResult, TerraformError, printable

# Base of the backoff in seconds (doubles per retry); tests set it to 0.
DELAY_ENV = "MLFLOWK8S_RETRY_DELAY"
DEFAULT_DELAY = 15.0
RETRIES = 3


@dataclass(frozen=True)
class Retryable:
    pattern: re.Pattern[str]
    reason: str


def _rule(pattern: str, reason: str) -> Retryable:
    return Retryable(re.compile(pattern, re.IGNORECASE), reason)


RETRYABLE: tuple[Retryable, ...] = (
    _rule(r"SERVICE_DISABLED", "an API enabled in this run is still propagating"),
    _rule(
        r"has not been used in project \S+ before or it is disabled",
        "an API enabled in this run is still propagating",
    ),
    _rule(r"operation .{0,80}already in progress", "another operation on the resource runs"),
    _rule(r"incompatible operation", "another operation on the resource runs"),
    _rule(
        r"\bError 409: .{0,200}(?:being modified|concurrent|try again)",
        "the resource is being modified by another operation",
    ),
    _rule(r"\bError (?:429|500|502|503|504)\b", "Google's API is rate-limiting or failing"),
    _rule(
        r"\b(?:backendError|rateLimitExceeded|userRateLimitExceeded|internalError)\b",
        "Google's API is rate-limiting or failing",
    ),
    _rule(r"connection reset by peer", "the network to Google's API dropped"),
    _rule(r"TLS handshake timeout", "the network to Google's API dropped"),
    _rule(r"\bi/o timeout\b", "the network to Google's API dropped"),
    _rule(r"unexpected EOF", "the network to Google's API dropped"),
    _rule(r"http2: server sent GOAWAY", "the network to Google's API dropped"),
    # kubernetes_manifest reads a kind's schema from the cluster at plan time; right after
    # the cluster is created its CRDs (Gateway API, GKE policies) are still being installed
    # (hashicorp/terraform-provider-kubernetes#2474).
    _rule(
        r'no matches for kind "[^"]+" in (?:group|version)',
        "the new cluster is still registering its custom resource kinds",
    ),
)

T = TypeVar("T")


def reason_for(diagnostic: Diagnostic) -> str | None:
    """Why this error is worth a retry, or None."""
    text = f"{diagnostic.summary}\n{diagnostic.detail}"
    return next((rule.reason for rule in RETRYABLE if rule.pattern.search(text)), None)


def is_transient(result: RunResult) -> bool:
    """Whether every error of a failed run matches a retryable pattern."""
    errors = result.errors
    return bool(errors) and all(reason_for(d) is not None for d in errors)


def base_delay() -> float:
    text = os.environ.get(DELAY_ENV, "")
    try:
        delay = float(text) if text else DEFAULT_DELAY
    except ValueError:
        delay = -1.0
    if not 0 <= delay <= 3600:
        raise UsageError(f"{DELAY_ENV}={text!r}: give seconds between 0 and 3600")
    return delay


def retrying(
    root: str, attempt: Callable[[int], T], note: Callable[[str], None], retries: int = RETRIES
) -> T:
    """Run ``attempt(n)``; a retryable Terraform error is retried ``retries`` times."""
    base = base_delay()
    number = 0
    while True:
        try:
            return attempt(number)
        except TerraformError as exc:
            if not exc.transient or not retries:
                raise
            if number >= retries:
                raise OperationError(f"{exc} (still failing after {retries} retries)") from exc
            number += 1
            delay = base * 2 ** (number - 1)
            first = exc.result.errors[0]
            note(
                f"{root}: transient error ({printable(first.summary)}: {reason_for(first)}); "
                f"retry {number}/{RETRIES} in {delay:.0f} s"
            )
            time.sleep(delay)
