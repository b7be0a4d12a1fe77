"""checkov on every synthesized stack (nulls stripped): 0 failed checks, every waiver reasoned.

checkov's terraform_json runner ignores in-file skip comments, so waivers live here, each
scoped to one check, one resource type and one kind of stack, and each must still be needed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.support.checkout import example_stacks
from tests.support.checkov_waivers import WAIVERS, _kind, _resource_type
from tests.support.tfenv import run_checkov, run_checkov_on_many

Failures = dict[tuple[str, str], list[tuple[str, str, str]]]


@pytest.fixture(scope="session")
def checkov_failures(synthesized_examples: dict[str, Path]) -> Failures:
    """Every stack's failed checks as (check id, resource type, description), all stacks in
    one checkov process."""
    paths = {
        (example, stack): synthesized_examples[example] / "stacks" / stack / "cdk.tf.json"
        for example, stack in example_stacks()
    }
    failures: Failures = {}
    for key, checks in run_checkov_on_many(paths).items():
        stack = json.loads(paths[key].read_text())
        failures[key] = [(c["check_id"], _resource_type(c, stack), f"{c['check_id']} {c['check_name']}: {c['resource']}")
                         for c in checks]
    return failures


def test_no_failed_check(example_stack: tuple[str, str], checkov_failures: Failures) -> None:
    kind = _kind(example_stack[1])
    unwaived = [text for check, rtype, text in checkov_failures[example_stack] if (check, rtype, kind) not in WAIVERS]
    assert unwaived == []


def test_every_waiver_is_still_needed(checkov_failures: Failures) -> None:
    used = {
        (check, rtype, _kind(stack))
        for (_, stack), failed in checkov_failures.items()
        for check, rtype, _ in failed
    }
    assert set(WAIVERS) <= used, f"stale waivers: {set(WAIVERS) - used}"
    assert all(len(reason) > 40 for reason in WAIVERS.values())


def test_checkov_sees_what_we_harden(synthesized_examples: dict[str, Path], tmp_path: Path) -> None:
    """The non-compliant twin: undo the hardening in a copy and checkov must object, so 0
    failures above means checked, not skipped."""
    stacks = synthesized_examples["minimal"] / "stacks"
    member = json.loads((stacks / "hq-primary" / "cdk.tf.json").read_text())
    (instance,) = member["resource"]["aws_instance"].values()
    instance["metadata_options"]["http_tokens"] = "optional"
    instance["root_block_device"]["encrypted"] = False
    shared = json.loads((stacks / "hq-shared" / "cdk.tf.json").read_text())
    (key,) = shared["resource"]["aws_kms_key"].values()
    key["enable_key_rotation"] = False
    rules = shared["resource"]["aws_vpc_security_group_ingress_rule"]
    some_rule = copy.deepcopy(next(iter(rules.values())))
    rules["ssh_from_anywhere"] = {**some_rule, "ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_ipv4": "0.0.0.0/0"}
    failed: set[str] = set()
    for name, stack in (("member", member), ("shared", shared)):
        path = tmp_path / name / "cdk.tf.json"
        path.parent.mkdir()
        path.write_text(json.dumps(stack))
        failed |= {c["check_id"] for c in run_checkov(path)}
    assert {"CKV_AWS_79", "CKV_AWS_8", "CKV_AWS_7", "CKV_AWS_24"} <= failed, failed
