"""Each member's EC2 user-data: a #cloud-config with the rendered file tree, pinned packages and
the bootstrap that fetches the secrets at boot. No secret is ever part of it."""

from __future__ import annotations

import base64
import gzip
from dataclasses import dataclass

import yaml

from .aws import member_region
from .backends.isc.render import DDNS_KEYS_FILE, render_ddns_keys
from .backends.registry import backend_for
from .errors import InventoryError
from .model import Member, ServerKind, Site
from .monitoring import ENABLE_REPORTER, MEMBER_PACKAGES, member_files
from .releases import kea_apt_preferences
from .render import FileTree, RenderedFile, render_template
from .secret_names import SecretKind, member_secrets
from .tunnel_keys import peer_endpoint_parameter as peer_endpoint_parameter  # where it was first defined
from .tunnel_keys import refresh_files, tunnel_values

BOOTSTRAP_PATH = "/usr/local/sbin/dhcp-failover-bootstrap"
USER_DATA_LIMIT = 16384  # bytes, EC2's limit on raw user-data
# Top-level keys we emit; cloud-init's schema check does not catch a misspelt top-level key.
ALLOWED_TOP_LEVEL_KEYS = frozenset({"apt", "package_update", "packages", "write_files", "runcmd"})
# The template's primary mirror (HTTPS: the security group lets nothing but 443 out).
APT_MIRROR = "https://cdn-aws.deb.debian.org/debian"
DEBIAN_KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
KEA_PREFERENCES = "/etc/apt/preferences.d/dhcp-failover-kea"


@dataclass(frozen=True)
class UserData:
    """A member's user-data: the #cloud-config text, gzip-compressed when it would not fit."""

    cloud_config: str
    compressed: bool

    def terraform_args(self) -> dict[str, str]:
        """Keyword arguments for aws_instance: {"user_data": ...} or {"user_data_base64": ...}."""
        if not self.compressed:
            return {"user_data": terraform_literal(self.cloud_config)}
        return {"user_data_base64": base64.b64encode(_gzip(self.cloud_config)).decode()}


def terraform_literal(text: str) -> str:
    """``text`` escaped so that Terraform, which reads every string in cdk.tf.json as a template,
    yields it unchanged: cdktf passes plain strings through as they are, and a `${` from the
    inventory (a PXE file name may hold one) would otherwise be evaluated as an expression."""
    return text.replace("${", "$${").replace("%{", "%%{")


def _gzip(text: str) -> bytes:
    # mtime=0: the same text always compresses to the same bytes (deterministic synth).
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def render_bootstrap(site: Site, member: Member) -> str:
    region = member_region(member)
    shared = {"site_name": site.name, "member_name": member.name, "role": member.role.value, "region": region,
              "wireguard": tunnel_values(site, member), "ddns": _ddns_bootstrap(site, member, region)}
    return backend_for(site).render_bootstrap(site, member, shared)


def _ddns_bootstrap(site: Site, member: Member, region: str) -> dict[str, object] | None:
    """Each TSIG key's parameter and shell variable, and the key file text that uses them."""
    if site.ddns is None:
        return None
    specs = {s.name: s for s in member_secrets(site, member) if s.kind is SecretKind.DDNS_KEY}
    variables = {key.name: f"ddns_secret_{i}" for i, key in enumerate(site.ddns.keys)}
    return {
        "secrets": [{"parameter": specs[name].parameter_name, "variable": var} for name, var in variables.items()],
        "key_file": DDNS_KEYS_FILE,
        "key_text": render_ddns_keys(site, {name: f"${var}" for name, var in variables.items()}).replace('"', '\\"'),
    }


def member_tree(site: Site, member: Member, *, root: str = "") -> FileTree:
    """Every file a member's user-data writes, in the order it writes them: the server's
    configs, the bootstrap, the tunnel's key follower and the monitoring reporter. ``render``
    writes exactly this, so a review of its output sees all that changes on the member."""
    _, tree = apt_extras(site)
    tree += backend_for(site).render_member(site, member, root=root)
    tree += (RenderedFile(BOOTSTRAP_PATH, render_bootstrap(site, member), 0o755),)
    tree += refresh_files(site, member)
    if site.monitoring is not None:
        tree += member_files(site, member)
    return tree


def render_cloud_config(site: Site, member: Member) -> str:
    apt_sources, early = apt_extras(site)
    # Early files (apt's preferences) are written before the packages, the rest after them.
    early_files = [_write_file(f) for f in early]
    files = [_write_file(f) for f in member_tree(site, member)[len(early):]]
    # After the bootstrap, and whether or not it worked: a member that failed to start dhcpd
    # is exactly what the reporter must tell.
    after_bootstrap = [ENABLE_REPORTER] if site.monitoring is not None else []
    packages = [*backend_for(site).packages(site), "chrony", "awscli"]
    if site.wireguard:
        packages.append("wireguard-tools")
    if site.monitoring is not None:
        packages += MEMBER_PACKAGES
    text = render_template(
        "cloud-init/user-data.yaml.j2",
        site_name=site.name,
        member_name=member.name,
        role=member.role.value,
        packages=packages,
        files=files,
        apt_sources=apt_sources,
        early_files=early_files,
        bootstrap_path=BOOTSTRAP_PATH,
        after_bootstrap=after_bootstrap,
    )
    _check_cloud_config(text, site, member)
    return text


def _write_file(file: RenderedFile) -> dict[str, str]:
    return {"path": file.path, "permissions": f"{file.mode:04o}", "content": file.content}


def apt_extras(site: Site) -> tuple[list[dict[str, str]], FileTree]:
    """The backports source and the apt preferences that take Kea from it, when the site's Kea
    pin comes from backports; nothing otherwise (a release's own packages need neither)."""
    pin = site.kea_pin if site.server is ServerKind.KEA else None
    preferences = kea_apt_preferences(pin) if pin is not None else None
    if pin is None or pin.suite is None or preferences is None:
        return [], ()
    source = {"name": "dhcp-failover-backports.list", "line": f"deb [signed-by={DEBIAN_KEYRING}] {APT_MIRROR} {pin.suite} main"}
    return [source], (RenderedFile(KEA_PREFERENCES, preferences),)


def _check_cloud_config(text: str, site: Site, member: Member) -> None:
    unknown = set(yaml.safe_load(text)) - ALLOWED_TOP_LEVEL_KEYS
    if unknown:
        raise ValueError(f"site {site.name} member {member.name}: unexpected cloud-config keys {sorted(unknown)}")


def render_user_data(site: Site, member: Member) -> UserData:
    text = render_cloud_config(site, member)
    if len(text.encode()) <= USER_DATA_LIMIT:
        return UserData(text, compressed=False)
    compressed = len(_gzip(text))
    if compressed > USER_DATA_LIMIT:
        raise InventoryError(
            f'site "{site.name}": member {member.name}: user-data is {compressed} bytes even gzip-compressed, '
            f"over EC2's {USER_DATA_LIMIT}; split the site's subnets across more pairs"
        )
    return UserData(text, compressed=True)


def instance_user_data(site: Site, member: Member) -> dict[str, str]:
    """A member's ``aws_instance`` user-data arguments: what the constructs pass by default."""
    return render_user_data(site, member).terraform_args()
