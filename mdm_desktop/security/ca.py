"""The site's local certificate authority (ECDSA P-256), made and used with ``cryptography``.

The CA signs the gateway's server certificate (names and addresses the administrator gives)
and each device's client certificate (from the device's certificate signing request). Devices
pin the CA by the SHA-256 fingerprint of its certificate (shown as text and in the enrolment QR
code). This module holds keys only in memory: the store keeps the CA key sealed (AES-GCM under
the store's data key, itself wrapped by the key file), see
:class:`~mdm_desktop.services.enrollment.EnrollmentService`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mdm_desktop.domain.errors import KeyMaterialError, ValidationError

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=397)
DEVICE_VALIDITY = dt.timedelta(days=365)
CLOCK_SKEW = dt.timedelta(minutes=5)
"""Certificates start this much before "now", so a device whose clock runs a little slow accepts them."""

_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class CertificateRequestError(ValidationError):
    """A device's certificate signing request cannot be used (nothing was issued)."""


def is_host_name(text: str) -> bool:
    """Whether ``text`` is a DNS host name (letters, digits and hyphens in dot-separated labels)."""
    return bool(_HOST_NAME.match(text))


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER encoding, 64 lowercase hex digits."""
    return certificate.fingerprint(hashes.SHA256()).hex()


def der_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER-encoded certificate (as a TLS peer presents it), 64 lowercase hex digits."""
    return hashlib.sha256(der).hexdigest()


def display_fingerprint(hex_digest: str) -> str:
    """A fingerprint as people compare it: ``AB:CD:...`` in pairs."""
    upper = hex_digest.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A certificate the CA signed, with what the store keeps about it."""

    pem: str
    serial_hex: str
    fingerprint: str
    not_before: dt.datetime
    not_after: dt.datetime


@dataclass(frozen=True, slots=True)
class ServerCredentials:
    """The gateway's TLS server certificate and its private key (PEM, keep in memory only)."""

    certificate: IssuedCertificate
    key_pem: bytes
    names: tuple[str, ...]


def _issued(certificate: x509.Certificate) -> IssuedCertificate:
    return IssuedCertificate(
        pem=_pem(certificate),
        serial_hex=f"{certificate.serial_number:040x}",
        fingerprint=fingerprint(certificate),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
    )


def _subject_alt_names(names: Sequence[str]) -> list[x509.GeneralName]:
    """DNS names and IP addresses for a server certificate, refusing anything else."""
    out: list[x509.GeneralName] = []
    for raw in names:
        name = raw.strip()
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
            continue
        except ValueError:
            pass
        if not _HOST_NAME.match(name):
            raise ValidationError(
                f"'{raw}' is neither a host name nor an IP address.",
                hint="Give names such as gateway.clinic.local or addresses such as 192.168.1.20.",
            )
        out.append(x509.DNSName(name.lower()))
    if not out:
        raise ValidationError("The server certificate needs at least one host name or address.")
    return out


class LocalCA:
    """The site CA: its certificate and private key, held in memory.

    Args:
        certificate: The CA certificate.
        key: Its ECDSA private key.
    """

    def __init__(self, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self._certificate = certificate
        self._key = key

    @classmethod
    def create(cls, site_name: str, now: dt.datetime) -> LocalCA:
        """Make a new CA (ECDSA P-256, ten years) named after the site."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, site_name[:64] or "MDM Desktop"),
                x509.NameAttribute(NameOID.COMMON_NAME, "MDM Desktop site CA"),
            ]
        )
        public = key.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @classmethod
    def from_pem(cls, certificate_pem: str, key_pem: bytes) -> LocalCA:
        """Load a CA kept by the store.

        Raises:
            KeyMaterialError: The certificate or key is damaged, or they do not belong together.
        """
        try:
            certificate = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyMaterialError(
                "The site certificate authority stored in the database is damaged.",
                hint="Restore the store from a backup.",
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != certificate.public_key():
            raise KeyMaterialError(
                "The site certificate authority's key does not match its certificate.",
                hint="Restore the store from a backup.",
            )
        return cls(certificate, key)

    @property
    def certificate(self) -> x509.Certificate:
        """The CA certificate."""
        return self._certificate

    @property
    def certificate_pem(self) -> str:
        """The CA certificate in PEM."""
        return _pem(self._certificate)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the CA certificate (devices pin it)."""
        return fingerprint(self._certificate)

    @property
    def not_after(self) -> dt.datetime:
        """When the CA certificate expires."""
        return self._certificate.not_valid_after_utc

    def private_key_pem(self) -> bytes:
        """The CA key in unencrypted PKCS#8 PEM, for the caller to seal before storing it."""
        return _key_pem(self._key)

    def _builder(
        self,
        subject: x509.Name,
        public: ec.EllipticCurvePublicKey | rsa.RSAPublicKey,
        now: dt.datetime,
        validity: dt.timedelta,
    ) -> x509.CertificateBuilder:
        not_after = min(now + validity, self.not_after)
        ca_ski = self._certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self._certificate.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        )

    def issue_server_certificate(self, names: Sequence[str], now: dt.datetime) -> ServerCredentials:
        """A fresh key and TLS server certificate for ``names`` (host names and IP addresses).

        Raises:
            ValidationError: A name is neither a host name nor an IP address, or none was given.
        """
        sans = _subject_alt_names(names)
        key = ec.generate_private_key(ec.SECP256R1())
        first = names[0].strip()
        certificate = (
            self._builder(
                x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, first[:64])]), key.public_key(), now, SERVER_VALIDITY
            )
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return ServerCredentials(_issued(certificate), _key_pem(key), tuple(n.strip() for n in names))

    def sign_device_request(self, csr_pem: str, device_uid: str, now: dt.datetime) -> IssuedCertificate:
        """Sign a device's certificate request: subject CN is ``device_uid`` whatever the request asked for.

        Raises:
            CertificateRequestError: The request is not PEM, its signature is wrong, or its key is weak.
        """
        public = _checked_request_key(csr_pem)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "MDM Desktop devices"),
                x509.NameAttribute(NameOID.COMMON_NAME, device_uid),
            ]
        )
        certificate = (
            self._builder(subject, public, now, DEVICE_VALIDITY)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=isinstance(public, rsa.RSAPublicKey),
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return _issued(certificate)


def _checked_request_key(csr_pem: str) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    """The public key of a well-formed, correctly signed request with an acceptable key."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise CertificateRequestError(
            "The certificate signing request is not a PEM-encoded request.",
            hint="Send the request as '-----BEGIN CERTIFICATE REQUEST-----' PEM text.",
        ) from exc
    try:
        signed = csr.is_signature_valid
        public = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateRequestError("The certificate signing request uses an unsupported key.") from exc
    if not signed:
        raise CertificateRequestError("The certificate signing request's signature is wrong.")
    if isinstance(public, ec.EllipticCurvePublicKey):
        if public.curve.name not in ("secp256r1", "secp384r1"):
            raise CertificateRequestError("Use an ECDSA P-256 or P-384 key for the device.")
        return public
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size < 2048:
            raise CertificateRequestError("RSA device keys must have at least 2048 bits.")
        return public
    raise CertificateRequestError("Use an ECDSA P-256 or P-384 (or RSA 2048+) key for the device.")
