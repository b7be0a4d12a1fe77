"""A DHCP failover pair in AWS: one shared stack and one stack per member.

Stack layout (stack names and construct ids are API: Terraform state is keyed by them):

- ``<site>-shared``: KMS key, SSM parameters and the VPC per region, security groups, IAM.
- ``<site>-secondary``: the secondary's instance.
- ``<site>-primary``: the primary's instance; depends on ``<site>-secondary``, so
  ``cdktf deploy '*'`` changes one member at a time (shared, then secondary, then primary)
  and the other keeps serving.

Members have fixed addresses from the inventory, so no member stack reads the other's
outputs; both read the shared stack's (subnet, security group, instance profile, EIP).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cdktf import App, Fn, TerraformBackend, TerraformOutput, TerraformProvider, TerraformStack
from constructs import Construct

from ..backends.registry import backend_for
from ..checks import validate
from ..cloudinit import instance_user_data
from ..errors import InventoryError
from ..instance_connect import SITE_TAG
from ..model import Inventory, Member, Role, Site, TunnelEndpoints
from ..monitoring import NAMESPACE, log_group_name, log_stream_prefix
from ..render import CISCO_IOS_SNIPPET, JUNOS_SNIPPET, RELAY_DEFAULTS, render_relay
from ..secret_names import PUBLIC_KEY_PLACEHOLDER, SecretSpec, member_secrets, site_secrets, wireguard_public_key_parameter
from ..tunnel_keys import peer_endpoint_parameter
from .aws_modules import data_aws_caller_identity, eip, ssm_parameter
from .instance_connect import InstanceConnectEndpoint, InstanceConnectProps, endpoint_places, operator_policy
from .layout import LocalAwsApi, RegionLayout, is_placed, partition_of, region_of, site_regions
from .monitoring import InstanceAlarms, InstanceAlarmsProps, SiteMonitoring, SiteMonitoringProps
from .naming import SiteNames, member_stack_name, merged_tags, shared_stack_name
from .parameters import SecretInputs, secret_variables
from .providers import aws_provider
from .region import SiteRegion, SiteRegionProps
from .security_groups import DhcpSecurityGroups, DhcpSecurityGroupsProps
from .server import DhcpServer, DhcpServerProps
from .server_role import ServerRole, ServerRoleProps, reporter_statements
from .state import BackendFactory, local_backend


@dataclass(frozen=True, kw_only=True)
class DhcpFailoverPairProps:
    site: Site
    """A validated site whose two members have a placement."""
    inventory_tags: Mapping[str, str] = field(default_factory=dict)
    """Tags of the whole inventory; the site's tags override them. Default: none."""
    user_data: Mapping[Role, Mapping[str, str]] | None = None
    """Each member's aws_instance user-data arguments. Default: ``instance_user_data``'s."""
    local_api: LocalAwsApi | None = None
    """Point every provider at a local AWS API (moto, LocalStack). Default: real AWS."""
    decommission: bool = False
    """Tearing the site down: leave ``prevent_destroy`` off the tunnel Elastic IPs. Default: kept."""
    backend: BackendFactory = local_backend
    """Makes each of the three stacks' backend (``state.py``); the member stacks' reads of the
    shared stack follow it. Default: local state files next to cdktf.json."""


def _default_user_data(site: Site) -> dict[Role, Mapping[str, str]]:
    return {m.role: instance_user_data(site, m) for m in (site.primary, site.secondary)}


