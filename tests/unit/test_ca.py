"""The site CA: server certificates name what the admin gave, device requests are checked and pinned to the uid."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mdm_desktop.domain.errors import KeyMaterialError, ValidationError
from mdm_desktop.security.ca import CertificateRequestError, LocalCA, display_fingerprint

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA.create("Clinic", NOW)


def _csr(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, cn: str = "admin") -> str:
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    return csr.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def test_device_certificate_names_the_device_not_what_it_asked(ca: LocalCA) -> None:
    issued = ca.sign_device_request(_csr(ec.generate_private_key(ec.SECP256R1()), cn="admin"), "a" * 32, NOW)
    cert = x509.load_pem_x509_certificate(issued.pem.encode())
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "a" * 32
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    cert.verify_directly_issued_by(ca.certificate)
    assert issued.not_after - NOW <= dt.timedelta(days=365)


def test_bad_requests_are_refused(ca: LocalCA) -> None:
    with pytest.raises(CertificateRequestError, match="PEM"):
        ca.sign_device_request("hello", "a" * 32, NOW)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(CertificateRequestError, match="2048"):
        ca.sign_device_request(_csr(weak), "a" * 32, NOW)
    # Flip a bit in the signature (the last bytes of the DER): still a request, but not a signed one.
    der = bytearray(
        x509.load_pem_x509_csr(_csr(ec.generate_private_key(ec.SECP256R1())).encode()).public_bytes(
            serialization.Encoding.DER
        )
    )
    der[-2] ^= 0x01
    broken = x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()
    with pytest.raises(CertificateRequestError, match="signature"):
        ca.sign_device_request(broken, "a" * 32, NOW)


def test_server_certificate_names_and_reload(ca: LocalCA) -> None:
    creds = ca.issue_server_certificate(["gateway.clinic.local", "192.168.1.20"], NOW)
    cert = x509.load_pem_x509_certificate(creds.certificate.pem.encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["gateway.clinic.local"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["192.168.1.20"]
    with pytest.raises(ValidationError, match="neither a host name"):
        ca.issue_server_certificate(["bad name!"], NOW)
    again = LocalCA.from_pem(ca.certificate_pem, ca.private_key_pem())
    assert again.fingerprint == ca.fingerprint
    assert display_fingerprint(ca.fingerprint).count(":") == 31
    stranger = LocalCA.create("Other", NOW)
    with pytest.raises(KeyMaterialError):
        LocalCA.from_pem(ca.certificate_pem, stranger.private_key_pem())
