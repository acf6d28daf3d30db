"""Adobe Commerce webhook signatures: RSA-SHA256 over the base64 of the body, checked with the
public key the store owner copies from Stores > Configuration > Adobe Services > Webhooks.

Only the standard library is used: the key is read from its PEM/DER form here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

__all__ = ["SIGNATURE_HEADER", "verify_webhook"]

SIGNATURE_HEADER = "x-adobe-commerce-webhook-signature"


# DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256 (RFC 8017, section 9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_PEM_BODY = re.compile(r"-----BEGIN PUBLIC KEY-----(.*?)-----END PUBLIC KEY-----", re.S)


def verify_webhook(body: bytes, signature: str | None, public_key_pem: str) -> bool:
    """Whether `signature` (the header's base64) is Commerce's RSA-SHA256 signature of `body`.

    Adobe Commerce signs the base64 encoding of the raw body with its private key; the store
    owner copies the public key from Stores > Configuration > Adobe Services > Webhooks.
    Never raises.
    """
    if not signature or not public_key_pem:
        return False
    try:
        modulus, exponent = _rsa_public_key(public_key_pem)
        raw = base64.b64decode(signature.strip(), validate=True)
    except (ValueError, binascii.Error, IndexError):
        return False
    size = (modulus.bit_length() + 7) // 8
    if len(raw) != size:
        return False
    decrypted = pow(int.from_bytes(raw, "big"), exponent, modulus).to_bytes(size, "big")
    digest = hashlib.sha256(base64.b64encode(body)).digest()
    info = _SHA256_DIGEST_INFO + digest
    expected = b"\x00\x01" + b"\xff" * (size - len(info) - 3) + b"\x00" + info
    return len(expected) == size and decrypted == expected


def _rsa_public_key(pem: str) -> tuple[int, int]:
    """(n, e) of a PEM `PUBLIC KEY` (SubjectPublicKeyInfo holding an RSAPublicKey)."""
    match = _PEM_BODY.search(pem)
    if match is None:
        raise ValueError("not a PEM public key")
    der = base64.b64decode("".join(match.group(1).split()), validate=True)
    spki = _der_sequence(der)
    _algorithm, rest = _der_element(spki)
    bit_string, _ = _der_element(rest, tag=0x03)
    rsa_key = _der_sequence(bit_string[1:])  # skip the unused-bits byte
    modulus, rest = _der_element(rsa_key, tag=0x02)
    exponent, _ = _der_element(rest, tag=0x02)
    return int.from_bytes(modulus, "big"), int.from_bytes(exponent, "big")


def _der_sequence(data: bytes) -> bytes:
    content, _ = _der_element(data, tag=0x30)
    return content


def _der_element(data: bytes, tag: int | None = None) -> tuple[bytes, bytes]:
    """(content, rest) of the first DER element in `data`."""
    if tag is not None and data[0] != tag:
        raise ValueError("unexpected DER tag")
    length, offset = data[1], 2
    if length & 0x80:
        count = length & 0x7F
        length, offset = int.from_bytes(data[2 : 2 + count], "big"), 2 + count
    if offset + length > len(data):
        raise ValueError("truncated DER")
    return data[offset : offset + length], data[offset + length :]
