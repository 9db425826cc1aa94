"""The emulator's state: key rings, crypto keys, versions and their private keys, optionally kept on disk.

Resources are the client library's own proto-plus messages, so what the service answers is exactly what
Cloud KMS would serialise. With a data directory, every change rewrites ``state.json`` atomically (private
keys included, as PKCS#8 PEM: this is a test emulator, the file is created mode 0600).
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.cloud.kms_v1 import CryptoKey, CryptoKeyVersion, KeyRing

Algorithm = CryptoKeyVersion.CryptoKeyVersionAlgorithm
State = CryptoKeyVersion.CryptoKeyVersionState

#: the signing algorithms the emulator holds keys for: curve, digest field, digest size
EC_ALGORITHMS: dict[int, tuple[ec.EllipticCurve, str, int]] = {
    Algorithm.EC_SIGN_SECP256K1_SHA256: (ec.SECP256K1(), "sha256", 32),
    Algorithm.EC_SIGN_P256_SHA256: (ec.SECP256R1(), "sha256", 32),
    Algorithm.EC_SIGN_P384_SHA384: (ec.SECP384R1(), "sha384", 48),
}
#: Cloud KMS's default for CryptoKey.destroy_scheduled_duration (the emulator also accepts shorter ones)
DEFAULT_DESTROY_DELAY = timedelta(days=30)

_ID = r"[a-zA-Z0-9_-]{1,63}"
LOCATION = re.compile(r"^projects/[^/]+/locations/[^/]+$")
KEY_RING = re.compile(rf"^projects/[^/]+/locations/[^/]+/keyRings/{_ID}$")
CRYPTO_KEY = re.compile(rf"^projects/[^/]+/locations/[^/]+/keyRings/{_ID}/cryptoKeys/{_ID}$")
VERSION = re.compile(rf"^projects/[^/]+/locations/[^/]+/keyRings/{_ID}/cryptoKeys/{_ID}/cryptoKeyVersions/[1-9][0-9]*$")
RESOURCE_ID = re.compile(rf"^{_ID}$")


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Version:
    resource: CryptoKeyVersion
    private_key: ec.EllipticCurvePrivateKey | None  # None once destroyed


class Store:
    """All resources, behind one lock (the emulator is for tests: simplicity beats concurrency here)."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.key_rings: dict[str, KeyRing] = {}
        self.crypto_keys: dict[str, CryptoKey] = {}
        self.versions: dict[str, Version] = {}
        self._file = data_dir / "state.json" if data_dir is not None else None
        if self._file is not None and self._file.exists():
            self._load()

    # -- lifecycle rules shared by the handlers ---------------------------------------------------------
    def version(self, name: str) -> Version:
        """The version, after applying any destruction whose scheduled time has passed."""
        version = self.versions[name]
        resource = version.resource
        if resource.state == State.DESTROY_SCHEDULED and resource.destroy_time <= now():
            resource.state = State.DESTROYED  # type: ignore[assignment]  # proto-plus enum members are typed as int
            resource.destroy_event_time = resource.destroy_time
            version.private_key = None
            self.save()
        return version

    def versions_of(self, key_name: str) -> list[str]:
        prefix = key_name + "/cryptoKeyVersions/"
        names = [n for n in self.versions if n.startswith(prefix)]
        return sorted(names, key=lambda n: int(n.rsplit("/", 1)[1]))

    def new_version(self, key: CryptoKey) -> Version:
        algorithm = key.version_template.algorithm
        curve = EC_ALGORITHMS[algorithm][0]
        number = len(self.versions_of(key.name)) + 1
        created = now()
        resource = CryptoKeyVersion(
            name=f"{key.name}/cryptoKeyVersions/{number}",
            state=State.ENABLED,  # Cloud KMS passes through PENDING_GENERATION first; the emulator is instant
            protection_level=key.version_template.protection_level,
            algorithm=algorithm,
            create_time=created,
            generate_time=created,
        )
        version = Version(resource, ec.generate_private_key(curve))
        self.versions[resource.name] = version
        return version

    # -- persistence ------------------------------------------------------------------------------------
    def save(self) -> None:
        if self._file is None:
            return
        state = {
            "key_rings": [KeyRing.to_json(r) for r in self.key_rings.values()],
            "crypto_keys": [CryptoKey.to_json(k) for k in self.crypto_keys.values()],
            "versions": [
                {
                    "resource": CryptoKeyVersion.to_json(v.resource),
                    "private_key": v.private_key.private_bytes(
                        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                    ).decode()
                    if v.private_key is not None
                    else None,
                }
                for v in self.versions.values()
            ],
        }
        self._file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._file.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(state, out)
        os.replace(temporary, self._file)

    def _load(self) -> None:
        assert self._file is not None
        state = json.loads(self._file.read_text())
        for text in state["key_rings"]:
            ring = KeyRing.from_json(text)
            self.key_rings[ring.name] = ring
        for text in state["crypto_keys"]:
            key = CryptoKey.from_json(text)
            self.crypto_keys[key.name] = key
        for item in state["versions"]:
            resource = CryptoKeyVersion.from_json(item["resource"])
            private_key = None
            if item["private_key"] is not None:
                loaded = serialization.load_pem_private_key(item["private_key"].encode(), password=None)
                assert isinstance(loaded, ec.EllipticCurvePrivateKey)
                private_key = loaded
            self.versions[resource.name] = Version(resource, private_key)
