"""aws-kms:// URIs and options (no service needed)."""

from __future__ import annotations

from typing import Any

import pytest
from signers_aws_kms.uri import KeyRef, KmsSettings, parse_target

from signers import ConfigurationError
from signers.uri import parse

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
ARN = f"arn:aws:kms:eu-west-1:111122223333:key/{KEY_ID}"


def ref(uri: str, **options: Any) -> KeyRef:
    return parse_target(parse(uri), options)


@pytest.mark.parametrize(
    ("uri", "key", "region"),
    [
        (f"aws-kms://{KEY_ID}?region=us-east-2", KEY_ID, "us-east-2"),
        ("aws-kms://alias/payments/hot?region=us-east-2", "alias/payments/hot", "us-east-2"),
        ("aws-kms://mrk-1234abcd12ab34cd56ef1234567890ab", "mrk-1234abcd12ab34cd56ef1234567890ab", None),
        (f"aws-kms://{ARN}", ARN, "eu-west-1"),  # the ARN names its region
        (
            "aws-kms://arn:aws:kms:eu-west-1:111122223333:alias/payments",
            "arn:aws:kms:eu-west-1:111122223333:alias/payments",
            "eu-west-1",
        ),
        (f"aws-kms://{ARN}?region=eu-west-1", ARN, "eu-west-1"),
        ("aws-kms:alias/x%2Dy", "alias/x-y", None),
    ],
)
def test_key_forms(uri: str, key: str, region: str | None) -> None:
    parsed = ref(uri)
    assert parsed.key == key and parsed.settings.region == region


def test_alias_detection() -> None:
    assert ref("aws-kms://alias/a").is_alias and ref("aws-kms://arn:aws:kms:eu-west-1:111122223333:alias/a").is_alias
    assert not ref(f"aws-kms://{ARN}").is_alias and not ref(f"aws-kms://{KEY_ID}").is_alias


def test_endpoint_profile_and_tuning() -> None:
    parsed = ref(
        "aws-kms://alias/a?region=us-east-1&profile=ops&endpoint-url=http%3A%2F%2F127.0.0.1%3A4566"
        "&rate-limit=50&max-attempts=2&connect-timeout=0.5&read-timeout=1.5"
    )
    assert parsed.settings == KmsSettings(
        region="us-east-1",
        profile="ops",
        endpoint_url="http://127.0.0.1:4566",
        rate_limit=50.0,
        max_attempts=2,
        connect_timeout=0.5,
        read_timeout=1.5,
    )
    assert parsed.uri() == "aws-kms://alias/a?region=us-east-1&profile=ops&endpoint-url=http%3A%2F%2F127.0.0.1%3A4566"


def test_keyword_options_override_uri_attributes() -> None:
    parsed = ref("aws-kms://alias/a?max-attempts=2", max_attempts=7, rate_limit=3)
    assert parsed.settings.max_attempts == 7 and parsed.settings.rate_limit == 3


@pytest.mark.parametrize(
    ("uri", "options", "message"),
    [
        (f"aws-kms://{ARN}?region=us-east-1", {}, "the key ARN is in eu-west-1"),
        ("aws-kms://payments", {}, "not a KMS key id"),
        ("aws-kms://", {}, "names no key"),
        ("aws-kms://alias/a?secret-key=x", {}, "unknown URI attribute"),
        ("aws-kms://alias/a?endpoint-url=localhost:4566", {}, "not an http(s) URL"),
        ("aws-kms://alias/a?max-attempts=0", {}, "at least 1"),
        ("aws-kms://alias/a?rate-limit=fast", {}, "not a number"),
        ("aws-kms://alias/a?read-timeout=-1", {}, "positive"),
        ("aws-kms://alias/a", {"aws_secret_access_key": "x"}, "unknown option"),
        # non-finite or absurd bounds: nan passed `<= 0` and inf waits forever
        ("aws-kms://alias/a?rate-limit=nan", {}, "rate-limit=nan must be a positive, finite number"),
        ("aws-kms://alias/a?rate-limit=inf", {}, "rate-limit=inf must be a positive, finite number"),
        ("aws-kms://alias/a?read-timeout=inf", {}, "read-timeout=inf must be a positive, finite number"),
        ("aws-kms://alias/a?connect-timeout=nan", {}, "connect-timeout=nan must be a positive, finite"),
        ("aws-kms://alias/a?read-timeout=601", {}, "at most 600"),
        ("aws-kms://alias/a?max-attempts=1000000", {}, "at most 10"),
        ("aws-kms://alias/a", {"max_attempts": 2.5}, "not a whole number"),
        ("aws-kms://alias/a", {"rate_limit": float("nan")}, "positive, finite"),
        ("aws-kms://alias/a", {"max_pool_connections": 0}, "from 1 to"),
    ],
)
def test_refusals(uri: str, options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ref(uri, **options)
