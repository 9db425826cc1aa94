"""Where the ERC-4337 / ERC-7579 / Smart Sessions contracts live, per chain.

The defaults are the canonical CREATE2 deployments the Startale SDK (1.1.0) uses on every chain. Another
deployment (a local chain, a fork with its own modules) registers its own ``AddressBook`` for its chain id,
or passes one explicitly to the account and flow functions.

The session validator is the OwnableValidator build at ``0x…e9e6e96…``: its signature rules decide how a
session key signs (EIP-191 over the userOpHash, v = 27/28). Never swap it for module-sdk's
``OWNABLE_VALIDATOR_ADDRESS`` (a newer build that recovers on the raw hash): see spec/smart-sessions.md §5.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields, replace

from eth_utils import to_checksum_address

from .errors import AAConfigurationError

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class AddressBook:
    """Contract addresses of one deployment (checksummed on construction)."""

    entry_point: str = "0x0000000071727De22E5E9d8BAf0edAc6f37da032"
    smart_sessions: str = "0x00000000008bDABA73cD9815d79069c247Eb4bDA"
    ownable_validator: str = "0x0000000000E9E6E96Bcaa3c113187CdB7E38AED9"
    sudo_policy: str = "0x0000000000FEEc8D74e3143fBaBbca515358d869"
    time_frame_policy: str = "0x0000000000D30f611fA3bf652ac6879428586930"
    uni_action_policy: str = "0x0000000000714Cf48FcF88A0bFBa70d313415032"
    value_limit_policy: str = "0x000000000021dC45451291BCDfc9f0B46d6f0278"
    usage_limit_policy: str = "0x00000000001d4479FA2A947026204d0283ceDe4B"
    erc20_spending_limit_policy: str = "0x000000000033212e272655d8a22402db819477a6"
    account_factory: str = "0x00000Be75c267EFE9ddD7044d1F236959aF4c15F"
    account_implementation: str = "0x000006B2874cf8a9bbe24fA1C3A32225AE826951"
    bootstrap: str = "0x000000552A5fAe3Db7a8F3917C435448F49BA6a9"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            try:
                object.__setattr__(self, f.name, to_checksum_address(value))
            except (ValueError, TypeError):
                raise AAConfigurationError(
                    f"AddressBook.{f.name}: not an address (20 bytes as 0x-hex expected)"
                ) from None

    def with_overrides(self, **addresses: str) -> AddressBook:
        """A copy with some addresses replaced (e.g. ``smart_sessions=...`` for a local deployment)."""
        unknown = set(addresses) - {f.name for f in fields(self)}
        if unknown:
            raise AAConfigurationError(f"AddressBook has no field(s) {sorted(unknown)}")
        return replace(self, **addresses)


CANONICAL = AddressBook()

_lock = threading.Lock()
_books: dict[int, AddressBook] = {}


def register_addresses(chain_id: int, book: AddressBook) -> None:
    """Use ``book`` for ``chain_id`` from now on (process-wide)."""
    with _lock:
        _books[int(chain_id)] = book


def unregister_addresses(chain_id: int) -> None:
    with _lock:
        _books.pop(int(chain_id), None)


def addresses_for(chain_id: int) -> AddressBook:
    """The registered book for ``chain_id``, or the canonical deployment."""
    with _lock:
        return _books.get(int(chain_id), CANONICAL)
