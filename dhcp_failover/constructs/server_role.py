"""A member's instance role: read its own SSM parameters, decrypt them with the site key, publish
its own WireGuard public key, nothing else."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cdktf import TerraformProvider
from constructs import Construct

from ..model import Member
from .aws_modules import iam_instance_profile, iam_role, iam_role_policy
from .naming import SiteNames

EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def reporter_statements(namespace: str, log_streams_arn: str) -> list[dict[str, Any]]:
    """What the monitoring reporter may do: put metrics in one namespace (PutMetricData has no
    resource to name; the namespace condition key is how it is narrowed), and write its own
    log streams (``<group>:log-stream:<member>/*``), no other member's."""
    return [
        {
            "Sid": "PutMetricsInOwnNamespace",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": namespace}},
        },
        {
            "Sid": "WriteOwnLogStreams",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": log_streams_arn,
        },
    ]


def instance_policy(
    parameter_arns: Sequence[str],
    key_arn: str,
    reporter: Sequence[dict[str, Any]] = (),
    *,
    plain_parameter_arns: Sequence[str] = (),
    publish_arn: str | None = None,
) -> dict[str, Any]:
    """The whole permission set of a DHCP server.

    SSM encrypts a SecureString under the encryption context ``PARAMETER_ARN``, so the
    condition limits decryption to these parameters even if the key encrypts more later.
    ``plain_parameter_arns``: String parameters it reads (no decryption): the partner's tunnel
    endpoint and published public key, its own published key. ``publish_arn``: the one
    parameter it may write, its own WireGuard public key (a String: no KMS permission).
    ``reporter``: the monitoring reporter's statements, when the site is monitored.
    """
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadOwnParameters",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters"],
            "Resource": [*parameter_arns, *plain_parameter_arns],
        },
        {
            "Sid": "DecryptOwnParameters",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:EncryptionContext:PARAMETER_ARN": list(parameter_arns)}},
        },
    ]
    if publish_arn is not None:
        statements.append(
            {
                "Sid": "PublishOwnWireGuardPublicKey",
                "Effect": "Allow",
                "Action": "ssm:PutParameter",
                "Resource": publish_arn,
            }
        )
    return {"Version": "2012-10-17", "Statement": [*statements, *reporter]}


@dataclass(frozen=True, kw_only=True)
class ServerRoleProps:
    member: Member
    names: SiteNames
    parameter_arns: Sequence[str]
    """ARNs of exactly the SecureStrings this member reads and decrypts (``secrets.member_secrets``)."""
    key_arn: str
    """The site's KMS key in the member's region."""
    provider: TerraformProvider
    """Any provider of the account (IAM is global)."""
    reporter: Sequence[dict[str, Any]] = ()
    """``reporter_statements(...)`` when the site is monitored. Default: none."""
    plain_parameter_arns: Sequence[str] = ()
    """String parameters it reads without decrypting (tunnel sites: the partner's endpoint and
    public key, its own published key). Default: none."""
    publish_arn: str | None = None
    """The one parameter it may write: its own WireGuard public key. Default: none (no tunnel)."""


class ServerRole(Construct):
    """``aws_iam_role`` + inline ``aws_iam_role_policy`` + ``aws_iam_instance_profile``.

    No managed policies: Session Manager (AmazonSSMManagedInstanceCore) is not granted; attach
    it yourself if operators need shell access through SSM.
    """

    role: iam_role.IamRole
    profile: iam_instance_profile.IamInstanceProfile

    def __init__(self, scope: Construct, id: str, *, props: ServerRoleProps) -> None:
        super().__init__(scope, id)
        names, member = props.names, props.member
        name = names.role_name(member.role)
        self.role = iam_role.IamRole(
            self,
            "role",
            name=name,
            description=f"DHCP server {member.name} of dhcp-failover site {names.site}",
            assume_role_policy=json.dumps(EC2_TRUST, sort_keys=True),
            tags=names.tags(member.role.value),
            provider=props.provider,
        )
        if props.parameter_arns or props.plain_parameter_arns:
            iam_role_policy.IamRolePolicy(
                self,
                "policy",
                name="read-own-parameters",
                role=self.role.id,
                policy=json.dumps(
                    instance_policy(
                        props.parameter_arns,
                        props.key_arn,
                        props.reporter,
                        plain_parameter_arns=props.plain_parameter_arns,
                        publish_arn=props.publish_arn,
                    ),
                    sort_keys=True,
                ),
                provider=props.provider,
            )
        self.profile = iam_instance_profile.IamInstanceProfile(
            self,
            "profile",
            name=name,
            role=self.role.name,
            tags=names.tags(member.role.value),
            provider=props.provider,
        )
