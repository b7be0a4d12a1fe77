"""A small OMAPI client for operators and tests, driving ISC's ``omshell`` binary.

Why omshell and not a Python OMAPI library: pypureomapi signs with HMAC-MD5 only, and
our OMAPI keys default to hmac-sha256. omshell (ISC DHCP 4.4.3 or later) signs with any
algorithm dhcpd accepts once ``key-algorithm`` is given before ``key``.

omshell exits 0 whatever happens, so every reply is parsed and any error line becomes an
``OmapiError``. The secret travels on omshell's stdin, never on a command line that
``ps`` could show, and is redacted from error messages.

To run omshell somewhere else, pass ``command_prefix`` (for example
``["ip", "netns", "exec", "ns1"]`` to reach a server listening on 127.0.0.1 inside a
network namespace, or ``["ssh", "host"]``).
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .settings import KeyAlgorithm

__all__ = [
    "STATE_NAMES",
    "FailoverState",
    "OmapiEndpoint",
    "OmapiError",
    "decode_int",
    "read_failover_state",
    "set_partner_down",
    "shutdown_server",
    "state_name",
    "wait_for_failover_state",
]

# ISC DHCP 4.x `enum failover_state` (includes/failover.h), the same numbering that
# dhcpd(8) documents for the failover-state object's local-state. 3.0.x numbered these
# differently, so this table is only valid for 4.x servers.
STATE_NAMES: Mapping[int, str] = MappingProxyType({
    0: "unknown-state",
    1: "startup",
    2: "normal",
    3: "communications-interrupted",
    4: "partner-down",
    5: "potential-conflict",
    6: "recover",
    7: "paused",
    8: "shut-down",
    9: "recover-done",
    10: "resolution-interrupted",
    11: "conflict-done",
    254: "recover-wait",
})
_PARTNER_DOWN = 4
_CONTROL_SHUTDOWN = 2  # dhcpd(8), "THE CONTROL OBJECT"

# The algorithms dhcpd accepts for omapi-key (dhcpd.conf(5)). omshell turns an unknown
# name into the misleading "dhcpctl_connect: not found", so reject it here instead.
ALGORITHMS = frozenset(algorithm.value for algorithm in KeyAlgorithm)

# omshell parses its input line by line: a space, quote or newline in a value would end
# the statement early or inject another one.
_TOKEN = re.compile(r"[A-Za-z0-9._:/+=-]+")
_PEER_NAME = re.compile(r"[A-Za-z0-9._-]+")

# Every complaint omshell prints on stdout (dhcpctl/omshell.c); dhcpctl and parser
# errors go to stderr and are all errors.
_STDOUT_ERROR = re.compile(
    r"^(not connected\.|no open object\.|not open\.|no object\.|an object is already open\."
    r"|you must make a new object first!|you haven't opened an object yet!|can't .*"
    r"|usage: .*|unknown service name.*|missing or invalid algorithm name"
    r"|extra information after .*|invalid value\.|no memory.*)$")

# Hints for the raw errors an operator actually meets; omshell's own words are terse.
_KEY_REJECTED = "can't open object: connection reset by peer"
_SESSION_RESET = "can't update object: connection reset by peer"
_HINTS = {
    "dhcpctl_connect: not found": "the server knows no such key name with this algorithm",
    "dhcpctl_connect: no more": "nothing answered: server down, wrong port or unreachable",
    _KEY_REJECTED: "the server dropped the signed request: wrong key secret?",
    "can't open object: not found": "no such object: wrong failover peer name?",
}


class OmapiError(Exception):
    """An OMAPI request failed; the message is one line and never holds the secret."""

    @property
    def key_rejected(self) -> bool:
        """The server dropped the signed request: it holds another secret under this key name."""
        return _KEY_REJECTED in str(self)

    @property
    def session_reset(self) -> bool:
        """The server dropped the session before answering an update (it does so shutting down)."""
        return _SESSION_RESET in str(self)


@dataclass(frozen=True)
class OmapiEndpoint:
    """Where and how to reach a dhcpd OMAPI listener (``omapi-port``, ``omapi-key``)."""

    host: str
    port: int
    key_name: str
    algorithm: str
    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        for label, value in (("host", self.host), ("key_name", self.key_name),
                             ("secret", self.secret)):
            if not _TOKEN.fullmatch(value):
                raise ValueError(f"OMAPI {label} must be a single token without spaces or quotes")
        if not 0 < self.port < 65536:
            raise ValueError(f"OMAPI port {self.port} out of range")
        if self.algorithm.lower() not in ALGORITHMS:
            raise ValueError(f"unknown OMAPI key algorithm {self.algorithm!r}; "
                             f"expected one of {', '.join(sorted(ALGORITHMS))}")


@dataclass(frozen=True)
class FailoverState:
    """A failover peer's state as one server sees it.

    ``local_stos``/``partner_stos`` are the Unix times at which each side entered its
    present state; ``mclt`` is in seconds. They are ``None`` if the server did not send them.
    """

    local_state: str
    partner_state: str
    mclt: int | None = None
    local_stos: int | None = None
    partner_stos: int | None = None


def state_name(code: int) -> str:
    """The human name of a 4.x failover state code, e.g. 4 -> "partner-down"."""
    return STATE_NAMES.get(code, f"unknown-state({code})")


def decode_int(value: str) -> int:
    """Decode an integer as omshell prints it.

    Attributes that dhcpd sends as 4 raw bytes print as hex (``00:00:00:04``), unless
    every byte is printable ASCII: then omshell prints them as a quoted string (a
    ``local-stos`` of 0x6b4a7842 shows as ``"kJxB"``). Values set locally print as decimals.
    """
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return int.from_bytes(value[1:-1].encode("latin-1"), "big")
    if re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+", value):
        return int.from_bytes(bytes.fromhex(value.replace(":", "")), "big")
    if re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    raise OmapiError(f"cannot read {value!r} as an OMAPI integer")


def _script(endpoint: OmapiEndpoint, statements: Sequence[str]) -> str:
    # key-algorithm must precede key: omshell binds the algorithm when it reads the key.
    head = [f"key-algorithm {endpoint.algorithm.lower()}",
            f"server {endpoint.host}",
            f"port {endpoint.port}",
            f"key {endpoint.key_name} {endpoint.secret}",
            "connect"]
    return "\n".join([*head, *statements]) + "\n"


def _first_error(stdout: str, stderr: str) -> str | None:
    errors = [line.strip() for line in stderr.splitlines() if line.strip()]
    # Each reply starts after one "> " prompt per command read.
    replies = (re.sub(r"^(> ?)+", "", line).strip() for line in stdout.splitlines())
    errors += [line for line in replies if _STDOUT_ERROR.match(line)]
    return errors[0] if errors else None


def _last_object(stdout: str) -> dict[str, str]:
    """The attributes of the last object omshell printed (it reprints after each command)."""
    attributes: dict[str, str] = {}
    for raw in stdout.splitlines():
        line = re.sub(r"^(> ?)+", "", raw)
        if line.startswith("obj: "):
            attributes = {}
        elif " = " in line:
            name, _, value = line.partition(" = ")
            attributes[name.strip()] = value.strip()
    return attributes


def _omshell(
    endpoint: OmapiEndpoint,
    statements: Sequence[str],
    command_prefix: Sequence[str],
    timeout: float,
) -> dict[str, str]:
    """Run one omshell session; return the last object's attributes or raise OmapiError."""
    where = f"OMAPI {endpoint.host}:{endpoint.port}"
    try:
        result = subprocess.run([*command_prefix, "omshell"],
                                input=_script(endpoint, statements),
                                capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise OmapiError(f"{where}: cannot run {exc.filename} (is isc-dhcp-server installed?)") \
            from None
    except subprocess.TimeoutExpired:
        raise OmapiError(f"{where}: omshell gave no answer within {timeout} s") from None
    error = _first_error(result.stdout, result.stderr)
    if error is None and result.returncode != 0:
        # omshell itself exits 0; a non-zero status comes from the prefix (ip netns exec...).
        error = f"command exited {result.returncode}"
    if error is not None:
        hint = _HINTS.get(error)
        message = f"{where}: {error}" + (f" ({hint})" if hint else "")
        raise OmapiError(message.replace(endpoint.secret, "<secret>"))
    return _last_object(result.stdout)


def _open_failover_state(peer_name: str) -> list[str]:
    if not _PEER_NAME.fullmatch(peer_name):
        raise ValueError(f"invalid failover peer name {peer_name!r}")
    return ["new failover-state", f'set name = "{peer_name}"', "open"]


def _optional_int(attributes: Mapping[str, str], name: str) -> int | None:
    value = attributes.get(name)
    return None if value is None else decode_int(value)


def read_failover_state(
    endpoint: OmapiEndpoint,
    peer_name: str,
    *,
    command_prefix: Sequence[str] = (),
    timeout: float = 10.0,
) -> FailoverState:
    """Read the ``failover-state`` object of ``peer_name`` from one server."""
    attributes = _omshell(endpoint, _open_failover_state(peer_name), command_prefix, timeout)
    try:
        local, partner = attributes["local-state"], attributes["partner-state"]
    except KeyError:
        raise OmapiError(f"OMAPI {endpoint.host}:{endpoint.port}: failover-state "
                         f"{peer_name!r} came back without local-state/partner-state") from None
    return FailoverState(
        local_state=state_name(decode_int(local)),
        partner_state=state_name(decode_int(partner)),
        mclt=_optional_int(attributes, "mclt"),
        local_stos=_optional_int(attributes, "local-stos"),
        partner_stos=_optional_int(attributes, "partner-stos"),
    )


def wait_for_failover_state(
    endpoint: OmapiEndpoint,
    peer_name: str,
    local_state: str,
    *,
    partner_state: str | None = None,
    command_prefix: Sequence[str] = (),
    timeout: float = 30.0,
    interval: float = 0.2,
) -> FailoverState:
    """Poll until the server reports ``local_state`` (and ``partner_state`` if given).

    Errors while polling are retried, since a starting server refuses connections at
    first; on timeout the last state or error seen is in the OmapiError message.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            state = read_failover_state(endpoint, peer_name, command_prefix=command_prefix,
                                        timeout=min(10.0, timeout))
            if state.local_state == local_state and partner_state in (None, state.partner_state):
                return state
            last = f"last seen {state.local_state}/{state.partner_state}"
        except OmapiError as exc:
            last = f"last error: {exc}"
        if time.monotonic() >= deadline:
            wanted = local_state + (f"/{partner_state}" if partner_state else "")
            raise OmapiError(f"failover peer {peer_name!r} not {wanted} after {timeout} s; {last}")
        time.sleep(interval)


def set_partner_down(
    endpoint: OmapiEndpoint,
    peer_name: str,
    *,
    command_prefix: Sequence[str] = (),
    timeout: float = 10.0,
) -> FailoverState:
    """Tell a server that its partner is down (local-state 4), then read it back.

    Only safe when the partner is really down: two servers in partner-down hand out the
    same addresses. The server serves the partner's free leases only after MCLT.
    """
    _omshell(endpoint, [*_open_failover_state(peer_name), f"set local-state = {_PARTNER_DOWN}",
                        "update"], command_prefix, timeout)
    # The update's own reply does not show the new state; a fresh session does.
    state = read_failover_state(endpoint, peer_name, command_prefix=command_prefix,
                                timeout=timeout)
    if state.local_state != STATE_NAMES[_PARTNER_DOWN]:
        raise OmapiError(f"failover peer {peer_name!r} is {state.local_state} after "
                         f"setting partner-down")
    return state


def _answers(endpoint: OmapiEndpoint, command_prefix: Sequence[str], timeout: float) -> bool:
    try:
        _omshell(endpoint, [], command_prefix, timeout)
    except OmapiError:
        return False
    return True


def shutdown_server(
    endpoint: OmapiEndpoint,
    *,
    command_prefix: Sequence[str] = (),
    timeout: float = 30.0,
) -> None:
    """Shut dhcpd down cleanly through the ``control`` object and wait until it is gone.

    With failover, dhcpd first moves to shut-down and tells its peer, and records
    "recover" for its next start; dhcpd(8) allows up to 25 s for all of that. Meanwhile it
    drains its OMAPI sessions for ~8 s and may drop ours before answering the update (seen with
    max-response-delay >= 10): that reset is the shutdown under way, so it counts as sent, and
    the wait below decides (a server that keeps answering is an error).
    """
    deadline = time.monotonic() + timeout
    try:
        _omshell(endpoint, ["new control", "open", f"set state = {_CONTROL_SHUTDOWN}", "update"],
                 command_prefix, timeout)
    except OmapiError as exc:
        if not exc.session_reset:
            raise
    while _answers(endpoint, command_prefix, max(1.0, deadline - time.monotonic())):
        if time.monotonic() >= deadline:
            raise OmapiError(f"OMAPI {endpoint.host}:{endpoint.port}: server still answers "
                             f"{timeout} s after the shutdown request")
        time.sleep(0.2)
