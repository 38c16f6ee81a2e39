"""Real PostgreSQL and Valkey-protocol servers for the application-secrets tests (Debian's `postgresql` and
`redis-server`), each on an ephemeral 127.0.0.1 port with TLS from a CA made here, in its own temporary directory,
killed at teardown.

- `PostgresServer` (`start_postgres()`): TLS required for TCP clients (hostssl + scram-sha-256, like RDS with
  `rds.force_ssl`), a superuser `master` with a password standing in for the RDS master user, database `platform`.
  `.psql(sql, user, password)` runs one statement through the `psql` client over TLS (verify-full) and returns
  (exit code, stdout, stderr); `.admin(sql)` runs one as the superuser over the local socket.
- `RedisServer` (`start_redis()`): TLS only (no plaintext port), the default user off, an ACL admin user for Vault;
  `.cli(args, user, password)` runs `redis-cli` over TLS; `.acl_setuser(...)` creates a user as the admin does.
- `binary_missing(name)`: the reason a module skips with ONE line - or, under CI=true, fails: CI must install them
  (.ci/run does).

As root (this machine), PostgreSQL refuses to run, so its files belong to the `postgres` user and the server and
its client run as that user; elsewhere they run as the caller.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from components.data.cache_users import DEFAULT_USER_ACCESS
from tests.helpers.openbao import TlsFiles, _free_port, make_tls

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)  # Debian's layout, newest first
MASTER_USER = "master"
DATABASE = "platform"
START_TIMEOUT_S = 20.0


def _pg_bin(name: str) -> str | None:
    for directory in PG_BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    return shutil.which(name)


def binary_missing(*names: str) -> str | None:
    """None when every binary is here; else the one-line reason (Debian packages to install)."""
    absent = [n for n in names if (_pg_bin(n) if n in ("initdb", "pg_ctl", "postgres") else shutil.which(n)) is None]
    if not absent:
        return None
    return (f"{', '.join(absent)} not installed (apt-get install -y postgresql redis-server): the application-secrets "
            "tests need the real servers")


def require_binaries(*names: str) -> None:
    """Skip with one line when a binary is absent - except in CI (CI=true), where that is a failure."""
    reason = binary_missing(*names)
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}; .ci/run installs them", pytrace=False)
    pytest.skip(reason)


def _owner() -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as when we are root; None: run as ourselves."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("postgres")


def _chown_tree(path: Path, owner: pwd.struct_passwd | None) -> None:
    if owner is None:
        return
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, owner.pw_uid, owner.pw_gid)


@dataclass
class PostgresServer:
    directory: Path
    port: int
    tls: TlsFiles
    master_password: str
    owner: pwd.struct_passwd | None
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    database: str = DATABASE

    @property
    def _user_kw(self) -> dict[str, object]:
        return {"user": self.owner.pw_uid, "group": self.owner.pw_gid} if self.owner else {}

    def psql(self, sql: str, user: str, password: str, timeout: float = 20,
             sslmode: str = "verify-full") -> tuple[int, str, str]:
        """One statement as `user` over TCP + TLS, the server verified against the test CA (what a pod does)."""
        dsn = (f"host={self.host} port={self.port} dbname={self.database} user={user} sslmode={sslmode} "
               f"sslrootcert={self.tls.ca_path} connect_timeout=5")
        env = {"PATH": os.environ.get("PATH", ""), "PGPASSWORD": password, "PGAPPNAME": "app-secrets-test",
               "HOME": str(self.directory)}
        done = subprocess.run([str(_pg_bin("psql")), dsn, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
                               "-c", sql], capture_output=True, text=True, env=env, timeout=timeout,
                              check=False, **self._user_kw)  # type: ignore[call-overload]
        return done.returncode, done.stdout.strip(), done.stderr.strip()

    def admin(self, sql: str, database: str | None = None) -> str:
        """One statement as the superuser over the local socket; fails the test on error."""
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(self.directory)}
        done = subprocess.run([str(_pg_bin("psql")), "-h", str(self.directory), "-p", str(self.port), "-U",
                               MASTER_USER, "-d", database or self.database, "-X", "-q", "-t", "-A", "-v",
                               "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, env=env, timeout=20,
                              check=False, **self._user_kw)  # type: ignore[call-overload]
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres() -> PostgresServer:
    # Under /tmp, not pytest's tmp dir: that is private to root, and the server runs as `postgres`.
    directory = Path(tempfile.mkdtemp(prefix="app-secrets-pg-"))
    directory.chmod(0o755)
    owner = _owner()
    tls = make_tls(directory / "tls", "postgres")
    password = os.urandom(12).hex()
    (directory / "pw").write_text(password)
    data = directory / "data"
    _chown_tree(directory, owner)
    user_kw: dict[str, object] = {"user": owner.pw_uid, "group": owner.pw_gid} if owner else {}
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(directory), "LANG": "C.UTF-8"}
    subprocess.run([str(_pg_bin("initdb")), "-D", str(data), "-U", MASTER_USER, "--pwfile", str(directory / "pw"),
                    "-A", "scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True, env=env, **user_kw)  # type: ignore[call-overload]
    (directory / "pw").unlink()
    # TCP only over TLS, passwords by SCRAM (RDS: rds.force_ssl = 1, password_encryption = scram-sha-256).
    (data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
    port = _free_port()
    argv = [str(_pg_bin("postgres")), "-D", str(data), "-p", str(port), "-k", str(directory),
            "-c", "listen_addresses=127.0.0.1", "-c", "ssl=on", "-c", f"ssl_cert_file={tls.cert_path}",
            "-c", f"ssl_key_file={tls.key_path}", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "password_encryption=scram-sha-256"]
    log = (directory / "postgres.log").open("ab")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                               start_new_session=True, **user_kw)  # type: ignore[call-overload]
    server = PostgresServer(directory, port, tls, password, owner, process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if (directory / f".s.PGSQL.{port}").exists():
            with contextlib.suppress(AssertionError):
                server.admin(f"CREATE DATABASE {DATABASE}", database="postgres")
                return server
        time.sleep(0.05)
    tail = (directory / "postgres.log").read_text(errors="replace")[-2000:]
    server.stop()
    raise RuntimeError(f"PostgreSQL did not start; its log ends:\n{tail}")


@dataclass
class RedisServer:
    directory: Path
    port: int
    tls: TlsFiles
    admin_user: str
    admin_password: str
    process: subprocess.Popen[bytes] | None = None
    host: str = "127.0.0.1"
    calls: list[list[str]] = field(default_factory=list)

    def cli(self, args: list[str], user: str, password: str) -> tuple[int, str]:
        """One command over TLS as `user`; (exit code, output). redis-cli exits 0 on a server error reply, so the
        output is what tells (an error reply starts with ERR/NOPERM/WRONGPASS)."""
        env = {"PATH": os.environ.get("PATH", ""), "REDISCLI_AUTH": password, "HOME": str(self.directory)}
        done = subprocess.run(["redis-cli", "--tls", "--cacert", str(self.tls.ca_path), "-h", self.host, "-p",
                               str(self.port), "--user", user, "--no-auth-warning", *args],
                              capture_output=True, text=True, env=env, timeout=10, check=False)
        return done.returncode, (done.stdout + done.stderr).strip()

    def admin(self, args: list[str]) -> str:
        code, out = self.cli(args, self.admin_user, self.admin_password)
        assert code == 0 and not out.startswith(("ERR", "NOPERM", "WRONGPASS")), out
        return out

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(self.directory, ignore_errors=True)


def start_redis() -> RedisServer:
    directory = Path(tempfile.mkdtemp(prefix="app-secrets-redis-"))
    tls = make_tls(directory / "tls", "cache")
    admin, password = "vault-admin", os.urandom(12).hex()
    port = _free_port()
    # TLS only (port 0 closes the plaintext port), as ElastiCache with transit encryption "required"; the default
    # user is off, as with ElastiCache RBAC; no persistence.
    config = "\n".join([
        "port 0", f"tls-port {port}", "bind 127.0.0.1", f"tls-cert-file {tls.cert_path}",
        f"tls-key-file {tls.key_path}", f"tls-ca-cert-file {tls.ca_path}", "tls-auth-clients no",
        'save ""', "appendonly no", f"dir {directory}",
        f"user default reset nopass {DEFAULT_USER_ACCESS}",  # the project's own default user (cache_users.py)
        f"user {admin} on >{password} ~* &* +@all",
    ]) + "\n"
    (directory / "redis.conf").write_text(config)
    log = (directory / "redis.log").open("ab")
    process = subprocess.Popen(["redis-server", str(directory / "redis.conf")], stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    server = RedisServer(directory, port, tls, admin, password, process)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        code, out = server.cli(["PING"], admin, password)
        if code == 0 and out == "PONG":
            return server
        time.sleep(0.05)
    tail = (directory / "redis.log").read_text(errors="replace")[-2000:]
    server.stop()
    raise RuntimeError(f"redis-server did not start; its log ends:\n{tail}")

