"""Property-based fuzzing of the inventory contract with Hypothesis.

Inventories are the examples and test sites, mutated along the model's own schema: a field set
to a hostile value (control and separator characters, quotes, template and shell syntax, huge
numbers, booleans, half-internet CIDRs, lists where text belongs), a field the schema knows added
where it was absent, an unknown key, a key removed, a list item doubled. The contract, checked
through the CLI's own entry point: exit 2 with one printable `error:` line per problem (and a
line that counts them when there are several) and nothing written, or exit 0 with output that passes `dhcpd -t` for both roles, user-data that carries
the rendered files byte for byte and passes `cloud-init schema`, and a bootstrap that `bash -n`
accepts. Never a traceback, never more than a few seconds.

CI runs a fixed seed and a bounded number of examples; ``scripts/fuzz-inventory N`` runs more.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dhcp_failover import cli
from dhcp_failover.inventory import _allowed_keys, _model_in
from dhcp_failover.model import Inventory
from tests.support.factories import EXAMPLES, inventory_data, site_data
from tests.support.messages import assert_in_users_words, error_lines
from tests.support.tools import require
from tests.support.well_formed import CLOUD_INIT_SCHEMA, check_accepted

EXAMPLES_TO_RUN = int(os.environ.get("DHCP_FAILOVER_FUZZ_EXAMPLES", "120"))
SECONDS_PER_INVENTORY = 5.0

TRICKY_TEXT = [
    "a..b", "-lab", "lab-", "relays", "x" * 300, "", " ", "on", "yes", "0647", "1:30", "2020-01-01",
    "0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/7", "8.8.8.0/24", "127.0.0.1", "224.0.0.1", "255.255.255.255",
    "10.77.2.0", "10.77.2.255", "10.77.1.1", "10.77.1.0/29",
    '"', "\\", "'", "a\nerror: forged", "a\u2028b", "a\u2029b", "\x7f", "\ufffe", "\u200e", "\x00", "\t", "\r",
    "${var.x}", "%{ if true }x%{ endif }", "$(reboot)", "`id`", "'; rm -rf /", "{{ 7*7 }}", "{% raw %}", "#",
    "aws:name", "AWS:x", "subnet-0123456789abcdef0", "ami-0123456789abcdef0", "eu-west-1", "eu-west-1a",
]

hostile_text = st.one_of(
    st.sampled_from(TRICKY_TEXT),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40),
    st.ip_addresses(v=4).map(str),
    st.tuples(st.ip_addresses(v=4), st.integers(0, 32)).map(lambda t: f"{t[0]}/{t[1]}"),
)
scalar = st.one_of(
    hostile_text,
    st.integers(min_value=-(2**64), max_value=2**64),
    st.sampled_from([0, 1, 519, 647, 7911, 65535, 65536, 2**31]),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
)
value = st.one_of(
    scalar,
    st.lists(scalar, max_size=3),
    st.dictionaries(hostile_text, scalar, max_size=2),
)


def bases() -> list[dict[str, Any]]:
    found = [yaml.safe_load(path.read_text()) for path in EXAMPLES]
    return [*found, inventory_data(site_data())]


BASES = bases()


def containers(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path in the tree that holds a mapping or a list."""
    found = []
    if isinstance(node, dict):
        found.append(path)
        for key, child in node.items():
            found += containers(child, (*path, key))
    elif isinstance(node, list):
        found.append(path)
        for i, child in enumerate(node):
            found += containers(child, (*path, i))
    return found


