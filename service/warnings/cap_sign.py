"""XML-DSig for CAP: an enveloped RSA-SHA256 signature over the whole alert, and its check.

The Signature goes last in `alert`, where the CAP 1.2 schema leaves room for elements of
the XML-DSig namespace, so a signed message still validates. A receiver must go on with
the bytes verify_cap returns, which are what the signature covers, never with the
document it was given: anything outside the signed part (wrapped in, added around) is
gone from them.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature as CryptographyInvalidSignature
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
    XMLSigner,
    XMLVerifier,
)
from signxml.exceptions import SignXMLException

from service.warnings.cap import CAP_NAMESPACE, CapRefused, parse_xml
from service.warnings.cap_parse import parse_untrusted

_ALERT_TAG = f"{{{CAP_NAMESPACE}}}alert"


def sign_cap(xml: bytes, key_pem: bytes, cert_pem: bytes) -> bytes:
    """`xml` (a CAP alert dutyd rendered) with an enveloped XML-DSig Signature, made with
    the RSA private key `key_pem` and carrying the certificate `cert_pem`."""
    root = parse_xml(xml)
    if root.tag != _ALERT_TAG:
        raise ValueError(f"only a CAP 1.2 alert is signed here, not {root.tag}")
    signer = XMLSigner(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_1,
    )
    # With no placeholder Signature in the document, signxml appends it as the last child
    # of the root, the place CAP's schema keeps for it.
    signed = signer.sign(root, key=key_pem, cert=cert_pem.decode("ascii"))
    return etree.tostring(signed, xml_declaration=True, encoding="UTF-8")


def verify_cap(xml: bytes, cert_pem: bytes) -> bytes:
    """The signed content of `xml` (the alert without its Signature, canonicalised), once
    its signature verifies against `cert_pem`. Raises CapRefused otherwise."""
    root = parse_untrusted(xml)
    try:
        result = XMLVerifier().verify(root, x509_cert=cert_pem.decode("ascii"))
    except (SignXMLException, CryptographyInvalidSignature, ValueError) as exc:
        # ValueError: a SignatureValue or certificate that is not even base64 or PEM.
        raise CapRefused(f"signature does not verify: {exc}") from None
    # One reference to the whole document is all verify accepts by default; check that
    # what it covers is an alert and not some other element the signature was moved onto.
    if result.signed_xml is None or result.signed_xml.tag != _ALERT_TAG:
        raise CapRefused("the signature does not cover a CAP 1.2 alert")
    return result.signed_data
