"""WireGuard key pairs (X25519, base64 as `wg genkey` / `wg pubkey` print them)."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat


def generate_private_key() -> str:
    raw = X25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode()


def public_key(private_key: str) -> str:
    """The public key WireGuard derives from ``private_key`` (both clamp the same way)."""
    try:
        raw = base64.b64decode(private_key, validate=True)
    except binascii.Error:
        raise ValueError("a WireGuard private key must be base64") from None
    if len(raw) != 32:
        raise ValueError(f"a WireGuard private key is 32 bytes, not {len(raw)}")
    public = X25519PrivateKey.from_private_bytes(raw).public_key()
    return base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
