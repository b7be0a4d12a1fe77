"""The tables in ``docs/`` that mirror code, generated from that code.

Each table lives in a marked region of a Markdown file::

    <!-- BEGIN GENERATED inventory-fields: python -m dhcp_failover docs --out docs/ -->
    ...
    <!-- END GENERATED inventory-fields -->

``python -m dhcp_failover docs --out docs/`` rewrites every region from the code (inventory
fields from the pydantic model's JSON Schema, the security-group rule table from
``constructs/rules.py``, the validation rules from the checks' docstrings, CLI help from
argparse); ``--check`` only compares. Prose around the regions is the authors'. Pure Python:
no cdktf, so the command is as quick as ``validate``.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from . import checks
from .backends.registry import backend_for_kind
from .constructs.rules import RULE_KINDS
from .ddns import Ddns, TsigKey
from .errors import UsageError
from .inventory import inventory_json_schema
from .model import Member, Role, ServerKind, Site, WireGuard
from .render import TEMPLATES
from .secret_names import SecretKind, SecretSpec, site_secrets

COMMAND = "python -m dhcp_failover docs --out docs/"
_REGION = re.compile(
    r"^(?P<begin><!-- BEGIN GENERATED (?P<name>[a-z0-9-]+)[^\n]*-->\n)"
    r"(?P<body>.*?)"
    r"^(?P<end><!-- END GENERATED (?P=name) -->)",
    re.DOTALL | re.MULTILINE,
)
# Markers count only at the start of a line, so prose can quote them.
_BEGIN = re.compile(r"^<!-- BEGIN GENERATED ([a-z0-9-]+)", re.MULTILINE)
HELP_WIDTH = 100  # fixed, so the committed help does not depend on the terminal that made it


@dataclass(frozen=True)
class StaleRegion:
    path: Path
    region: str

    def __str__(self) -> str:
        return f"{self.path}: generated region '{self.region}' differs from the code; run {COMMAND}"


# --- inventory fields ------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Table-cell text: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _anchor(name: str) -> str:
    return name.lower()


def _ref_name(node: Mapping[str, Any]) -> str | None:
    ref = node.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if ref else None


def _type(node: Mapping[str, Any], defs: Mapping[str, Any]) -> str:
    """How a field's schema reads to a person: 'list of [Pool](#pool) (at most 100)'."""
    name = _ref_name(node)
    if name is not None:
        target = defs[name]
        if "enum" in target:
            return "one of " + ", ".join(f"`{value}`" for value in target["enum"])
        return f"[{name}](#{_anchor(name)})"
    if "anyOf" in node or "oneOf" in node:
        variants = [v for v in node.get("anyOf", node.get("oneOf", [])) if v.get("type") != "null"]
        return " or ".join(_type(v, defs) for v in variants)
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    kind = node.get("type")
    if kind == "array":
        bounds = _bounds(node.get("minItems"), node.get("maxItems"), "items")
        return f"list of {_type(node.get('items', {}), defs)}{bounds}"
    if kind == "object":
        patterned: Mapping[str, Any] = next(iter(node.get("patternProperties", {}).values()), {})
        values: Mapping[str, Any] = node.get("additionalProperties") or patterned
        return f"map of text to {_type(values, defs) if values else 'any value'}"
    if kind == "string":
        return {"ipv4": "IPv4 address", "ipv4network": "IPv4 network (CIDR)"}.get(node.get("format", ""), "text")
    if kind == "integer":
        return f"integer{_bounds(node.get('minimum'), node.get('maximum'), '')}"
    if kind == "boolean":
        return "`true` or `false`"
    return str(kind or "any value")


def _bounds(low: int | None, high: int | None, unit: str) -> str:
    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f" ({low}..{high}{suffix})" if unit == "" else f" ({low} to {high}{suffix})"
    if high is not None:
        return f" (at most {high}{suffix})"
    if low is not None:
        return f" (at least {low}{suffix})"
    return ""


def _default(name: str, node: Mapping[str, Any], required: set[str]) -> str:
    if name in required:
        return "required"
    if "default" not in node:
        return "see its fields" if _ref_name(node) is not None else ""
    default = node["default"]
    if default is None:
        return "none"
    if isinstance(default, dict) and default and _ref_name(node) is not None:
        return "see its fields"
    return f"`{json.dumps(default)}`"


def _models_in_order(schema: Mapping[str, Any]) -> Iterator[str]:
    """Every object model once, in the order a reader meets it from the top of the file."""
    defs = schema["$defs"]
    seen: set[str] = set()
    queue: list[Mapping[str, Any]] = [schema]
    while queue:
        node = queue.pop(0)
        for child in _refs(node):
            if child not in seen and "properties" in defs[child]:
                seen.add(child)
                yield child
                queue.append(defs[child])


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        name = _ref_name(node)
        if name is not None:
            yield name
        for key, value in node.items():
            if key != "$defs":
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _field_table(model: Mapping[str, Any], defs: Mapping[str, Any]) -> list[str]:
    required = set(model.get("required", []))
    lines = ["| field | type | default | meaning |", "|---|---|---|---|"]
    for name, node in model["properties"].items():
        meaning = _cell(node.get("description", ""))
        row = [f"`{name}`", _cell(_type(node, defs)), _cell(_default(name, node, required)), meaning]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def inventory_fields() -> str:
    """One table per model of the inventory, from the JSON Schema the model generates."""
    schema = inventory_json_schema()
    defs = schema["$defs"]
    lines = ["### The file (top level)", "", _cell(schema.get("description", "")), ""]
    lines += _field_table(schema, defs)
    for name in _models_in_order(schema):
        model = defs[name]
        lines += ["", f"### {name}", ""]
        if model.get("description"):
            lines += [_cell(model["description"]), ""]
        lines += _field_table(model, defs)
    return "\n".join(lines) + "\n"


# --- security groups ---------------------------------------------------------------------------


def security_group_rules() -> str:
    """The named rule table of ``constructs/rules.py``, one row per kind of rule."""
    lines = ["| rule | direction | protocol | port | description |", "|---|---|---|---|---|"]
    for key, kind in RULE_KINDS.items():
        if kind.protocol == "icmp":
            port = f"type {kind.port}, code {kind.icmp_code}"
        else:
            port = str(kind.port) if kind.port is not None else "from the site"
        description = kind.description.replace("{peer}", "<peer>")
        lines.append(f"| `{key}` | {kind.direction.value} | {kind.protocol} | {port} | {_cell(description)} |")
    return "\n".join(lines) + "\n"


def held_states() -> str:
    """Every backend's ``held_states`` table: the states a gate stops on, and their recovery."""
    lines = ["| server | state | what it says | the gate stops | recovery |", "|---|---|---|---|---|"]
    for kind in ServerKind:
        for state, row in backend_for_kind(kind).held_states.items():
            when = "at once" if row.hopeless else "at its timeout"
            lines.append(f"| {kind.value} | `{state}` | {_cell(row.meaning)} | {when} | {_cell(row.recovery)} |")
    return "\n".join(lines) + "\n"


# --- secrets -----------------------------------------------------------------------------------


def _placeholder_site() -> Site:
    """A site with every section that brings a secret, named by placeholders; built without
    validation, since only the names matter here."""
    network = IPv4Network("192.0.2.0/24")  # documentation addresses: the table shows no address
    members = tuple(Member.model_construct(name=name, role=role, address=address, network=network)
                    for name, role, address in (("<member>", Role.PRIMARY, network[1]),
                                                ("<partner>", Role.SECONDARY, network[2])))
    keys = (TsigKey.model_construct(name="<name>"),)
    ddns = Ddns.model_construct(domain_name="example.com", keys=keys, zones=())
    return Site.model_construct(name="<site>", members=members, wireguard=WireGuard(), ddns=ddns)


def _placeholder_sites() -> tuple[Site, ...]:
    """The placeholder site as ISC and as Kea: each server brings its own control secret."""
    isc = _placeholder_site()
    return isc, isc.model_copy(update={"server": ServerKind.KEA})


def _readers(spec: SecretSpec, site: Site) -> str:
    own, partner = (spec.readable_by(member) for member in site.members)
    return {(True, True): "both members", (True, False): "its member", (False, True): "the partner"}[own, partner]


def site_secret_names() -> str:
    """One row per kind of secret (``secret_names.SecretKind``): where it lives and how it travels."""
    first: dict[SecretKind, tuple[SecretSpec, Site]] = {}
    for site in _placeholder_sites():
        for spec in site_secrets(site):
            first.setdefault(spec.kind, (spec, site))
    lines = ["| secret | SSM parameter | variables a pipeline exports | read by |", "|---|---|---|---|"]
    for kind in SecretKind:
        if kind not in first:
            raise UsageError(f"secret kind {kind.value} is missing from reference_docs._placeholder_site; add the "
                             "section that brings it")
        spec, site = first[kind]
        variables = f"`TF_VAR_{spec.variable_name}`, `TF_VAR_{spec.version_variable_name}`"
        lines.append(f"| `{kind.value}` | `{spec.parameter_name}` | {variables} | {_readers(spec, site)} |")
    return "\n".join(lines) + "\n"


# --- validation rules --------------------------------------------------------------------------


def _doc(check: Callable[..., Any]) -> str:
    text = (check.__doc__ or "").strip()
    if not text:
        raise UsageError(f"checks.{check.__name__} has no docstring; say in it what the check enforces")
    return _cell(text)


def validation_rules() -> str:
    """Every registered check of ``checks``, with the rules its docstring states."""
    lines = ["| scope | check | what it enforces |", "|---|---|---|"]
    for scope, registered in checks.DOCUMENTED_CHECKS:
        for check in registered:
            lines.append(f"| {scope} | `{check.__name__.lstrip('_')}` | {_doc(check)} |")
    return "\n".join(lines) + "\n"


# --- CLI help ----------------------------------------------------------------------------------


def _fixed_width(parser: argparse.ArgumentParser) -> str:
    def formatter(prog: str) -> argparse.HelpFormatter:
        return argparse.HelpFormatter(prog, width=HELP_WIDTH)

    parser.formatter_class = formatter
    return parser.format_help()


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser's subcommands by name (argparse exposes them no other way)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found.update(action.choices)
    return found


def cli_help() -> str:
    """``--help`` of the command and of every subcommand, as argparse prints it."""
    from .cli import build_parser  # the CLI imports this module for its ``docs`` command

    parser = build_parser()
    sections = ["```text", _fixed_width(parser).rstrip(), "```"]
    for name, sub in subcommands(parser).items():
        sections += ["", f"### `{name}`", "", "```text", _fixed_width(sub).rstrip(), "```"]
    return "\n".join(sections) + "\n"


# --- module map --------------------------------------------------------------------------------


def _summary(path: Path) -> str:
    """The first paragraph of a module's docstring, read without importing it (some load cdktf)."""
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return _cell(docstring.split("\n\n", 1)[0])


def module_map() -> str:
    """Every module of the package with what its docstring says it is for, and every template."""
    package = Path(__file__).parent
    lines = ["| module | what it is for |", "|---|---|"]
    for path in sorted(package.rglob("*.py")):
        if path.name != "__main__.py":
            lines.append(f"| `{path.relative_to(package.parent).as_posix()}` | {_summary(path)} |")
    lines += ["", "| template folder | templates (every file format is one of these, rendered in one place) |"]
    lines += ["|---|---|"]
    for folder in sorted(p for p in TEMPLATES.iterdir() if p.is_dir()):
        names = ", ".join(f"`{t.name}`" for t in sorted(folder.glob("*.j2")))
        lines.append(f"| `templates/{folder.name}/` | {names} |")
    return "\n".join(lines) + "\n"


GENERATORS: Mapping[str, Callable[[], str]] = {
    "module-map": module_map,
    "inventory-fields": inventory_fields,
    "security-group-rules": security_group_rules,
    "held-states": held_states,
    "site-secrets": site_secret_names,
    "validation-rules": validation_rules,
    "cli-help": cli_help,
}


# --- the regions in the files ------------------------------------------------------------------


def _regenerate(text: str, path: Path, tables: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with every region replaced, and the names of the regions it holds."""
    found: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in tables:
            known = ", ".join(sorted(tables))
            raise UsageError(f"{path}: unknown generated region '{name}'; known: {known}")
        found.append(name)
        return f"{match['begin']}{tables[name]}{match['end']}"

    updated = _REGION.sub(replace, text)
    unclosed = [name for name in _BEGIN.findall(text) if name not in found]
    if unclosed:
        raise UsageError(f"{path}: region '{unclosed[0]}' has no '<!-- END GENERATED {unclosed[0]} -->' line")
    return updated, found


def refresh(folder: Path, *, write: bool) -> list[StaleRegion]:
    """Compare (and with ``write``, rewrite) every generated region under ``folder``.

    Every generator must have a region somewhere, so a table cannot be dropped unnoticed.
    Returns the regions that differed from the code."""
    if not folder.is_dir():
        raise UsageError(f"--out {folder}: not a folder; give the docs/ folder of the checkout")
    tables = {name: generate() for name, generate in GENERATORS.items()}
    stale: list[StaleRegion] = []
    placed: set[str] = set()
    updates: dict[Path, str] = {}
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        updated, names = _regenerate(text, path, tables)
        placed.update(names)
        old_bodies = {m["name"]: m["body"] for m in _REGION.finditer(text)}
        stale += [StaleRegion(path, name) for name in names if old_bodies[name] != tables[name]]
        if updated != text:
            updates[path] = updated
    missing = sorted(set(tables) - placed)
    if missing:
        raise UsageError(f"{folder}: no file holds the generated region '{missing[0]}'; "
                             f"add '<!-- BEGIN GENERATED {missing[0]} -->' ... '<!-- END GENERATED {missing[0]} -->'")
    if write:
        # Every file is checked before any is written, so a bad region leaves all of them as they were.
        for path, text in updates.items():
            staged = path.with_name(f".{path.name}.tmp")
            staged.write_text(text, encoding="utf-8")
            staged.replace(path)
    return stale
