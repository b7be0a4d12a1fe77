"""The lab: network namespaces, real daemons, booted members (dhcpd, dhcrelay, dhclient, wg)."""
