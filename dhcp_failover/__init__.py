"""dhcp-failover: ISC DHCP failover pairs described once, rendered, synthesized and proven.

The package is layered so that each layer imports only the ones below it:

- ``model``: the typed inventory (pydantic), free of any dhcpd syntax.
- ``checks``: the semantic rules that are stricter than ``dhcpd -t``.
- ``inventory``: YAML in, validated model out, one-line errors.
- ``render``: the ISC backend: model in, on-disk file trees out (jinja2).
- ``constructs``: cdktf constructs (imported only by ``main.py``; the CLI never loads cdktf).
"""

__version__ = "0.2.0"
"""Kept equal to pyproject.toml's version (a test checks); part of every synth cache key."""
