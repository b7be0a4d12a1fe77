"""One DHCP server: an EC2 instance at the member's fixed address, booted by its user data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from cdktf import TerraformProvider
from constructs import Construct

from ..model import Member
from .aws_modules import eip_association, instance
from .naming import SiteNames


@dataclass(frozen=True, kw_only=True)
class DhcpServerProps:
    member: Member
    """The validated member; needs a placement."""
    names: SiteNames
    subnet_id: str
    """The subnet holding ``member.address`` (an existing one or the site network's)."""
    security_group_id: str
    instance_profile_name: str
    user_data: Mapping[str, str]
    """``{"user_data": text}`` or ``{"user_data_base64": ...}``: ``render_user_data(...).terraform_args()``."""
    provider: TerraformProvider
    egress_ip_allocation_id: str | None = None
    """Elastic IP to associate (construct-made VPC: the way out). Default: none."""
    detailed_monitoring: bool = False
    """1-minute CloudWatch metrics (billed). Default off: 5-minute basic metrics suffice for a
    server whose health is watched through its failover state, and moto (the local AWS API
    of the tests) does not implement MonitorInstances, so the provider would retry forever."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the instance besides its Name. Default: none."""
    key_name: str | None = None
    """An existing EC2 key pair for the login user (reached only through an Instance Connect
    Endpoint). Changing it replaces the instance. Default: none, no SSH key."""
    ipv6_address: str | None = None
    """The member's fixed IPv6 address (a dual-stack site's dhcpv6.members); its subnet must
    have an IPv6 CIDR that holds it. Default: none, IPv4 only."""
    user_data_replace_on_change: bool = True
    """Replace the instance when its user data changes. True: cloud-init runs only at first
    boot, so an in-place change would leave the running server on the old configuration. The
    replacement keeps the address; its leases come back from the partner (failover recover)."""


class DhcpServer(Construct):
    """``aws_instance`` with IMDSv2 required, an encrypted root volume of explicit size, the
    member's fixed private address as the instance's own ``private_ip``, and the AMI from the
    inventory. The address is not on a separately managed ENI: the primary interface (device 0)
    cannot be detached, so such an ENI never destroys cleanly; ``private_ip`` survives
    replacement just as well."""

    instance: instance.Instance

    def __init__(self, scope: Construct, id: str, *, props: DhcpServerProps) -> None:
        super().__init__(scope, id)
        member, names = props.member, props.names
        placement = member.placement
        assert placement is not None, f"member {member.name} has no placement"
        self.instance = instance.Instance(
            self,
            "instance",
            ami=placement.ami,
            instance_type=placement.instance_type,
            subnet_id=props.subnet_id,
            private_ip=str(member.address),
            ipv6_addresses=[props.ipv6_address] if props.ipv6_address is not None else None,
            vpc_security_group_ids=[props.security_group_id],
            iam_instance_profile=props.instance_profile_name,
            # associate_public_ip_address stays unset: with an Elastic IP it reads back true
            # and would force a replacement on every plan. The subnet hands out no public IP.
            metadata_options=instance.InstanceMetadataOptions(
                http_endpoint="enabled",
                http_tokens="required",
                # The server itself reads metadata; no container hop in between.
                http_put_response_hop_limit=1,
                instance_metadata_tags="disabled",
            ),
            root_block_device=instance.InstanceRootBlockDevice(
                encrypted=True,
                volume_type="gp3",
                volume_size=placement.root_volume_gib,
                delete_on_termination=True,
            ),
            monitoring=props.detailed_monitoring,
            ebs_optimized=True,
            user_data_replace_on_change=props.user_data_replace_on_change,
            key_name=props.key_name,
            tags={**props.tags, **names.tags(member.role.value)},
            provider=props.provider,
            **props.user_data,
        )
        if props.egress_ip_allocation_id is not None:
            eip_association.EipAssociation(
                self,
                "egress-ip",
                allocation_id=props.egress_ip_allocation_id,
                instance_id=self.instance.id,
                provider=props.provider,
            )

    @property
    def private_ip(self) -> str:
        return str(self.instance.private_ip)
