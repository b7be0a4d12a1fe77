"""Text that reaches a terminal: one error is always exactly one line, whatever the input held.

Inventory values are hostile until proven otherwise: a newline in a key would forge a second
``error:`` line, a 5 MB string would flood the terminal, and serializing a recursive value to
quote it never ends. Everything quoted from the input goes through ``excerpt``; every line printed
goes through ``one_line``.
"""

from __future__ import annotations

from typing import Any

# Longer lines are cut: a message is for a person, and no honest one needs more.
MAX_LINE = 2000
EXCERPT = 40


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def one_line(text: str, limit: int = MAX_LINE) -> str:
    """``text`` with every character that is not printable (line and paragraph separators,
    control and format characters, unassigned code points) escaped, cut to ``limit``."""
    out = "".join(c if c.isprintable() else _escape(c) for c in text[: limit + 1])
    return out if len(out) <= limit else out[: limit - 3] + "..."


def excerpt(value: Any, limit: int = EXCERPT) -> str:
    """A short, safe quote of an input value: never more than ``limit`` characters of it, never
    a walk through a container (which may be huge or refer to itself)."""
    if isinstance(value, str):
        shown = one_line(value, limit)
        return f"'{shown}'"
    if value is None or isinstance(value, (bool, int, float)):
        return one_line(repr(value), limit)
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return f"a mapping of {len(value)} key(s)"
    return f"a value of type {type(value).__name__}"
