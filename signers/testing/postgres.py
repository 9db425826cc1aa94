"""The project's private PostgreSQL cluster from Python: for the test fixture and the benchmark.

cluster = running_cluster()          # starts it with postgres/start unless it already runs
url = cluster.create_database("t1")  # a fresh database, as a signers audit URL (password from a file)
cluster.stop(); cluster.start()      # a server that goes away and comes back on the same port
if cluster.started_here: cluster.stop()
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
STATE = HERE.parent / ".state" / "postgres"


def _script(name: str, **env: str) -> str:
    result = subprocess.run(
        [str(HERE / name)], env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"postgres/{name} failed:\n{result.stderr[-2000:]}")
    return result.stdout.strip()


@dataclass
class Cluster:
    port: int
    started_here: bool

    @property
    def password_file(self) -> Path:
        return STATE / "password"

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
        _script("stop", PG_STOP_MODE=mode)

    def start(self) -> None:
        port = int(_script("start").splitlines()[-1])
        if port != self.port:
            raise RuntimeError(f"the cluster came back on port {port}, not {self.port}")


def running_cluster() -> Cluster:
    """The private cluster, started if it does not answer (``started_here`` then says so)."""
    port_file = STATE / "port"
    if port_file.exists() and (STATE / "password").exists():
        cluster = Cluster(int(port_file.read_text()), started_here=False)
        if cluster.ready():
            return cluster
    port = int(_script("start").splitlines()[-1])
    return Cluster(port, started_here=True)
