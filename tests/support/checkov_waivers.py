"""The checkov waivers: checkov's terraform_json runner ignores in-file skip comments, so each
waiver lives here, scoped to one check, one resource type and one kind of stack."""

from __future__ import annotations

from typing import Any

# (check id, resource type, stack kind) → why the check does not apply.
WAIVERS: dict[tuple[str, str, str], str] = {
    ("CKV2_AWS_5", "aws_security_group", "shared"): (
        "Each group is attached to its member's instance in the member stack; checkov scans one "
        "stack file at a time and cannot see an attachment made in another."
    ),
    ("CKV2_AWS_19", "aws_eip", "shared"): (
        "Each Elastic IP is associated with its member's instance by aws_eip_association in the "
        "member stack, out of sight of a one-file scan. It lives in the shared stack so the "
        "partner's security group can name it as the WireGuard endpoint."
    ),
    ("CKV_AWS_126", "aws_instance", "member"): (
        "Detailed (1-minute, billed) monitoring is off by default: a DHCP server's health is its "
        "failover state, read over OMAPI, and 5-minute basic metrics cover capacity. It stays a "
        "DhcpServerProps switch; moto, the local AWS API of the deploy tests, does not implement "
        "MonitorInstances and the provider would retry it forever."
    ),
    ("CKV_AWS_338", "aws_cloudwatch_log_group", "shared"): (
        "The members' log group keeps what the inventory's monitoring.log_retention_days says, 90 days by "
        "default (issue 13): dhcpd's lease log is operational, not an audit trail. A site that must keep "
        "a year sets 365 (examples/office.yaml does); VPC flow logs keep a year regardless."
    ),
    ("CKV_AWS_24", "aws_vpc_security_group_ingress_rule", "shared"): (
        "A false positive on the SSH rules of operator_access: checkov 'sees' port 22 open to the "
        "world in an ingress rule without a CIDR, because it knows source_security_group_id but not "
        "referenced_security_group_id, whose peer here is the Instance Connect Endpoint's group. "
        "test_no_rule_admits_anything_from_anywhere checks every ingress rule's peer instead."
    ),
    ("CKV2_AWS_34", "aws_ssm_parameter", "shared"): (
        "Only the WireGuard endpoint and public-key parameters are plain String: a public Elastic "
        "IP and port, which every packet of the tunnel shows anyway, and a public key. Encrypting "
        "them would need a cross-region KMS grant for the partner (and kms:Encrypt for the member "
        "publishing its key), widening access for no secrecy; who may write the key is IAM's "
        "business either way. Every secret is a SecureString under the site's key "
        "(test_constructs_parameters)."
    ),
}


def _kind(stack: str) -> str:
    return "shared" if stack.endswith("-shared") else "member"


def _resource_type(check: dict[str, Any], stack: dict[str, Any]) -> str:
    """The failing resource's type. checkov names most as TYPE.NAME but some (CKV_AWS_126) as
    resource.NAME, so the name is looked up in the stack itself."""
    kind, name = check["resource"].rsplit(".", 1)
    if kind != "resource":
        return kind
    (found,) = [rtype for rtype, resources in stack.get("resource", {}).items() if name in resources]
    return found
