"""Names and tags of everything the stacks create. Pure Python (no cdktf), so the rule table,
the docs and the tests can use it without paying for the provider import.

Every name here ends up in Terraform state or in AWS: changing one replaces the resource.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network

from ..model import Role

PREFIX = "dhcp-failover"
# IAM role and instance-profile names are capped at 64 characters.
_IAM_NAME_MAX = 64


def cidr_slug(network: IPv4Network | IPv4Address | str) -> str:
    """``10.30.1.0/24`` → ``10-30-1-0-24``: a CIDR as a construct id and tag suffix."""
    return str(network).replace(".", "-").replace("/", "-")


def merged_tags(inventory_tags: Mapping[str, str], site_tags: Mapping[str, str]) -> dict[str, str]:
    """The tags every resource of a site carries: the site's override the inventory's."""
    return {**inventory_tags, **site_tags}


def shared_stack_name(site: str) -> str:
    return f"{site}-shared"


def member_stack_name(site: str, role: Role) -> str:
    return f"{site}-{role.value}"


def state_path(stack_name: str) -> str:
    """The local backend's state file, relative to the stack's working directory.

    terraform runs in ``cdktf.out/stacks/<stack>/``, so this is ``terraform.<stack>.tfstate``
    in the project folder, where cdktf's default backend puts it, but without baking the
    checkout's absolute path into cdk.tf.json (synth stays byte-identical across folders).
    Never inside cdktf.out: that folder is rebuilt by every synth.
    """
    return f"../../../terraform.{stack_name}.tfstate"


@dataclass(frozen=True)
class SiteNames:
    """Names of one site's resources, and the per-resource part of their tags."""

    site: str
    common_tags: Mapping[str, str]

    def name(self, *parts: str) -> str:
        return "-".join((self.site, *parts))

    def tags(self, *parts: str) -> dict[str, str]:
        """``{Name}`` for a resource; the common tags travel as the provider's default_tags.

        The merge order is {Name} ← inventory.tags ← site.tags: a Name the user sets wins, so
        the resource then leaves Name to default_tags (a resource tag would override it).
        """
        if "Name" in self.common_tags:
            return {}
        return {"Name": self.name(*parts)}

    def iam_name(self, *parts: str) -> str:
        """A deterministic IAM name of at most 64 characters (long site names get a hash)."""
        full = "-".join((PREFIX, self.site, *parts))
        if len(full) <= _IAM_NAME_MAX:
            return full
        digest = hashlib.sha256(full.encode()).hexdigest()[:8]
        return f"{full[: _IAM_NAME_MAX - 9]}-{digest}"

    def role_name(self, role: Role) -> str:
        return self.iam_name(role.value)

    @property
    def key_alias(self) -> str:
        return f"alias/{PREFIX}/{self.site}"

    @property
    def flow_log_group(self) -> str:
        return f"/{PREFIX}/{self.site}/vpc-flow-logs"
