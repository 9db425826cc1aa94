"""``/healthcheck`` reaches the device behind a process-pool key, and a failed load changes nothing."""

from __future__ import annotations

import httpx
import pkcs11
import pytest
from signers_server.app import load_generation
from signers_server.config import ConfigError, parse_config

from signers.aa import CANONICAL, addresses_for, register_addresses, unregister_addresses

from .conftest import LOCAL_KEY, LOCAL_KEY_URI

CHAIN = 424242  # a chain id no other test registers an address book for
OVERRIDE = "0x" + "ab" * 20
SESSION = {"sessionValidator": "0x" + "11" * 20, "sessionValidatorInitData": "0x", "salt": "0x" + "00" * 32}


def test_healthcheck_reaches_the_device_of_a_pool_key(signers_server, softhsm):
    label = softhsm.new_label("health-pool")
    server = signers_server(
        {
            "server": {"chain_id": 31337},
            "keys": {"pool": {"uri": softhsm.generate_key(label), "processes": 1}},
            "clients": {"app": {"keys": ["pool"]}},
        }
    )
    assert httpx.get(server.url + "healthcheck").json() == {"status": "UP", "checks": [{"id": "pool", "status": "UP"}]}
    with softhsm.session() as session:  # the key leaves the token under the running worker
        for obj in session.get_objects({pkcs11.Attribute.LABEL: label}):
            obj.destroy()
    answer = httpx.get(server.url + "healthcheck")
    assert answer.status_code == 503
    (check,) = answer.json()["checks"]
    assert check["id"] == "pool" and check["status"] == "DOWN" and check["reason"].endswith("Error")


@pytest.mark.parametrize("before", [None, "0x" + "cd" * 20])
def test_a_failed_load_leaves_the_address_books_as_they_were(monkeypatch, before):
    monkeypatch.setenv("SIGNERS_TEST_SERVER_KEY", LOCAL_KEY)
    if before is not None:
        register_addresses(CHAIN, CANONICAL.with_overrides(smart_sessions=before))
    try:
        expected = addresses_for(CHAIN)
        config = parse_config(
            {
                "server": {"chain_id": CHAIN},
                "keys": {"dev": {"uri": LOCAL_KEY_URI}},
                "clients": {"app": {"keys": ["dev"], "token_hash": "sha256:" + "00" * 32}},
                "addresses": {str(CHAIN): {"smart_sessions": OVERRIDE}},
                "sessions": [{"session": SESSION, "account": "not an address"}],  # refused after the books went in
            }
        )
        with pytest.raises(ConfigError, match=r"sessions\[0\]"):
            load_generation(2, config)
        assert addresses_for(CHAIN) == expected
        assert addresses_for(CHAIN).smart_sessions != OVERRIDE
    finally:
        unregister_addresses(CHAIN)
