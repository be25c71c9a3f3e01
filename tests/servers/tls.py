"""A self-signed certificate for loopback TLS servers (Dovecot, aiosmtpd) in the tests."""

from __future__ import annotations

import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificate:
    """A certificate for 127.0.0.1 and its key. Clients trust it only when told to
    (``SSL_CERT_FILE=cert``, read by ``ssl.create_default_context()``), as with a real CA."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def self_signed(directory: Path) -> Certificate:
    """Make a fresh self-signed certificate for 127.0.0.1 with openssl (Debian's, always there)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    key.chmod(0o644)  # Dovecot reads it after dropping privileges
    return Certificate(cert, key)
