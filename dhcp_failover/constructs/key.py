"""The site's customer-managed KMS key: encrypts its SSM parameters and VPC flow logs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdktf import TerraformProvider
from constructs import Construct

from .aws_modules import kms_alias, kms_key
from .naming import SiteNames


@dataclass(frozen=True, kw_only=True)
class SiteKeyProps:
    names: SiteNames
    """Names and tags of the site."""
    region: str
    """The key's region (KMS keys are regional)."""
    partition: str
    """ARN partition of the region."""
    account_id: str
    """The deploying account (usually a token from ``data aws_caller_identity``)."""
    provider: TerraformProvider
    """The provider for ``region``."""
    flow_log_group: str | None = None
    """Name of a CloudWatch log group the key may encrypt (VPC flow logs). Default: none."""
    member_log_group: str | None = None
    """Name of the members' log group (monitoring), which the key may encrypt too. Default: none."""
    alarm_topic: bool = False
    """The key encrypts an SNS topic that CloudWatch alarms publish to. Default: no."""
    deletion_window_days: int = 30
    """Waiting period before a deleted key is gone (7-30; 30 leaves the most time to undo)."""


class SiteKey(Construct):
    """``aws_kms_key`` with rotation on and an explicit policy, plus ``alias/dhcp-failover/<site>``.

    The policy keeps the account's default administration statement (IAM policies decide who
    uses the key: only the instance roles may decrypt, and only their own parameters) and,
    when flow logs exist, lets CloudWatch Logs use the key for exactly that log group.
    """

    key: kms_key.KmsKey
    alias: kms_alias.KmsAlias

    def __init__(self, scope: Construct, id: str, *, props: SiteKeyProps) -> None:
        super().__init__(scope, id)
        names = props.names
        self.key = kms_key.KmsKey(
            self,
            "key",
            description=f"dhcp-failover {names.site}: SSM parameters and flow logs",
            enable_key_rotation=True,
            deletion_window_in_days=props.deletion_window_days,
            policy=json.dumps(_key_policy(props), indent=None, sort_keys=True),
            tags=names.tags("key"),
            provider=props.provider,
        )
        self.alias = kms_alias.KmsAlias(
            self, "alias", name=names.key_alias, target_key_id=self.key.key_id, provider=props.provider
        )

    @property
    def arn(self) -> str:
        return str(self.key.arn)


def _key_policy(props: SiteKeyProps) -> dict[str, Any]:
    account_root = f"arn:{props.partition}:iam::{props.account_id}:root"
    statements: list[dict[str, Any]] = [
        {
            # Without it the key becomes unmanageable; it grants nothing to any role by itself.
            "Sid": "AccountAdministersKeyIamPoliciesGrantUse",
            "Effect": "Allow",
            "Principal": {"AWS": account_root},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    log_groups = [g for g in (props.flow_log_group, props.member_log_group) if g is not None]
    if log_groups:
        log_group_arns = [
            f"arn:{props.partition}:logs:{props.region}:{props.account_id}:log-group:{group}" for group in log_groups
        ]
        statements.append(
            {
                "Sid": "CloudWatchLogsEncryptsFlowLogGroup",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{props.region}.amazonaws.com"},
                "Action": ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                "Resource": "*",
                "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": _one_or_list(log_group_arns)}},
            }
        )
    if props.alarm_topic:
        statements.append(
            {
                # An alarm publishes to an encrypted topic only when CloudWatch may use its key.
                "Sid": "CloudWatchAlarmsPublishToEncryptedTopic",
                "Effect": "Allow",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": props.account_id}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def _one_or_list(values: list[str]) -> str | list[str]:
    # One ARN stays a string: the policy of a site without monitoring is unchanged.
    return values[0] if len(values) == 1 else values
