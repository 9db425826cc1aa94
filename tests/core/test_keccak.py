"""signers.keccak against the independent implementations it replaces (eth-hash, eth-utils)."""

from __future__ import annotations

import eth_utils
from eth_hash.auto import keccak as eth_keccak
from hypothesis import given
from hypothesis import strategies as st

from signers.keccak import canonical_address, is_address, keccak, to_checksum_address


@given(st.binary(max_size=300))
def test_keccak_is_eth_hash(data: bytes) -> None:
    assert keccak(data) == eth_keccak(data)


@given(st.binary(min_size=20, max_size=20))
def test_checksum_is_eip55(raw: bytes) -> None:
    expected = eth_utils.to_checksum_address(raw)
    assert to_checksum_address(raw) == expected
    assert to_checksum_address(expected.lower()) == expected
    assert to_checksum_address(expected[2:].upper()) == expected
    assert canonical_address(expected) == raw


def test_eip55_vectors() -> None:
    # the examples of EIP-55 itself
    for address in (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ):
        assert to_checksum_address(address.lower()) == address


@given(
    st.one_of(st.text(max_size=45), st.binary(max_size=25), st.from_regex(r"(0[xX])?[0-9a-fA-F]{40}", fullmatch=True))
)
def test_is_address_is_eth_utils(value: str | bytes) -> None:
    assert is_address(value) == eth_utils.is_address(value)
