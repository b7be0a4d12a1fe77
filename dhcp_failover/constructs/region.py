"""Everything regional a site needs in one region: its KMS key, its SSM parameters, and the
construct-made VPC when members there bring no subnet.

A pair in two regions gets one of these per region (SSM parameters and KMS keys are regional,
and each member reads its secrets in its own region); its id is the region name, so adding
a region later never renames what exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cdktf import TerraformProvider
from constructs import Construct

from ..model import Role
from ..secret_names import SecretSpec
from .key import SiteKey, SiteKeyProps
from .layout import RegionLayout
from .naming import SiteNames
from .network import SiteNetwork, SiteNetworkProps
from .parameters import SecretInputs, SiteParameters, SiteParametersProps


@dataclass(frozen=True, kw_only=True)
class SiteRegionProps:
    layout: RegionLayout
    names: SiteNames
    inputs: Mapping[SecretSpec, SecretInputs]
    partition: str
    account_id: str
    provider: TerraformProvider
    member_log_group: str | None = None
    """The monitored site's log group: the key may encrypt it. Default: not monitored."""
    alarm_topic: bool = False
    """The key encrypts the site's alarm topic here. Default: no."""


class SiteRegion(Construct):
    key: SiteKey
    key_arn: str
    parameters: SiteParameters
    network: SiteNetwork | None

    def __init__(self, scope: Construct, id: str, *, props: SiteRegionProps) -> None:
        super().__init__(scope, id)
        layout, names = props.layout, props.names
        self.key = SiteKey(
            self,
            "key",
            props=SiteKeyProps(
                names=names,
                region=layout.region,
                partition=props.partition,
                account_id=props.account_id,
                provider=props.provider,
                flow_log_group=names.flow_log_group if layout.created else None,
                member_log_group=props.member_log_group,
                alarm_topic=props.alarm_topic,
            ),
        )
        self.key_arn = self.key.arn  # a token; read once (each read is a jsii round trip)
        self.parameters = SiteParameters(
            self,
            "parameters",
            props=SiteParametersProps(
                names=names, inputs=props.inputs, key_arn=self.key_arn, provider=props.provider
            ),
        )
        self.network = None
        if layout.created:
            assert layout.vpc_cidr is not None
            self.network = SiteNetwork(
                self,
                "network",
                props=SiteNetworkProps(
                    names=names,
                    members=layout.created,
                    cidr=layout.vpc_cidr,
                    region=layout.region,
                    partition=props.partition,
                    account_id=props.account_id,
                    key_arn=self.key_arn,
                    provider=props.provider,
                ),
            )

    def placement_of(self, role: Role) -> tuple[str, str] | None:
        """(vpc_id, subnet_id) of a member in the construct-made VPC, or None."""
        if self.network is None or role not in self.network.subnets:
            return None
        return self.network.vpc.id, self.network.subnets[role].id
