#!/usr/bin/env python
"""A cdktf app that builds a DHCP failover pair from Python objects instead of YAML.

    pip install <dhcp-failover checkout>   # or: PYTHONPATH=<checkout>
    cdktf synth                             # or: python main.py
"""

from cdktf import App
from constructs import Construct

from dhcp_failover.constructs import DhcpFailoverPair, DhcpFailoverPairProps
from dhcp_failover.model import Member, Placement, Pool, Relay, RelayedSubnet, Site, Subnet


def office_site() -> Site:
    placement = {"region": "eu-west-1", "ami": "ami-0123456789abcdef0"}
    return Site(
        name="office",
        members=(
            Member(name="dhcp-a", role="primary", address="10.20.1.10", network="10.20.1.0/24",
                   placement=Placement(availability_zone="eu-west-1a", **placement)),
            Member(name="dhcp-b", role="secondary", address="10.20.2.10", network="10.20.2.0/24",
                   placement=Placement(availability_zone="eu-west-1b", **placement)),
        ),
        subnets=(Subnet(network="10.20.10.0/24", routers=("10.20.10.1",),
                        pools=(Pool(start="10.20.10.100", end="10.20.10.199"),)),),
        relays=(Relay(name="core", source_address="10.20.0.1",
                      serves=(RelayedSubnet(subnet="10.20.10.0/24", interface="vlan10", giaddr="10.20.10.1"),)),),
    )


app = App()
network_team = Construct(app, "network-team")  # any scope: the stacks still sit at the App's top
DhcpFailoverPair(network_team, "office", props=DhcpFailoverPairProps(site=office_site()))
app.synth()
