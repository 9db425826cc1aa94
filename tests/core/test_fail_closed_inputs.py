"""Issue 15 items 4, 7 (chain-id refusals) and 9: values no chain accepts are refused before anything is
serialised or signed, every failure is a SignerError with a hint, EIP-7702 chain id 0 needs an explicit
opt-in, and chain-id refusals go through before_sign, so the audit trail records them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import signers
from signers import ChainIdMismatchError, FieldError, Signer, SignerError
from signers.aa.user_operation import UserOperation
from signers.audit import AuditTrail
from signers.local import LocalBackend

KEY = "0x" + secrets.token_hex(32)
TO = to_checksum_address("0x" + "5a" * 20)
ENTRY_POINT = "0x0000000071727De22E5E9d8BAf0edAc6f37da032"
LEGACY = {"to": TO, "value": 1, "nonce": 0, "gas": 21_000, "gasPrice": 10**9, "chainId": 1}
EIP1559 = {**LEGACY, "maxFeePerGas": 2 * 10**9, "maxPriorityFeePerGas": 10**9, "type": 2}
del EIP1559["gasPrice"]
AUTH = {"chainId": 1, "address": TO, "nonce": 0}


class CountingBackend(LocalBackend):
    """The local backend, counting the signatures it makes: a refusal must reach no key."""

    calls = 0

    def sign(self, digest: bytes) -> bytes:
        self.calls += 1
        return super().sign(digest)


def make_signer(chain_id: int | None = None) -> Signer:
    return Signer(CountingBackend(bytes.fromhex(KEY[2:]), "local:test"), chain_id=chain_id)


@pytest.fixture
def signer() -> Signer:
    return make_signer()


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[AuditTrail]:
    trail = AuditTrail(tmp_path / "audit.db").enable()
    try:
        yield trail
    finally:
        trail.disable()


def refused(signer: Signer, call: Any, error: type[SignerError] = FieldError, match: str | None = None) -> SignerError:
    with pytest.raises(error, match=match) as info:
        call()
    assert isinstance(signer.backend, CountingBackend) and signer.backend.calls == 0  # no key was used
    assert info.value.hint, "every refusal says what to do"
    return info.value


# -- item 9: ranges -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("tx", "field"),
    [
        ({**LEGACY, "chainId": 2**300}, "chainId"),  # was signed
        ({**LEGACY, "chainId": 2**64}, "chainId"),  # EIP-2294
        ({**LEGACY, "chainId": 0}, "chainId"),
        ({**LEGACY, "chainId": -1}, "chainId"),
        ({**LEGACY, "value": 2**256}, "value"),  # was signed
        ({**LEGACY, "value": -1}, "value"),
        ({**LEGACY, "nonce": 2**64 - 1}, "nonce"),  # EIP-2681
        ({**LEGACY, "nonce": True}, "nonce"),
        ({**LEGACY, "gas": 2**256}, "gas"),
        ({**LEGACY, "gasPrice": 2**256}, "gasPrice"),
        ({**LEGACY, "gasPrice": "1000"}, "gasPrice"),  # a decimal string: eth-account would refuse it later
        ({**LEGACY, "chainId": "0x"}, "chainId"),
        ({**LEGACY, "chainId": 1.0}, "chainId"),
        ({**EIP1559, "maxFeePerGas": 2**256}, "maxFeePerGas"),
        ({**EIP1559, "maxPriorityFeePerGas": -5}, "maxPriorityFeePerGas"),
        ({**EIP1559, "type": 9}, "type"),
        ({**LEGACY, "to": "0x" + "5a" * 19}, "to"),
        ({**LEGACY, "to": TO.lower().replace("0x", "0X")}, "to"),
        ({**LEGACY, "to": TO[:3] + TO[3:].swapcase()}, "to"),  # a wrong EIP-55 checksum
        ({**LEGACY, "data": "0xabc"}, "data"),
        ({**LEGACY, "data": 12}, "data"),
        ({**EIP1559, "accessList": [{"address": TO, "storageKeys": ["0x01"]}]}, "storageKeys"),
        ({**EIP1559, "accessList": [{"address": TO}]}, "accessList"),
        ({**EIP1559, "accessList": "none"}, "accessList"),
        ({**LEGACY, "gasLimit": 21_000}, "unknown field"),
        ({**EIP1559, "authorizationList": [AUTH]}, "authorizationList"),  # a type-2 transaction with a 7702 field
    ],
)
def test_out_of_range_or_malformed_transaction_fields_are_refused(
    signer: Signer, tx: dict[str, Any], field: str
) -> None:
    error = refused(signer, lambda: signer.sign_transaction(tx), match=field)
    assert "transaction" in str(error)


def test_missing_transaction_fields_are_a_signer_error(signer: Signer) -> None:
    for name in ("nonce", "gas", "gasPrice"):
        refused(signer, lambda name=name: signer.sign_transaction({k: v for k, v in LEGACY.items() if k != name}))
    refused(signer, lambda: signer.sign_transaction([("chainId", 1)]), match="mapping")


def test_largest_valid_values_are_signed_as_eth_account_signs_them(signer: Signer) -> None:
    account = Account.from_key(KEY)
    tx = {**EIP1559, "chainId": 2**64 - 1, "nonce": 2**64 - 2, "value": 2**256 - 1, "gas": 2**64}
    tx["maxFeePerGas"] = tx["maxPriorityFeePerGas"] = 2**256 - 1
    assert signer.sign_transaction(tx) == account.sign_transaction(tx)
    hexed = {**LEGACY, "chainId": "0x1", "nonce": "0x0", "value": "0X10"}
    assert signer.sign_transaction(hexed) == account.sign_transaction(hexed)


@pytest.mark.parametrize(
    ("auth", "field"),
    [
        ({**AUTH, "nonce": 2**64}, "nonce"),  # was signed
        ({**AUTH, "nonce": 2**64 - 1}, "nonce"),  # EIP-7702: nonce < 2**64 - 1
        ({**AUTH, "chainId": 2**64}, "chainId"),
        ({**AUTH, "chainId": -1}, "chainId"),
        ({**AUTH, "chainId": None}, "chainId"),
        ({**AUTH, "address": "0x1234"}, "address"),
        ({**AUTH, "address": None}, "address"),
        ({"chainId": 1, "address": TO}, "nonce"),  # a KeyError before
        ({**AUTH, "extra": 1}, "exactly the fields"),
    ],
)
def test_out_of_range_or_malformed_authorizations_are_refused(signer: Signer, auth: dict[str, Any], field: str) -> None:
    refused(signer, lambda: signer.sign_authorization(auth), match=field)
    refused(signer, lambda: signer.sign_authorization(auth, allow_all_chains=True), match=field)


def test_authorizations_inside_a_type_4_transaction_are_checked(signer: Signer) -> None:
    good = Account.sign_authorization({**AUTH, "nonce": 3}, "0x" + "42" * 32)
    entry = {"chainId": 1, "address": TO, "nonce": 3, "yParity": good.y_parity, "r": good.r, "s": good.s}
    for bad, field in [({"nonce": 2**64}, "nonce"), ({"yParity": 2}, "yParity"), ({"r": 0}, "r"), ({"s": 2**256}, "s")]:
        tx = {**EIP1559, "type": 4, "authorizationList": [{**entry, **bad}]}
        refused(signer, lambda tx=tx: signer.sign_transaction(tx), match=f"authorizationList\\[0\\].{field}")
    # a well-formed delegation in a type-2 transaction: eth-account fails only when it hashes (a TypeError before)
    refused(signer, lambda: signer.sign_transaction({**EIP1559, "authorizationList": [entry]}), match="serialise")


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"a": 2**256, "d": 0, "b": TO}, "uint256|256 bits"),  # ValueOutOfBounds before
        ({"a": 1, "d": 300, "b": TO}, "8 bits"),
        ({"a": 1, "d": 0, "b": "0x11"}, "AddressEncoder"),  # EncodingTypeError before
        ({"a": 1, "d": 0}, "b"),
    ],
)
def test_typed_data_values_out_of_their_type_are_refused(signer: Signer, message: dict[str, Any], field: str) -> None:
    types = {
        "EIP712Domain": [{"name": "name", "type": "string"}],
        "M": [{"name": "a", "type": "uint256"}, {"name": "d", "type": "int8"}, {"name": "b", "type": "address"}],
    }
    full = {"types": types, "primaryType": "M", "domain": {"name": "x"}, "message": message}
    refused(signer, lambda: signer.sign_typed_data(full_message=full), match=field)


# -- item 4: EIP-7702 chain id 0 --------------------------------------------------------------------------
async def test_chain_id_zero_needs_an_explicit_opt_in(signer: Signer, trail: AuditTrail) -> None:
    auth = {**AUTH, "chainId": 0, "nonce": 7}
    refused(signer, lambda: signer.sign_authorization(auth), ChainIdMismatchError, "every chain")
    with pytest.raises(ChainIdMismatchError, match="allow_all_chains"):
        await signer.asign_authorization(auth)
    signed = signer.sign_authorization(auth, allow_all_chains=True)
    assert signed == Account.from_key(KEY).sign_authorization(auth)  # eth-account: an independent signer
    assert signed.authority == bytes.fromhex(signer.address[2:]) and signed.chain_id == 0
    assert await signer.asign_authorization(auth, allow_all_chains=True) == signed
    refusals, signatures = trail.entries(outcome="refused"), trail.entries(outcome="signed")
    assert [e.kind for e in refusals] == ["authorization", "authorization"]
    expected = {"chain_id": 0, "address": TO, "nonce": 7}
    for entry in refusals + signatures:  # the record carries the chain id, the delegate and the nonce
        assert {k: entry.context[k] for k in expected} == expected
    assert all(e.context.get("allow_all_chains") for e in signatures) and len(signatures) == 2


def test_a_pinned_signer_refuses_chain_id_zero_even_with_the_opt_in() -> None:
    pinned = make_signer(chain_id=1)
    auth = {**AUTH, "chainId": 0}
    refused(pinned, lambda: pinned.sign_authorization(auth, allow_all_chains=True), ChainIdMismatchError, "chain 0")


def test_a_type_4_transaction_context_names_its_delegations(signer: Signer, trail: AuditTrail) -> None:
    delegation = Account.sign_authorization({**AUTH, "chainId": 0, "nonce": 5}, "0x" + "42" * 32)
    tx = {**EIP1559, "type": 4, "authorizationList": [delegation]}
    assert signer.sign_transaction(tx) == Account.from_key(KEY).sign_transaction(tx)
    (entry,) = trail.entries(outcome="signed")
    assert entry.context["chain_id"] == 1
    assert entry.context["authorizations"] == [{"chain_id": 0, "address": TO, "nonce": 5}]


# -- item 7 (chain part): chain-id refusals are audited ---------------------------------------------------
async def test_chain_id_refusals_are_recorded_by_the_audit_trail(trail: AuditTrail) -> None:
    pinned = make_signer(chain_id=1)
    op = UserOperation(sender=TO, nonce=0)
    calls = [
        ("transaction", lambda: pinned.sign_transaction({**LEGACY, "chainId": 5})),
        ("authorization", lambda: pinned.sign_authorization({**AUTH, "chainId": 5})),
        ("user_operation", lambda: pinned.sign_user_operation(op, ENTRY_POINT, 5)),
        ("user_operation", lambda: pinned.preflight_user_operation(op, ENTRY_POINT, 5)),
    ]
    for _, call in calls:
        refused(pinned, call, ChainIdMismatchError, "chain 5")
    with pytest.raises(ChainIdMismatchError):
        await pinned.asign_transaction({**LEGACY, "chainId": 5})
    entries = trail.entries(outcome="refused")
    assert [e.kind for e in entries] == [kind for kind, _ in calls] + ["transaction"]
    assert all(e.context["chain_id"] == 5 and "ChainIdMismatchError" in (e.reason or "") for e in entries)
    assert trail.entries(outcome="signed") == []


# -- every failure a SignerError (hypothesis) -------------------------------------------------------------
_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**300), 2**300),
    st.floats(allow_nan=True),
    st.text(max_size=6),
    st.binary(max_size=33),
    st.sampled_from(["0x", "0x0", "0x01", TO, TO.lower(), "0x" + "11" * 32, "uint256", "address", "bytes32", "M"]),
)
_TREE = st.recursive(
    _LEAF,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["address", "storageKeys", "chainId", "nonce", "r", "s", "yParity"]), children),
    ),
    max_leaves=8,
)
_TX_FIELDS = ["chainId", "nonce", "gas", "gasPrice", "maxFeePerGas", "maxPriorityFeePerGas", "value", "type", "to"]
_TX_FIELDS += ["data", "accessList", "authorizationList", "blobVersionedHashes", "maxFeePerBlobGas", "from", "v"]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(st.sampled_from(_TX_FIELDS), _TREE, max_size=8),
    st.dictionaries(st.sampled_from(["chainId", "address", "nonce", "x"]), _TREE, max_size=4),
    st.dictionaries(st.sampled_from(["a", "d", "b"]), _TREE, max_size=3),
)
def test_random_malformed_inputs_raise_only_signer_errors(
    tx: dict[str, Any], auth: dict[str, Any], message: dict[str, Any]
) -> None:
    signer = make_signer()
    typed = {
        "types": {
            "EIP712Domain": [{"name": "chainId", "type": "uint256"}],
            "M": [{"name": "a", "type": "uint256"}, {"name": "d", "type": "int8"}, {"name": "b", "type": "address"}],
        },
        "primaryType": "M",
        "domain": {"chainId": message.get("a", 1)},
        "message": message,
    }
    for call in (
        lambda: signer.sign_transaction({**EIP1559, **tx}),
        lambda: signer.sign_transaction(tx),
        lambda: signer.sign_authorization({**AUTH, **auth}, allow_all_chains=True),
        lambda: signer.sign_typed_data(full_message=typed),
    ):
        try:
            call()
        except SignerError as error:
            assert error.hint or isinstance(error, ChainIdMismatchError)


_URI_PARTS = st.sampled_from(
    [*"az09%:/?&=;@+-_.# ", "%zz", "%2F", "env:", "file:", "keystore:", "pin-value=", "password-source=", "x=1"]
)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["local:", "local:env:", "local:keystore:", "", "unknown:"]), st.lists(_URI_PARTS, max_size=12))
def test_random_uris_raise_only_signer_errors(prefix: str, parts: list[str]) -> None:
    try:
        signers.load_signer(prefix + "".join(parts))
    except SignerError as error:
        assert error.hint or error.message


@pytest.mark.parametrize("chain", [2**300, 2**64, 0, -1, "1", True], ids=["2**300", "2**64", "0", "-1", "str", "bool"])
def test_a_user_operation_chain_id_out_of_range_is_refused(signer: Signer, chain: Any) -> None:
    op = UserOperation(sender=TO, nonce=0)
    refused(signer, lambda: signer.sign_user_operation(op, ENTRY_POINT, chain), match="chain_id")  # eth-abi's before


@pytest.mark.parametrize("op", [{"sender": TO, "nonce": 0}, None, 5], ids=["dict", "none", "int"])
def test_a_user_operation_that_is_not_one_is_refused(signer: Signer, op: Any) -> None:
    refused(signer, lambda: signer.sign_user_operation(op, ENTRY_POINT, 1), match="UserOperation")  # AttributeError