class DhcpFailoverPair(Construct):
    """One site: its shared stack (``<id>-shared``) and its two member stacks
    (``<id>-secondary``, ``<id>-primary``).

    ``scope`` may be any construct of an App. The three stacks are always made as children of
    the App itself: ``cdktf deploy`` matches stacks and their dependencies by construct path,
    and Terraform state is keyed by stack name, so where the pair sits in a user's tree changes
    nothing in what is deployed. The site is checked on construction exactly as ``validate``
    checks an inventory: a bad site raises ``InventoryError`` with the same one line.

    Typed children: ``shared_stack``, ``member_stacks``, ``regions`` (per region: key,
    parameters, network), ``security_groups``, ``instance_connect``, ``roles``, ``servers`` and
    ``backends``.
    """

    shared_stack: TerraformStack
    member_stacks: dict[Role, TerraformStack]
    regions: dict[str, SiteRegion]
    security_groups: DhcpSecurityGroups
    roles: dict[Role, ServerRole]
    servers: dict[Role, DhcpServer]
    monitoring: dict[str, SiteMonitoring]
    """Per region, when the site is monitored: alert topic, log group, alarms (dashboard at home)."""
    instance_alarms: dict[Role, InstanceAlarms]
    instance_connect: dict[str, InstanceConnectEndpoint]
    """The operators' endpoints (``operator_access.instance_connect``), by region or VPC id; empty when off."""
    backends: dict[str, TerraformBackend]
    """Each stack's backend, by stack name."""

    def __init__(self, scope: Construct, id: str, *, props: DhcpFailoverPairProps) -> None:
        """``scope``: any construct of an App; ``id``: the site name, prefix of the three stack names."""
        site = props.site
        validate(Inventory(tags=props.inventory_tags, sites=(site,)))
        if not is_placed(site):
            raise InventoryError(f'site "{site.name}": members have no placement; nothing to deploy to AWS')
        super().__init__(scope, id)
        app = App.of(scope)
        self.shared_stack = shared = TerraformStack(app, shared_stack_name(id))
        self.backends = {shared.node.id: props.backend(shared, shared.node.id)}
        names = SiteNames(site.name, merged_tags(props.inventory_tags, site.tags))
        user_data = props.user_data if props.user_data is not None else _default_user_data(site)

        layouts = site_regions(site)
        providers: dict[str, TerraformProvider] = {}
        for i, layout in enumerate(layouts):
            # The primary's region is the default provider; another region gets an alias.
            alias = None if i == 0 else layout.region.replace("-", "_")
            providers[layout.region] = aws_provider(
                shared,
                "aws" if alias is None else f"aws-{layout.region}",
                region=layout.region,
                alias=alias,
                default_tags=names.common_tags,
                local_api=props.local_api,
            )
        home = providers[layouts[0].region]
        account = data_aws_caller_identity.DataAwsCallerIdentity(shared, "account", provider=home)
        partition = partition_of(layouts[0].region)
        inputs = secret_variables(shared, site_secrets(site))

        self.regions = {
            layout.region: SiteRegion(
                shared,
                layout.region,
                props=SiteRegionProps(
                    layout=layout,
                    names=names,
                    inputs=_read_in(layout, inputs),
                    partition=partition,
                    account_id=account.account_id,
                    provider=providers[layout.region],
                    member_log_group=log_group_name(site) if site.monitoring else None,
                    alarm_topic=site.monitoring is not None and site.monitoring.alerts.topic_arn is None,
                ),
            )
            for layout in layouts
        }
        members = (site.primary, site.secondary)
        member_provider = {m.role: providers[region_of(m)] for m in members}
        placements = {m.role: self._placement(m) for m in members}
        egress_ips: dict[Role, eip.Eip] = {}
        for region in self.regions.values():
            if region.network is not None:
                egress_ips.update(region.network.egress_ips)
        egress_ips.update(_tunnel_ips_for_existing_subnets(shared, site, egress_ips, member_provider, names))
        tunnel_ips = egress_ips if _tunnel_on_elastic_ips(site) else {}
        if not props.decommission:
            for ip in tunnel_ips.values():
                # The partner's tunnel points at this address: replacing it would cut the failover link.
                ip.add_override("lifecycle.prevent_destroy", True)
        self.instance_connect = _instance_connect_endpoints(shared, site, names, placements, member_provider)
        self.security_groups = DhcpSecurityGroups(
            shared,
            "sg",
            props=DhcpSecurityGroupsProps(
                site=site,
                names=names,
                vpc_ids={role: vpc_id for role, (vpc_id, _) in placements.items()},
                providers=member_provider,
                tunnel_endpoints={role: ip.public_ip for role, ip in tunnel_ips.items()},
                instance_connect_groups={
                    m.role: endpoint.group_id
                    for endpoint in self.instance_connect.values()
                    for m in endpoint.members
                },
            ),
        )
        endpoints = _tunnel_endpoints(shared, site, tunnel_ips, member_provider, names)
        public_keys = _published_public_keys(shared, site, member_provider, names)
        iam = Construct(shared, "iam")
        self.roles = {}
        for m in members:
            region = self.regions[region_of(m)]
            partner = site.partner_of(m).role
            plain = [endpoints[partner].arn, public_keys[partner].arn, public_keys[m.role].arn] if endpoints else []
            self.roles[m.role] = ServerRole(
                iam,
                m.role.value,
                props=ServerRoleProps(
                    member=m,
                    names=names,
                    parameter_arns=region.parameters.arns(member_secrets(site, m)),
                    plain_parameter_arns=plain,
                    publish_arn=public_keys[m.role].arn if public_keys else None,
                    key_arn=region.key_arn,
                    provider=home,
                    reporter=_reporter_grant(site, m, partition, account.account_id),
                ),
            )
        self.monitoring = {}
        if site.monitoring is not None:
            watch = Construct(shared, "monitoring")
            for i, layout in enumerate(layouts):
                self.monitoring[layout.region] = SiteMonitoring(
                    watch,
                    layout.region,
                    props=SiteMonitoringProps(
                        site=site,
                        names=names,
                        members=layout.members,
                        key_arn=self.regions[layout.region].key_arn,
                        provider=providers[layout.region],
                        dashboard=i == 0,
                    ),
                )
        _shared_outputs(shared, site, egress_ips)
        _operator_outputs(shared, site, self.instance_connect)
        operator = site.operator_access
        server_tags = {SITE_TAG: site.name} if operator.instance_connect else {}

        self.member_stacks = {}
        self.servers = {}
        self.instance_alarms = {}
        # The secondary first: the primary's stack depends on it.
        for m in (site.secondary, site.primary):
            stack = TerraformStack(app, member_stack_name(id, m.role))
            self.backends[stack.node.id] = props.backend(stack, stack.node.id)
            provider = aws_provider(
                stack, "aws", region=region_of(m), default_tags=names.common_tags, local_api=props.local_api
            )
            egress_ip = egress_ips.get(m.role)
            self.servers[m.role] = server = DhcpServer(
                stack,
                "server",
                props=DhcpServerProps(
                    member=m,
                    names=names,
                    subnet_id=placements[m.role][1],
                    security_group_id=self.security_groups.group_id(m.role),
                    instance_profile_name=self.roles[m.role].profile.name,
                    user_data=user_data[m.role],
                    egress_ip_allocation_id=egress_ip.allocation_id if egress_ip is not None else None,
                    tags=server_tags,
                    key_name=operator.ssh_key_pair,
                    ipv6_address=str(site.dhcpv6.address_of(m.name)) if site.dhcpv6 is not None else None,
                    provider=provider,
                ),
            )
            _member_outputs(stack, site, m, server)
            if region_of(m) in self.monitoring:
                self.instance_alarms[m.role] = InstanceAlarms(
                    stack,
                    "alarms",
                    props=InstanceAlarmsProps(
                        site=site,
                        member=m,
                        names=names,
                        instance_id=server.instance.id,
                        topic_arn=self.monitoring[region_of(m)].topic_arn,
                        region=region_of(m),
                        partition=partition_of(region_of(m)),
                        provider=provider,
                    ),
                )
            self.member_stacks[m.role] = stack
        self.member_stacks[Role.PRIMARY].add_dependency(self.member_stacks[Role.SECONDARY])

    def _placement(self, member: Member) -> tuple[str, str]:
        """(vpc_id, subnet_id): the inventory's existing subnet, or the construct-made one."""
        placement = member.placement
        assert placement is not None
        if placement.subnet_id is not None and placement.vpc_id is not None:
            return placement.vpc_id, placement.subnet_id
        made = self.regions[placement.region].placement_of(member.role)
        assert made is not None, f"member {member.name} is in no construct-made subnet"
        return made


