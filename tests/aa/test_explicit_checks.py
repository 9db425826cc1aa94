"""Invariants the AA layer guards with explicit checks, not asserts: they hold under ``python -O`` too (asserts
vanish there), each refusing with a named SignerError before anything is read or signed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from signers.aa.enable import EnableValidation
from signers.aa.errors import LimitsUnavailableError
from signers.aa.limits import Demand, OnChainLimits
from signers.aa.policies import ERC20SpendingLimitPolicy

TARGET = "0x" + "11" * 20


def test_limits_without_a_node_refuse_every_read() -> None:
    limits = OnChainLimits(None)
    with pytest.raises(LimitsUnavailableError, match="no node to read them from"):
        limits.call(TARGET, b"")
    with pytest.raises(LimitsUnavailableError, match="no node to read them from"):
        limits.storage(TARGET, 0)
    assert limits.reads == 0


def test_an_erc20_demand_without_a_token_is_refused() -> None:
    policy = ERC20SpendingLimitPolicy()
    demand = Demand(policy, TARGET, b"\x01" * 32, None, 5, "action x")
    with pytest.raises(LimitsUnavailableError, match="names no token") as raised:
        policy.read_limit(OnChainLimits(None), demand, TARGET, TARGET)
    assert raised.value.hint  # says what to do


def test_an_enable_validation_needs_its_grant() -> None:
    with pytest.raises(TypeError, match="grant"):
        EnableValidation(validator=TARGET, stub=b"")  # type: ignore[call-arg]


def test_the_checks_hold_under_python_O() -> None:
    code = (
        "from signers.aa.errors import LimitsUnavailableError\n"
        "from signers.aa.limits import Demand, OnChainLimits\n"
        "from signers.aa.policies import ERC20SpendingLimitPolicy\n"
        f"t = {TARGET!r}\n"
        "assert False, 'asserts run'\n"
        "refused = []\n"
        "for read in (lambda: OnChainLimits(None).call(t, b''), lambda: ERC20SpendingLimitPolicy().read_limit(\n"
        "        OnChainLimits(None), Demand(ERC20SpendingLimitPolicy(), t, bytes(32), None, 1, 'x'), t, t)):\n"
        "    try:\n"
        "        read()\n"
        "    except LimitsUnavailableError:\n"
        "        refused.append(True)\n"
        "print(len(refused))\n"
    )
    out = subprocess.run(  # noqa: S603 (our own interpreter, our own code)
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "2"
