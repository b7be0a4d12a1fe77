"""Rollouts across sites that keep DHCP answering.

Per site, strictly in this order, each step only after the previous one succeeded:

    <site>-shared → <site>-secondary → gate → <site>-primary → gate

Each stack is planned (a saved plan) and that plan applied; a stack whose plan is empty is
skipped without waiting. The gate waits until both members report ``normal`` over OMAPI. It
runs right after the secondary was applied (before the primary is even planned), and also
before a primary change when the secondary had nothing to do (a rerun after an interrupted
rollout must not replace the primary while the rebuilt secondary is still recovering). On a
first deploy the primary has no instance in its state yet, so the gate after the secondary only
waits for the secondary to answer, in any state but in every relationship it has (DHCPv6 too on
a dual-stack site), and says "partner not created yet". A member that does not answer, for
whatever reason (down, a tunnel that did not come up), holds the gate until its timeout; a member
in a hopeless state (Kea's ``terminated``) stops it at once, and one still in a held state at the
timeout (``recover-wait``, ``syncing``, ...) is named in the failure with its recovery
(``operations.HeldWatch``, the backends' ``held_states`` tables). While
it waits, a gate prints what it has seen at least every ``operations.PROGRESS_INTERVAL`` seconds.

Sites run in parallel (threads, up to ``parallel``); the members of one site never do. A failed
step stops its site at once and the others go on. A rerun resumes: finished stacks plan clean.
Once the terraform runner is interrupted (SIGTERM/SIGINT to the command), every site stops at
its current step: the terraform commands running finish their in-flight work and unlock the
state, and no further step starts.

The plan review (``plan_only``) plans the same stacks in the same order and applies nothing. A
member stack reads its shared stack's outputs from that stack's state, so while the shared stack
was never applied its members have nothing to plan against: they are named as waiting for that
apply (not a failure), next to the shared stack's plan.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TextIO

from . import operations
from .apply_records import ApplyRecord, ApplyRecords, RecordError, config_digest
from .backends.isc.omapi import OmapiError
from .config_diff import MemberConfigDiff
from .constructs.naming import member_stack_name, shared_stack_name
from .errors import UserError
from .model import Role, Site
from .terraform import Plan, ResourceChange, Terraform, TerraformFailed

INSTANCE = "aws_instance"
GATE_POLL = 1.0  # seconds between OMAPI reads while a gate waits
STOPPED = "the rollout was asked to stop"


class RolloutInputError(Exception):
    """Input the rollout cannot start with; ``str()`` is the line shown after ``error:``."""


@dataclass(frozen=True)
class StackPlan:
    """What the plan of one stack would do, for the plan review."""

    site: str
    stack: str
    adds: int
    changes: int
    destroys: int
    replacements: tuple[str, ...]
    """In words: ``replaces secondary dhcp-b of site hq: user_data changed``."""
    drift: tuple[str, ...] = ()
    """``rollout --drift``: each resource AWS changed behind terraform's back, in words."""
    config_diffs: tuple[MemberConfigDiff, ...] = ()
    """``--base-inventory``: per replaced member, its rendered files base against head."""


@dataclass(frozen=True)
class NotPlanned:
    """A stack the plan review could not plan, and why."""

    stack: str
    reason: str
    waits_for: str | None = None
    """The stack whose apply it waits for (its shared stack, never applied); None: a failure."""


@dataclass(frozen=True)
class UnchangedStack:
    """A stack ``--changed`` did not plan: its configuration is the one it was last applied from."""

    stack: str
    applied_at: str | None
    drift_checked_at: str | None
    drift_found: bool | None


@dataclass
class Step:
    site: str
    stack: str
    action: str  # init, plan, apply, skip, gate, planned
    result: str  # done, failed, or what the gate saw
    seconds: float
    detail: str = ""


