"""The names under which each site's secrets travel: key store entry, Terraform variable, SSM
parameter. One table, so the ``keys`` command, the cdktf stacks and the bootstrap on the
server can never disagree.

Secrets reach AWS only as write-only SSM values fed from ephemeral Terraform variables
(``TF_VAR_<name>``), so they are never in ``cdktf.out`` or Terraform state. Each secret has a
companion version variable (``TF_VAR_<name>_version``, default 1): bumping it rotates the value.

A member's WireGuard key pair is no such secret: the member makes it at first boot and
publishes only the public half (``wireguard_public_key_parameter``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .model import Member, ServerKind, Site

PARAMETER_ROOT = "/dhcp-failover"
# Each SecureString is tagged with the version variable it was last written with, so that a
# runner adopting the value from SSM (``keys --ssm``) adopts the version too and plans no change.
# A tag, not SSM's own version counter: that one also moves when Terraform re-writes a parameter
# for another reason (a new KMS key), and the two would then never agree again.
VERSION_TAG = "dhcp-failover-secret-version"


class SecretKind(str, enum.Enum):
    OMAPI_KEY = "omapi-key"  # HMAC secret, 32 random bytes, base64; shared by both members
    DDNS_KEY = "ddns-key"  # TSIG secret, 32 random bytes, base64; one per ddns.keys entry, both members
    # Kea sites: basic auth of peers and operators, read by both members.
    KEA_CONTROL_PASSWORD = "kea-control-password"  # noqa: S105 - the secret's name, not its value


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
        return self.member == member.name


def control_secret_kind(site: Site) -> SecretKind:
    """The pair's control-channel secret: ISC's OMAPI key or Kea's Control Agent password."""
    return SecretKind.KEA_CONTROL_PASSWORD if site.server is ServerKind.KEA else SecretKind.OMAPI_KEY


def control_secret(site: Site) -> SecretSpec:
    return SecretSpec(site.name, control_secret_kind(site), None)


def site_secrets(site: Site) -> tuple[SecretSpec, ...]:
    """Every secret a site's members fetch at boot, in a stable order."""
    specs = [SecretSpec(site.name, control_secret_kind(site), None)]
    if site.ddns:
        specs += [SecretSpec(site.name, SecretKind.DDNS_KEY, None, key.name) for key in site.ddns.keys]
    return tuple(specs)


def member_secrets(site: Site, member: Member) -> tuple[SecretSpec, ...]:
    return tuple(s for s in site_secrets(site) if s.readable_by(member))


# What Terraform writes when it creates a member's public-key parameter; the member overwrites
# it at first boot. Not base64 of 32 bytes, so no bootstrap can mistake it for a key.
PUBLIC_KEY_PLACEHOLDER = "not published yet: the member writes its WireGuard public key here at first boot"


def wireguard_public_key_parameter(site: Site, member: Member) -> str:
    """Where ``member`` publishes the public half of the WireGuard key it made itself (a plain
    String in its own region; the partner reads it). Under ``published/``, not beside the
    endpoint: deployments from before member-made keys hold a runner-made SecureString at
    ``<member>/wireguard-public-key``, and a new parameter of the same name would race its
    deletion in the apply that moves them over."""
    return f"{PARAMETER_ROOT}/{site.name}/{member.name}/published/wireguard-public-key"
