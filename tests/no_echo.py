"""One check for "a secret put in the wrong place is never echoed back": not in an error's message, hint,
repr or formatted traceback, not in any log record, not in any other text (a describe(), a repr)."""

from __future__ import annotations

import traceback

import pytest


def assert_not_echoed(
    secret: str,
    error: BaseException | None = None,
    caplog: pytest.LogCaptureFixture | None = None,
    *texts: str,
) -> None:
    seen = list(texts)
    if error is not None:
        seen += [str(error), repr(error), "".join(traceback.format_exception(error))]
        seen += [str(getattr(error, name, "")) for name in ("message", "hint")]
    if caplog is not None:
        seen += [caplog.text] + [str(record.args) + record.getMessage() for record in caplog.records]
    for text in seen:
        assert secret not in text
        assert secret.lower() not in text.lower()