@dataclass
class SiteReport:
    site: str
    status: str = "pending"  # done, failed, planned
    failure: str | None = None
    steps: list[Step] = field(default_factory=list)
    plans: list[StackPlan] = field(default_factory=list)
    unchanged: list[UnchangedStack] = field(default_factory=list)
    """``--changed``: stacks skipped because their apply record matches their configuration."""
    unrecorded: list[str] = field(default_factory=list)
    """``--changed``: stacks planned because they have no apply record to compare with."""
    not_planned: list[NotPlanned] = field(default_factory=list)
    """``--plan-only``: stacks with no plan in the review, each with why."""
    seconds: float = 0.0


Reach = Callable[[], AbstractContextManager[Sequence[operations.Access]]]
"""OMAPI access to a site's members for one poll of a gate (dhcp_failover.rollout_gates)."""


@dataclass(frozen=True)
class Gate:
    """How the gate reaches a site's members (built again at every poll), and how long it waits."""

    reach: Reach
    timeout: float
    progress_every: float = operations.PROGRESS_INTERVAL
    """Seconds between the gate's progress lines while it waits."""


Progress = Callable[[str], None]
ConfigDiffer = Callable[[Site, Role], MemberConfigDiff]
"""A replaced member's rendered files against the base's (dhcp_failover.config_diff)."""


def stack_order(site: str) -> tuple[str, str, str]:
    return shared_stack_name(site), member_stack_name(site, Role.SECONDARY), member_stack_name(site, Role.PRIMARY)


def stack_folders(outdir: Path, sites: Sequence[str]) -> dict[str, Path]:
    """Each site's stack folders in ``outdir``; a missing one is input the rollout refuses."""
    folders = {}
    for site in sites:
        for stack in stack_order(site):
            folder = outdir / "stacks" / stack
            if not (folder / "cdk.tf.json").is_file():
                raise RolloutInputError(f"{folder}: stack {stack} is missing from the synth; synthesize site {site} "
                                        "first (python main.py --sites ...)")
            folders[stack] = folder
    return folders


def stack_role(site: Site, stack: str) -> Role | None:
    """The member a stack deploys; None for the shared stack."""
    return next((r for r in Role if stack == member_stack_name(site.name, r)), None)


def describe_plan(site: Site, stack: str, plan: Plan) -> StackPlan:
    """The plan's tally, and every instance replacement in words with the attributes forcing it."""
    role = stack_role(site, stack)
    replacements = []
    for change in plan.of_type(INSTANCE):
        if not change.replaces:
            continue
        who = f"{role.value} {site.member(role).name}" if role else change.address
        why = ", ".join(f"{path} changed" for path in change.replace_paths) or "replacement requested"
        replacements.append(f"replaces {who} of site {site.name}: {why}")
    return StackPlan(site.name, stack, plan.adds, plan.updates, plan.destroys, tuple(replacements))


class _Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start


