"""RFC 9421 HTTP message signatures with an RFC 9530 `Content-Digest`, as pawaPay signs callbacks.

pawaPay signs each callback with its private key; we verify it with the public key from
settings. The sandbox signs its callbacks the same way with a key of its own, so that the
verifying path is the one production runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from http_message_signatures import (
    ContentDigest,
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    MappingKeyResolver,
    algorithms,
)
from http_message_signatures.algorithms import HTTPSignatureAlgorithm

# What a callback signature must cover: the request line, the body (through its digest) and
# when it was signed. pawaPay adds the custom `Signature-Date` field.
COVERED_COMPONENTS = (
    "@method",
    "@authority",
    "@path",
    "signature-date",
    "content-digest",
    "content-type",
)
MAX_SIGNATURE_AGE = timedelta(hours=1)

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey


class SignatureError(Exception):
    """A callback whose signature or digest is missing, malformed or wrong."""


class _Digest(ContentDigest):
    algorithm = "sha-512"


def _algorithm_for(key: PrivateKey | PublicKey) -> type[HTTPSignatureAlgorithm]:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name != "secp256r1":
            raise SignatureError(f"unsupported curve {key.curve.name}")
        return algorithms.ECDSA_P256_SHA256
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return algorithms.ED25519
    return algorithms.RSA_PSS_SHA512


def load_private_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(
        key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
    ):
        raise SignatureError("the signing key must be ECDSA P-256, Ed25519 or RSA")
    return key


def load_public_key(pem: bytes) -> PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        raise SignatureError("the public key must be ECDSA P-256, Ed25519 or RSA")
    return key


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign_request(request: httpx.Request, key: PrivateKey, *, key_id: str) -> None:
    """Add `Content-Digest`, `Signature-Date`, `Signature-Input` and `Signature` to `request`."""
    now = datetime.now(UTC)
    request.headers["Signature-Date"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    signer = HTTPMessageSigner(
        signature_algorithm=_algorithm_for(key),
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={key_id: key}),
    )
    signer.content_digest_class = _Digest
    signer.sign(
        request,
        key_id=key_id,
        created=now,
        label="sig-pp",
        covered_component_ids=COVERED_COMPONENTS,
        body=request.content,
    )


@dataclass(frozen=True)
class _Message:
    method: str
    url: str
    headers: dict[str, str]


def verify_request(
    *,
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    public_key: PublicKey,
) -> None:
    """Check the signature (covering `COVERED_COMPONENTS`) and the body's digest; raise
    `SignatureError` when anything is missing or does not match."""
    fields: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    if "signature" not in fields or "signature-input" not in fields:
        raise SignatureError("the callback is not signed")
    if "content-digest" not in fields:
        raise SignatureError("the callback has no Content-Digest")
    verifier = HTTPMessageVerifier(
        signature_algorithm=_algorithm_for(public_key),
        key_resolver=_AnyKeyId(public_key),
    )
    try:
        ContentDigest.verify(fields["content-digest"], body)
        verifier.verify(
            _Message(method.upper(), url, fields),
            max_age=MAX_SIGNATURE_AGE,
            require_components=COVERED_COMPONENTS,
            body=body,
        )
    except (HTTPMessageSignaturesException, ValueError, TypeError) as exc:
        raise SignatureError(str(exc) or type(exc).__name__) from exc


class _AnyKeyId(MappingKeyResolver):
    """One trusted public key, whatever key id the signer names."""

    def __init__(self, key: PublicKey) -> None:
        super().__init__(public_keys={}, private_keys={})
        self.key = key

    def resolve_public_key(self, key_id: str) -> PublicKey:
        return self.key
