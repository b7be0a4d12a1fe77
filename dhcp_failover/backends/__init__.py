"""DHCP server backends: everything that depends on which server software a site runs."""