class SiteRollout:
    """One site's steps, in order, stopping at the first failure."""

    def __init__(self, site: Site, folders: Mapping[str, Path], terraform: Terraform, *, gate: Gate | None,
                 plan_only: bool, progress: Progress, clock: _Clock, drift: bool = False,
                 changed_only: bool = False, records: ApplyRecords | None = None,
                 config_diff: ConfigDiffer | None = None) -> None:
        self.site, self.folders, self.tf = site, folders, terraform
        self.config_diff = config_diff
        self.gate, self.plan_only, self.drift, self.changed_only = gate, plan_only, drift, changed_only
        self.records = records
        self.progress, self.clock = progress, clock
        self.report = SiteReport(site.name)
        self._known: dict[str, ApplyRecord] = {}

    def run(self) -> SiteReport:
        start = time.monotonic()
        try:
            self._run()
            self.report.status = "planned" if self.plan_only or self.drift else "done"
        except _StepFailed as exc:
            self.report.status, self.report.failure = "failed", str(exc)
        self.report.seconds = round(time.monotonic() - start, 1)
        return self.report

    def _run(self) -> None:
        shared, secondary, primary = stack_order(self.site.name)
        if self.drift:
            for stack in (shared, secondary, primary):
                self._init(stack)
                self._check_drift(stack)
            return
        todo = [stack for stack in (shared, secondary, primary) if not (self.changed_only and self._unchanged(stack))]
        if self.plan_only:
            self._review_all(todo)
            return
        for stack in todo:
            self._init(stack)
        if shared in todo:
            self._plan_and_apply(shared)
        secondary_applied = secondary in todo and self._plan_and_apply(secondary)
        if secondary_applied:
            self._gate(secondary, partner_absent=not self._has_instance(primary))
        if primary not in todo:
            return
        primary_plan = self._plan(primary)
        if primary_plan.empty:
            self._log(primary, "skip", "done", 0.0, "no changes")
            self._record_applied(primary)
            return
        if not secondary_applied:
            self._gate(secondary, partner_absent=not self._has_instance(primary))
        self._apply(primary)
        self._record_applied(primary)
        self._gate(primary, partner_absent=False)

    def _record(self, stack: str) -> ApplyRecord | None:
        """The stack's apply record (None: none yet); an unreadable one is logged and counts as none."""
        if stack in self._known:
            return self._known[stack]
        if self.records is None:
            return None
        try:
            record = self.records.read(self.folders[stack])
        except RecordError as exc:
            self._log(stack, "record", "failed", 0.0, f"{exc}; planned as if never applied")
            record = None
        if record is not None:
            self._known[stack] = record
        return record

    def _write_record(self, stack: str, record: ApplyRecord) -> None:
        if self.records is None:
            return
        try:
            self.records.write(self.folders[stack], record)
        except RecordError as exc:  # the next --changed run plans this stack again: safe, so not a failure
            self._log(stack, "record", "failed", 0.0, f"{exc}; the next --changed run plans this stack")
            return
        self._known[stack] = record

    def _record_applied(self, stack: str) -> None:
        """The stack's state now matches its configuration (applied, or its plan was empty)."""
        if self.records is not None:
            previous = self._record(stack) or ApplyRecord()
            self._write_record(stack, previous.applied(config_digest(self.folders[stack], self.tf.env)))

    def _unchanged(self, stack: str) -> bool:
        """``--changed``: whether the stack's configuration is the one its record says was applied."""
        record = self._record(stack)
        if record is None or record.config is None:
            self.report.unrecorded.append(stack)
            return False
        if record.config != config_digest(self.folders[stack], self.tf.env):
            return False
        self.report.unchanged.append(UnchangedStack(stack, record.applied_at, record.drift_checked_at,
                                                    record.drift_found))
        self._log(stack, "skip", "done", 0.0, f"unchanged since {record.applied_at}; drift last checked "
                  f"{record.drift_checked_at or 'never'}")
        return True

    def _check_drift(self, stack: str) -> None:
        found: list[ResourceChange] = []
        self._step(stack, "drift", lambda: found.extend(self.tf.drift(self.folders[stack])),
                   lambda: f"{len(found)} resource(s) changed outside terraform" if found else "no drift")
        words = tuple(f"`{change.address}` {_drift_words(change.actions)}" for change in found)
        self.report.plans.append(StackPlan(self.site.name, stack, 0, 0, 0, (), drift=words))
        if self.records is not None:
            previous = self._record(stack) or ApplyRecord()
            self._write_record(stack, previous.drift_checked(bool(found)))

    def _log(self, stack: str, action: str, result: str, seconds: float, detail: str = "") -> None:
        step = Step(self.site.name, stack, action, result, round(seconds, 1), detail)
        self.report.steps.append(step)
        text = f"{action} {result}" + (f": {detail}" if detail else "")
        self.progress(f"[{self.clock.elapsed():7.1f} s] {self.site.name:<12} {stack:<24} {text} ({seconds:.1f} s)")

    def _step(self, stack: str, action: str, fn: Callable[[], object], detail: Callable[[], str] = lambda: "") -> None:
        start = time.monotonic()
        try:
            fn()
        except TerraformFailed as exc:
            self._log(stack, action, "failed", time.monotonic() - start, str(exc))
            raise _StepFailed(stack, f"{stack}: {action}: {exc}") from None
        self._log(stack, action, "done", time.monotonic() - start, detail())

    def _init(self, stack: str) -> None:
        ran: list[bool] = []
        self._step(stack, "init", lambda: ran.append(self.tf.init(self.folders[stack])),
                   lambda: "" if ran[0] else "already initialized for this configuration")

    def _has_instance(self, stack: str) -> bool:
        """Whether the member's instance exists: on a first deploy the primary's plan creates it."""
        found: list[str] = []
        self._step(stack, "state", lambda: found.extend(self.tf.resources_in_state(self.folders[stack])),
                   lambda: "instance exists" if _instances(found) else "no instance yet")
        return bool(_instances(found))

    def _plan(self, stack: str, *, describe: bool = False) -> Plan:
        found: list[Plan] = []
        self._step(stack, "plan", lambda: found.append(self.tf.plan(self.folders[stack], describe=describe)),
                   lambda: "no changes" if found[0].empty else _tally(found[0]))
        return found[0]

    def _apply(self, stack: str) -> None:
        self._step(stack, "apply", lambda: self.tf.apply(self.folders[stack]))

    def _plan_and_apply(self, stack: str) -> bool:
        if self._plan(stack).empty:
            self._log(stack, "skip", "done", 0.0, "no changes")
            self._record_applied(stack)
            return False
        self._apply(stack)
        self._record_applied(stack)
        return True

    def _review_all(self, todo: list[str]) -> None:
        """Each stack planned in deploy order. A member stack reads its shared stack's outputs from
        that stack's state (terraform_remote_state): while the shared stack was never applied there
        is nothing to read, so the member waits for that apply, named with why. A stack skipped
        as unchanged (``--changed``) has an apply record, so it was applied."""
        shared = shared_stack_name(self.site.name)
        try:
            for stack in todo:
                self._init(stack)
            unapplied = shared in todo and len(todo) > 1 and not self._applied(shared)
            for stack in todo:
                if unapplied and stack != shared:
                    self._wait_for_apply(stack, shared)
                else:
                    self._review(stack)
        except _StepFailed as exc:
            accounted = {plan.stack for plan in self.report.plans} | {n.stack for n in self.report.not_planned}
            self.report.not_planned += [
                NotPlanned(stack, str(exc) if stack == exc.stack else f"not planned: `{exc.stack}` failed first")
                for stack in todo if stack not in accounted]
            raise

    def _applied(self, shared: str) -> bool:
        found: list[str] = []
        self._step(shared, "state", lambda: found.extend(self.tf.resources_in_state(self.folders[shared])),
                   lambda: f"{len(found)} resource(s)" if found else "no state yet: never applied")
        return bool(found)

    def _wait_for_apply(self, stack: str, shared: str) -> None:
        reason = (f"plans after `{shared}` is applied: it reads `{shared}`'s outputs from its state, and "
                  f"`{shared}` was never applied")
        self.report.not_planned.append(NotPlanned(stack, reason, waits_for=shared))
        self._log(stack, "plan", "waiting", 0.0, reason)

    def _review(self, stack: str) -> None:
        plan = self._plan(stack, describe=True)
        described = describe_plan(self.site, stack, plan)
        role = stack_role(self.site, stack)
        if self.config_diff is not None and role is not None and described.replacements:
            described = replace(described, config_diffs=(self.config_diff(self.site, role),))
        self.report.plans.append(described)

    def _gate(self, after: str, *, partner_absent: bool) -> None:
        if self.gate is None:
            self._log(after, "gate", "skipped", 0.0, "--no-gate")
            return
        start = time.monotonic()
        deadline = start + self.gate.timeout
        want = "the secondary answers (partner not created yet)" if partner_absent else "both members normal"
        self.progress(f"[{self.clock.elapsed():7.1f} s] {self.site.name:<12} {after:<24} gate waiting: "
                      f"{want}, up to {self.gate.timeout:g} s")
        said = time.monotonic()
        held = operations.HeldWatch(self.site)
        while True:
            polled = time.monotonic()
            try:
                with self.gate.reach() as access:
                    statuses = operations.read_status(self.site, access)
            except OmapiError as exc:  # a tunnel that did not come up: not answering, this poll
                statuses = [operations.MemberStatus(m.name, m.role.value, "tunnel", None, None, str(exc))
                            for m in (self.site.primary, self.site.secondary)]
            except UserError as exc:  # the key or the route cannot be had: waiting will not help
                self._log(after, "gate", "failed", time.monotonic() - start, str(exc))
                raise _StepFailed(after, f"{after}: gate: {exc}") from None
            if partner_absent:
                # The secondary cannot be normal without its partner; it must answer in every
                # relationship it has (a dual-stack site: DHCPv6 too), or the primary would be
                # created beside a secondary that serves nobody.
                mine = next(s for s in statuses if s.role == Role.SECONDARY.value)
                passed = mine.answers
                seen = f"secondary {mine.member} {mine.summary}; partner not created yet"
            else:
                passed = all(s.normal for s in statuses)
                seen = "normal" if passed else f"not normal yet: {operations.member_states(statuses)}"
            if passed:
                self._log(after, "gate", "passed", time.monotonic() - start, seen)
                return
            held.see(statuses, time.monotonic())
            hopeless = held.hopeless()
            if hopeless:  # e.g. Kea's terminated: no timeout clears it, an operator must
                self._log(after, "gate", "failed", time.monotonic() - start, hopeless)
                raise _StepFailed(after, f"{after}: gate: {hopeless}")
            if self.tf.stopping:
                self._log(after, "gate", "failed", time.monotonic() - start, f"{seen}; {STOPPED}")
                raise _StepFailed(after, f"{after}: gate: {STOPPED}")
            now = time.monotonic()
            if now >= deadline:
                stuck = held.stuck(now)
                self._log(after, "gate", "failed", now - start, stuck or seen)
                raise _StepFailed(after, f"{after}: gate: {stuck or f'{seen} after {self.gate.timeout:g} s'}")
            if operations.due(said, now, GATE_POLL + now - polled, self.gate.progress_every):
                self.progress(f"[{self.clock.elapsed():7.1f} s] {self.site.name:<12} {after:<24} gate waiting: "
                              f"{seen}; {now - start:.0f} s of {self.gate.timeout:g} s")
                said = now
            time.sleep(GATE_POLL)


