"""Driving ``terraform`` on synthesized stack folders: init, a saved plan, apply of that plan.

Backend-agnostic on purpose: every command runs in ``cdktf.out/stacks/<stack>`` and the stack's
own ``terraform`` block says where its state lives (a local file today). The environment passes
through untouched, so ``TF_CLI_CONFIG_FILE`` (an offline provider mirror), ``TF_VAR_*`` (the
secrets) and ``AWS_*`` reach terraform as the caller set them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .aws import PROVIDER_ENDPOINT_ENV, local_endpoint

PLAN_FILE = "rollout.tfplan"
PLUGIN_CACHE_ENV = "TF_PLUGIN_CACHE_DIR"
DEFAULT_PLUGIN_CACHE = Path("~/.terraform.d/plugin-cache")
TIMEOUT = 3600.0  # one terraform command; an instance replacement takes minutes, never an hour
GO_GC_PERCENT = "400"
"""GOGC for terraform and the provider processes it starts. Every plan starts the AWS provider
three times (schemas, validate, plan), and its start-up builds thousands of resource schemas: the
default GOGC=100 collects garbage all through it. 400 measured ~25% less CPU per plan (6.7 ->
5.0 s) for ~150 MB more peak memory per provider; ``off`` used 2.5 GB and saved no more."""
INIT_MARKER = ".terraform/dhcp-failover-init"
"""Hash of what ``terraform init`` read (the stack's ``terraform`` block, the CLI config and
plugin cache in use) at the last successful init of a stack folder."""
_INIT_INPUTS = ("TF_CLI_CONFIG_FILE", PLUGIN_CACHE_ENV)
STOP_GRACE = 60.0
"""After :meth:`Terraform.interrupt`, how long a terraform may take to finish its in-flight
resource operations and write its state before it is killed."""


class TerraformNotFound(Exception):
    """No terraform on PATH; ``str()`` is the line shown after ``error:``."""


class TerraformFailed(Exception):
    """A terraform command failed; ``str()`` is its first error line (the rest is in ``output``)."""

    def __init__(self, message: str, output: str) -> None:
        super().__init__(message)
        self.output = output


@dataclass(frozen=True)
class ResourceChange:
    address: str
    resource_type: str
    actions: tuple[str, ...]
    replace_paths: tuple[str, ...]
    """Top-level attributes whose change forces the replacement (``terraform show -json``)."""

    @property
    def replaces(self) -> bool:
        return "create" in self.actions and "delete" in self.actions


@dataclass(frozen=True)
class Plan:
    """A saved plan of one stack: terraform's tally, and with ``describe`` each resource change
    as ``terraform show -json`` lists it (that costs another provider start, seconds)."""

    adds: int = 0
    updates: int = 0
    destroys: int = 0
    changes: tuple[ResourceChange, ...] = ()
    outputs_change: bool = False
    """Only outputs change (``-detailed-exitcode`` 2 with nothing to add, change or destroy)."""
    drift: tuple[ResourceChange, ...] = ()
    """Objects that changed outside terraform since the last apply (``resource_drift``)."""

    @property
    def empty(self) -> bool:
        return not (self.adds or self.updates or self.destroys or self.outputs_change)

    def of_type(self, resource_type: str) -> list[ResourceChange]:
        return [change for change in self.changes if change.resource_type == resource_type]


def parse_plan(shown: Mapping[str, Any]) -> Plan:
    changes = []
    for entry in shown.get("resource_changes", []):
        actions = tuple(entry["change"]["actions"])
        if actions in (("no-op",), ("read",)):
            continue
        paths = entry["change"].get("replace_paths") or []
        changes.append(ResourceChange(
            entry["address"], entry["type"], actions,
            tuple(dict.fromkeys(".".join(str(part) for part in path[:1]) for path in paths)),
        ))
    drift = tuple(ResourceChange(entry["address"], entry["type"], tuple(entry["change"]["actions"]), ())
                  for entry in shown.get("resource_drift", [])
                  if tuple(entry["change"]["actions"]) not in (("no-op",), ("read",)))
    # Terraform's own tally: a replacement counts as one add and one destroy.
    return Plan(sum("create" in c.actions for c in changes), sum("update" in c.actions for c in changes),
                sum("delete" in c.actions for c in changes), tuple(changes), outputs_change=not changes, drift=drift)


_TALLY = re.compile(r"^Plan: (\d+) to add, (\d+) to change, (\d+) to destroy\.", re.M)


def parse_tally(stdout: str) -> Plan:
    found = _TALLY.search(stdout)
    if found is None:
        return Plan(outputs_change=True)
    adds, updates, destroys = (int(n) for n in found.groups())
    return Plan(adds, updates, destroys, outputs_change=not (adds or updates or destroys))


class TerraformInterrupted(TerraformFailed):
    """The run was asked to stop (:meth:`Terraform.interrupt`) before or while this command ran."""


@dataclass
class Terraform:
    """One terraform binary with the caller's environment plus a shared plugin cache.

    Each command runs in its own process group, so a Ctrl-C at the terminal reaches only the
    caller, which decides what to forward (:meth:`interrupt`): a second SIGINT would make
    terraform exit at once, with its state half-written and its lock held."""

    binary: str
    env: dict[str, str]
    _cache_warm: threading.Event = field(default_factory=threading.Event)
    _cache_lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _running: set[subprocess.Popen[str]] = field(default_factory=set)
    _running_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Terraform:
        env = dict(os.environ if environ is None else environ)
        binary = shutil.which("terraform", path=env.get("PATH"))
        if binary is None:
            raise TerraformNotFound("terraform is not on PATH; install terraform 1.11 (or put it on PATH)")
        cache = Path(env.get(PLUGIN_CACHE_ENV) or DEFAULT_PLUGIN_CACHE).expanduser()
        cache.mkdir(parents=True, exist_ok=True)
        env[PLUGIN_CACHE_ENV] = str(cache)
        # Without it, every first init of a stack folder (no lock file yet, as after each synth)
        # installs into the cache again: concurrent writers, "provider binary not found". With it a
        # warm cache is only read. The lock file only loses other platforms' hashes, and a
        # rollout's stack folders are rebuilt by every synth anyway.
        env.setdefault("TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE", "true")
        env.setdefault("TF_IN_AUTOMATION", "1")
        env.setdefault("CHECKPOINT_DISABLE", "1")
        env.setdefault("GOGC", GO_GC_PERCENT)
        local = local_endpoint(env)
        if local:
            # The synthesized providers carry a local API's credentials but not its address.
            env[PROVIDER_ENDPOINT_ENV] = local
        return cls(binary, env)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def interrupt(self, grace: float = STOP_GRACE) -> list[int]:
        """Stop every terraform this object runs, as one Ctrl-C stops terraform: it finishes the
        resource operations in flight, writes its state and releases its lock. Whatever still
        runs after ``grace`` seconds is killed. No command starts afterwards. Returns the pids
        interrupted; safe to call from a signal handler (it does not wait)."""
        with self._running_lock:
            self._stopping.set()
            running = list(self._running)
        for process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        if running:
            killer = threading.Timer(grace, self._kill, args=(running,))
            killer.daemon = True
            killer.start()
        return [process.pid for process in running]

    @staticmethod
    def _kill(processes: list[subprocess.Popen[str]]) -> None:
        for process in processes:
            if process.poll() is None:
                process.kill()

    def run(self, folder: Path, *args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        argv = [self.binary, *args]
        with self._running_lock:
            if self._stopping.is_set():
                raise TerraformInterrupted(f"terraform {args[0]} not started: the rollout is stopping", "")
            process = subprocess.Popen(argv, cwd=folder, env=self.env, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, process_group=0)
            self._running.add(process)
        try:
            stdout, stderr, timed_out = _communicate(process)
        finally:
            with self._running_lock:
                self._running.discard(process)
        output = f"{stdout}\n{stderr}"
        if timed_out:
            raise TerraformFailed(f"terraform {args[0]} still running after {TIMEOUT:.0f} s; killed", output)
        if self._stopping.is_set() and process.returncode not in ok:
            raise TerraformInterrupted(f"terraform {args[0]} interrupted (exit {process.returncode}): "
                                       f"{first_error(output)}", output)
        if process.returncode not in ok:
            raise TerraformFailed(f"terraform {args[0]} exited {process.returncode}: {first_error(output)}", output)
        return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)

    def init(self, folder: Path) -> bool:
        """``terraform init``, unless the folder was initialized for the same ``terraform`` block
        (backend, required providers) and CLI settings: a rerun's synth keeps ``.terraform`` and the
        lock file, and a second init would only repeat the first (~0.8 s of CPU per stack).
        Returns whether init ran. The plugin cache is not safe for concurrent writers (terraform's
        docs), so the first init fills it alone; later ones only read it and run in parallel."""
        inputs = self._init_inputs(folder)
        marker = folder / INIT_MARKER
        if inputs is not None and self._initialized(folder, inputs):
            return False
        marker.unlink(missing_ok=True)
        args = ("init", "-input=false", "-no-color")
        if self._cache_warm.is_set():
            self.run(folder, *args)
        else:
            # A thread that queued for the lock before the cache was warm still runs inside it.
            with self._cache_lock:
                self.run(folder, *args)
                self._cache_warm.set()
        if inputs is not None:
            marker.write_text(inputs)
        return True

    def _initialized(self, folder: Path, inputs: str) -> bool:
        if "TF_DATA_DIR" in self.env:  # .terraform is elsewhere: not ours to judge
            return False
        marker, providers = folder / INIT_MARKER, folder / ".terraform" / "providers"
        return ((folder / ".terraform.lock.hcl").is_file() and marker.is_file() and marker.read_text() == inputs
                and providers.is_dir() and all(path.exists() for path in providers.rglob("*")))

    def _init_inputs(self, folder: Path) -> str | None:
        """A digest of everything ``terraform init`` reads: the stack's ``terraform`` block and the
        CLI config and plugin cache it was pointed at; None for a folder that is no synthesized
        stack (hand-written ``.tf`` files: always initialized)."""
        synthesized = folder / "cdk.tf.json"
        if not synthesized.is_file() or any(folder.glob("*.tf")):
            return None
        config = json.loads(synthesized.read_text()).get("terraform", {})
        settings = {name: self.env.get(name) for name in _INIT_INPUTS}
        if settings["TF_CLI_CONFIG_FILE"]:
            cli_config = Path(settings["TF_CLI_CONFIG_FILE"])
            settings["cli config"] = cli_config.read_text() if cli_config.is_file() else None
        blob = json.dumps({"terraform": config, "settings": settings, "binary": self.binary}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def plan(self, folder: Path, *, describe: bool = False) -> Plan:
        """A saved plan (``-out``) for :meth:`apply`; ``describe``: with each resource change."""
        result = self.run(folder, "plan", "-input=false", "-no-color", "-detailed-exitcode", f"-out={PLAN_FILE}",
                          ok=(0, 2))
        if result.returncode == 0:
            (folder / PLAN_FILE).unlink(missing_ok=True)
            return Plan()
        if not describe:
            return parse_tally(result.stdout)
        shown = self.run(folder, "show", "-json", "-no-color", PLAN_FILE)
        return parse_plan(json.loads(shown.stdout))

    def drift(self, folder: Path) -> tuple[ResourceChange, ...]:
        """What AWS changed behind terraform's back and the stack would put back: a plan with
        refresh on, its ``resource_drift`` kept where the object is gone or the plan acts on it.
        Drift in attributes the configuration does not manage (a security group's inline rules
        filled in by its separate rule resources, an Elastic IP's association made by a member
        stack) is terraform's bookkeeping, not drift: terraform would change nothing for it."""
        plan = self.plan(folder, describe=True)
        (folder / PLAN_FILE).unlink(missing_ok=True)
        acted_on = {change.address for change in plan.changes}
        return tuple(change for change in plan.drift if change.actions == ("delete",) or change.address in acted_on)

    def resources_in_state(self, folder: Path) -> list[str]:
        """Addresses in the stack's state (no provider needed: fast); none before a first apply."""
        try:
            return self.run(folder, "state", "list", "-no-color").stdout.split()
        except TerraformFailed as exc:
            if "No state file was found" in exc.output:
                return []
            raise

    def apply(self, folder: Path) -> None:
        """Apply exactly the saved plan: what was planned (and reviewed) is what changes."""
        self.run(folder, "apply", "-input=false", "-no-color", "-auto-approve", PLAN_FILE)
        (folder / PLAN_FILE).unlink()


def _communicate(process: subprocess.Popen[str]) -> tuple[str, str, bool]:
    """Its output once it exits, and whether it had to be killed after TIMEOUT."""
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT)
        return stdout, stderr, False
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        return stdout, stderr, True


# What terraform prints between an error's summary and its detail: where in the config it is.
_SOURCE_CONTEXT = re.compile(r"^(on |with |\d+:)")


def first_error(output: str) -> str:
    """The first ``Error:`` summary and its detail paragraph (terraform wraps it over several
    lines) as one line, else the last line of output."""
    lines = [line.strip(" │╷╵").strip() for line in output.splitlines()]
    for index, line in enumerate(lines):
        if not line.startswith("Error:"):
            continue
        detail: list[str] = []
        for other in lines[index + 1:]:
            if not other or _SOURCE_CONTEXT.match(other):
                if detail:
                    break
                continue
            detail.append(other)
        summary = line.removeprefix("Error:").strip()
        return f"{summary}: {' '.join(detail)}" if detail else summary
    shown = [line for line in lines if line]
    return shown[-1] if shown else "no output"
