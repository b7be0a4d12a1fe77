"""YAML inventory in, validated model out; every failure becomes one ``InventoryError`` line."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .checks import line_of, validate
from .errors import InventoryError, InventoryProblems
from .fields import ALLOWED_BY_PATTERN
from .messages import excerpt
from .model import Inventory
from .safe_yaml import YamlInputError, load_text_with_lines, read_text

# Pair-level failover settings people put under a member by habit (dhcpd.conf has them in
# each server's peer block); the ISC guide says the secondary must not have them.
_PAIR_SETTINGS_ON_MEMBERS = {
    "mclt": "failover.mclt",
    "split": "failover.split",
    "hba": "failover.hba",
    "load_balance_max_seconds": "failover.load_balance_max_seconds",
    "max_response_delay": "failover.max_response_delay",
    "max_unacked_updates": "failover.max_unacked_updates",
}


def load_inventory(path: str | Path) -> Inventory:
    """Read, parse and validate an inventory file; raise InventoryError naming the file."""
    path = Path(path)
    try:
        text = read_text(path)
    except FileNotFoundError:
        raise InventoryError(f"{path}: no such inventory file") from None
    except IsADirectoryError:
        raise InventoryError(f"{path}: is a folder, not an inventory file") from None
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except YamlInputError as exc:
        raise InventoryError(f"{path}: {exc}") from None
    try:
        return parse_inventory(text)
    except InventoryProblems as exc:
        raise exc.located(str(path)) from None
    except InventoryError as exc:
        raise InventoryError(f"{path}: {exc}") from None


def parse_inventory(text: str) -> Inventory:
    try:
        data, lines = load_text_with_lines(text)
    except YamlInputError as exc:
        raise InventoryError(str(exc)) from None
    return inventory_from_data(data, lines)


def inventory_from_data(data: Any, lines: Mapping[tuple[Any, ...], int] | None = None) -> Inventory:
    """Validate parsed inventory data: one problem raises InventoryError, several raise
    InventoryProblems (all of the first stage that finds any, in the order of ``lines``)."""
    if not isinstance(data, dict):
        raise InventoryError("the inventory must be a mapping with a 'sites' list")
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        problems = _describe(exc, data, lines or {})
        if len(problems) == 1:
            raise InventoryError(problems[0]) from None
        raise InventoryProblems(problems, pending=FIELD_CHECKS_PENDING) from None
    return validate(inventory, lines)


# The rules across fields (checks.py) need every field valid first.
FIELD_CHECKS_PENDING = "the rules that relate several fields are checked once these are fixed"


def _describe(exc: ValidationError, data: Any, lines: Mapping[tuple[Any, ...], int]) -> list[str]:
    """Every problem as a line in the inventory's own words (the field's path as the file spells
    it, the value quoted safely, and what the field allows), in the file's order."""
    problems = _problems_by_field(exc, data)
    # A misspelt key also makes its intended key "missing"; the did-you-mean is the useful line.
    meant = {(*loc[:-1], close) for loc, errors in problems.items()
             if any(e["type"] == "extra_forbidden" for e in errors) and loc
             for close in difflib.get_close_matches(str(loc[-1])[:64], _allowed_keys(loc[:-1]), n=1, cutoff=0.6)}
    kept = [loc for loc, errors in problems.items()
            if not (loc in meant and all(e["type"] == "missing" for e in errors))]
    kept.sort(key=lambda loc: line_of(loc, lines))
    return [f"{_where(loc, data)}: {_what(problems[loc], loc)}" for loc in kept]


def _problems_by_field(exc: ValidationError, data: Any) -> dict[tuple[Any, ...], list[Any]]:
    """The validator's errors grouped by the inventory field they are about. A union (an address
    or a host name) fails once per alternative, each under a step that names the validator, not
    the file: those steps go, and the alternatives meet again under their field. A list that
    fails only because one of its items did is not a problem of its own."""
    grouped: dict[tuple[Any, ...], list[Any]] = {}
    for error in exc.errors(include_url=False):
        grouped.setdefault(_field_location(tuple(error["loc"]), data, error["type"]), []).append(error)
    return {loc: errors for loc, errors in grouped.items()
            if not any(other[: len(loc)] == loc and len(other) > len(loc) for other in grouped)}


def _field_location(loc: tuple[Any, ...], data: Any, kind: str) -> tuple[Any, ...]:
    kept: list[Any] = []
    node = data
    for i, step in enumerate(loc):
        last = i == len(loc) - 1
        in_data = (isinstance(node, dict) and step in node) or (
            isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node))
        if in_data or (last and kind == "missing"):
            kept.append(step)
            node = _child(node, step)
    return tuple(kept)


def _what(errors: list[Any], loc: tuple[Any, ...]) -> str:
    first = errors[0]
    kind = first["type"]
    key = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        if key in _PAIR_SETTINGS_ON_MEMBERS and len(loc) >= 3 and loc[-3] == "members":
            return (
                f"{key} is a setting of the pair, not of a member; set {_PAIR_SETTINGS_ON_MEMBERS[key]} "
                "(backends render mclt and split/hba on the primary only)"
            )
        if len(loc) >= 2 and loc[-2] == "monitoring" and _in_the_off_form(tuple(first["loc"])):
            return f"unknown key {excerpt(key)}: with enabled: false, monitoring takes only a reason"
        return f"unknown key {excerpt(key)}{_did_you_mean(key, _allowed_keys(loc[:-1]))}"
    if kind == "missing":
        return f"missing required key {excerpt(key)}"
    shown = excerpt(first.get("input"))
    # Our own checks already say what to do, in a phrase that follows the value.
    ours = [e["msg"].removeprefix("Value error, ") for e in errors if e["type"] == "value_error"]
    if ours:
        return f"{shown} {ours[0]}"
    if kind == "literal_error" and key == "version":
        return f"{shown} must be 1 or 2 (the inventory formats this version knows; see docs/inventory.md)"
    allowed = list(dict.fromkeys(_allowed(e) for e in errors))
    return f"{shown} must be {', or '.join(allowed)}"


