"""A real IMAP server for the mail-in tests: Debian's Dovecot, started with a configuration
of its own (one mailbox, a plain port and a TLS port with a certificate signed by a CA made
here), and stopped afterwards. Messages are put in the mailbox with IMAP APPEND."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from imapclient import IMAPClient

from tests.fakes.smtp import free_port

DOVECOT = "/usr/sbin/dovecot"
NOBODY = 65534  # Dovecot will not run a mailbox as root


@dataclass
class ImapServer:
    plain_port: int
    tls_port: int
    user: str
    password: str
    ca_file: Path

    @contextmanager
    def client(self) -> Iterator[IMAPClient]:
        client = IMAPClient("127.0.0.1", self.plain_port, ssl=False, timeout=10)
        try:
            client.login(self.user, self.password)
            yield client
        finally:
            client.logout()

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw)

    def flags(self) -> list[set[str]]:
        """Each message's flags, in the mailbox's order."""
        with self.client() as client:
            client.select_folder("INBOX")
            found = client.get_flags(client.search("ALL"))
            return [{f.decode() for f in found[uid]} for uid in sorted(found)]


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 it signed: (CA, certificate, key)."""
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    ca.cert_pem.write_to_path(str(paths[0]))
    issued.cert_chain_pems[0].write_to_path(str(paths[1]))
    issued.private_key_pem.write_to_path(str(paths[2]))
    return paths


def _configuration(root: Path, plain: int, tls: int, cert: Path, key: Path) -> str:
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 100
mail_location = maildir:{root}/home/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={NOBODY} gid={NOBODY} home={root}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {plain}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls}
  }}
}}
service anvil {{
  chroot =
}}
"""


def require_dovecot() -> None:
    problem = None
    if not os.access(DOVECOT, os.X_OK):
        problem = f"needs {DOVECOT}: apt-get install dovecot-imapd (scripts/test does)"
    elif os.geteuid() != 0:
        problem = "Dovecot's mailbox processes change user: the test must run as root"
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(problem)
    pytest.skip(problem)


@contextmanager
def dovecot() -> Iterator[ImapServer]:
    require_dovecot()
    root = Path(tempfile.mkdtemp(prefix="dutyd-dovecot-"))
    root.chmod(0o755)  # its login processes run as dovenull
    (root / "home").mkdir()
    os.chown(root / "home", NOBODY, NOBODY)
    user, password = "duty@linjiang.example.gov.cn", "duty-imap-s3cret"
    (root / "passwd").write_text(f"{user}:{{PLAIN}}{password}\n", encoding="utf-8")
    ca, cert, key = _certificates(root)
    plain, tls = free_port(), free_port()
    config = root / "dovecot.conf"
    config.write_text(_configuration(root, plain, tls, cert, key), encoding="utf-8")
    # Dovecot goes to the background holding what it was given as its output: a file, so
    # that nothing waits on a pipe it keeps open.
    with open(root / "start.log", "w+", encoding="utf-8") as said:
        started = subprocess.run([DOVECOT, "-c", str(config)], stdout=said, stderr=said)
        said.seek(0)
        assert started.returncode == 0, said.read()
    server = ImapServer(plain, tls, user, password, ca)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with server.client():
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError((root / "dovecot.log").read_text()) from None
                time.sleep(0.05)
        yield server
    finally:
        pid = int((root / "run" / "master.pid").read_text())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        shutil.rmtree(root, ignore_errors=True)
