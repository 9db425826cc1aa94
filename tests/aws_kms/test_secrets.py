"""Issue 15 item 2 (AWS KMS): credentials typed into endpoint-url (``http://user:secret@host``) are refused, so
they reach no error, describe(), audit row or botocore DEBUG log; a key pasted as the key id is not echoed;
a bad region is a ConfigurationError, not botocore's InvalidRegionError (item 9)."""

from __future__ import annotations

import logging
import secrets
from urllib.parse import quote

import pytest
from click.testing import CliRunner

import signers
from signers import ConfigurationError, SignerError
from signers.cli import cli
from tests.aws_kms.test_cli import _commands  # noqa: F401 (registers the plugin's commands)
from tests.fixtures.localstack import LocalStack
from tests.no_echo import assert_not_echoed

SECRET = "pw" + secrets.token_hex(8)
KEY = secrets.token_hex(32)


def _endpoints(localstack: LocalStack) -> list[str]:
    host = f"127.0.0.1:{localstack.port}"
    return [f"http://user:{SECRET}@{host}", f"http://{SECRET}@{host}", f"https://{SECRET}:x@{host}"]


@pytest.mark.parametrize("form", [0, 1, 2], ids=["user-password", "token", "https"])
def test_userinfo_in_endpoint_url_is_refused_and_never_shown(
    form: int, localstack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = _endpoints(localstack)[form]
    key_id = localstack.create_key().key_id
    caplog.set_level(logging.DEBUG)  # botocore's DEBUG log included: the request would show the endpoint
    for load in (
        lambda: signers.load_signer(localstack.uri(key_id, endpoint=endpoint)),  # percent-encoded in the URI
        lambda: signers.load_signer(f"aws-kms://{key_id}?region=us-east-1&endpoint-url={endpoint}"),  # raw
        lambda: signers.load_signer(f"aws-kms://{key_id}?region=us-east-1", endpoint_url=endpoint),  # option
    ):
        with pytest.raises(ConfigurationError, match="userinfo") as info:
            load()
        assert_not_echoed(SECRET, info.value, caplog)
    assert not [r for r in caplog.records if r.name.startswith("botocore")]  # refused before a client exists


def test_the_cli_refuses_userinfo_too(localstack: LocalStack) -> None:
    result = CliRunner().invoke(cli, ["aws-kms", "list", "--endpoint-url", _endpoints(localstack)[0]])
    assert result.exit_code == 1 and "userinfo" in result.output
    assert_not_echoed(SECRET, None, None, result.output)


def test_a_signer_describes_its_endpoint_without_secrets(localstack: LocalStack) -> None:
    with signers.load_signer(localstack.create_key().uri) as signer:
        assert signer.backend.describe().startswith("aws-kms://")
        assert "%40" not in signer.backend.describe() and "@" not in signer.backend.describe()


@pytest.mark.parametrize(
    "uri",
    [
        f"aws-kms://{KEY}?region=us-east-1",
        f"aws-kms://0x{KEY}?region=us-east-1",
        f"aws-kms://alias/x?region=us-east-1&endpoint-url={KEY}",
        f"aws-kms://alias/x?region=us-east-1&endpoint-url=http%3A%2F%2F127.0.0.1%3A{KEY}",
        f"aws-kms://alias/x?region=us-east-1&rate-limit={KEY}",
        f"aws-kms://alias/x?region={KEY}x",
        f"aws-kms://alias/x?region=us-east-1&profile={KEY}",
    ],
    ids=["key", "0x-key", "endpoint", "port", "rate-limit", "region", "profile"],
)
def test_a_key_in_the_wrong_field_is_not_echoed(uri: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SignerError) as info:
        signers.load_signer(uri)
    assert_not_echoed(KEY, info.value, caplog)


@pytest.mark.parametrize("region", ["eu_west_1", "eu west 1", "-eu", "a" * 70, "EU-WEST-1!"])
def test_a_malformed_region_is_a_configuration_error(region: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="region"):
        signers.load_signer(f"aws-kms://alias/x?region={quote(region, safe='')}")
    monkeypatch.setenv("AWS_REGION", region)  # from the environment, the URI naming none
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    with pytest.raises(ConfigurationError, match="region"):
        signers.load_signer("aws-kms://alias/x")


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"])
def test_userinfo_in_the_endpoint_environment_variable_is_refused_too(
    variable: str, localstack: LocalStack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    key_id = localstack.create_key().key_id
    monkeypatch.setenv(variable, _endpoints(localstack)[0])  # botocore reads it when endpoint-url= is absent
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigurationError, match=f"{variable} carries userinfo") as info:
        signers.load_signer(f"aws-kms://{key_id}?region=us-east-1")
    assert_not_echoed(SECRET, info.value, caplog)
