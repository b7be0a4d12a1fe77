"""Kea's control API (through the Control Agent on Kea 2.2, to each server's own HTTP control
socket on Kea 3.0): commands, HA states mapped to neutral ones.

Requests go through ``curl`` so that, like omshell for ISC, they can run behind a command
prefix (an ssh wrapper, an SSM port-forward script, ``ip netns exec`` in tests). The password
travels in curl's config on stdin, never on a command line that ``ps`` shows.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..base import NeutralState
from .render import CONTROL_USER

# Kea HA state -> neutral state (Kea 2.2 HA states, ha_service_states.cc).
STATES = {
    "load-balancing": NeutralState.NORMAL,
    "hot-standby": NeutralState.NORMAL,
    "partner-down": NeutralState.PARTNER_DOWN,
    "partner-in-maintenance": NeutralState.PARTNER_DOWN,
    "communication-recovery": NeutralState.INTERRUPTED,
    "waiting": NeutralState.STARTUP,
    "syncing": NeutralState.RECOVER,
    "ready": NeutralState.RECOVER,
    "in-maintenance": NeutralState.SHUT_DOWN,
    "terminated": NeutralState.SHUT_DOWN,
}


class KeaControlError(Exception):
    """A command failed or nothing answered; one line, never the password."""


@dataclass(frozen=True)
class KeaEndpoint:
    """One member's control channel (its Control Agent, or a server's own HTTP socket), with the
    pair's control password."""

    host: str
    port: int
    password: str = field(repr=False)
    command_prefix: tuple[str, ...] = ()
    # The server behind the agent the commands go to: "dhcp6" for a site's DHCPv6 relationship.
    # None: the endpoint is the server's own socket (kea-dhcp6's on Kea 3.0), commands name none.
    service: str | None = "dhcp4"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


def neutral(state: str) -> NeutralState:
    return STATES.get(state, NeutralState.OTHER)


def command(
    endpoint: KeaEndpoint, name: str, arguments: dict[str, Any] | None = None, *, timeout: float = 5.0
) -> dict[str, Any]:
    """Send ``name`` to the member's dhcp4 (or ``endpoint.service``) server; its ``arguments`` (or {}) on success."""
    (reply,) = commands(endpoint, name, [arguments], timeout=timeout)
    return reply


