"""Benchmark (not a test): the rendered pair in network namespaces, as the failover proof runs
it. Prints time to `normal`, time to a new client's lease after `kill -9` of the primary, and,
where perfdhcp (Debian kea-admin) is installed, the pair's lease rate beside a single dhcpd
with the same subnet, as a ratio. Needs root; traffic stays inside the namespaces it makes.

    .venv/bin/python benchmarks/failover.py
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from dhcp_failover.inventory import inventory_from_data  # noqa: E402
from dhcp_failover.model import Site  # noqa: E402
from dhcp_failover.omapi import OmapiEndpoint, wait_for_failover_state  # noqa: E402
from factories import inventory_data, site_data  # noqa: E402
from netlab import Lab, build_failover_topology  # noqa: E402
from test_smoke_pair import install_member  # noqa: E402

PERF_SECONDS = 10
PERF_RATE = 1500  # exchanges/s offered: near what the pair sustains on 2 cores (netns-lab.md)


def bench_site() -> Site:
    data = site_data(ping_check=False, failover={"mclt": 10, "max_response_delay": 5})
    # perfdhcp needs far more addresses than clients it simulates: clients sit on subnet A.
    data["subnets"][0]["network"] = "10.77.0.0/16"
    data["subnets"][0]["routers"] = ["10.77.255.254"]
    data["subnets"][0]["pools"] = [{"start": "10.77.16.0", "end": "10.77.127.255"}]
    data["members"][0]["network"] = data["members"][1]["network"] = "10.77.0.0/16"
    data["relays"] = []
    data["subnets"].pop(1)
    return inventory_from_data(inventory_data(data)).sites[0]


def perf_rate(lab: Lab, host: str) -> float | None:
    perfdhcp = shutil.which("perfdhcp") or "/usr/sbin/perfdhcp"
    if not os.access(perfdhcp, os.X_OK):
        return None
    result = lab.run(host, [perfdhcp, "-4", "-l", "eth0", "-r", str(PERF_RATE), "-R", "100000",
                            "-p", str(PERF_SECONDS)], check=False, timeout=PERF_SECONDS + 30)
    exchanges = re.findall(r"received packets: (\d+)", result.stdout)
    # The second "received packets" counts ACKs: completed four-way exchanges.
    return int(exchanges[1]) / PERF_SECONDS if len(exchanges) >= 2 else None


def without_failover(conf: str) -> str:
    """The same config for a lone dhcpd: no peer block, pools that name no peer."""
    conf = re.sub(r'^failover peer "[^"]+" \{.*?^\}\n', "", conf, flags=re.M | re.S)
    return re.sub(r'^\s+failover peer "[^"]+";\n', "", conf, flags=re.M)


def run_pair(site: Site, workdir: Path, secret: str, *, both: bool) -> tuple[float, float | None, float | None]:
    with Lab(workdir) as lab:
        topo = build_failover_topology(lab)
        # perfdhcp relays from its own address (its giaddr), so every host gets one in the /16.
        for host, address in ((topo.primary, "10.77.255.1"), (topo.secondary, "10.77.255.2"),
                              (topo.client_a, "10.77.255.10")):
            lab.run(host, ["ip", "addr", "add", f"{address}/16", "dev", "eth0"])
        hosts = {site.primary.name: topo.primary, site.secondary.name: topo.secondary}
        members = site.members if both else (site.primary,)
        daemons = {}
        start = time.monotonic()
        for member in members:
            conf = install_member(site, member.name, workdir / member.name, secret)
            if not both:
                conf.write_text(without_failover(conf.read_text()))
            daemons[member.name] = lab.start_dhcpd(hosts[member.name], conf, ifaces=["eth0"])
        to_normal = None
        if both:
            omapi = site.omapi
            endpoint = OmapiEndpoint("127.0.0.1", omapi.port, omapi.key_name, omapi.algorithm.value, secret)
            for host in hosts.values():
                wait_for_failover_state(endpoint, site.peer_name, "normal", partner_state="normal",
                                        command_prefix=lab.netns_exec(host), timeout=30)
            to_normal = time.monotonic() - start
            time.sleep(2)  # let pool balancing settle before measuring
        rate = perf_rate(lab, topo.client_a)
        takeover = None
        if both:
            killed = time.monotonic()
            lab.kill(daemons[site.primary.name], signal.SIGKILL)
            lab.get_lease(topo.client_a, "eth0", timeout=15)
            takeover = time.monotonic() - killed
        return to_normal or 0.0, takeover, rate


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("error: needs root (network namespaces)")
    site = bench_site()
    secret = base64.b64encode(os.urandom(32)).decode()
    with tempfile.TemporaryDirectory() as tmp:
        to_normal, takeover, pair_rate = run_pair(site, Path(tmp) / "pair", secret, both=True)
        _, _, single_rate = run_pair(site, Path(tmp) / "single", secret, both=False)
    print(f"time to normal (both servers, empty lease files): {to_normal:.2f} s")
    print(f"first lease after kill -9 of the primary:         {takeover:.2f} s")
    if pair_rate is None or single_rate is None:
        print("perfdhcp: not available; no throughput figures")
        return
    print(f"perfdhcp at {PERF_RATE}/s offered for {PERF_SECONDS} s: pair {pair_rate:.0f} leases/s, "
          f"single dhcpd {single_rate:.0f} leases/s, ratio {pair_rate / single_rate:.2f}")


if __name__ == "__main__":
    main()
