"""YAML inventory in, validated model out; every failure becomes one ``InventoryError`` line."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .checks import validate
from .errors import InventoryError
from .messages import excerpt
from .model import Inventory
from .safe_yaml import YamlInputError, load_text, read_text

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
    except InventoryError as exc:
        raise InventoryError(f"{path}: {exc}") from None


def parse_inventory(text: str) -> Inventory:
    try:
        data = load_text(text)
    except YamlInputError as exc:
        raise InventoryError(str(exc)) from None
    return inventory_from_data(data)


def inventory_from_data(data: Any) -> Inventory:
    if not isinstance(data, dict):
        raise InventoryError("the inventory must be a mapping with a 'sites' list")
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        raise InventoryError(_describe(exc, data)) from None
    return validate(inventory)


def _describe(exc: ValidationError, data: Any) -> str:
    """The first pydantic error as a line that names the site and field and says what to do."""
    # A misspelt key also makes its intended key "missing"; the did-you-mean is the useful line.
    errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc = tuple(first["loc"])
    where = _where(loc, data)
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{where}: {_what(first, loc)}{more}"


def _what(error: Any, loc: tuple[Any, ...]) -> str:
    kind = error["type"]
    key = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        if key in _PAIR_SETTINGS_ON_MEMBERS and len(loc) >= 3 and loc[-3] == "members":
            return (
                f"{key} is a setting of the pair, not of a member; set {_PAIR_SETTINGS_ON_MEMBERS[key]} "
                "(backends render mclt and split/hba on the primary only)"
            )
        return f"unknown key {excerpt(key)}{_did_you_mean(key, _allowed_keys(loc[:-1]))}"
    if kind == "missing":
        return f"missing required key {excerpt(key)}"
    shown = excerpt(error.get("input"))
    message = error["msg"]
    if kind == "string_pattern_mismatch":
        message = "has characters or a form that is not allowed here"
        if key == "name":
            message = "must be 2-40 characters of lower-case letters, digits and '-', starting with a letter"
    elif kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "literal_error" and key == "version":
        message = "must be 1 or 2 (the inventory formats this version knows; see docs/inventory.md)"
    return f"{shown} {message[0].lower()}{message[1:]}"


def _where(loc: tuple[Any, ...], data: Any) -> str:
    """'site "hq": subnets[0].pools[1].start' from a pydantic location."""
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
        field = model.model_fields.get(step)
        model = _model_in(field.annotation) if field else None
    return sorted(model.model_fields) if model else []


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