# What a value of each kind must be, for the validator's error types.
_ALLOWED_BY_KIND = {
    "ip_v4_address": "an IPv4 address, like 10.0.0.1",
    "ip_v4_network": "an IPv4 network with its host bits zero, like 10.0.0.0/24",
    "ip_v4_interface": "an IPv4 address with its prefix length, like 10.0.0.1/24",
    "ip_v6_address": "an IPv6 address, like 2001:db8::1",
    "ip_v6_network": "an IPv6 network with its host bits zero, like 2001:db8::/64",
    "ip_v6_interface": "an IPv6 address with its prefix length, like 2001:db8::1/64",
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "float_type": "a number",
    "float_parsing": "a number",
    "tuple_type": "a list",
    "list_type": "a list",
    "set_type": "a list",
    "frozen_set_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
}


def _allowed(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "string_pattern_mismatch":
        return ALLOWED_BY_PATTERN.get(str(ctx.get("pattern")), "text of the form the inventory reference gives for it")
    if kind in ("enum", "literal_error"):
        # An inventory writes YAML's true and false, not Python's.
        expected = str(ctx.get("expected", "the values the inventory reference lists"))
        return f"one of {expected.replace('True', 'true').replace('False', 'false')}"
    bounds = {
        "greater_than_equal": ("a number of at least", "ge"),
        "less_than_equal": ("a number of at most", "le"),
        "greater_than": ("a number above", "gt"),
        "less_than": ("a number below", "lt"),
        "string_too_short": ("text of at least {} character(s)", "min_length"),
        "string_too_long": ("text of at most {} characters", "max_length"),
    }
    if kind in bounds:
        phrase, field = bounds[kind]
        return phrase.format(ctx.get(field)) if "{}" in phrase else f"{phrase} {ctx.get(field)}"
    if kind in ("too_short", "too_long"):
        what = "mapping with" if ctx.get("field_type") == "Dictionary" else "list of"
        count, word = (ctx.get("min_length"), "at least") if kind == "too_short" else (ctx.get("max_length"), "at most")
        return f"a {what} {word} {count} item(s)"
    return _ALLOWED_BY_KIND.get(kind, "a value of the kind the inventory reference gives for it")


def _in_the_off_form(raw_loc: tuple[Any, ...]) -> bool:
    """Whether an error is about ``monitoring: {enabled: false, ...}`` (the validator's step
    after ``monitoring`` names the form it chose)."""
    at = raw_loc.index("monitoring") if "monitoring" in raw_loc else -1
    return at >= 0 and raw_loc[at + 1 : at + 2] == ("off",)


def _where(loc: tuple[Any, ...], data: Any) -> str:
    """'site "hq": subnets[0].pools[1].start' from a field's location in the file."""
    parts: list[str] = []
    node = data
    prefix = ""
    for i, step in enumerate(loc):
        if loc[:1] == ("sites",) and i == 1 and isinstance(step, int):
            name = _site_name(node, step)
            prefix = f'site "{name}"' if name else f"sites[{step}]"
            parts = []
        elif isinstance(step, int):
            parts.append(f"[{step}]")
        else:
            text = excerpt(step)[1:-1] if isinstance(step, str) else str(step)
            parts.append(f".{text}" if parts else text)
        node = _child(node, step)
    path = "".join(parts)
    if prefix:
        return f"{prefix}: {path}" if path else prefix
    return path or "inventory"


def _site_name(sites: Any, index: int) -> str | None:
    site = _child(sites, index)
    name = site.get("name") if isinstance(site, dict) else None
    return excerpt(name)[1:-1] if isinstance(name, str) else None


def _child(node: Any, step: Any) -> Any:
    if isinstance(node, dict):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
        return node[step]
    return None


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model at a location, for did-you-mean suggestions."""
    model: type[BaseModel] | None = Inventory
    for step in loc:
        if model is None:
            return []
        if isinstance(step, int):
            continue
        field = _keys_of(model).get(step)
        model = _model_in(field.annotation) if field else None
    return sorted(_keys_of(model)) if model else []


def _keys_of(model: type[BaseModel]) -> dict[str, Any]:
    """A model's fields by the key an inventory writes them under (a field's alias, if it has one)."""
    return {info.alias or name: info for name, info in model.model_fields.items()}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found:
            return found
    return None


def _did_you_mean(key: Any, allowed: list[str]) -> str:
    close = difflib.get_close_matches(str(key)[:64], allowed, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    if allowed:
        return f"; allowed keys: {', '.join(allowed)}"
    return ""


def inventory_json_schema() -> dict[str, Any]:
    """JSON Schema of the inventory, generated from the model, for editors."""
    schema = Inventory.model_json_schema(mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dhcp-failover inventory"
    return schema
