"""A throwaway Dovecot IMAP server on loopback, for the tests and the benchmarks.

Runs Debian's ``dovecot`` binary with its own configuration in a temporary
directory, passwd-file users and Maildir storage. See shared notes
``real-servers.md`` for why each setting is there (root, nobody:nogroup, short
base_dir). Run by anyone else, every Dovecot process runs as that user.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .tls import Certificate

CONF = """\
instance_name = guichet-test-{port}
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
{identity}
first_valid_uid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
passdb {{
  driver = passwd-file
  args = {base}/users
}}
userdb {{
  driver = passwd-file
  args = {base}/users
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
service imap-login {{
{login_chroot}
  inet_listener {listener} {{
    address = 127.0.0.1
    port = {port}
{listener_ssl}
  }}
  # Dovecot's default listener of the other kind (143 or 993) stays closed: only root may bind it.
  inet_listener {unused} {{
    port = 0
  }}
}}
"""
PLAIN = {"ssl": "ssl = no", "listener": "imap", "listener_ssl": "", "unused": "imaps"}
# As root, Dovecot's own processes run as the package's dovecot/dovenull users and the mail as
# nobody (it refuses uid 0 for mail). As anyone else, every process runs as that user, and the
# services that chroot by default (they need root for that) do not.
AS_ROOT = {"identity": "mail_uid = nobody\nmail_gid = nogroup", "login_chroot": ""}
AS_USER = """\
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
mail_uid = {user}
mail_gid = {group}
service anvil {{
  chroot =
}}"""


def _identity() -> dict[str, str]:
    """The settings that say which system users Dovecot's processes and the mail run as."""
    if os.geteuid() == 0:
        return AS_ROOT
    user, group = pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name
    return {"identity": AS_USER.format(user=user, group=group), "login_chroot": "  chroot ="}


def dovecot_binary() -> str | None:
    """Debian puts dovecot in /usr/sbin, which is not on a normal user's PATH."""
    return shutil.which("dovecot", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin"]))


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _greets(port: int, timeout: float, tls: bool = False) -> bool:
    # imap-login may accept before it can greet; only "* OK" means ready.
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
            raw.settimeout(timeout)
            if not tls:
                return raw.recv(64).startswith(b"* OK")
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            with context.wrap_socket(raw) as s:
                return s.recv(64).startswith(b"* OK")
    except OSError:
        return False


@dataclass
class Dovecot:
    """One Dovecot instance; ``start()`` then ``stop()`` (or use as a context manager)."""

    users: dict[str, str] = field(default_factory=lambda: {"info": "secret"})
    port: int = 0
    # TLS only (imaps, as most providers on port 993) with this certificate, when given.
    certificate: Certificate | None = None
    base: Path = field(default_factory=lambda: Path("."))
    _proc: subprocess.Popen[bytes] | None = None

    host = "127.0.0.1"

    def start(self) -> Dovecot:
        if dovecot_binary() is None:
            raise RuntimeError("dovecot is not installed: run scripts/test, which installs it")
        # Short path under /tmp: unix socket paths must stay under 108 bytes.
        self.base = Path(tempfile.mkdtemp(prefix="gdv", dir="/tmp"))
        self.base.chmod(0o755)
        (self.base / "mail").mkdir()
        lines = [
            f"{user}:{{PLAIN}}{password}::::{self.base}/mail/{user}::"
            for user, password in self.users.items()
        ]
        (self.base / "users").write_text("\n".join(lines) + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.base / "mail", "nobody", "nogroup")
        self.port = self.port or free_port()
        conf = self.base / "dovecot.conf"
        tls = PLAIN
        if self.certificate is not None:
            tls = {"ssl": f"ssl = required\nssl_cert = <{self.certificate.cert}\nssl_key = <{self.certificate.key}",
                   "listener": "imaps", "listener_ssl": "    ssl = yes", "unused": "imap"}
        conf.write_text(CONF.format(base=self.base, port=self.port, **tls, **_identity()))
        try:
            self._launch()
        except RuntimeError:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        """Start the dovecot process and wait for its greeting (a port that accepts is not enough)."""
        self._proc = subprocess.Popen(
            [dovecot_binary() or "dovecot", "-c", str(self.base / "dovecot.conf"), "-F"],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"dovecot exited: {self.log()}")
            if _greets(self.port, 0.5, self.certificate is not None):
                return
            time.sleep(0.03)
        raise RuntimeError(f"dovecot did not greet on port {self.port}: {self.log()}")

    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def kill(self) -> None:
        """Stop at once (the whole process group), keeping the mail for a restart."""
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._proc = None

    def restart(self) -> None:
        """Kill and start again on the same port with the same mail."""
        self.kill()
        shutil.rmtree(self.base / "run", ignore_errors=True)
        self._launch()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
