"""Which backend serves a site."""

from __future__ import annotations

from ..model import ServerKind, Site
from .base import Backend
from .isc.backend import IscBackend
from .kea.backend import KeaBackend

_BACKENDS: dict[ServerKind, Backend] = {ServerKind.ISC: IscBackend(), ServerKind.KEA: KeaBackend()}


def backend_for(site: Site) -> Backend:
    return backend_for_kind(site.server)


def backend_for_kind(kind: ServerKind) -> Backend:
    return _BACKENDS[kind]