def at(node: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        node = node[step]
    return node


def _pattern(schema: Any) -> str | None:
    if isinstance(schema, dict):
        if isinstance(schema.get("pattern"), str):
            return schema["pattern"]
        for key, child in schema.items():
            found = None if key == "$defs" else _pattern(child)
            if found:
                return found
    elif isinstance(schema, list):
        for child in schema:
            found = _pattern(child)
            if found:
                return found
    return None


def field_pattern(schema_path: tuple[str, ...], key: str) -> str | None:
    """The regular expression the model's own schema gives a text field, if any."""
    model: Any = Inventory
    for step in schema_path:
        field = model.model_fields.get(step) if model else None
        model = _model_in(field.annotation) if field else None
    if model is None or key not in model.model_fields:
        return None
    return _pattern(model.model_json_schema()["properties"].get(key))


@st.composite
def mutated_inventories(draw: st.DrawFn) -> dict[str, Any]:
    data = yaml.safe_load(yaml.safe_dump(draw(st.sampled_from(BASES))))  # a deep copy
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(containers(data)))
        node = at(data, path)
        if isinstance(node, dict):
            schema_path = tuple(step for step in path if not isinstance(step, int))
            known = _allowed_keys(schema_path)
            action = draw(st.sampled_from(["set", "set-from-schema", "set-from-schema", "add-known", "add-unknown", "remove"]))
            pattern = None
            if action == "set-from-schema" and node:
                key = draw(st.sampled_from(sorted(node)))
                pattern = field_pattern(schema_path, key)
                if pattern:
                    node[key] = draw(st.from_regex(pattern, fullmatch=True).filter(lambda t: len(t) < 200))
            elif action == "set" and node:
                node[draw(st.sampled_from(sorted(node)))] = draw(value)
            elif action == "add-known" and known:
                node[draw(st.sampled_from(known))] = draw(value)
            elif action == "add-unknown":
                node[draw(hostile_text)] = draw(value)
            elif action == "remove" and node:
                del node[draw(st.sampled_from(sorted(node)))]
        elif node:
            i = draw(st.integers(0, len(node) - 1))
            action = draw(st.sampled_from(["set", "double", "remove"]))
            if action == "set":
                node[i] = draw(value)
            elif action == "double":
                node.append(yaml.safe_load(yaml.safe_dump(node[i])))
            else:
                del node[i]
    return data


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(args))
    return code, out.getvalue(), err.getvalue()


def test_mutated_inventories_keep_the_contract(tmp_path: Path) -> None:
    require("dhcpd")
    require("cloud-init")
    user_data_dir = tmp_path / "user-data"
    user_data_dir.mkdir()
    outcomes = {"accepted": 0, "rejected": 0}
    counter = iter(range(10**9))

    @settings(
        max_examples=EXAMPLES_TO_RUN,
        derandomize=EXAMPLES_TO_RUN <= 500,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    )
    @given(mutated_inventories())
    def keeps_the_contract(data: dict[str, Any]) -> None:
        case = tmp_path / f"case-{next(counter)}"
        out = case / "out"
        (out / "keep").mkdir(parents=True)
        (out / "keep" / "file.txt").write_text("left as it was\n")
        inventory_path = case / "inventory.yaml"
        inventory_path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))

        started = time.monotonic()
        code, stdout, stderr = run_cli("render", "--inventory", str(inventory_path), "--out", str(out))
        seconds = time.monotonic() - started

        assert seconds < SECONDS_PER_INVENTORY, f"took {seconds:.1f} s"
        assert code in (0, 2), (code, stderr)
        if code == 2:
            outcomes["rejected"] += 1
            assert stdout == ""
            for line in error_lines(stderr):
                assert line.isprintable(), repr(line)
                assert_in_users_words(line)
            assert sorted(p.name for p in out.iterdir()) == ["keep"]
        else:
            outcomes["accepted"] += 1
            check_accepted(inventory_path, out, case / "work", user_data_dir)

    keeps_the_contract()
    print(f"fuzz: {outcomes['accepted']} accepted, {outcomes['rejected']} rejected")
    assert outcomes["rejected"] > 0 and outcomes["accepted"] > 0, outcomes
    files = sorted(str(p) for p in user_data_dir.iterdir())
    result = subprocess.run(["/usr/bin/python3", "-c", CLOUD_INIT_SCHEMA, *files], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("text", ["a\u2028b", "x\x85y", "tab\there", "é"])
def test_one_line_escapes_what_would_break_a_line(text: str) -> None:
    from dhcp_failover.messages import one_line

    shown = one_line(text)
    assert shown.isprintable() and len(shown.splitlines()) == 1
