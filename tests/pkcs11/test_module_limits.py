"""The module lock and re-initialisation are bounded: a hung call into the module does not block other
threads forever, and a mistyped token label does not re-initialise the module (dropping every session)."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time

import pytest
from eth_hash.auto import keccak
from signers_pkcs11.module import get_module
from signers_pkcs11.uri import Pkcs11URI

import signers
from signers import BackendUnavailableError, ConfigurationError, KeyNotFoundError, Signer
from tests.fixtures.softhsm import SoftHSMToken


def _valid(signer: Signer, text: bytes) -> bool:
    digest = keccak(text)
    return signer.sign_digest(digest).recover(digest) == signer.address


def test_a_hung_call_into_the_module_times_out_other_signers(softhsm: SoftHSMToken) -> None:
    """Another thread stays inside the module (as a hung device call would, holding its lock): a signer
    gives up after its lock-timeout with an error naming the module, instead of waiting forever."""
    signer = signers.load_signer(softhsm.generate_key() + "&lock-timeout=0.5")
    assert _valid(signer, b"before")
    module = get_module(softhsm.module)
    inside, release = threading.Event(), threading.Event()

    def hung_call() -> None:
        with module.lock:
            inside.set()
            release.wait(30)

    holder = threading.Thread(target=hung_call)
    holder.start()
    outcome: list[BaseException | None] = []
    elapsed: list[float] = []

    def sign() -> None:
        started = time.monotonic()
        try:
            signer.sign_digest(keccak(b"while hung"))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)
        elapsed.append(time.monotonic() - started)

    try:
        assert inside.wait(10)
        waiter = threading.Thread(target=sign)
        waiter.start()
        waiter.join(10)  # before the bound existed this thread never came back
        assert not waiter.is_alive(), "the signer waited for the hung call without bound"
    finally:
        release.set()
        holder.join()
    assert isinstance(outcome[0], BackendUnavailableError)
    assert module.path in str(outcome[0]) and "lock-timeout=" in str(outcome[0])
    assert 0.4 <= elapsed[0] < 3.0
    assert _valid(signer, b"after the hung call returned")


@pytest.mark.parametrize("value", ["inf", "nan", "0", "-1", "601", "soon"])
def test_unbounded_lock_timeouts_are_refused(softhsm: SoftHSMToken, value: str) -> None:
    with pytest.raises(ConfigurationError, match="lock-timeout=.* is not a usable number of seconds"):
        signers.load_signer(softhsm.uri(object="x") + f"&lock-timeout={value}")


def test_wrong_token_labels_do_not_drop_other_signers_sessions(softhsm: SoftHSMToken) -> None:
    """20 loads naming a token that does not exist fail fast and leave the good signer's session alone
    (they used to re-initialise the module each time: C_Finalize drops every session of the process)."""
    module = get_module(softhsm.module)
    module.reinitialize()  # a module initialised just now, as in a process that has just started
    good = signers.load_signer(softhsm.generate_key())
    assert _valid(good, b"before")
    session = module.token_session(module.find_token(Pkcs11URI(module_path=module.path, token=softhsm.label)))
    generation, handle = session.generation, session.get(softhsm.pin_source).handle
    started = time.monotonic()
    for i in range(20):
        with pytest.raises(KeyNotFoundError, match=f"no token matches token='mistyped-{i}'") as raised:
            signers.load_signer(f"pkcs11:token=mistyped-{i};object=x?pin-source={softhsm.pin_source}")
        assert "fix token= in the URI" in str(raised.value)
    assert time.monotonic() - started < 5.0
    assert session.generation == generation  # no session dropped, so no re-login
    assert session.get(softhsm.pin_source).handle == handle
    assert _valid(good, b"after")
    assert session.generation == generation


def test_a_token_created_after_load_is_found_once_the_interval_allows(softhsm: SoftHSMToken) -> None:
    module = get_module(softhsm.module)
    module.reinitialize()
    label = f"late-{secrets.token_hex(3)}"
    softhsm.home.init_token(label, os.environ[softhsm.pin_env], softhsm.so_pin)
    selector = Pkcs11URI(module_path=module.path, token=label)
    saved = module.reinit_interval
    try:
        with pytest.raises(KeyNotFoundError, match="after a restart"):  # within the interval: not looked for
            module.find_token(selector)
        module.reinit_interval = 0.0  # the interval has passed
        assert module.find_token(selector).label == label
    finally:
        module.reinit_interval = saved
        subprocess.run(
            ["softhsm2-util", "--delete-token", "--token", label],
            env=softhsm.home.tool_env(),
            capture_output=True,
            check=True,
        )
        module.reinitialize()  # forget the deleted token
