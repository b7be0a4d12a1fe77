"""The ISC dhcpd backend: failover pairs configured in dhcpd.conf, controlled over OMAPI."""
