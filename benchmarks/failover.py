"""Benchmark (not a test): the failover proof's pair, booted the same way (each member from its
synthesized user-data, its key fetched by the bootstrap from a local AWS API), in network
namespaces. Prints the time to `normal`, the time to a new client's lease after `kill -9` of the
primary and, when perfdhcp (Debian kea-admin) is installed, the pair's lease rate beside a single
dhcpd booted from the same user-data with the failover taken out, as a ratio.

Then the same for a Kea HA pair (``server: kea``, load-balancing, the rendered configs): time to
both normal, to partner-down and to a lease for the dead member's clients after `kill -9`, and
perfdhcp against the pair and against one kea-dhcp4 without the HA hook; once for Kea 2.2 (Debian
12, this machine's) and once for Kea 3.0 (Debian 13, from the root scripts/build-debian-root.sh
builds).

Needs root; all traffic stays inside the namespaces it makes, plus the local AWS API on
127.0.0.1. Runs in about two minutes (``--backend isc`` or ``kea`` for one of them).

    .venv/bin/python -m benchmarks.failover [--backend isc|kea|both]
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from moto.server import ThreadedMotoServer

from dhcp_failover.backends.isc.render import DHCPD_CONF
from dhcp_failover.backends.kea.render import kea_pin, split_pool
from dhcp_failover.inventory import inventory_from_data
from dhcp_failover.model import Site
from dhcp_failover.releases import OsRelease
from tests.lab.failover_harness import BootedPair, boot_pair, publish_secrets
from tests.lab.kea import KeaMember, install_member, start_member, stop_member, wait_for_states
from tests.lab.member_files import relay_arguments
from tests.lab.netlab import FailoverTopology, Lab, build_failover_topology
from tests.support.debian_roots import LAB_RELEASES, spec
from tests.support.deploy import free_port
from tests.support.factories import inventory_data, site_data

REPO = Path(__file__).resolve().parent.parent

PERF_RATES = (500, 1000)  # exchanges/s offered; the pair keeps up with both on 2 cores (netns-lab.md)
# A Kea pair acks every lease update synchronously over HTTP: about 1/10 of ISC's rate (kea-lab.md).
KEA_PERF_RATES = (200, 500, 1000)
PERF_SECONDS = 10
PERF_CLIENTS = 100_000  # MACs perfdhcp draws from; each rate uses at most rate x seconds of them
# perfdhcp acts as a relay: it sends from its own address as giaddr, so the leases come from
# the subnet holding that address. A benchmark-only /16 gives it room (a /24 runs out at once).
PERF_NETWORK, PERF_ADDRESS = "10.78.0.0/16", "10.78.255.10/16"


@dataclass(frozen=True)
class Rate:
    offered: int
    achieved: float
    drops: str


def bench_site() -> Site:
    """The proof's site plus a /16 for perfdhcp: it needs far more addresses than the leases
    it asks for (up to 15,000 per run here)."""
    data = site_data(ping_check=False, failover={"mclt": 10, "max_response_delay": 5})
    data["subnets"].append({"network": PERF_NETWORK, "routers": ["10.78.255.254"],
                            "pools": [{"start": "10.78.16.0", "end": "10.78.127.255"}]})
    giaddr = PERF_ADDRESS.split("/")[0]
    data["relays"].append({"name": "perfdhcp", "source_address": giaddr,
                           "serves": [{"subnet": PERF_NETWORK, "interface": "eth0", "giaddr": giaddr}]})
    return inventory_from_data(inventory_data(data)).sites[0]


def without_failover(conf: str) -> str:
    """The same config for a lone dhcpd: no peer block, pools that name no peer."""
    conf = re.sub(r'^failover peer "[^"]+" \{.*?^\}\n', "", conf, flags=re.M | re.S)
    return re.sub(r'^\s+failover peer "[^"]+";\n', "", conf, flags=re.M)


def perfdhcp() -> str | None:
    path = shutil.which("perfdhcp") or "/usr/sbin/perfdhcp"
    return path if os.access(path, os.X_OK) else None


def measure_rates(lab: Lab, host: str, tool: str, offered_rates: tuple[int, ...] = PERF_RATES) -> list[Rate]:
    rates = []
    for offered in offered_rates:
        result = lab.run(host, [tool, "-4", "-l", "eth0", "-r", str(offered), "-R", str(PERF_CLIENTS),
                                "-p", str(PERF_SECONDS)], check=False, timeout=PERF_SECONDS + 30)
        received = re.findall(r"received packets: (\d+)", result.stdout)
        drops = re.findall(r"drops: (\d+)", result.stdout)
        # The second block is REQUEST/ACK: completed four-way exchanges.
        if len(received) < 2:
            raise RuntimeError(f"perfdhcp printed no statistics:\n{result.stdout}{result.stderr}")
        sent = re.findall(r"sent packets: (\d+)", result.stdout)
        rates.append(Rate(offered, int(received[1]) / PERF_SECONDS,
                          f"{_percent(drops[0], sent[0])} / {_percent(drops[1], sent[1])}"))
    return rates


def _percent(part: str, whole: str) -> str:
    return f"{100 * int(part) / max(1, int(whole)):.1f} %"


def add_perf_network(lab: Lab, topo: FailoverTopology) -> None:
    """perfdhcp's address on the servers' segment, and the servers' route to it (on-link)."""
    lab.run(topo.client_a, ["ip", "addr", "add", PERF_ADDRESS, "dev", "eth0"])
    for server in (topo.primary, topo.secondary):
        lab.run(server, ["ip", "route", "add", PERF_NETWORK, "dev", "eth0"])