def _reporter_grant(site: Site, member: Member, partition: str, account_id: str) -> list[dict[str, Any]]:
    """The monitoring reporter's statements for ``member``'s role (none when not monitored)."""
    if site.monitoring is None:
        return []
    streams = (
        f"arn:{partition}:logs:{region_of(member)}:{account_id}:log-group:{log_group_name(site)}"
        f":log-stream:{log_stream_prefix(member)}*"
    )
    return reporter_statements(NAMESPACE, streams)


def _instance_connect_endpoints(
    shared: TerraformStack,
    site: Site,
    names: SiteNames,
    placements: Mapping[Role, tuple[str, str]],
    providers: Mapping[Role, TerraformProvider],
) -> dict[str, InstanceConnectEndpoint]:
    """One endpoint per VPC holding members, in the first such member's subnet; none when off."""
    if not site.operator_access.instance_connect:
        return {}
    endpoints = {}
    for place in endpoint_places(site):
        first = place.members[0].role
        vpc_id, subnet_id = placements[first]
        endpoints[place.key] = InstanceConnectEndpoint(
            shared,
            f"instance-connect-{place.key}",
            props=InstanceConnectProps(
                site=site, names=names, place=place, vpc_id=vpc_id, subnet_id=subnet_id, provider=providers[first]
            ),
        )
    return endpoints


