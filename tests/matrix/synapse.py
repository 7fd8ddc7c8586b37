"""A real Synapse homeserver on 127.0.0.1 for end-to-end tests of the Matrix adapter.

Test-only: SQLite, plain HTTP, client API only, no federation, no outbound traffic,
rate limits lifted, cheap bcrypt. Not a helper for production deployments.

    hs = Synapse(tmp_dir)
    hs.start()                      # child process, waits for /_matrix/client/versions
    user_id, token = hs.register("alice", "pw")
    hs.stop(graceful=False)         # the homeserver "goes away" (SIGKILL)
    hs.start()                      # same data dir, same port, same signing key
    hs.stop()                       # SIGTERM, then SIGKILL after a timeout

The server runs as ``sys.executable -m synapse.app.homeserver``, so matrix-synapse must be
installed in the venv that runs the tests (it is in the ``dev`` extra).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

SERVER_NAME = "localhost"

# Every new-style rate limiter Synapse 1.163 reads (synapse/config/ratelimiting.py).
# Dotted keys are nested. All of them are raised far above a 200-user / 200-message burst.
_RATE_LIMITERS = (
    "rc_message",
    "rc_registration",
    "rc_registration_token_validity",
    "rc_login.address",
    "rc_login.account",
    "rc_login.failed_attempts",
    "rc_admin_redaction",
    "rc_joins.local",
    "rc_joins.remote",
    "rc_joins_per_room",
    "rc_key_requests",
    "rc_3pid_validation",
    "rc_invites.per_room",
    "rc_invites.per_user",
    "rc_invites.per_issuer",
    "rc_third_party_invite",
    "rc_media_create",
    "rc_presence.per_user",
    "rc_delayed_event_mgmt",
    "rc_room_creation",
    "rc_reports",
    "rc_user_directory",
    "rc_profile",
)
_NO_LIMIT = {"per_second": 10_000, "burst_count": 100_000}


class SynapseError(RuntimeError):
    """The homeserver did not start, or an admin API call failed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the server if the thread that started it dies (e.g. pytest is killed)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Synapse:
    """One Synapse process bound to 127.0.0.1:``port``, with its state in ``directory``."""

    def __init__(
        self,
        directory: Path | str,
        *,
        port: int | None = None,
        python: str | None = None,
        startup_timeout: float = 90.0,
        shared_secret: str | None = None,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = port if port is not None else free_port()
        # A port we picked may be taken by someone else before Synapse binds it (~3 s
        # later); then the first start() moves to another one. Never after a start.
        self._may_move_port = port is None
        self.python = python or sys.executable
        self.startup_timeout = startup_timeout
        self.shared_secret = shared_secret or secrets.token_hex(16)
        self.server_name = SERVER_NAME
        self.config_path = self.directory / "homeserver.yaml"
        self.log_path = self.directory / "homeserver.log"
        self.stdout_path = self.directory / "stdout.log"
        self.signing_key_path = self.directory / f"{SERVER_NAME}.signing.key"
        self._proc: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None  # of the last start()

    # -- addresses ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- files -------------------------------------------------------------------------

    def write_config(self) -> None:
        """(Re)write homeserver.yaml and log.yaml; create the signing key once."""
        d = self.directory
        (d / "media_store").mkdir(exist_ok=True)
        if not self.signing_key_path.exists():
            # Same format as `--generate-keys`: "ed25519 <key id> <unpadded base64 seed>".
            seed = base64.b64encode(os.urandom(32)).decode().rstrip("=")
            key_id = "a_" + secrets.token_hex(2)
            self.signing_key_path.write_text(f"ed25519 {key_id} {seed}\n")
        log_config = {
            "version": 1,
            "formatters": {
                "precise": {"format": "%(asctime)s - %(name)s - %(levelname)s - %(message)s"}
            },
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_path),
                    "encoding": "utf8",
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }
        (d / "log.yaml").write_text(yaml.safe_dump(log_config, sort_keys=False))

        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": self.base_url + "/",
            "pid_file": str(d / "homeserver.pid"),
            "report_stats": False,  # Synapse refuses to start when this is unset
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": ["127.0.0.1"],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(d / "homeserver.db")}},
            "log_config": str(d / "log.yaml"),
            "media_store_path": str(d / "media_store"),
            "signing_key_path": str(self.signing_key_path),
            "registration_shared_secret": self.shared_secret,
            "macaroon_secret_key": "test-macaroon-secret",
            "form_secret": "test-form-secret",
            "enable_registration": False,
            "bcrypt_rounds": 4,
            # nothing leaves the machine
            "federation_domain_whitelist": [],
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "url_preview_enabled": False,
            "presence": {"enabled": False},
        }
        for key in _RATE_LIMITERS:
            node = config
            *parents, leaf = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = dict(_NO_LIMIT)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    def log_tail(self, chars: int = 3000) -> str:
        """The end of Synapse's log file and of its stdout/stderr, for error messages."""
        parts = []
        for path in (self.log_path, self.stdout_path):
            try:
                text = path.read_text(errors="replace")
            except FileNotFoundError:
                continue
            if text.strip():
                parts.append(f"--- {path.name} (tail) ---\n{text[-chars:]}")
        return "\n".join(parts) or "(Synapse wrote no log output)"

    # -- process -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the homeserver and block until the client API answers.

        Safe to call again after :meth:`stop`: same data dir, port and signing key.
        """
        if self.running:
            raise SynapseError(f"Synapse is already running (pid {self.pid})")
        for attempt in range(3):
            self.write_config()
            with self.stdout_path.open("ab") as out:
                self._proc = subprocess.Popen(
                    [self.python, "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    # not a tests dir, where this synapse.py would shadow the real package
                    cwd=self.directory,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
            try:
                self._wait_ready()
            except BaseException as exc:
                self.stop(graceful=False)
                if (
                    isinstance(exc, SynapseError)
                    and self._may_move_port
                    and attempt < 2
                    and "Address already in use" in self.log_tail()
                ):
                    self.port = free_port()
                    continue
                raise
            self._may_move_port = False
            return

    def _wait_ready(self) -> None:
        assert self._proc is not None
        url = self.base_url + "/_matrix/client/versions"
        started = time.monotonic()
        deadline = started + self.startup_timeout
        while True:
            rc = self._proc.poll()
            if rc is not None:
                raise SynapseError(
                    f"Synapse exited with rc={rc} before it answered {url}\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        self.startup_seconds = time.monotonic() - started
                        return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise SynapseError(
                    f"Synapse (pid {self._proc.pid}) did not answer {url} within "
                    f"{self.startup_timeout:.0f} s\n{self.log_tail()}"
                )
            time.sleep(0.1)

    def stop(self, *, graceful: bool = True, timeout: float = 15.0) -> int | None:
        """Stop the homeserver; returns its exit code (None if it was not running).

        ``graceful=True``: SIGTERM, then SIGKILL after ``timeout`` seconds.
        ``graceful=False``: SIGKILL at once — the homeserver just goes away.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            if graceful:
                proc.send_signal(signal.SIGTERM)
                try:
                    return proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    pass
            proc.kill()
        return proc.wait()

    # -- admin API ---------------------------------------------------------------------

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise SynapseError(f"{method} {path} -> HTTP {e.code}: {detail}") from None

    def register_user(
        self, localpart: str, password: str, *, admin: bool = False
    ) -> dict[str, Any]:
        """Shared-secret registration; returns Synapse's answer (``user_id``,
        ``access_token``, ``device_id``, ``home_server``)."""
        path = "/_synapse/admin/v1/register"
        nonce = self._request("GET", path)["nonce"]
        mac = hmac.new(self.shared_secret.encode(), digestmod=hashlib.sha1)
        mac.update(
            b"\x00".join(
                [
                    nonce.encode(),
                    localpart.encode(),
                    password.encode(),
                    b"admin" if admin else b"notadmin",
                ]
            )
        )
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        result: dict[str, Any] = self._request("POST", path, body)
        return result

    def register(self, localpart: str, password: str, admin: bool = False) -> tuple[str, str]:
        """Register ``@localpart:localhost``; returns ``(user_id, access_token)``."""
        result = self.register_user(localpart, password, admin=admin)
        return result["user_id"], result["access_token"]

    def _admin_token(self) -> str:
        token: str | None = getattr(self, "_admin", None)
        if token is None:
            _, token = self.register(f"admin-{secrets.token_hex(4)}", "admin password", admin=True)
            self._admin = token
        return token

    def override_ratelimit(self, user_id: str, messages_per_second: int, burst_count: int) -> None:
        """Give one user a message rate limit (the test config lifts everyone else's)."""
        path = f"/_synapse/admin/v1/users/{urllib.request.quote(user_id)}/override_ratelimit"
        req = urllib.request.Request(
            self.base_url + path,
            data=json.dumps(
                {"messages_per_second": messages_per_second, "burst_count": burst_count}
            ).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self._admin_token()}",
            },
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