def run_pair(site: Site, workdir: Path, aws: str, tool: str | None) -> tuple[float, float, float, list[Rate]]:
    with Lab(workdir) as lab:
        booting = time.monotonic()
        pair = boot_pair(site, lab, aws)
        boot = pair.started - booting
        # A fresh pair exchanges every lease of the bench's /16 pool in recover before normal:
        # minutes on a loaded 2-core machine, not the seconds of the proof's small pools.
        pair.wait_normal(timeout=600)
        to_normal = time.monotonic() - pair.started
        print(f"time to normal (both dhcpd serving -> both normal, empty lease DBs): {to_normal:.2f} s", flush=True)
        add_perf_network(lab, pair.topo)
        time.sleep(2)  # let pool balancing settle before measuring
        rates = measure_rates(lab, pair.topo.client_a, tool) if tool else []
        killed = time.monotonic()
        pair.stop(site.primary, signal.SIGKILL)
        pair.new_client(timeout=60)
        return boot, to_normal, time.monotonic() - killed, rates


def run_single(site: Site, workdir: Path, aws: str, tool: str) -> list[Rate]:
    with Lab(workdir) as lab:
        topo = build_failover_topology(lab)
        single = BootedPair(site, lab, topo, publish_secrets(site, lab, aws), aws)
        conf = single.boot(site.primary) / DHCPD_CONF.lstrip("/")
        conf.write_text(without_failover(conf.read_text()))
        single.start(site.primary)
        add_perf_network(lab, topo)
        time.sleep(2)  # the same settling time the pair gets
        return measure_rates(lab, topo.client_a, tool)


def kea_bench_site(release: OsRelease) -> Site:
    """The benchmark site as a Kea pair (no ISC-only settings) on ``release``'s Kea."""
    data = bench_site().model_dump(mode="json", exclude_unset=True)
    data.pop("ping_check", None)
    data.pop("failover", None)
    return inventory_from_data(inventory_data({**data, "server": "kea", "os": release.value})).sites[0]


def kea_raw_sockets(kea: KeaMember, *, without_ha: bool = False) -> None:
    """perfdhcp broadcasts relay-style on the servers' own segment, which only raw sockets on
    eth0 hear (deployed members get every client through a relay, by unicast: UDP sockets)."""
    config = json.loads(kea.dhcp4_conf.read_text())
    config["Dhcp4"]["interfaces-config"] = {"interfaces": ["eth0"], "dhcp-socket-type": "raw"}
    if without_ha:
        config["Dhcp4"]["hooks-libraries"] = config["Dhcp4"]["hooks-libraries"][:1]
        for subnet in config["Dhcp4"]["subnet4"]:
            for pool in subnet["pools"]:
                pool.pop("client-class", None)  # Kea 2.2's spelling
                pool.pop("client-classes", None)  # Kea 3.0's
    kea.dhcp4_conf.write_text(json.dumps(config, indent=2))


def run_kea_pair(site: Site, workdir: Path, tool: str | None, debian_root: Path | None) -> tuple[float, float, float, list[Rate]]:
    with Lab(workdir) as lab:
        topo = build_failover_topology(lab)
        pair = [install_member(lab, site, site.primary, topo.primary, debian_root=debian_root),
                install_member(lab, site, site.secondary, topo.secondary, debian_root=debian_root)]
        for kea in pair:
            kea_raw_sockets(kea)
        started = time.monotonic()
        for kea in pair:
            start_member(lab, kea)
        wait_for_states(pair, {"normal"}, timeout=30)
        to_normal = time.monotonic() - started
        servers, downstream, upstream = relay_arguments(site)
        lab.start_dhcrelay(topo.relay, servers, downstream, upstream)
        add_perf_network(lab, topo)
        rates = measure_rates(lab, topo.client_a, tool, KEA_PERF_RATES) if tool else []
        wait_for_states(pair, {"normal"}, timeout=30)
        killed = time.monotonic()
        stop_member(lab, pair[0])
        partner_down = wait_for_states(pair[1:], {"partner-down"}, timeout=30)
        # New clients until one hashes to the dead primary: the survivor serves it from the
        # primary's pool half (the first one may be the survivor's own, served all along).
        pool_half = split_pool(site.subnets[1].pools[0])[0][1]
        while True:
            lease = lab.get_lease(topo.client_b, "eth0", timeout=10)
            if ipaddress.IPv4Address(lease.address) <= pool_half:
                break
        return to_normal, partner_down, time.monotonic() - killed, rates