def _operator_outputs(stack: TerraformStack, site: Site, endpoints: Mapping[str, InstanceConnectEndpoint]) -> None:
    if not endpoints:
        return
    TerraformOutput(
        stack,
        "instance_connect_endpoints",
        value={m.name: e.endpoint.id for e in endpoints.values() for m in e.members},
        description="Per server, the EC2 Instance Connect Endpoint that reaches its OMAPI port and SSH.",
    )
    arns = [e.endpoint.arn for e in endpoints.values()]
    TerraformOutput(
        stack,
        "operator_policy",
        value=Fn.jsonencode(operator_policy(site, endpoint_arns=arns)),
        description="The least-privilege IAM policy (JSON) for operators: tunnels to OMAPI and SSH only.",
    )


def _read_in(layout: RegionLayout, inputs: Mapping[SecretSpec, SecretInputs]) -> dict[SecretSpec, SecretInputs]:
    """The secrets a region stores: those its members read (the pair's OMAPI key is in each)."""
    return {spec: i for spec, i in inputs.items() if any(spec.readable_by(m) for m in layout.members)}


def _tunnel_ips_for_existing_subnets(
    shared: TerraformStack,
    site: Site,
    egress_ips: Mapping[Role, eip.Eip],
    providers: Mapping[Role, TerraformProvider],
    names: SiteNames,
) -> dict[Role, eip.Eip]:
    """An Elastic IP for each member in an existing subnet whose tunnel end is an Elastic IP
    (members in a site VPC have theirs already). The member's stack associates it."""
    if not _tunnel_on_elastic_ips(site):
        return {}
    return {
        m.role: eip.Eip(
            shared,
            f"tunnel-ip-{m.role.value}",
            domain="vpc",
            tags=names.tags(f"tunnel-{m.role.value}"),
            provider=providers[m.role],
        )
        for m in (site.primary, site.secondary)
        if m.role not in egress_ips
    }


def _tunnel_on_elastic_ips(site: Site) -> bool:
    return site.wireguard is not None and site.wireguard.endpoints is TunnelEndpoints.ELASTIC_IP


def _tunnel_endpoints(
    shared: TerraformStack,
    site: Site,
    tunnel_ips: Mapping[Role, eip.Eip],
    providers: Mapping[Role, TerraformProvider],
    names: SiteNames,
) -> dict[Role, ssm_parameter.SsmParameter]:
    """Each member's tunnel endpoint (ADDRESS:PORT: its Elastic IP, or its fixed address when
    the site's endpoints are private), published in its own region for the partner's
    bootstrap, so neither member stack needs the other's outputs."""
    if site.wireguard is None:
        return {}
    endpoints = {}
    for m in (site.primary, site.secondary):
        ip = tunnel_ips.get(m.role)
        address = ip.public_ip if ip is not None else str(m.address)
        endpoints[m.role] = ssm_parameter.SsmParameter(
            shared,
            f"wg-endpoint-{m.role.value}",
            name=peer_endpoint_parameter(site, m),
            type="String",
            tier="Standard",
            value=f"{address}:{site.wireguard.listen_port}",
            description=f"WireGuard endpoint of {m.name} (not secret)",
            tags=names.tags(f"wg-endpoint-{m.role.value}"),
            provider=providers[m.role],
        )
    return endpoints