class _StepFailed(Exception):
    def __init__(self, stack: str, message: str) -> None:
        super().__init__(message)
        self.stack = stack


def _instances(addresses: list[str]) -> list[str]:
    return [address for address in addresses if address.split(".")[-2:-1] == [INSTANCE]]


def _drift_words(actions: tuple[str, ...]) -> str:
    if actions == ("delete",):
        return "was deleted outside terraform"
    if actions == ("update",):
        return "was changed outside terraform"
    return f"changed outside terraform ({', '.join(actions)})"


def _tally(plan: Plan) -> str:
    if plan.outputs_change and not (plan.adds or plan.updates or plan.destroys):
        return "outputs change only"
    return f"{plan.adds} to add, {plan.updates} to change, {plan.destroys} to destroy"


@dataclass
class RolloutReport:
    plan_only: bool
    sites: list[SiteReport]
    seconds: float
    drift: bool = False
    changed_only: bool = False

    @property
    def ok(self) -> bool:
        return all(site.status != "failed" for site in self.sites)

    @property
    def drift_found(self) -> bool:
        return any(plan.drift for site in self.sites for plan in site.plans)

    @property
    def never_recorded(self) -> bool:
        """``--changed`` found no apply record for any stack: everything was planned."""
        return (self.changed_only and any(site.unrecorded for site in self.sites)
                and not any(site.unchanged for site in self.sites)
                and all(len(site.unrecorded) == 3 for site in self.sites if site.status != "failed"))

    @property
    def stacks_planned(self) -> int:
        return sum(len(site.plans) for site in self.sites)

    @property
    def stacks_not_planned(self) -> int:
        return sum(len(site.not_planned) for site in self.sites)

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "plan_only": self.plan_only, "drift": self.drift, "changed_only": self.changed_only,
                "drift_found": self.drift_found, "seconds": round(self.seconds, 1),
                "stacks_planned": self.stacks_planned, "stacks_not_planned": self.stacks_not_planned,
                "sites": [asdict(site) for site in self.sites]}


