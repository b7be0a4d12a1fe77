"""cdktf constructs for DHCP failover pairs; only ``main.py`` imports them (never the CLI)."""
