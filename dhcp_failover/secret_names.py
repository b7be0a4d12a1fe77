"""The names under which each site's secrets travel: key store entry, Terraform variable, SSM
parameter. One table, so the ``keys`` command, the cdktf stacks and the bootstrap on the
server can never disagree.

Secrets reach AWS only as write-only SSM values fed from ephemeral Terraform variables
(``TF_VAR_<name>``), so they are never in ``cdktf.out`` or Terraform state. Each secret has a
companion version variable (``TF_VAR_<name>_version``, default 1): bumping it rotates the value.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .model import Member, Site

PARAMETER_ROOT = "/dhcp-failover"
# Each SecureString is tagged with the version variable it was last written with, so that a
# runner adopting the value from SSM (``keys --ssm``) adopts the version too and plans no change.
# A tag, not SSM's own version counter: that one also moves when Terraform re-writes a parameter
# for another reason (a new KMS key), and the two would then never agree again.
VERSION_TAG = "dhcp-failover-secret-version"


class SecretKind(str, enum.Enum):
    OMAPI_KEY = "omapi-key"  # HMAC secret, 32 random bytes, base64; shared by both members
    WIREGUARD_PRIVATE_KEY = "wireguard-private-key"  # X25519, read by its own member only
    WIREGUARD_PUBLIC_KEY = "wireguard-public-key"  # read by the partner, to authenticate this member
    DDNS_KEY = "ddns-key"  # TSIG secret, 32 random bytes, base64; one per ddns.keys entry, both members


@dataclass(frozen=True)
class SecretSpec:
    site: str
    kind: SecretKind
    member: str | None  # None: the pair's secret, readable by both members
    name: str | None = None  # which one, for kinds a site has several of (TSIG keys)

    @property
    def key_store_name(self) -> str:
        own = self.kind.value if self.name is None else f"{self.kind.value}/{self.name}"
        return own if self.member is None else f"{self.member}/{own}"

    @property
    def parameter_name(self) -> str:
        return f"{PARAMETER_ROOT}/{self.site}/{self.key_store_name}"

    @property
    def variable_name(self) -> str:
        """Terraform variable; the pipeline exports ``TF_VAR_<variable_name>``."""
        parts = [self.site] + ([self.member] if self.member else []) + [self.kind.value]
        parts += [self.name] if self.name else []
        return "_".join(parts).replace("-", "_")

    @property
    def version_variable_name(self) -> str:
        return f"{self.variable_name}_version"

    def readable_by(self, member: Member) -> bool:
        if self.member is None:
            return True
        if self.kind is SecretKind.WIREGUARD_PUBLIC_KEY:
            return self.member != member.name
        return self.member == member.name


def site_secrets(site: Site) -> tuple[SecretSpec, ...]:
    """Every secret a site's members fetch at boot, in a stable order."""
    specs = [SecretSpec(site.name, SecretKind.OMAPI_KEY, None)]
    if site.wireguard:
        for member in site.members:
            specs.append(SecretSpec(site.name, SecretKind.WIREGUARD_PRIVATE_KEY, member.name))
            specs.append(SecretSpec(site.name, SecretKind.WIREGUARD_PUBLIC_KEY, member.name))
    if site.ddns:
        specs += [SecretSpec(site.name, SecretKind.DDNS_KEY, None, key.name) for key in site.ddns.keys]
    return tuple(specs)


def member_secrets(site: Site, member: Member) -> tuple[SecretSpec, ...]:
    return tuple(s for s in site_secrets(site) if s.readable_by(member))
