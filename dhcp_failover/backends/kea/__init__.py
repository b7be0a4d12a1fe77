"""The Kea backend: kea-dhcp4 with the HA hook, driven through the Kea Control Agent."""
