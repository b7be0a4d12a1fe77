"""The real deploy path against a local AWS API, for the end-to-end test (not a test module).

What docs/deploying.md tells users to run, in a copy of the checkout: `keys` (TF_VAR_ exports), then
its own `npx cdktf deploy` lines, stack by stack (shared → secondary → primary), and its
`npx cdktf destroy` lines in reverse, with $DHCP_FAILOVER_AWS_ENDPOINT pointing every provider at
moto. Plans for the checks run `terraform` in the stack folders of the same cdktf.out.

The moto server is the one users run: ``scripts/moto-server`` (with its two fixes).
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.support.tfenv import terraform

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """``scripts/moto-server`` (what docs/deploying.md tells users to run) in its own process on
    loopback; yields the endpoint URL."""
    port = free_port()
    env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "scripts" / "moto-server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"moto_server did not start:\n{log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_python(args: Sequence[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` with the test's interpreter and the repo importable; fails loudly."""
    env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=300, check=False)
    if result.returncode != 0:
        raise AssertionError(f"python {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def synth(inventory: Path, cwd: Path, env: dict[str, str]) -> Path:
    """``python main.py --inventory F`` in ``cwd`` (as ``cdktf synth`` runs it); returns cdktf.out.
    State paths are relative (``../../../terraform.<stack>.tfstate``): they land in ``cwd``."""
    cwd.mkdir(parents=True, exist_ok=True)
    run_python([str(REPO / "main.py"), "--inventory", str(inventory)], cwd, env)
    return cwd / "cdktf.out"


def key_exports(project: Path, inventory: str, env: Mapping[str, str]) -> dict[str, str]:
    """The ``TF_VAR_`` variables that ``eval "$(python -m dhcp_failover keys --inventory F)"``
    sets in ``project`` (key store at its default place there)."""
    out = run_python(["-m", "dhcp_failover", "keys", "--inventory", inventory], project, dict(env)).stdout
    return parse_exports(out)


def parse_exports(out: str) -> dict[str, str]:
    """NAME -> value of each ``export NAME=VALUE`` line that ``keys`` prints (and nothing else)."""
    exported = {}
    for line in out.splitlines():
        words = shlex.split(line)
        assert words[0] == "export" and len(words) == 2, f"not an export line: {line!r}"
        name, _, value = words[1].partition("=")
        exported[name] = value
    return exported


@dataclass(frozen=True)
class ShellLine:
    """One documented command line: ``NAME=value ... npx cdktf VERB STACK FLAGS``."""

    assignments: dict[str, str]
    argv: list[str]

    @property
    def verb(self) -> str:
        return self.argv[2]

    @property
    def stack(self) -> str:
        return self.argv[3]

    @property
    def stacks(self) -> list[str]:
        """Every stack the line names (the words after the verb, up to the first option)."""
        named = []
        for word in self.argv[3:]:
            if word.startswith("-"):
                break
            named.append(word)
        return named


def readme_cdktf_lines(readme: Path, verb: str) -> list[ShellLine]:
    """A page's ``npx cdktf VERB`` lines, in order, as a shell would split them."""
    lines = []
    for text in readme.read_text().splitlines():
        words = shlex.split(text) if " npx cdktf " in f" {text} " else []
        if "npx" not in words:
            continue
        npx = words.index("npx")
        if not all("=" in word for word in words[:npx]) or words[npx + 1:npx + 3] != ["cdktf", verb]:
            continue
        lines.append(ShellLine(dict(w.split("=", 1) for w in words[:npx]), words[npx:]))
    return lines


@dataclass
class Project:
    """A checkout where a user runs ``npx cdktf`` with ``env`` (the exports they made)."""

    folder: Path
    env: dict[str, str]

    def run(self, line: ShellLine, extra_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **(extra_env or {}), **line.assignments}
        result = subprocess.run(line.argv, cwd=self.folder, env=env, capture_output=True, text=True, timeout=900,
                                check=False)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(line.argv)} exited {result.returncode}\n"
                                 f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result


@dataclass(frozen=True)
class Stacks:
    """The stack folders of one synth, in deploy order."""

    outdir: Path
    order: tuple[str, ...]
    env: dict[str, str]

    def folder(self, stack: str) -> Path:
        return self.outdir / "stacks" / stack

    def tf(self, stack: str, *args: str) -> subprocess.CompletedProcess[str]:
        return terraform([*args, "-input=false", "-no-color"], self.folder(stack), self.env)

    def each(self, fn: Callable[[str], T]) -> dict[str, T]:
        """``fn(stack)`` for every stack at once: plans and inits only read state (``-lock=false``
        for plans) and spend their time waiting on the provider's polls."""
        with ThreadPoolExecutor(len(self.order)) as pool:
            return dict(zip(self.order, pool.map(fn, self.order), strict=True))

    def init(self) -> None:
        self.each(lambda stack: self.tf(stack, "init", "-backend=true"))

    def plan(self, stack: str, *flags: str) -> subprocess.CompletedProcess[str]:
        """``terraform plan FLAGS`` without lock, whatever its exit status (the caller judges it)."""
        return subprocess.run(["terraform", "plan", *flags, "-input=false", "-no-color", "-lock=false"],
                              cwd=self.folder(stack), env=self.env, capture_output=True, text=True, timeout=600,
                              check=False)

    def plan_exit_code(self, stack: str) -> tuple[int, str]:
        """``terraform plan -detailed-exitcode``: 0 no changes, 2 changes (1 raises)."""
        result = self.plan(stack, "-detailed-exitcode")
        if result.returncode not in (0, 2):
            raise AssertionError(f"plan of {stack} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result.returncode, result.stdout

    def plan_json(self, stack: str) -> dict[str, Any]:
        """The saved plan of ``stack`` as ``terraform show -json`` prints it."""
        self.tf(stack, "plan", "-lock=false", "-out=tfplan")
        shown = terraform(["show", "-json", "-no-color", "tfplan"], self.folder(stack), self.env)
        return json.loads(shown.stdout)

    def state_resources(self, stack: str) -> list[dict[str, Any]]:
        state = json.loads(terraform(["show", "-json", "-no-color"], self.folder(stack), self.env).stdout)
        return state.get("values", {}).get("root_module", {}).get("resources", [])


def resource_changes(plan: dict[str, Any], resource_type: str) -> dict[str, list[str]]:
    """``{address: actions}`` of the plan's resources of one type whose actions are not no-op."""
    return {
        change["address"]: change["change"]["actions"]
        for change in plan.get("resource_changes", [])
        if change["type"] == resource_type and change["change"]["actions"] not in (["no-op"], ["read"])
    }
