"""WireGuard keys made by the project are the ones `wg` itself would make."""

from __future__ import annotations

import subprocess

import pytest

from dhcp_failover.wgkeys import generate_private_key, public_key
from tests.support.tools import require


def wg(*args: str, stdin: str) -> str:
    return subprocess.run([require("wg"), *args], input=stdin, capture_output=True, text=True, check=True).stdout.strip()


def test_public_key_matches_wg_pubkey_for_our_keys() -> None:
    for _ in range(20):
        private = generate_private_key()
        assert public_key(private) == wg("pubkey", stdin=private)


def test_public_key_matches_wg_pubkey_for_wg_genkey_keys() -> None:
    for _ in range(20):
        private = subprocess.run([require("wg"), "genkey"], capture_output=True, text=True, check=True).stdout.strip()
        assert public_key(private) == wg("pubkey", stdin=private)


@pytest.mark.parametrize("bad", ["not base64!", "c2hvcnQ="])
def test_malformed_private_key_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="WireGuard private key"):
        public_key(bad)
