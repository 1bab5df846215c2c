"""The lab's users, kept in ``users.yaml``.

The file is edited round-trip (ruamel.yaml), so hand-written comments and key order survive
every rewrite. Shape::

    users:
      alice:
        members: [user:alice@lab.org]
      bob:
        members: [group:bob-team@lab.org]
        retired: true
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflowk8s.errors import ConfigFileError, UsageError
from mlflowk8s.fileio import write_atomic
from mlflowk8s.lab.locks import WORK_DIR_NAME
from mlflowk8s.lab.strict_yaml import Refused, round_trip_yaml, strict_yaml
from mlflowk8s.names import MAX_TENANT_LENGTH, TENANT_RE, is_email, is_host, shown

USERS_FILE = "users.yaml"
EMPTY_USERS_FILE = (
    "# The lab's users: `mlflowk8s add-user NAME --member EMAIL` edits this file.\nusers: {}\n"
)

NAME_RE = TENANT_RE
MAX_NAME_LENGTH = MAX_TENANT_LENGTH
# Paths the MLflow server serves at its root, and names the cluster itself uses.
RESERVED_NAMES = frozenset(
    {"api", "ajax-api", "static-files", "health", "version", "metrics", "default"}
)
RESERVED_PREFIXES = ("kube-", "goog")
MEMBER_KINDS = ("user", "group", "serviceAccount", "domain")
# YAML 1.1 read these as booleans, YAML 1.2 (ours) as text: refused, never guessed.
YAML11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n"})
# Limits of the file: one IAM policy holds 1,500 principals anyway, and a bigger file makes
# every edit slow (each one parses and rewrites it all under the lab lock).
MAX_USERS = 2000
MAX_FILE_BYTES = 1 << 20


def validate_name(name: str) -> str:
    """Return ``name`` if it can name a tenant, else raise :class:`UsageError`."""
    if not 1 <= len(name) <= MAX_NAME_LENGTH or not NAME_RE.fullmatch(name):
        raise UsageError(
            f"invalid user name {shown(name)}: use 1 to {MAX_NAME_LENGTH} lower-case letters, "
            "digits and '-', starting with a letter and not ending with '-'"
        )
    if name in RESERVED_NAMES or name.startswith(RESERVED_PREFIXES):
        raise UsageError(
            f"user name {name!r} is reserved (used by the MLflow server or the cluster)"
        )
    return name


def normalize_member(member: str) -> str:
    """Return the canonical ``kind:value`` form of a member; a bare email means ``user:``.

    The value is stored lower-case: IAM compares emails and domains without case, so
    ``user:ALICE@LAB.ORG`` and ``user:alice@lab.org`` are one member.
    """
    text = member.strip()
    kind, sep, value = text.partition(":")
    if not sep:
        kind, value = "user", text
    if kind not in MEMBER_KINDS:
        raise UsageError(
            f"invalid member {shown(member)}: use {', '.join(k + ':' for k in MEMBER_KINDS)} "
            "followed by an email (or a domain for domain:), or a bare email"
        )
    value = value.lower()
    if not (is_host(value) if kind == "domain" else is_email(value)):
        what = (
            "a domain" if kind == "domain"
            else "an email address (at most 64 characters before '@', a domain after it)"
        )  # fmt: skip
        raise UsageError(f"invalid member {shown(member)}: {shown(value)} is not {what}")
    return f"{kind}:{value}"


@dataclass(frozen=True)
class User:
    name: str
    members: tuple[str, ...]
    retired: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "members": list(self.members), "retired": self.retired}


class UsersFile:
    """A loaded ``users.yaml`` with validated edits; :meth:`save` writes it atomically."""

    def __init__(self, path: Path, document: Any, editable: bool) -> None:
        self.path = path
        self._doc = document
        self._editable = editable

    # -- reading -------------------------------------------------------------------
    @property
    def _users(self) -> Any:
        return self._doc["users"] or {}

    def _editing(self) -> Any:
        if not self._editable:
            raise TypeError("users file was loaded read-only")
        return self._doc["users"]

    def _entry(self, name: str) -> Any:
        """The user's mapping, ready to edit (a bare ``alice:`` becomes a mapping)."""
        from ruamel.yaml.comments import CommentedMap

        users = self._editing()
        if users[name] is None:
            users[name] = CommentedMap()
        return users[name]

    def all_users(self) -> list[User]:
        return [self._user(name) for name in self._users]

    def active_users(self) -> list[User]:
        return [user for user in self.all_users() if not user.retired]

    def get(self, name: str) -> User:
        if name not in self._users:
            raise UsageError(f"no user {name!r} in {self.path}")
        return self._user(name)

    def _user(self, name: str) -> User:
        entry = self._users[name] or {}
        return User(
            name=name,
            # A hand-written bare email is a user: (as on the command line).
            members=tuple(_unique(normalize_member(str(m)) for m in entry.get("members") or ())),
            retired=bool(entry.get("retired", False)),
        )

    # -- editing -------------------------------------------------------------------
    def add(self, name: str, members: list[str]) -> str:
        """Add a user, or bring back a retired one; returns what happened."""
        from ruamel.yaml.comments import CommentedMap

        validate_name(name)
        normalized = _unique(normalize_member(m) for m in members)
        if name in self._users:
            user = self._user(name)
            if not user.retired:
                raise UsageError(f"user {name!r} already exists in {self.path}")
            entry = self._entry(name)
            entry.pop("retired", None)
            existing = entry.setdefault("members", [])
            existing.extend(m for m in normalized if m not in user.members)
            return "restored"
        if len(self._users) >= MAX_USERS:
            raise UsageError(
                f"{self.path} already holds {MAX_USERS} users, the most it may: one IAM policy "
                "holds 1,500 principals; retire and purge users (`mlflowk8s remove-user NAME "
                "--purge`), or split the lab"
            )
        entry = CommentedMap()
        entry["members"] = _flow_list(normalized)
        self._editing()[name] = entry
        return "added"

    def retire(self, name: str) -> bool:
        """Mark a user retired; returns False when it already was."""
        user = self.get(name)
        if user.retired:
            return False
        self._entry(name)["retired"] = True
        return True

    def purge(self, name: str) -> None:
        self.get(name)
        del self._editing()[name]

    def grant(self, name: str, member: str) -> bool:
        user = self.get(name)
        normalized = normalize_member(member)
        if normalized in user.members:
            return False
        entry = self._entry(name)
        if entry.get("members") is None:
            entry["members"] = _flow_list([])
        entry["members"].append(normalized)
        return True

    def revoke(self, name: str, member: str) -> None:
        user = self.get(name)
        normalized = normalize_member(member)
        if normalized not in user.members:
            raise UsageError(f"{normalized} is not a member of {name!r}")
        members = self._entry(name)["members"]
        for written in [m for m in members if normalize_member(str(m)) == normalized]:
            members.remove(written)

    # -- writing -------------------------------------------------------------------
    def dumps(self) -> str:
        stream = io.StringIO()
        round_trip_yaml().dump(self._doc, stream)
        return stream.getvalue()

    def save(self) -> bool:
        """Write the file atomically; call under the lab lock.

        A symlinked users.yaml (kept in another repository, say) stays a symlink: its
        target is what is rewritten.
        """
        text = self.dumps()
        if len(text.encode()) > MAX_FILE_BYTES:
            raise UsageError(f"{self.path} would grow past {_TOO_BIG}; nothing was changed")
        return write_atomic(Path(os.path.realpath(self.path)), text)


