"""A YAML reader for inventories that is safe by construction: bounded in size, depth and alias
expansion, plain in what a scalar means, and strict about keys.

PyYAML's ``SafeLoader`` prevents code execution, not harm: it follows YAML 1.1, where ``on`` is
true, ``0647`` is octal 423 and ``1:30`` is 90; it builds self-referencing values from recursive
aliases; it expands an alias flood into a billion values for whoever walks the result; and it
recurses once per nesting level. Here scalars follow YAML 1.2's core schema (only decimal
integers, only ``true``/``false``), the composed node graph is measured before anything is built
from it, and every mapping key must be text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from .messages import excerpt

MAX_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 32
MAX_VALUES = 250_000
"""Values after expanding aliases; a 100-site inventory has about 10,000."""


class YamlInputError(ValueError):
    """The text is not an inventory-shaped YAML document; ``str()`` is one line."""


class _Resolver(BaseResolver):
    """YAML 1.2 core schema. Integers of more than 18 digits stay text (Python refuses to parse
    huge ones, and no inventory value needs them); timestamps, sets and merge keys are not
    recognised, so a date is text and ``<<`` an unknown key."""


_RESOLVERS: list[tuple[str, str, list[str]]] = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9]{0,17})$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)(?:[eE][-+]?[0-9]+)?|[-+]?[0-9]+[eE][-+]?[0-9]+"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
    # "" as a first character: the empty scalar (``key:`` with nothing after it) is null.
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
]
for _tag, _pattern, _first in _RESOLVERS:
    _Resolver.add_implicit_resolver(_tag, re.compile(_pattern), _first)


class _Constructor(SafeConstructor):
    """Only the plain types; an explicit tag such as ``!!binary`` or ``!!python/...`` is refused."""

    yaml_constructors: dict[Any, Callable[..., Any]] = {}


_Constructor.add_constructor("tag:yaml.org,2002:null", SafeConstructor.construct_yaml_null)
_Constructor.add_constructor("tag:yaml.org,2002:bool", SafeConstructor.construct_yaml_bool)
_Constructor.add_constructor("tag:yaml.org,2002:int", lambda loader, node: int(node.value))
_Constructor.add_constructor("tag:yaml.org,2002:float", SafeConstructor.construct_yaml_float)
_Constructor.add_constructor("tag:yaml.org,2002:str", SafeConstructor.construct_yaml_str)
_Constructor.add_constructor("tag:yaml.org,2002:seq", SafeConstructor.construct_yaml_seq)
_Constructor.add_constructor("tag:yaml.org,2002:map", SafeConstructor.construct_yaml_map)
_Constructor.add_constructor(None, SafeConstructor.construct_undefined)


class _Composer(Composer):
    """Refuses nesting deeper than MAX_DEPTH while composing (PyYAML recurses per level)."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[attr-defined]
                raise YamlInputError(f"line {mark.line + 1}: nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


class _Loader(Reader, Scanner, Parser, _Composer, _Constructor, _Resolver):
    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Composer.__init__(self)
        _Constructor.__init__(self)
        _Resolver.__init__(self)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                raise YamlInputError(f"line {line}: a mapping key must be text, not a {_kind(key_node)}")
            key = self.construct_object(key_node)
            if not isinstance(key, str):
                raise YamlInputError(f"line {line}: a mapping key must be text, not {excerpt(key)}; quote it")
            if key in seen:
                raise YamlInputError(f"line {line}: key {excerpt(key)} appears twice in the same mapping")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _kind(node: Node) -> str:
    return "list" if isinstance(node, SequenceNode) else "mapping" if isinstance(node, MappingNode) else "value"


def _measure(root: Node) -> None:
    """Refuse a node graph that refers to itself, or that aliases expand beyond MAX_VALUES
    values or MAX_DEPTH levels. Memoized per node, so an alias flood costs its size in nodes."""
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()

    def measure(node: Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in open_nodes:
            raise YamlInputError(f"line {node.start_mark.line + 1}: an alias refers to a value that contains it")
        if key in sizes:
            return sizes[key]
        if depth > MAX_DEPTH:
            raise YamlInputError(
                f"line {node.start_mark.line + 1}: aliases nest values deeper than {MAX_DEPTH} levels"
            )
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        open_nodes.add(key)
        total, deepest = 1, 0
        for child in children:
            size, levels = measure(child, depth + 1)
            total += size
            deepest = max(deepest, levels)
            if total > MAX_VALUES:
                raise YamlInputError(
                    f"expands to more than {MAX_VALUES} values through aliases; an inventory needs far fewer"
                )
        open_nodes.discard(key)
        sizes[key] = (total, deepest + 1)
        return sizes[key]

    measure(root, 1)


def load_text(text: str) -> Any:
    """Parse one YAML document; raise YamlInputError with one line on anything unsafe or broken."""
    if len(text) > MAX_BYTES:
        raise YamlInputError(f"is larger than {MAX_BYTES // (1024 * 1024)} MB; an inventory is far smaller")
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YamlInputError(f"line {line}: character {exc.character:#06x} is not allowed in YAML; remove it") from None
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _measure(root)
        return loader.construct_document(root)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        tag = exc.problem.rpartition(" ")[2] if exc.problem else "?"
        raise YamlInputError(f"{at}the YAML tag {tag} is not allowed; an inventory holds plain values") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise YamlInputError(f"YAML syntax error at {at}{exc.problem}") from None
    except yaml.YAMLError as exc:
        raise YamlInputError(f"YAML syntax error: {str(exc).splitlines()[0] if str(exc) else 'unreadable'}") from None
    finally:
        loader.dispose()


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
