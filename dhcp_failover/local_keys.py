"""The local key store: generated secrets for a local deploy, never committed.

A JSON file (mode 0600, folder 0700, git-ignored) holding, per site, each secret of
``secrets.site_secrets`` with its version. Pipelines with their own secret store skip this
and export the same ``TF_VAR_`` names themselves.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .model import Inventory, Site
from .secret_names import SecretKind, SecretSpec, site_secrets

FORMAT_VERSION = 1
STORE_FOLDER = ".dhcp-failover-keys"


@dataclass(frozen=True)
class StoredSecret:
    value: str
    version: int
    previous: str | None = None
    """The OMAPI key before the last rotation: members keep it until their bootstrap runs
    again, so operator commands fall back to it meanwhile."""


def default_path(inventory_path: Path) -> Path:
    return inventory_path.resolve().parent / STORE_FOLDER / f"{inventory_path.stem}.json"


class KeyStore:
    def __init__(self, path: Path, sites: dict[str, dict[str, StoredSecret]]) -> None:
        self.path = path
        self._sites = sites

    @classmethod
    def load(cls, path: Path) -> KeyStore:
        if not path.exists():
            return cls(path, {})
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT_VERSION:
                raise ValueError(f"unknown format {data.get('format')!r}")
            sites = {
                site: {name: _stored(s) for name, s in entries.items()}
                for site, entries in data["sites"].items()
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"{path}: not a dhcp-failover key store ({exc})") from None
        return cls(path, sites)

    def get(self, spec: SecretSpec) -> StoredSecret | None:
        return self._sites.get(spec.site, {}).get(spec.key_store_name)

    def require(self, spec: SecretSpec) -> StoredSecret:
        stored = self.get(spec)
        if stored is None:
            raise UsageError(
                f"{self.path}: no {spec.key_store_name} for site {spec.site!r}; run 'python -m dhcp_failover keys'"
            )
        return stored

    def adopt(self, spec: SecretSpec, value: str, version: int, previous: str | None = None) -> bool:
        """Take a secret as another source of truth holds it (SSM); True when that changed the
        store. Only control-channel secrets keep their previous value (operator commands mid-rotation)."""
        kept = previous if spec.kind in _KEEPS_PREVIOUS else None
        adopted = StoredSecret(value, version, kept)
        entries = self._sites.setdefault(spec.site, {})
        if entries.get(spec.key_store_name) == adopted:
            return False
        entries[spec.key_store_name] = adopted
        return True

    def ensure(self, site: Site, *, rotate: bool = False) -> list[SecretSpec]:
        """Generate what the site lacks (or everything, bumping versions, with ``rotate``);
        returns the specs that changed."""
        changed: list[SecretSpec] = []
        entries = self._sites.setdefault(site.name, {})
        for spec in site_secrets(site):
            old = entries.get(spec.key_store_name)
            if old is not None and not rotate:
                continue
            value = _generate(spec.kind)
            # Only control-channel secrets keep their old value (_KEEPS_PREVIOUS).
            previous = old.value if old is not None and spec.kind in _KEEPS_PREVIOUS else None
            entries[spec.key_store_name] = StoredSecret(value, _next_version(old), previous)
            changed.append(spec)
        return changed

    def save(self) -> None:
        """Write atomically, readable by the owner only, in a folder only the owner can list."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = {
            "format": FORMAT_VERSION,
            "sites": {
                site: {name: _as_json(s) for name, s in sorted(entries.items())}
                for site, entries in sorted(self._sites.items())
            },
        }
        fd, tmp = tempfile.mkstemp(prefix=".keys-", dir=self.path.parent)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
                out.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# Control-channel secrets keep their old value: operator commands need it mid-rotation.
_KEEPS_PREVIOUS = (SecretKind.OMAPI_KEY, SecretKind.KEA_CONTROL_PASSWORD)


def _stored(entry: dict[str, Any]) -> StoredSecret:
    previous = entry.get("previous")
    return StoredSecret(str(entry["value"]), int(entry["version"]), None if previous is None else str(previous))


def _as_json(secret: StoredSecret) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": secret.value, "version": secret.version}
    if secret.previous is not None:
        entry["previous"] = secret.previous
    return entry


def _next_version(old: StoredSecret | None) -> int:
    return 1 if old is None else old.version + 1


def _generate(kind: SecretKind) -> str:
    # A Kea password is the same 32 random bytes as base64: no quote, space or newline in it.
    if kind in (SecretKind.OMAPI_KEY, SecretKind.DDNS_KEY, SecretKind.KEA_CONTROL_PASSWORD):
        return base64.b64encode(secrets.token_bytes(32)).decode()
    raise ValueError(f"{kind.value} is not made by the runner")


def export_lines(store: KeyStore, inventory: Inventory, sites: Iterable[str] | None = None) -> list[str]:
    """Shell lines a local deploy sources: each secret and its version as TF_VAR_ variables."""
    wanted = set(sites) if sites is not None else None
    lines: list[str] = []
    for site in inventory.sites:
        if wanted is not None and site.name not in wanted:
            continue
        for spec in site_secrets(site):
            stored = store.require(spec)
            lines.append(f"export TF_VAR_{spec.variable_name}={_shell_quote(stored.value)}")
            lines.append(f"export TF_VAR_{spec.version_variable_name}={stored.version}")
    return lines


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def describe(inventory: Inventory) -> list[dict[str, Any]]:
    """Names only, no values: what a pipeline must provide."""
    return [
        {
            "site": spec.site,
            "secret": spec.key_store_name,
            "ssm_parameter": spec.parameter_name,
            "tf_var": f"TF_VAR_{spec.variable_name}",
            "tf_var_version": f"TF_VAR_{spec.version_variable_name}",
        }
        for site in inventory.sites
        for spec in site_secrets(site)
    ]