def _unique(items: Any) -> list[str]:
    return list(dict.fromkeys(items))


def _flow_list(items: list[str]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


_TOO_BIG = f"{MAX_FILE_BYTES // (1 << 20)} MiB"


def parse_users(path: Path, text: str, editable: bool = True) -> UsersFile:
    """Parse and validate the text of a users file: the one reader, for every command.

    Round-trip ruamel.yaml (YAML 1.2) for reads and edits alike, so every command reads the
    same values and knows each one's line. Error lines never quote more than a few words.
    """
    from ruamel.yaml.composer import MaxDepthExceededError
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    size = len(text.encode())
    if size > MAX_FILE_BYTES:
        raise ConfigFileError(
            path, f"is {size:,} bytes, more than the {_TOO_BIG} a users file may hold (at most "
            f"{MAX_USERS} users: one IAM policy holds 1,500 principals)",
        )  # fmt: skip
    try:
        doc = strict_yaml().load(text)
    except Refused as exc:
        raise ConfigFileError(path, str(exc), line=exc.line) from exc
    except MaxDepthExceededError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ConfigFileError(path, "nested deeper than a users file ever is", line=line) from exc
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problem = shown(exc.problem, 80).strip("'\"")
        raise ConfigFileError(path, f"not valid YAML ({problem})", line=line) from exc
    except YAMLError as exc:
        raise ConfigFileError(path, f"not valid YAML ({shown(exc, 80)})") from exc
    if doc is None:
        doc = round_trip_yaml().load("users: {}\n")
    _validate(path, doc)
    if doc["users"] is None:
        from ruamel.yaml.comments import CommentedMap

        doc["users"] = CommentedMap()
    return UsersFile(path, doc, editable=editable)


def _validate(path: Path, doc: Any) -> None:
    if not isinstance(doc, dict) or "users" not in doc:
        raise ConfigFileError(path, "must be a mapping with a top-level 'users:' key", line=1)
    if doc["users"] is None:
        return
    if not isinstance(doc["users"], dict):
        raise ConfigFileError(
            path, "'users:' must map user names to settings", line=_line(doc, "users")
        )
    if len(doc["users"]) > MAX_USERS:
        raise ConfigFileError(
            path, f"holds {len(doc['users'])} users, more than the {MAX_USERS} a lab may have "
            "(one IAM policy holds 1,500 principals): split the lab", line=_line(doc, "users"),
        )  # fmt: skip
    for name, entry in doc["users"].items():
        try:
            _validate_entry(name, entry)
        except Refused as exc:
            raise ConfigFileError(path, str(exc), line=exc.line) from exc
        except UsageError as exc:
            raise ConfigFileError(path, str(exc), line=_line(doc["users"], name)) from exc
        retired = entry.get("retired", False) if isinstance(entry, dict) else False
        if not isinstance(retired, bool):
            raise ConfigFileError(path, _not_a_boolean(f"retired of {name!r}", retired),
                                  line=_line(entry, "retired"))  # fmt: skip


def _validate_entry(name: object, entry: object) -> None:
    if not isinstance(name, str):
        raise UsageError(f"user name {shown(name)} must be text, not a {type(name).__name__}")
    validate_name(name)
    if entry is None:
        return
    if not isinstance(entry, dict):
        raise UsageError(f"user {name!r} must be a mapping (members:, retired:)")
    unknown = set(entry) - {"members", "retired"}
    if unknown:
        keys = ", ".join(sorted(map(str, unknown)))
        raise UsageError(f"user {name!r} has unknown keys: {shown(keys).strip(chr(39))}")
    members = entry.get("members") or []
    if not isinstance(members, list):
        raise UsageError(f"members of {name!r} must be a list")
    for index, member in enumerate(members):
        line = _item_line(members, index)
        if not isinstance(member, str):
            # `members: [1, true]` would otherwise become the members '1' and 'True'.
            message = f"member {shown(member)} of {name!r} must be text such as user:EMAIL"
            raise Refused(message, line) if line else UsageError(message)
        try:
            normalize_member(member)
        except UsageError as exc:
            if line is None:
                raise
            raise Refused(str(exc), line) from exc


def _not_a_boolean(what: str, value: object) -> str:
    if str(value).lower() in YAML11_BOOLEANS:
        # PyYAML and older tools read `yes` as true; we would read it as text: say so.
        return f"{what} is {shown(value)}: YAML 1.1 reads it as a boolean, YAML 1.2 as text; " \
            "write true/false"  # fmt: skip
    return f"{what} must be true or false, not {shown(value)}: write true/false"


def _item_line(sequence: Any, index: int) -> int | None:
    try:
        return int(sequence.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return None


def _line(mapping: Any, key: Any) -> int | None:
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return None


CACHE_FILE = "users.cache.json"


def load_users(lab_dir: Path, editable: bool = False) -> UsersFile:
    """Read ``users.yaml`` from the lab folder; a missing file is an empty lab.

    Read-only loads reuse a validated JSON copy in the work folder while the file's content
    is unchanged (its SHA-256 is the key): importing and running a YAML parser is most of a
    large lab's `users` time.
    """
    path = lab_dir / USERS_FILE
    try:
        raw = path.read_bytes()
        key = hashlib.sha256(raw).hexdigest()
        if not editable and (cached := _read_cache(lab_dir, key)) is not None:
            return UsersFile(path, cached, editable=False)
        text = raw.decode("utf-8")
    except FileNotFoundError:
        return parse_users(path, EMPTY_USERS_FILE, editable)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(path, f"cannot be read ({exc.__class__.__name__})") from exc
    users = parse_users(path, text, editable)
    if not editable:
        _write_cache(lab_dir, key, users._doc)
    return users


def _cache_path(lab_dir: Path) -> Path:
    return lab_dir / WORK_DIR_NAME / CACHE_FILE


def _read_cache(lab_dir: Path, key: str) -> Any:
    import json

    try:
        data = json.loads(_cache_path(lab_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return data.get("document")


def _write_cache(lab_dir: Path, key: str, document: Any) -> None:
    import json

    # Only a cache: when it cannot be written, the next read parses the YAML again.
    with contextlib.suppress(OSError, TypeError, ValueError):
        write_atomic(_cache_path(lab_dir), json.dumps({"key": key, "document": document}))
