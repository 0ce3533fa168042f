"""How clients (the command line, node agents) verify the control plane's TLS certificate.

A client trusts either the system's certificate authorities (no file given) or exactly the
certificates in one PEM file: a private CA that signed the server's certificate, or the
server's own certificate, pinned. Every certificate in the file is a trust anchor (OpenSSL's
partial-chain mode), so a pinned leaf works even when a CA signed it; the host name (or IP
address) is checked against the certificate in every case.
"""

from __future__ import annotations

import ssl
from pathlib import Path

CA_FILE_ENV = "SUANWANG_CA_FILE"
"""Environment variable naming the PEM file clients verify the server with."""


class TrustError(ValueError):
    """The trust file cannot be read or holds no certificate."""


def client_context(ca_file: Path | str | None) -> ssl.SSLContext:
    """The TLS context of a client that verifies the server.

    Args:
        ca_file: PEM file of CA certificates or of the server's own (pinned) certificate;
            None trusts the system's certificate authorities.

    Raises:
        TrustError: the file is missing, unreadable or holds no certificate.
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file is None or str(ca_file) == "":
        return context
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as error:
        raise TrustError(f"cannot read the CA file {ca_file}: {error}") from None
    # Without this, a pinned leaf certificate would need its issuer in the file as well.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context
