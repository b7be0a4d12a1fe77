"""ServerRole and SiteKey: each instance reads exactly its own parameters, decrypts with exactly
the site key, and nothing else; the key rotates and its policy grants no one by itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest


def _by_path(resources: dict[str, Any], fragment: str) -> dict[str, Any]:
    (found,) = [r for name, r in resources.items() if name.startswith(fragment)]
    return found


@pytest.fixture
def shared(synth_sites: Callable[..., Any], placed: Callable[..., Any]) -> dict[str, Any]:
    return synth_sites(placed())["lab-shared"]["resource"]


def test_instance_role_is_assumed_by_ec2_only(shared: dict[str, Any]) -> None:
    role = _by_path(shared["aws_iam_role"], "iam_primary_role")
    assert role["name"] == "dhcp-failover-lab-primary"
    trust = json.loads(role["assume_role_policy"])
    assert trust["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}}
    ]
    assert "managed_policy_arns" not in role
    assert "aws_iam_role_policy_attachment" not in shared
    profile = _by_path(shared["aws_iam_instance_profile"], "iam_primary_profile")
    assert profile["role"].startswith("${aws_iam_role.iam_primary_role")


def test_instance_policy_names_exactly_its_parameters_and_the_site_key(shared: dict[str, Any]) -> None:
    parameter = next(iter(shared["aws_ssm_parameter"]))
    key = next(iter(shared["aws_kms_key"]))
    for role in ("primary", "secondary"):
        policy = json.loads(_by_path(shared["aws_iam_role_policy"], f"iam_{role}_policy")["policy"])
        assert policy["Statement"] == [
            {
                "Sid": "ReadOwnParameters",
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParameters"],
                "Resource": [f"${{aws_ssm_parameter.{parameter}.arn}}"],
            },
            {
                "Sid": "DecryptOwnParameters",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": f"${{aws_kms_key.{key}.arn}}",
                "Condition": {
                    "StringEquals": {"kms:EncryptionContext:PARAMETER_ARN": [f"${{aws_ssm_parameter.{parameter}.arn}}"]}
                },
            },
        ]


def test_no_iam_statement_uses_a_wildcard_resource(synthesized_examples: dict[str, Any]) -> None:
    for outdir in synthesized_examples.values():
        for path in outdir.glob("stacks/*-shared/cdk.tf.json"):
            resources = json.loads(path.read_text())["resource"]
            for name, policy in resources["aws_iam_role_policy"].items():
                for statement in json.loads(policy["policy"])["Statement"]:
                    resource = statement["Resource"]
                    if statement["Action"] == "cloudwatch:PutMetricData":
                        # PutMetricData names no resource; the namespace condition is what narrows it.
                        assert statement["Condition"] == {"StringEquals": {"cloudwatch:namespace": "DhcpFailover"}}
                        continue
                    assert "*" not in ([resource] if isinstance(resource, str) else resource), name
                    assert "*" not in json.dumps(statement["Action"]), name


def test_key_rotates_and_its_policy_only_administers(shared: dict[str, Any]) -> None:
    (key,) = shared["aws_kms_key"].values()
    assert key["enable_key_rotation"] is True
    assert key["deletion_window_in_days"] == 30
    policy = json.loads(key["policy"])
    admin, logs = policy["Statement"]
    assert admin["Principal"] == {"AWS": "arn:aws:iam::${data.aws_caller_identity.account.account_id}:root"}
    # CloudWatch Logs may use the key for the site's flow-log group and nothing else.
    assert logs["Principal"] == {"Service": "logs.eu-west-1.amazonaws.com"}
    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"].endswith(
        ":log-group:/dhcp-failover/lab/vpc-flow-logs"
    )
    (alias,) = shared["aws_kms_alias"].values()
    assert alias["name"] == "alias/dhcp-failover/lab"


def test_flow_log_role_trusts_the_service_for_this_account_only(shared: dict[str, Any]) -> None:
    role = _by_path(shared["aws_iam_role"], "eu-west-1_network_flow-logs_role")
    (statement,) = json.loads(role["assume_role_policy"])["Statement"]
    assert statement["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {
        "aws:SourceAccount": "${data.aws_caller_identity.account.account_id}"
    }


def test_cross_region_members_read_their_own_regions_copy(synthesized_examples: dict[str, Any]) -> None:
    stack = json.loads((synthesized_examples["two-regions"] / "stacks/transatlantic-shared/cdk.tf.json").read_text())
    resources = stack["resource"]
    regions = {"primary": "eu-west-1", "secondary": "us-east-1"}
    for role, region in regions.items():
        text = _by_path(resources["aws_iam_role_policy"], f"iam_{role}_policy")["policy"]
        assert f"aws_ssm_parameter.{region}_parameters" in text and f"aws_kms_key.{region}_key" in text
        other = regions["secondary" if role == "primary" else "primary"]
        assert other not in text
