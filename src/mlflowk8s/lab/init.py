"""What `init` writes: the settings (generic and the target's), ``users.yaml``, ``.gitignore``.

Only `init` makes a folder a lab. The target's part (what it asks, what it creates outside
the folder, such as the gcp state bucket) is the target's ``init``; this module does the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from mlflowk8s.errors import Interrupted, MlflowK8sError, OperationError, UsageError
from mlflowk8s.fileio import write_atomic
from mlflowk8s.lab import settings as s
from mlflowk8s.lab.init_answers import RecordingPrompt, forget_answers, keep_answers
from mlflowk8s.lab.locks import WORK_DIR_NAME, lab_lock
from mlflowk8s.lab.users import EMPTY_USERS_FILE, USERS_FILE

# The work folder holds plans and rendered inputs; the rest are secrets by convention.
GITIGNORE_LINES = (
    f"{WORK_DIR_NAME}/",
    "client_secret*.json",
    "*.credentials.json",
    "*.tfstate",
    "*.tfstate.backup",
)
GITIGNORE_HEADER = "# mlflowk8s: work folder and secrets stay out of git"


@dataclass
class InitReport:
    target: str
    values: dict[str, str] = field(default_factory=dict)
    changed_files: list[str] = field(default_factory=list)
    changed_outside: bool = False  # e.g. a state bucket created or fixed
    next_step: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.changed_files) or self.changed_outside


def merged_gitignore(existing: str) -> str:
    present = {line.strip() for line in existing.splitlines()}
    missing = [line for line in GITIGNORE_LINES if line not in present]
    if not missing:
        return existing
    prefix = existing if not existing or existing.endswith("\n") else existing + "\n"
    header = [GITIGNORE_HEADER] if GITIGNORE_HEADER not in present else []
    return prefix + "\n".join([*header, *missing]) + "\n"


def init_lab(
    folder: Path,
    target: str | None,
    options: Mapping[str, str | None],
    prompt: Callable[[str, str], str] | None,
    say: Callable[[str], None],
    busy: Callable[[str], AbstractContextManager[object]],
) -> InitReport:
    """Make ``folder`` a lab, or bring it up to date; ``options`` are the target's, by name."""
    from mlflowk8s.targets import target_class

    existing = s.load_settings(folder) if folder.is_dir() else s.Settings(folder / s.ENV_FILE)
    values = {k: v for k, v in existing.values.items() if v}
    name = target or existing.target
    s.validate_setting(s.TARGET, name)
    if name != existing.target:
        refuse_target_change(folder, existing.target, name)
    values = {s.TARGET: name, **values}  # explicit in .env, so the admin sees it
    values[s.TARGET] = name
    cls = target_class(name)
    recording = RecordingPrompt(prompt) if prompt is not None else None
    try:
        values = cls.init.settings(values, options, recording, existing.path)
        report = InitReport(target=name, values=values)
        report.changed_outside = cls.init.prepare(values, say, busy)
    except MlflowK8sError as exc:
        if recording is None or not recording.answers:
            raise
        raise _answers_kept(exc, folder, recording.answers) from exc
    write_lab_files(folder, values, report)
    forget_answers(folder)
    if report.changed:
        report.next_step = cls.init.next_step(values)
    return report


def _answers_kept(exc: MlflowK8sError, folder: Path, answers: dict[str, str]) -> MlflowK8sError:
    """``exc``, saying that the typed answers are kept and what `init` has left to do.

    Same exit code: bad input stays a usage error, a failed check an operation error.
    """
    if isinstance(exc, Interrupted):
        keep_answers(folder, answers)
        return exc
    path = keep_answers(folder, answers)
    shown = path.relative_to(folder) if path.is_relative_to(folder) else path
    kind = UsageError if isinstance(exc, UsageError) else OperationError
    return kind(
        f"{exc}. Your answers ({', '.join(answers)}) are kept in {shown} and nothing else "
        "was written (no state bucket, no .env yet): once that is fixed, run `mlflowk8s init` "
        "again, it offers them as defaults"
    )


def environments_with_state(folder: Path) -> list[str]:
    """The environments whose work folder holds anything (inputs, plans, Terraform's data,
    a local lab's servers): what a target change would leave behind."""
    work = folder / WORK_DIR_NAME
    if not work.is_dir():
        return []
    return sorted(env.name for env in work.iterdir() if env.is_dir() and any(env.iterdir()))


def refuse_target_change(folder: Path, current: str, wanted: str) -> None:
    used = environments_with_state(folder)
    if used:
        raise UsageError(
            f"environment {', '.join(used)} of this lab has state of the {current} target: "
            f"to change the target to {wanted}, `mlflowk8s destroy --delete-data` and remove "
            f"{WORK_DIR_NAME}/ first, or init another folder"
        )


def write_lab_files(folder: Path, values: dict[str, str], report: InitReport) -> None:
    """Write .env, users.yaml (only when absent) and .gitignore under the lab lock."""
    folder.mkdir(parents=True, exist_ok=True)
    with lab_lock(folder):
        settings = s.load_settings(folder)
        updates = {k: v for k, v in values.items() if settings.values.get(k) != v}
        if updates and s.save_settings(settings, updates):
            report.changed_files.append(s.ENV_FILE)
        users_path = folder / USERS_FILE
        if not users_path.exists():
            write_atomic(users_path, EMPTY_USERS_FILE)
            report.changed_files.append(USERS_FILE)
        gitignore = folder / ".gitignore"
        try:
            existing = gitignore.read_text(encoding="utf-8")
        except FileNotFoundError:
            existing = ""
        if write_atomic(gitignore, merged_gitignore(existing)):
            report.changed_files.append(".gitignore")
