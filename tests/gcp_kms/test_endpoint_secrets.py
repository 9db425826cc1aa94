"""Issue 15 item 2 (Cloud KMS): credentials typed into endpoint= (``user:secret@host:port``) are refused and
never echoed, nor is anything else typed where the endpoint or the key version name goes."""

from __future__ import annotations

import logging
import secrets

import pytest

import signers
from signers import ConfigurationError
from tests.no_echo import assert_not_echoed

SECRET = "pw" + secrets.token_hex(8)
VERSION = "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"


@pytest.mark.parametrize(
    ("uri", "rule"),
    [
        (f"{VERSION}?endpoint=user:{SECRET}@127.0.0.1:9010", "userinfo"),
        (f"{VERSION}?endpoint={SECRET}@127.0.0.1:9010", "userinfo"),
        (f"{VERSION}?endpoint=user%3A{SECRET}%40127.0.0.1%3A9010", "userinfo"),
        (f"{VERSION}?endpoint={SECRET}", "host:port"),
        (f"{VERSION}?endpoint={SECRET}:9010", "loopback"),
        (f"gcp-kms://{SECRET}", "key version"),
    ],
    ids=["user-password", "token", "encoded", "no-port", "host", "target"],
)
def test_a_secret_in_the_endpoint_or_target_is_not_echoed(
    uri: str, rule: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigurationError, match=rule) as info:
        signers.load_signer(uri)
    assert_not_echoed(SECRET, info.value, caplog)