def _published_public_keys(
    shared: TerraformStack,
    site: Site,
    providers: Mapping[Role, TerraformProvider],
    names: SiteNames,
) -> dict[Role, ssm_parameter.SsmParameter]:
    """Each member's WireGuard public key parameter, in its own region. Terraform owns it, so a
    destroy removes it, but only creates it with a placeholder: the member writes the key it
    made at first boot, and ``ignore_changes`` keeps later plans from writing the placeholder
    back. A plain String: a public key is no secret, and encrypting it would protect nothing
    (whoever may write it could swap it either way) while the partner, maybe in another region,
    would need that region's KMS key too."""
    if site.wireguard is None:
        return {}
    keys = {}
    for m in (site.primary, site.secondary):
        keys[m.role] = parameter = ssm_parameter.SsmParameter(
            shared,
            f"wg-public-key-{m.role.value}",
            name=wireguard_public_key_parameter(site, m),
            type="String",
            tier="Standard",
            value=PUBLIC_KEY_PLACEHOLDER,
            description=f"WireGuard public key of {m.name}, written by {m.name} itself (not secret)",
            tags=names.tags(f"wg-public-key-{m.role.value}"),
            provider=providers[m.role],
        )
        parameter.add_override("lifecycle.ignore_changes", ["value"])
    return keys


def _shared_outputs(stack: TerraformStack, site: Site, egress_ips: Mapping[Role, eip.Eip]) -> None:
    members = (site.primary, site.secondary)
    TerraformOutput(
        stack,
        "server_addresses",
        value={m.name: str(m.address) for m in members},
        description="Each server's fixed address: the relays' helper addresses (forward to both).",
    )
    channel = backend_for(site).control_channel(site)
    TerraformOutput(
        stack,
        f"{channel.output_name}_endpoints",
        value={m.name: f"{m.address}:{channel.port}" for m in members},
        description=f"{channel.label} address:port per server (reachable from {channel.admitted}).",
    )
    TerraformOutput(
        stack,
        "ssm_parameter_names",
        value={spec.key_store_name: spec.parameter_name for spec in site_secrets(site)},
        description="SSM SecureString parameter per secret, in the region of each member that reads it.",
    )
    if site.relays:
        flavours = {RELAY_DEFAULTS: "linux_isc_dhcp_relay", CISCO_IOS_SNIPPET: "cisco_ios", JUNOS_SNIPPET: "junos"}
        TerraformOutput(
            stack,
            "relay_configs",
            value={
                relay.name: {flavours[f.path]: f.content for f in render_relay(site, relay)} for relay in site.relays
            },
            description="Per relay, what to deploy or paste: Linux isc-dhcp-relay defaults, Cisco IOS, Junos.",
        )
    if egress_ips:
        TerraformOutput(
            stack,
            "egress_ips",
            value={m.name: egress_ips[m.role].public_ip for m in members if m.role in egress_ips},
            description="Each server's Elastic IP: its source address towards the internet.",
        )


def _member_outputs(stack: TerraformStack, site: Site, member: Member, server: DhcpServer) -> None:
    TerraformOutput(
        stack,
        "address",
        value=server.private_ip,
        description=f"{member.name}'s address: point relays (ip helper-address) at it.",
    )
    channel = backend_for(site).control_channel(site)
    TerraformOutput(
        stack,
        f"{channel.output_name}_endpoint",
        value=f"{member.address}:{channel.port}",
        description=f"{member.name}'s {channel.label} address:port.",
    )
    TerraformOutput(stack, "instance_id", value=server.instance.id, description=f"{member.name}'s EC2 instance.")
