"""A YAML reader for inventories that is safe by construction: bounded in size, depth and alias
expansion, plain in what a scalar means, and strict about keys.

PyYAML's ``SafeLoader`` prevents code execution, not harm: it follows YAML 1.1, where ``on`` is
true, ``0647`` is octal 423 and ``1:30`` is 90; it builds self-referencing values from recursive
aliases; it expands an alias flood into a billion values for whoever walks the result; it
recurses once per nesting level; and its pure-Python parser needs seconds per megabyte.

Here the values are built straight from the parser's event stream (libyaml's when PyYAML has it),
with an explicit stack instead of recursion. Each anchored value remembers how many values and
levels it expands to, so an alias is charged its full expanded size the moment it is used, and an
alias to a value still being built (a cycle) is refused. Scalars follow YAML 1.2's core schema:
only decimal integers, only ``true``/``false``; dates stay text. Every mapping key must be text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    Event,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

from .messages import excerpt

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 32
MAX_VALUES = 250_000
"""Values (keys included) after expanding aliases; a 100-site inventory has about 10,000."""

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# More than 18 digits stays text: Python refuses to parse huge integers, and no value needs them.
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9]{0,17})$")
_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?$|^[-+]?[0-9]+[eE][-+]?[0-9]+$")
_SPECIAL_FLOATS = {".inf": math.inf, ".Inf": math.inf, ".INF": math.inf, "+.inf": math.inf, "+.Inf": math.inf,
                   "+.INF": math.inf, "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
                   ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan}
_PLAIN_TAGS = {None, "!", "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
               "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"}


class YamlInputError(ValueError):
    """The text is not an inventory-shaped YAML document; ``str()`` is one line."""


@dataclass
class _Open:
    """A mapping or list being built."""

    value: dict[str, Any] | list[Any]
    anchor: str | None
    line: int
    path: tuple[Any, ...] = ()
    key: Any = None
    has_key: bool = False
    values: int = 1
    """Values it holds, itself included, aliases expanded."""
    depth: int = 1


@dataclass
class _Builder:
    stack: list[_Open] = field(default_factory=list)
    anchors: dict[str, tuple[Any, int, int]] = field(default_factory=dict)
    """Finished anchored values: (value, values it expands to, levels it spans)."""
    building: set[str] = field(default_factory=set)
    total: int = 0
    root: Any = None
    lines: dict[tuple[Any, ...], int] = field(default_factory=dict)
    """The line each key and list item starts on, by its path from the root (aliases' contents not)."""

    def _next_path(self, line: int, *, is_key: Any = None) -> tuple[Any, ...]:
        """The path of the value about to be attached, recording where it starts."""
        if not self.stack:
            return ()
        parent = self.stack[-1]
        if isinstance(parent.value, list):
            path = (*parent.path, len(parent.value))
            self.lines.setdefault(path, line)
            return path
        if not parent.has_key:
            if isinstance(is_key, str):
                self.lines.setdefault((*parent.path, is_key), line)
            return parent.path
        return (*parent.path, parent.key)

    def count(self, values: int, line: int) -> None:
        self.total += values
        if self.total > MAX_VALUES:
            raise YamlInputError(
                f"line {line}: more than {MAX_VALUES} values (aliases expanded); an inventory needs far fewer"
            )

    def attach(self, value: Any, values: int, depth: int, line: int) -> None:
        """Put a finished value (scalar, closed container or alias) into the open container."""
        if len(self.stack) + depth > MAX_DEPTH:
            raise YamlInputError(f"line {line}: values nest deeper than {MAX_DEPTH} levels (aliases expanded)")
        if not self.stack:
            self.root = value
            return
        parent = self.stack[-1]
        parent.values += values
        parent.depth = max(parent.depth, depth + 1)
        if isinstance(parent.value, list):
            parent.value.append(value)
        elif not parent.has_key:
            if not isinstance(value, str):
                kind = "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else excerpt(value)
                raise YamlInputError(f"line {line}: a mapping key must be text, not {kind}; quote it")
            if value in parent.value:
                raise YamlInputError(f"line {line}: key {excerpt(value)} appears twice in the same mapping")
            parent.key, parent.has_key = value, True
        else:
            parent.value[parent.key] = value
            parent.has_key = False

    def scalar(self, value: Any, anchor: str | None, line: int) -> None:
        self.count(1, line)
        self._next_path(line, is_key=value)
        if anchor is not None:
            self.anchors[anchor] = (value, 1, 1)
        self.attach(value, 1, 1, line)

    def open(self, value: dict[str, Any] | list[Any], anchor: str | None, line: int) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise YamlInputError(f"line {line}: nested deeper than {MAX_DEPTH} levels")
        self.count(1, line)
        if anchor is not None:
            self.building.add(anchor)
        self.stack.append(_Open(value, anchor, line, self._next_path(line)))

    def close(self) -> None:
        node = self.stack.pop()
        if node.anchor is not None:
            self.building.discard(node.anchor)
            self.anchors[node.anchor] = (node.value, node.values, node.depth)
        self.attach(node.value, node.values, node.depth, node.line)

    def alias(self, anchor: str, line: int) -> None:
        if anchor in self.building:
            raise YamlInputError(f"line {line}: an alias refers to a value that contains it")
        if anchor not in self.anchors:
            raise YamlInputError(f"line {line}: alias *{excerpt(anchor)[1:-1]} names no anchor defined before it")
        value, values, depth = self.anchors[anchor]
        self.count(values, line)
        self._next_path(line)
        self.attach(value, values, depth, line)


def _scalar(event: ScalarEvent, line: int) -> Any:
    tag, text = event.tag, event.value
    if tag not in _PLAIN_TAGS:
        raise YamlInputError(f"line {line}: the YAML tag {excerpt(tag)} is not allowed; an inventory holds plain values")
    plain = event.implicit[0] and tag is None
    if tag == "tag:yaml.org,2002:str" or tag == "!" or (tag is None and not plain):
        return text
    if tag is None or tag == "tag:yaml.org,2002:null":
        if _NULL.match(text):
            return None
        if tag is not None:
            raise YamlInputError(f"line {line}: {excerpt(text)} is not null")
    if (tag is None or tag == "tag:yaml.org,2002:bool") and text in _BOOL:
        return _BOOL[text]
    if (tag is None or tag == "tag:yaml.org,2002:int") and _INT.match(text):
        return int(text)
    if tag is None or tag == "tag:yaml.org,2002:float":
        if _FLOAT.match(text):
            return float(text)
        if text in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[text]
    if tag is None:
        return text
    raise YamlInputError(f"line {line}: {excerpt(text)} is not a valid {tag.rpartition(':')[2]}")


def _line(event: Event) -> int:
    return event.start_mark.line + 1 if event.start_mark is not None else 0


def _build(events: Any) -> _Builder:
    builder = _Builder()
    documents = 0
    for event in events:
        line = _line(event)
        if isinstance(event, ScalarEvent):
            builder.scalar(_scalar(event, line), event.anchor, line)
        elif isinstance(event, (MappingStartEvent, SequenceStartEvent)):
            if event.tag not in _PLAIN_TAGS:
                raise YamlInputError(f"line {line}: the YAML tag {excerpt(event.tag)} is not allowed; an inventory holds plain values")
            builder.open({} if isinstance(event, MappingStartEvent) else [], event.anchor, line)
        elif isinstance(event, (MappingEndEvent, SequenceEndEvent)):
            builder.close()
        elif isinstance(event, AliasEvent):
            assert event.anchor is not None  # libyaml gives every alias its anchor's name
            builder.alias(event.anchor, line)
        elif isinstance(event, DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise YamlInputError(f"line {line}: a second YAML document; an inventory is one document")
        elif not isinstance(event, (StreamStartEvent, StreamEndEvent, DocumentEndEvent)):
            raise YamlInputError(f"line {line}: unexpected YAML content")
    return builder


def load_text(text: str) -> Any:
    """Parse one YAML document; raise YamlInputError with one line on anything unsafe or broken."""
    return load_text_with_lines(text)[0]


def load_text_with_lines(text: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """``load_text``, and the line each key and list item starts on, by its path (``("sites", 0,
    "name")``), so problems can be told in the order the file has them."""
    if len(text) > MAX_BYTES:
        raise YamlInputError(f"is larger than {MAX_BYTES // (1024 * 1024)} MB; an inventory is far smaller")
    try:
        builder = _build(yaml.parse(text, Loader=_LOADER))
        return builder.root, builder.lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlInputError(f"YAML syntax error at {at}{exc.problem}") from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YamlInputError(f"line {line}: character {exc.character:#06x} is not allowed in YAML; remove it") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise YamlInputError(f"YAML syntax error: {first}") from None


def read_text(path: Path) -> str:
    """The file's text, read no further than MAX_BYTES (a device or a FIFO never ends)."""
    with path.open("rb") as stream:
        data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise YamlInputError(f"is larger than {MAX_BYTES // (1024 * 1024)} MB; an inventory is far smaller")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlInputError(f"is not UTF-8 text (byte {exc.start})") from None
