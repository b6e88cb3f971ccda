"""The device's key pair, its certificate signing request, and CA fingerprints for pinning.

The private key is an EC P-256 key written unencrypted (the agent must start unattended) to an
owner-only file (mode 0600) in an owner-only directory (mode 0700); it never leaves the device.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class FingerprintError(ValueError):
    """A CA fingerprint that is not 64 hexadecimal digits (SHA-256)."""


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A new EC P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The key as unencrypted PKCS#8 PEM (stored only in an owner-only file)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(data: bytes) -> ec.EllipticCurvePrivateKey:
    """Read a PEM private key written by :func:`private_key_pem`."""
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the device key is not an EC key")
    return key


def public_key_der(owner: ec.EllipticCurvePrivateKey | x509.Certificate) -> bytes:
    """DER (SubjectPublicKeyInfo) of a private key's public half or of a certificate's key."""
    public = owner.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def build_csr(key: ec.EllipticCurvePrivateKey, common_name: str) -> str:
    """A PEM certificate signing request for ``key`` (the gateway sets the certificate's real subject)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (common_name.strip() or "mdm-device")[:64])])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode("ascii")


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER encoding, as 64 lowercase hex digits."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def der_fingerprint(der: bytes) -> str:
    """SHA-256 of DER bytes, as 64 lowercase hex digits."""
    return hashlib.sha256(der).hexdigest()


def normalise_fingerprint(text: str) -> str:
    """A fingerprint as 64 lowercase hex digits.

    Accepts the forms people copy: ``AB:CD:...``, ``ab cd ...``, ``sha256:abcd...`` or ``SHA256=...``.

    Raises:
        FingerprintError: when what is left is not a SHA-256 fingerprint.
    """
    value = text.strip().lower()
    for prefix in ("sha256:", "sha-256:", "sha256=", "sha-256="):
        if value.startswith(prefix):
            value = value[len(prefix) :]
    value = re.sub(r"[\s:\-]", "", value)
    if not _HEX64.match(value):
        raise FingerprintError(
            "the CA fingerprint must be the 64 hexadecimal digits (SHA-256) shown with the enrolment token"
        )
    return value


def fingerprints_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two normalised fingerprints."""
    return secrets.compare_digest(a.encode("ascii"), b.encode("ascii"))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it owner-only (0700)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        path.chmod(0o700)
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` atomically to an owner-only file (0600) in an owner-only directory."""
    ensure_private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