def roll_out(sites: Sequence[Site], folders: Mapping[str, Path], terraform: Terraform, *,
             gates: Mapping[str, Gate] | None, parallel: int, plan_only: bool, progress: Progress,
             drift: bool = False, changed_only: bool = False, records: ApplyRecords | None = None,
             config_diff: ConfigDiffer | None = None) -> RolloutReport:
    """Every site in its own thread (at most ``parallel`` at once); reports in the given order.
    ``gates`` None: no gate (plan-only, drift, or --no-gate). ``records``: where each stack's
    apply record is read and written (None: no records, as before they existed); ``drift``: a
    refresh-only plan of every stack instead; ``changed_only``: skip stacks whose record matches;
    ``config_diff``: the plan review shows each replaced member's rendered files against the base's."""
    clock = _Clock()
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            progress(line)

    def one(site: Site) -> SiteReport:
        gate = None if gates is None else gates[site.name]
        return SiteRollout(site, folders, terraform, gate=gate, plan_only=plan_only, progress=say, clock=clock,
                           drift=drift, changed_only=changed_only, records=records, config_diff=config_diff).run()

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        reports = list(pool.map(one, sites))
    return RolloutReport(plan_only, reports, clock.elapsed(), drift=drift, changed_only=changed_only)


def summary_table(report: RolloutReport) -> str:
    """A fixed-width table for people: one row per site."""
    rows = [("site", "result", "applied", "skipped", "gates", "seconds", "failure")]
    for site in report.sites:
        applied = ",".join(s.stack.rsplit("-", 1)[1] for s in site.steps if s.action == "apply" and s.result == "done")
        skipped = ",".join(s.stack.rsplit("-", 1)[1] for s in site.steps if s.action == "skip")
        gates = ",".join(s.result for s in site.steps if s.action == "gate")
        rows.append((site.site, site.status, applied or "-", skipped or "-", gates or "-", f"{site.seconds:.1f}",
                     site.failure or ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
                     for row in rows).rstrip()


def plan_markdown(report: RolloutReport) -> str:
    """The plan review as Markdown for a pull-request comment: the counts cover the stacks planned,
    and every stack that has no plan is named with why."""
    plans = [plan for site in report.sites for plan in site.plans]
    changed = [plan for plan in plans if plan.adds or plan.changes or plan.destroys]
    not_planned = [stack for site in report.sites for stack in site.not_planned]
    header = (f"### dhcp-failover rollout plan: {len(report.sites)} site(s), {len(changed)} of {len(plans)} "
              "stack(s) change")
    lines = [header + (f", {len(not_planned)} stack(s) not planned" if not_planned else ""), ""]
    if changed:
        lines += ["| site | stack | add | change | destroy |", "|---|---|---:|---:|---:|"]
        lines += [f"| {p.site} | `{p.stack}` | {p.adds} | {p.changes} | {p.destroys} |" for p in changed]
        lines.append("")
    replacements = [text for plan in plans for text in plan.replacements]
    if replacements:
        lines += [("**Instance replacements** (each member is rebuilt and recovers its leases from its partner; "
                  "the rollout waits for `normal` in between):"), ""]
        lines += [f"- {text}" for text in replacements]
        lines.append("")
    diffs = [diff for plan in plans for diff in plan.config_diffs]
    if diffs:
        lines += _config_diff_lines(diffs)
    waiting = [stack for stack in not_planned if stack.waits_for]
    if waiting:
        lines += [("**Plans after an apply** (a member stack reads its shared stack's outputs, which exist only "
                  "once that stack is applied; the rollout applies it first):"), ""]
        lines += [f"- `{stack.stack}`: {stack.reason}" for stack in waiting] + [""]
    failed = [site for site in report.sites if site.status == "failed"]
    if failed:
        lines += ["**Could not plan:**", ""]
        for site in failed:
            named = [stack for stack in site.not_planned if not stack.waits_for]
            lines += [f"- `{stack.stack}`: {stack.reason}" for stack in named] or [f"- {site.site}: {site.failure}"]
        lines.append("")
    if not changed and not failed and not waiting:
        lines += ["No changes.", ""]
    if report.changed_only:
        lines += _changed_only_lines(report)
    return "\n".join(lines)


def _config_diff_lines(diffs: list[MemberConfigDiff]) -> list[str]:
    lines = [("**Config diff of each replaced member** (its files as `render` writes them, from the base inventory "
             "to this one; secrets are never shown):"), ""]
    budget = CONFIG_DIFF_BUDGET
    for diff in diffs:
        who = f"{diff.role} {diff.member} (`{diff.folder}`)"
        if not diff.diff:
            lines += [f"- {who}: rendered files unchanged (what changes is in its user-data or instance settings)",
                      ""]
            continue
        if len(diff.diff) > budget:
            lines += [(f"- {who}: {len(diff.files_changed)} file(s) changed: {', '.join(diff.files_changed)} (diff "
                      f"left out: the review shows {CONFIG_DIFF_BUDGET} characters of diffs; `--json` has them all)"),
                      ""]
            budget = 0
            continue
        budget -= len(diff.diff)
        fence = "```" + "`" * max((len(run) - 2 for run in _FENCES.findall(diff.diff)), default=0)
        lines += [f"<details><summary>{who}: {len(diff.files_changed)} file(s) changed: "
                  + ", ".join(diff.files_changed) + "</summary>", "", fence + "diff", diff.diff, fence, "",
                  "</details>", ""]
    return lines


_FENCES = re.compile(r"`{3,}")
CONFIG_DIFF_BUDGET = 40_000
"""Characters of config diffs in the Markdown: a GitHub comment holds 65,536 in all."""


def _changed_only_lines(report: RolloutReport) -> list[str]:
    unchanged = [(site.site, stack) for site in report.sites for stack in site.unchanged]
    unrecorded = [stack for site in report.sites for stack in site.unrecorded]
    lines = []
    if report.never_recorded:
        lines += [(f"`--changed`: no stack has an apply record yet (records are written by `rollout` applies), so "
                   f"every stack was planned ({len(unrecorded)})."), ""]
    elif unrecorded:
        lines += [f"`--changed`: {len(unrecorded)} stack(s) planned because they have no apply record: "
                  + ", ".join(f"`{stack}`" for stack in unrecorded), ""]
    lines += [f"**{len(unchanged)} stack(s) skipped as unchanged** since their last apply (`--changed`)."]
    if unchanged:
        lines += ["", "<details><summary>Unchanged stacks and their last drift check</summary>", "",
                  "| site | stack | applied | drift last checked |", "|---|---|---|---|"]
        for site, stack in unchanged:
            checked = stack.drift_checked_at or "never"
            if stack.drift_found:
                checked += " (drift found)"
            lines.append(f"| {site} | `{stack.stack}` | {stack.applied_at or '?'} | {checked} |")
        lines += ["", "</details>"]
    lines.append("")
    return lines


def drift_markdown(report: RolloutReport) -> str:
    """``rollout --drift`` as Markdown: which stacks' resources AWS changed behind terraform's back."""
    plans = [plan for site in report.sites for plan in site.plans]
    drifted = [plan for plan in plans if plan.drift]
    lines = [(f"### dhcp-failover drift check: {len(report.sites)} site(s), {len(drifted)} of {len(plans)} "
              "stack(s) drifted"), ""]
    if drifted:
        lines += ["| site | stack | resources changed outside terraform |", "|---|---|---:|"]
        lines += [f"| {p.site} | `{p.stack}` | {len(p.drift)} |" for p in drifted]
        lines += ["", "**Drift** (a `rollout` of the stack puts each back as the configuration says):", ""]
        lines += [f"- {p.stack}: {text}" for p in drifted for text in p.drift]
        lines.append("")
    failed = [site for site in report.sites if site.status == "failed"]
    if failed:
        lines += ["**Could not check:**", ""] + [f"- {site.site}: {site.failure}" for site in failed] + [""]
    if not drifted and not failed:
        lines += ["No drift.", ""]
    return "\n".join(lines)


def print_lines(stream: TextIO) -> Progress:
    def emit(line: str) -> None:
        print(line, file=stream, flush=True)

    return emit
