"""What an error line may not hold: the validator's own words. A user reads the field, the value
and what is allowed; the names of the functions and types that checked it mean nothing to them."""

from __future__ import annotations

import re

# Fragments of the validation library's vocabulary (its location steps, its messages' openings,
# its type names) and of Python's; none of them is a word an inventory or its docs use.
VALIDATOR_WORDS = (
    "pydantic", "validator", "validation error", "value error", "function-before", "function-after",
    "function-plain", "function-wrap", "lax-or-strict", "json-or-python", "constrained-str", "is-instance",
    "tagged-union", "union[", "tuple[", "list[", "dict[", "[key]", "input should", "input is not",
    "string should", "tuple should", "list should", "dictionary should", "should have at least",
    "ipv4address", "ipv4network", "nonetype", "traceback", "typeerror", "keyerror", "valueerror",
    "errors.pydantic.dev", "for further information", "model_", "jinja", "yaml.scanner", "yaml.parser",
    "yaml.constructor", "yaml.composer", "yaml.reader",
)
# A regular expression quoted whole (a pattern the value did not match) is no answer either.
_REGEX = re.compile(r"\^\[|\]\{\d|\$'")


def assert_in_users_words(line: str) -> None:
    lowered = line.lower()
    found = [word for word in VALIDATOR_WORDS if word in lowered]
    assert not found, f"validator words {found} in: {line[:400]}"
    assert not _REGEX.search(line), f"a regular expression in: {line[:400]}"


_COUNT_LINE = re.compile(r"^(?P<count>\d+) problems in .+$")
SHOWN_AT_MOST = 100


def error_lines(stderr: str) -> list[str]:
    """The ``error:`` lines of a failed command, holding it to the contract: one problem is one
    ``error:`` line and nothing else; several are one ``error:`` line each (a screenful at most)
    and then one line that counts them all."""
    lines = stderr.split("\n")
    assert lines[-1] == "", f"no final newline: {stderr[-300:]!r}"
    lines = lines[:-1]
    assert lines and all(line.startswith("error: ") for line in lines[:-1]), f"not error lines: {stderr[:3000]!r}"
    if len(lines) == 1:
        assert lines[0].startswith("error: "), lines[0][:300]
        return lines
    count = _COUNT_LINE.match(lines[-1])
    assert count, f"several problems but no line that counts them: {stderr[-600:]!r}"
    shown = lines[:-1]
    assert len(shown) >= 2, f"a count line after one problem: {stderr[:600]!r}"
    assert int(count["count"]) == len(shown) or len(shown) == SHOWN_AT_MOST < int(count["count"]), lines[-1]
    return shown
