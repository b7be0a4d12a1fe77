"""How each Kea series spells what the renderer builds: configs are built once, in Kea 2.2's
words, and respelled for the series a member installs.

Kea 3.0 deprecated these 2.2 names (``kea-dhcp4 -t`` 3.0.3 warns about each); 2.2 knows only
the old ones (it refuses ``client-classes`` in a pool), so each member gets its own series'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...releases import KeaSeries

# 2.2 name -> (3.0 name, how the value changes).
KEA_3_0_RENAMES: dict[str, tuple[str, Callable[[Any], Any]]] = {
    # A pool or subnet may now take several classes (any one of them admits a client).
    "client-class": ("client-classes", lambda name: [name]),
    # A class evaluated only when a subnet or pool asks for it.
    "only-if-required": ("only-in-additional-list", lambda value: value),
    # The classes a subnet or pool asks for, evaluated after the others.
    "require-client-classes": ("evaluate-additional-classes", lambda value: value),
    # true meant: check DHCID records before changing a name (RFC 4703), 3.0's check-with-dhcid.
    "ddns-use-conflict-resolution": (
        "ddns-conflict-resolution-mode",
        lambda on: "check-with-dhcid" if on else "no-check-with-dhcid",
    ),
}


def respell(config: Any, series: KeaSeries) -> Any:
    """``config`` (a kea-dhcp4 tree in 2.2's words) as ``series`` spells it."""
    if series is KeaSeries.KEA_2_2:
        return config
    return _renamed(config, KEA_3_0_RENAMES)


def _renamed(node: Any, renames: dict[str, tuple[str, Callable[[Any], Any]]]) -> Any:
    if isinstance(node, list):
        return [_renamed(item, renames) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in renames:
            new_key, convert = renames[key]
            out[new_key] = convert(value)
        else:
            out[key] = _renamed(value, renames)
    return out