def run_kea_single(site: Site, workdir: Path, tool: str, debian_root: Path | None) -> list[Rate]:
    with Lab(workdir) as lab:
        topo = build_failover_topology(lab)
        single = install_member(lab, site, site.primary, topo.primary, debian_root=debian_root)
        kea_raw_sockets(single, without_ha=True)
        start_member(lab, single)
        add_perf_network(lab, topo)
        return measure_rates(lab, topo.client_a, tool, KEA_PERF_RATES)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("error: needs root (network namespaces)")
    backend = sys.argv[sys.argv.index("--backend") + 1] if "--backend" in sys.argv else "both"
    if backend in ("isc", "both"):
        isc_figures()
    if backend in ("kea", "both"):
        # Kea 2.2 (Debian 12, this machine's), then Kea 3.0 (Debian 13, from its root).
        for release in (OsRelease.DEBIAN_12, *LAB_RELEASES):
            kea_figures(release)


def kea_figures(release: OsRelease) -> None:
    site, tool = kea_bench_site(release), perfdhcp()
    debian_root = None
    if release in LAB_RELEASES:
        debian_root = spec(release).path
        if not debian_root.exists():
            sys.exit(f"error: no {release.value} root at {debian_root}; run scripts/build-debian-root.sh")
    label = f"kea {kea_pin(site).version} ({release.value})"
    with tempfile.TemporaryDirectory() as tmp:
        to_normal, partner_down, takeover, pair_rates = run_kea_pair(site, Path(tmp) / "kea-pair", tool, debian_root)
        single_rates = run_kea_single(site, Path(tmp) / "kea-single", tool, debian_root) if tool else []
    mrd = site.kea.max_response_delay_ms / 1000
    print(f"{label}: time to normal (both started -> both load-balancing, empty lease files): {to_normal:.2f} s")
    print(f"{label}: kill -9 of the primary -> secondary partner-down: {partner_down:.2f} s (max-response-delay {mrd:g} s)")
    print(f"{label}: kill -9 of the primary -> a lease for a primary-scope client (behind the relay): {takeover:.2f} s")
    if not tool:
        return
    print(f"{label}: perfdhcp, {PERF_SECONDS} s per rate, 4-way exchanges/s (drops DISCOVER / REQUEST):")
    for pair_rate, single_rate in zip(pair_rates, single_rates, strict=True):
        print(f"  offered {pair_rate.offered:>5}/s: pair {pair_rate.achieved:7.1f} ({pair_rate.drops}), "
              f"single {single_rate.achieved:7.1f} ({single_rate.drops}), "
              f"ratio {pair_rate.achieved / max(single_rate.achieved, 1e-9):.2f}")


def isc_figures() -> None:
    site, tool = bench_site(), perfdhcp()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the local AWS API's request log
    aws = ThreadedMotoServer(ip_address="127.0.0.1", port=(port := free_port()), verbose=False)
    aws.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            boot, _to_normal, takeover, pair_rates = run_pair(site, Path(tmp) / "pair", f"http://127.0.0.1:{port}", tool)
            single_rates = run_single(site, Path(tmp) / "single", f"http://127.0.0.1:{port}", tool) if tool else []
    finally:
        aws.stop()
    print(f"boot from user-data, both members (bootstrap + SSM + dhcpd -t): {boot:.2f} s")
    print(f"first lease after kill -9 of the primary (client behind the relay): {takeover:.2f} s")
    if not tool:
        print("perfdhcp: not installed (Debian kea-admin); no throughput figures")
        return
    print(f"perfdhcp, {PERF_SECONDS} s per rate, 4-way exchanges/s (drops DISCOVER / REQUEST):")
    for pair_rate, single_rate in zip(pair_rates, single_rates, strict=False):
        print(f"  offered {pair_rate.offered:>5}/s: pair {pair_rate.achieved:7.1f} ({pair_rate.drops}), "
              f"single {single_rate.achieved:7.1f} ({single_rate.drops}), "
              f"ratio {pair_rate.achieved / max(single_rate.achieved, 1e-9):.2f}")


if __name__ == "__main__":
    main()