def commands(
    endpoint: KeaEndpoint, name: str, batch: Sequence[dict[str, Any] | None], *, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Send ``name`` once per item of ``batch`` (its arguments) in one curl run, which keeps one
    connection open (a lease load is thousands of commands); each answer's arguments, in order.
    The first failed command raises, naming its position."""
    blocks = []
    for arguments in batch:
        body: dict[str, Any] = {"command": name}
        if endpoint.service is not None:
            body["service"] = [endpoint.service]
        if arguments is not None:
            body["arguments"] = arguments
        blocks.append(
            f'user = "{CONTROL_USER}:{endpoint.password}"\n'
            'header = "Content-Type: application/json"\n'
            f"data = {json.dumps(json.dumps(body))}\n"
            f'url = "{endpoint.url}"\n'
        )
    config = "next\n".join(blocks)
    argv = [*endpoint.command_prefix, "curl", "--silent", "--show-error", "--fail-with-body",
            "--max-time", f"{timeout:g}", "--config", "-"]
    whole = timeout * max(1, len(batch))
    try:
        result = subprocess.run(argv, input=config, capture_output=True, text=True, timeout=whole + 5, check=False)
    except subprocess.TimeoutExpired:
        raise KeaControlError(f"{name} to {endpoint.url}: no answer within {whole:g} s") from None
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or [f"curl exited {result.returncode}"])[-1]
        if "401" in detail:
            detail += " (wrong control password?)"
        raise KeaControlError(f"{name} to {endpoint.url}: {detail}")
    replies = _answers(result.stdout)
    if len(replies) != len(batch):
        raise KeaControlError(f"{name} to {endpoint.url}: not a Kea answer: {result.stdout[:200]!r}")
    out = []
    for position, reply in enumerate(replies):
        try:
            code, text = reply["result"], reply.get("text", "")
        except (KeyError, TypeError, AttributeError):
            raise KeaControlError(f"{name} to {endpoint.url}: not a Kea answer: {result.stdout[:200]!r}") from None
        if code not in (0, 3):  # 3: success, nothing to return (an empty lease list)
            which = f" (command {position + 1} of {len(batch)})" if len(batch) > 1 else ""
            raise KeaControlError(f"{name} to {endpoint.url}{which}: result {code}: {text}")
        arguments_out = reply.get("arguments", {})
        out.append(arguments_out if isinstance(arguments_out, dict) else {})
    return out


def _answers(text: str) -> list[Any]:
    """The replies in curl's output: one JSON answer per request, back to back."""
    decoder = json.JSONDecoder()
    replies: list[Any] = []
    position = 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        try:
            answer, position = decoder.raw_decode(text, position)
        except ValueError:
            return []
        replies.append(answer[0] if isinstance(answer, list) and answer else answer)
    return replies


@dataclass(frozen=True)
class HaState:
    """One member's view: its own state and what it last heard from its partner."""

    local: str  # Kea's word, e.g. load-balancing
    partner: str | None

    @property
    def local_state(self) -> str:
        return neutral(self.local).value

    @property
    def partner_state(self) -> str | None:
        return None if self.partner is None else neutral(self.partner).value


def read_ha_state(endpoint: KeaEndpoint, *, timeout: float = 5.0) -> HaState:
    """``status-get``: the local HA state and the partner's last known one."""
    status = command(endpoint, "status-get", timeout=timeout)
    servers = status.get("high-availability", [{}])[0].get("ha-servers", {})
    local = servers.get("local", {}).get("state")
    remote = servers.get("remote", {})
    partner = remote.get("last-state") or None
    if local is None:
        raise KeaControlError(f"status-get to {endpoint.url}: no HA state in the answer (HA hook not loaded?)")
    return HaState(local, partner)


def heartbeat_state(endpoint: KeaEndpoint, *, timeout: float = 5.0) -> str:
    """``ha-heartbeat``: the member's own HA state, as its partner sees it."""
    return str(command(endpoint, "ha-heartbeat", timeout=timeout).get("state"))


def maintenance_start(endpoint: KeaEndpoint, *, timeout: float = 10.0) -> None:
    """Ask ``endpoint`` to take over from its partner: the partner goes in-maintenance (stops
    serving) and this member partner-in-maintenance (serves everyone), in well under a second."""
    command(endpoint, "ha-maintenance-start", timeout=timeout)


def maintenance_cancel(endpoint: KeaEndpoint, *, timeout: float = 10.0) -> None:
    command(endpoint, "ha-maintenance-cancel", timeout=timeout)


def leases(endpoint: KeaEndpoint, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every IPv4 lease the member holds (``lease4-get-all``, from lease_cmds)."""
    found = command(endpoint, "lease4-get-all", timeout=timeout).get("leases", [])
    return list(found) if isinstance(found, list) else []


def leases6(endpoint: KeaEndpoint, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every IPv6 lease (addresses and delegated prefixes) of a dhcp6 endpoint (``lease6-get-all``)."""
    found = command(endpoint, "lease6-get-all", timeout=timeout).get("leases", [])
    return list(found) if isinstance(found, list) else []


def answers(endpoints: Sequence[KeaEndpoint]) -> list[bool]:
    """Whether each member's agent and server answer at all."""
    out = []
    for endpoint in endpoints:
        try:
            command(endpoint, "version-get", timeout=2.0)
            out.append(True)
        except KeaControlError:
            out.append(False)
    return out


def load_leases(endpoint: KeaEndpoint, leases: Sequence[dict[str, Any]], *, batch: int = 200,
                timeout: float = 10.0) -> int:
    """Write ``leases`` (``lease4-update`` arguments with force-create) into the member's lease
    database, ``batch`` commands per connection; how many were written. HA does not pass
    commands on to the partner, so each member gets its own load."""
    for start in range(0, len(leases), batch):
        commands(endpoint, "lease4-update", list(leases[start:start + batch]), timeout=timeout)
    return len(leases)
