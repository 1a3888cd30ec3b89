"""XML-DSig on CAP: a signed alert verifies, still validates, and any change is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from service.warnings.cap import CAP_NAMESPACE, CapRefused, render_cap, validate_cap
from service.warnings.cap_parse import parse_cap
from service.warnings.cap_sign import sign_cap, verify_cap
from tests.warnings.test_cap import FIRST, UPDATE

DSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
KeyPair = tuple[bytes, bytes]


def _key_and_certificate(name: str) -> KeyPair:
    """A throwaway RSA key and a self-signed certificate for it, both PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def issuer() -> KeyPair:
    return _key_and_certificate("Shangcheng warning release platform")


@pytest.fixture(scope="module")
def signed(issuer: KeyPair) -> bytes:
    key_pem, cert_pem = issuer
    return sign_cap(render_cap(FIRST), key_pem, cert_pem)


def test_sign_then_verify_gives_back_the_alert(issuer: KeyPair, signed: bytes) -> None:
    """The verified bytes are the alert as signed, and read back as the same CapAlert."""
    verified = verify_cap(signed, issuer[1])
    assert b"Signature" not in verified
    assert parse_cap(verified) == FIRST


def test_signature_is_the_last_child_and_the_document_still_validates(signed: bytes) -> None:
    """The Signature sits last in alert, where CAP's schema allows XML-DSig elements."""
    root = etree.fromstring(signed)
    assert root.tag == f"{{{CAP_NAMESPACE}}}alert"
    assert root[-1].tag == f"{{{DSIG_NAMESPACE}}}Signature"
    assert (
        root.find(f".//{{{DSIG_NAMESPACE}}}SignatureMethod").get("Algorithm").endswith("rsa-sha256")
    )
    validate_cap(signed)
    assert parse_cap(signed) == FIRST


def test_tampered_document_is_refused(issuer: KeyPair, signed: bytes) -> None:
    """A changed word in a signed alert makes it fail verification."""
    tampered = signed.replace(b"<severity>Severe</severity>", b"<severity>Minor</severity>", 1)
    assert tampered != signed
    with pytest.raises(CapRefused, match="signature does not verify"):
        verify_cap(tampered, issuer[1])


def test_other_certificate_is_refused(signed: bytes) -> None:
    """A signature made with another key does not verify against the pinned certificate."""
    _, stranger = _key_and_certificate("someone else")
    with pytest.raises(CapRefused, match="signature does not verify"):
        verify_cap(signed, stranger)


def test_unsigned_document_is_refused(issuer: KeyPair) -> None:
    """A document without a signature does not pass for a verified one."""
    with pytest.raises(CapRefused, match="signature does not verify"):
        verify_cap(render_cap(UPDATE), issuer[1])


def test_verify_refuses_a_doctype_before_looking_at_the_signature(
    issuer: KeyPair, signed: bytes
) -> None:
    """verify_cap reads untrusted input the same hardened way parse_cap does."""
    declaration, rest = signed.split(b"\n", 1)
    with_dtd = declaration + b'\n<!DOCTYPE alert [<!ENTITY x "y">]>\n' + rest
    with pytest.raises(CapRefused, match="DTD"):
        verify_cap(with_dtd, issuer[1])
