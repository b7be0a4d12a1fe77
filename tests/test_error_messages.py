"""Every validation message speaks the inventory's language: the field's path as the file spells
it, the value quoted safely, and what the field allows, for every kind of field; never the
validator's vocabulary or a regular expression."""

from __future__ import annotations

from typing import Any

import pytest

from dhcp_failover.errors import InventoryError
from dhcp_failover.fields import ALLOWED_BY_PATTERN
from dhcp_failover.inventory import inventory_from_data, inventory_json_schema
from tests.support.factories import inventory_data, site_data
from tests.support.messages import assert_in_users_words

FORGED_NTP = "ntp1.example.com iburst\nallow 0.0.0.0/0"

# (what kind of field, the site's change, the whole message after 'site "lab": ')
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("address-or-host-name-list-item", {"clock": {"ntp_servers": [FORGED_NTP]}},
     ("clock.ntp_servers[0]: 'ntp1.example.com iburst\\x0aallow 0.0....' must be an IPv4 address, like 10.0.0.1, "
     "or a host name: dot-separated labels of letters, digits and inner '-', like dhcp-a.example.com")),
    ("address-written-as-a-number", {"clock": {"ntp_servers": [167772161]}},
     "clock.ntp_servers[0]: 167772161 must be written as text, like 10.0.0.1 or 10.0.0.0/24"),
    ("address", {"members": [{**site_data()["members"][0], "address": "10.77.1.300"}, site_data()["members"][1]]},
     "members[0].address: '10.77.1.300' must be an IPv4 address, like 10.0.0.1"),
    ("network-with-host-bits", {"members": [{**site_data()["members"][0], "network": "10.77.1.1/24"}, site_data()["members"][1]]},
     "members[0].network: '10.77.1.1/24' must be an IPv4 network with its host bits zero, like 10.0.0.0/24"),
    ("name", {"relays": [{**site_data()["relays"][0], "name": "Core-1"}]},
     ("relays[0].name: 'Core-1' must be 2-40 characters of lower-case letters, digits and '-', starting with a letter "
     "and not ending with '-'")),
    ("host-name", {"subnets": [{**site_data()["subnets"][0], "domain_name": "a..b"}, site_data()["subnets"][1]]},
     ("subnets[0].domain_name: 'a..b' must be a host name: dot-separated labels of letters, digits and inner '-', "
     "like dhcp-a.example.com")),
    ("list-item-address", {"subnets": [{**site_data()["subnets"][0], "routers": ["10.77.1.254", "gateway"]}, site_data()["subnets"][1]]},
     "subnets[0].routers[1]: 'gateway' must be an IPv4 address, like 10.0.0.1"),
    ("list-written-as-text", {"subnets": [{**site_data()["subnets"][0], "routers": "10.77.1.254"}, site_data()["subnets"][1]]},
     "subnets[0].routers: '10.77.1.254' must be a list"),
    ("text-with-a-form", {"relays": [{**site_data()["relays"][0], "upstream_interface": "eth0; reboot"}]},
     ("relays[0].upstream_interface: 'eth0; reboot' must be an interface name of 1-64 letters, digits and / : . _ -, "
     "like GigabitEthernet0/1 or eth1")),
    ("whole-number", {"subnets": [{**site_data()["subnets"][0], "default_lease_time": "600s"}, site_data()["subnets"][1]]},
     "subnets[0].default_lease_time: '600s' must be a whole number"),
    ("number-in-range", {"subnets": [{**site_data()["subnets"][0], "default_lease_time": 0}, site_data()["subnets"][1]]},
     "subnets[0].default_lease_time: 0 must be a number of at least 1"),
    ("one-of", {"members": [{**site_data()["members"][0], "role": "tertiary"}, site_data()["members"][1]]},
     "members[0].role: 'tertiary' must be one of 'primary' or 'secondary'"),
    ("mapping", {"clock": ["169.254.169.123"]}, "clock: a list of 1 item(s) must be a mapping of keys to values"),
    ("too-many-items", {"clock": {"ntp_servers": ["169.254.169.123"] * 17}},
     "clock.ntp_servers: a list of 17 item(s) must be a list of at most 16 item(s)"),
    ("too-long-text", {"subnets": [{**site_data()["subnets"][0], "domain_name": "a" * 300}, site_data()["subnets"][1]]},
     "subnets[0].domain_name: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' must be text of at most 253 characters"),
]


@pytest.mark.parametrize(("change", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_value_is_named_by_its_path_quoted_and_told_what_is_allowed(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(InventoryError) as caught:
        inventory_from_data(inventory_data(site_data(**change)))
    message = str(caught.value)
    assert_in_users_words(message)
    assert message == f'site "lab": {expected}'


def test_every_pattern_of_the_inventory_says_in_words_what_it_allows() -> None:
    patterns: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                patterns.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(inventory_json_schema())
    assert patterns, "the schema has no patterns: the walk is wrong"
    assert sorted(p for p in patterns if p not in ALLOWED_BY_PATTERN) == []
