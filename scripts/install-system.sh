#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real (dhcpd, dhcrelay, dhclient,
# omshell, wg, wireguard-go, cloud-init, tcpdump, kea-dhcp4, kea-dhcp6, kea-ctrl-agent, kea-dhcp-ddns, perfdhcp, BIND 9 for
# DDNS, libfaketime for a member with a wrong clock) without starting any of their services: a started chronyd, dhcpd or kea would reach out of
# the sandbox.
set -euo pipefail

packages=(isc-dhcp-server isc-dhcp-relay isc-dhcp-client wireguard-tools wireguard-go
          cloud-init chrony iproute2 iputils-ping tcpdump kea-admin awscli graphviz bind9 bind9-dnsutils
          kea-dhcp4-server kea-dhcp6-server kea-ctrl-agent kea-dhcp-ddns-server faketime)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "error: missing Debian packages (${missing[*]}); run as root or install them yourself" >&2
  exit 2
fi
# Refuse service starts during install (Debian's documented switch for this).
if [ ! -x /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi
echo "install-system: installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
