"""Which sites a CI runner of a ``--shard K/N`` matrix takes: every site exactly once, the shards
as even as whole sites allow, and few sites moving when the fleet grows.

A plain hash of the name (site mod N) never moves a site but leaves small fleets lopsided:
8 sites fell 4/3/1/0 over 4 shards, so one runner did half the work. Here each site ranks the
shards by a hash of (shard, site) and takes its first choice that still has room, room being
the even share rounded up (consistent hashing with bounded loads). Sites are placed in the
order of their own hash, so the outcome depends only on the set of names: every runner of a
matrix computes the same split. Adding one site to a fleet moves a few others (measured by
``benchmarks.cost``), never all of them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def split(sites: Iterable[str], shards: int) -> dict[str, int]:
    """Each site's shard, 1 to ``shards``; no shard holds more than ceil(sites / shards)."""
    names = sorted(set(sites), key=lambda name: (_digest(name), name))
    room = -(-len(names) // shards) if names else 0
    load = dict.fromkeys(range(1, shards + 1), 0)
    placed = {}
    for name in names:
        ranked = sorted(load, key=lambda shard: (_digest(f"{shard}/{name}"), shard))
        shard = next(shard for shard in ranked if load[shard] < room)
        load[shard] += 1
        placed[name] = shard
    return placed
