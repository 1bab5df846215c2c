"""Plan, confirm, apply: one root at a time, from saved plans, with retries that re-plan.

A saved plan is stale after a partial apply, so a retry plans again; a new plan that only
finishes what the failed run started goes on, one that touches more is shown and asked for
(``approve``), or the run stops. The same after a platform change: the caller plans the
dependent root again and asks for the changes the admin has not seen
(:meth:`Rollout.confirm_unseen`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlflowk8s.errors import OperationError
from mlflowk8s.progress import Progress
from mlflowk8s.terraform.events import ApplyProgress
from mlflowk8s.terraform.results import PlannedChange
from mlflowk8s.terraform.retry import RETRIES, retrying
from mlflowk8s.terraform.workspace import Workspace

# Shown changes and a question: (root, every change of the new plan, why it is asked).
Approve = Callable[[str, list[PlannedChange], str], bool]


@dataclass
class RootPlan:
    """A root's saved plan (``path`` None: nothing to change) and what it changes."""

    root: str
    path: Path | None = None
    changes: list[PlannedChange] = field(default_factory=list)

    def discard(self) -> None:
        """A saved plan holds every input value, secrets too: it never outlives its use."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def steps(changes: Sequence[PlannedChange]) -> int:
    """How many apply steps a plan takes (a replacement is a delete and a create)."""
    return sum(2 if c.action == "replace" else 1 for c in changes)


def relevant(changes: Sequence[PlannedChange]) -> list[PlannedChange]:
    return [c for c in changes if c.action not in ("noop", "read")]


class Rollout:
    """Plans and applies the roots of a :class:`Workspace`, telling ``progress``."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    @property
    def progress(self) -> Progress:
        return self.workspace.progress

    def plan(
        self,
        root: str,
        var_files: Sequence[Path],
        variables: Mapping[str, str] | None = None,
        targets: Sequence[str] = (),
        destroy: bool = False,
        announce: bool = True,
        retries: int = RETRIES,
        label: str = "",
    ) -> RootPlan:
        """Plan one root into its saved plan file (none kept when nothing changes)."""
        tf = self.workspace.root(root)
        out = self.workspace.work / f"{root.replace('/', '-')}.tfplan"
        verb = "planning the removal of" if destroy else "planning"
        phase = f"planning {root}: {label}" if label else f"{verb} {root}"

        def attempt(number: int) -> list[PlannedChange]:
            if announce or number:
                self.progress.step(phase)
            follow = ApplyProgress(self.progress.advance)
            result = tf.plan(out, var_files, variables, targets, destroy, on_event=follow)
            return relevant(result.changes)

        changes = retrying(root, attempt, self.progress.note, retries)
        if not changes:
            out.unlink(missing_ok=True)  # nothing to apply; it holds every input all the same
            return RootPlan(root, None, changes)
        return RootPlan(root, out, changes)

    def apply(
        self,
        plan: RootPlan,
        replan: Callable[[], RootPlan],
        label: str = "",
        approve: Approve | None = None,
    ) -> None:
        """Apply a saved plan; a retry after a transient error plans again first."""
        root = plan.root
        tf = self.workspace.root(root)
        phase = f"applying {root}{': ' + label if label else ''}"
        shown = {c.address for c in plan.changes}

        def attempt(number: int) -> None:
            current = plan
            if number:
                current = replan()
                self.confirm_unseen(
                    current, [c for c in current.changes if c.address not in shown], approve,
                    why=f"{root}: planning again after the error found changes "
                    "the confirmed plan did not show:",
                    refused="nothing more was applied; run apply again",
                )  # fmt: skip
            if current.path is None:
                return
            self.progress.step(phase)
            try:
                follow = ApplyProgress(self.progress.advance, steps(current.changes))
                tf.apply(current.path, on_event=follow)
            finally:
                current.discard()  # applied or stale either way

        retrying(root, attempt, self.progress.note)

    @staticmethod
    def confirm_unseen(
        plan: RootPlan,
        unseen: list[PlannedChange],
        approve: Approve | None,
        why: str,
        refused: str,
    ) -> None:
        """Changes the admin did not confirm: shown and asked for, or the run stops."""
        if plan.path is None or not unseen:
            return
        if approve is None or not approve(plan.root, plan.changes, why):
            plan.discard()
            listed = ", ".join(c.address for c in unseen[:3]) + (", ..." if len(unseen) > 3 else "")
            raise OperationError(f"{plan.root}: not confirmed ({listed}): {refused}")

    def plan_and_apply(
        self,
        root: str,
        var_files: Sequence[Path],
        variables: Mapping[str, str] | None = None,
        targets: Sequence[str] = (),
        destroy: bool = False,
        label: str = "",
    ) -> list[PlannedChange]:
        def replan() -> RootPlan:
            return self.plan(root, var_files, variables, targets, destroy, label=label)

        plan = replan()
        if plan.path is not None:
            self.apply(plan, replan, label=label)
        return plan.changes
