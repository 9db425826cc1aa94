"""A private PostgreSQL cluster for tests (never the system one): on 127.0.0.1, a free port kept across restarts.

    cluster = running_cluster()          # starts it unless it already runs (started_here says which)
    url = cluster.create_database("t1")  # a fresh database, as a signers audit URL (password from a file)
    cluster.stop(); cluster.start()      # a server that goes away and comes back on the same port
    if cluster.started_here: cluster.stop()

    python -m signers.testing.postgres start|stop      (PG_STOP_MODE=immediate for a crash-like stop)

The cluster lives in ``<state>/postgres`` (SIGNERS_TESTING_STATE; SIGNERS_PG_STATE names the folder itself).
The first start runs initdb (a few seconds): local socket connections are trusted (the socket lives inside the
cluster folder), TCP connections need the password of the ``postgres`` role, generated into
``<folder>/password`` (mode 0600). initdb refuses to run as root, so as root every server binary runs as the
``postgres`` system user, which then owns the folder. psycopg is needed for ``connect`` and ``create_database``.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import HOST, MissingDependency, free_port, port_free, state_root

INSTALL = "apt-get install -y postgresql (Debian/Ubuntu; the server binaries, no cluster is used)"


def state() -> Path:
    return Path(os.environ.get("SIGNERS_PG_STATE") or state_root() / "postgres").resolve()


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if found:
        return found[-1]
    on_path = shutil.which(name)
    if on_path is None:
        raise MissingDependency(f"PostgreSQL's {name} is not installed; install it with: {INSTALL}")
    return on_path


def _as_owner(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    if os.getuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def _chown(path: Path, user: str) -> None:
    if os.getuid() == 0:
        shutil.chown(path, user, user)


def _running(data: Path) -> bool:
    return _as_owner([_bin("pg_ctl"), "-D", str(data), "status"]).returncode == 0


def _ready(port: int) -> bool:
    return _as_owner([_bin("pg_isready"), "-q", "-h", HOST, "-p", str(port), "-t", "2"]).returncode == 0


def start() -> int:
    """Starts the cluster (initdb on first use) unless it runs; returns its port."""
    folder, data = state(), state() / "data"
    folder.mkdir(parents=True, exist_ok=True)
    _chown(folder, "postgres")
    folder.chmod(0o700)
    if not (data / "PG_VERSION").exists():
        # initdb reads the password from a file the postgres user can read; it stays only in <folder>/password
        password = folder / "password"
        password.unlink(missing_ok=True)
        fd = os.open(password, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
        _chown(password, "postgres")
        initdb = [_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"]
        made = _as_owner([*initdb, f"--pwfile={password}", "-E", "UTF8", "--no-instructions"])
        (folder / "initdb.log").write_text(made.stdout + made.stderr)
        if made.returncode != 0:
            raise RuntimeError(f"initdb failed; see {folder / 'initdb.log'}")
        _chown(password, "root")
    port_file = folder / "port"
    if port_file.exists() and _running(data) and _ready(int(port_file.read_text())):
        return int(port_file.read_text())
    port = int(port_file.read_text()) if port_file.exists() else 0
    if not port or not port_free(port):
        port = free_port()
        port_file.write_text(f"{port}\n")
    # loopback only; the socket in the cluster folder (not /var/run/postgresql); fsync stays on
    started = _as_owner([_bin("pg_ctl"), "-D", str(data), "-w", "-t", "30", "-l", str(data / "server.log"),
                         "-o", f"-h {HOST} -p {port} -k {data} -c max_connections=200", "start"])  # fmt: skip
    if started.returncode != 0 or not _ready(port):
        log = data / "server.log"
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else started.stderr
        raise RuntimeError(f"PostgreSQL did not start on {HOST}:{port}; last lines of {log}:\n{tail}")
    return port


def stop(mode: str = "fast") -> None:
    """Stops the cluster (only this one). Idempotent."""
    data = state() / "data"
    if (data / "PG_VERSION").exists() and _running(data):
        _as_owner([_bin("pg_ctl"), "-D", str(data), "-m", mode, "-w", "-t", "30", "stop"], check=True)


@dataclass
class Cluster:
    port: int
    started_here: bool

    @property
    def password_file(self) -> Path:
        return state() / "password"

    def url(self, database: str, **params: str) -> str:
        query = {"password-source": f"file:{self.password_file}", **params}
        pairs = "&".join(f"{name}={value}" for name, value in query.items())
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}?{pairs}"

    def connect(self, database: str = "postgres") -> Any:
        import psycopg

        password = self.password_file.read_text().strip()
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", password=password, dbname=database, autocommit=True
        )

    def create_database(self, name: str, **params: str) -> str:
        """A new, empty database ``name`` (dropped first if a previous run left it); its audit URL."""
        with self.connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name, **params)

    def ready(self) -> bool:
        try:
            with self.connect() as connection:
                connection.execute("SELECT 1")
            return True
        except Exception:
            return False

    def stop(self, mode: str = "fast") -> None:
        """``mode="immediate"`` is a crash-like stop (no checkpoint), for fault tests."""
        stop(mode)

    def start(self) -> None:
        port = start()
        if port != self.port:
            raise RuntimeError(f"the cluster came back on port {port}, not {self.port}")


def running_cluster() -> Cluster:
    """The private cluster, started if it does not answer (``started_here`` then says so)."""
    port_file = state() / "port"
    if port_file.exists() and (state() / "password").exists():
        cluster = Cluster(int(port_file.read_text()), started_here=False)
        if cluster.ready():
            return cluster
    return Cluster(start(), started_here=True)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    try:
        if command == "start":
            print(start())
        elif command == "stop":
            stop(os.environ.get("PG_STOP_MODE", "fast"))
        else:
            print("usage: python -m signers.testing.postgres start|stop", file=sys.stderr)
            return 2
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
