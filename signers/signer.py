"""Signer: the Ethereum face over any backend.

Every surface (digest, EIP-191, EIP-712, transactions, EIP-7702, UserOperations) reduces to one digest and
goes through ``_sign``: policy hooks first (they may refuse before a key is used), then the backend, then
the core conversion with its self-check, then the audit hooks. Async twins share the same steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

from . import fields, hashing
from .backend import Backend
from .errors import (
    BackendUnavailableError,
    ChainIdMismatchError,
    FieldError,
    SignatureVerificationError,
    SignerError,
)
from .hookspecs import SignRequest
from .keccak import to_checksum_address
from .signature import Signature, check_digest
from .user_operation import UserOperation, user_operation_hash

if TYPE_CHECKING:
    from eth_account.datastructures import SignedMessage, SignedSetCodeAuthorization, SignedTransaction
    from eth_account.messages import SignableMessage

# eth-account (and the transaction module built on it) is imported by the surfaces that need it, not by
# `import signers`: it pulls in eth-keyfile and py_ecc's BLS tables (~0.4 s) that a digest or a UserOperation
# never uses.

__all__ = ["Signer", "SignRequest", "chain_policy"]


def _typed(
    domain: dict[str, Any] | None,
    types: dict[str, Any] | None,
    message: dict[str, Any] | None,
    full: dict[str, Any] | None,
) -> dict[str, Any]:
    """A typed_data request's payload: the typed data as given, so that a policy or a remote signer sees the
    structure (the SignableMessage holds only its two hashes)."""
    return full if full is not None else {"domain": domain, "types": types, "message": message}


_WHAT = {"transaction": "transaction", "authorization": "authorization", "user_operation": "UserOperation"}


def chain_policy(request: SignRequest) -> None:
    """The core's before_sign policy for requests that name a chain (``context["chain_id"]``): a signer pinned
    to a chain signs for that chain only, and an EIP-7702 authorisation for chain 0 (a delegation valid on
    every chain) needs the caller's explicit ``allow_all_chains=True``."""
    chain_id, pinned = request.context.get("chain_id"), request.signer.chain_id
    what = _WHAT.get(request.kind, request.kind)
    if pinned is not None and chain_id != pinned:
        every = " (valid on every chain)" if chain_id == 0 else ""
        raise ChainIdMismatchError(f"the {what} is for chain {chain_id}{every}, the signer for chain {pinned}")
    if chain_id == 0 and request.kind == "authorization" and not request.context.get("allow_all_chains"):
        raise ChainIdMismatchError(
            "the authorization is for chain 0: it would delegate the account on every chain",
            hint="give the chain's id, or pass allow_all_chains=True to sign_authorization if a delegation on every "
            "chain is intended",
        )


# chain_policy as a hook implementation, made once: what pluggy's call_extra builds on every call (inspecting the
# function's signature each time, ~5 us of a session op), with the same options.
_CHAIN_POLICY = pluggy.HookImpl(
    None,
    "<chain policy>",
    chain_policy,
    {
        "wrapper": False,
        "hookwrapper": False,
        "optionalhook": False,
        "trylast": False,
        "tryfirst": False,
        "specname": None,
    },
)


def _with_chain_policy(hookimpls: list[pluggy.HookImpl]) -> list[pluggy.HookImpl]:
    """``hookimpls`` with the chain policy where call_extra puts an extra method: after the last plain (neither
    wrapper nor tryfirst) implementation, so it runs first of the plain ones and inside every wrapper."""
    i = len(hookimpls) - 1
    while i >= 0 and (hookimpls[i].hookwrapper or hookimpls[i].wrapper or hookimpls[i].tryfirst):
        i -= 1
    hookimpls.insert(i + 1, _CHAIN_POLICY)
    return hookimpls


def _released(signature: Signature | None, address: str) -> Signature:
    """The verified signature of the retry loop. None cannot happen (the last attempt raises its self-check
    error), but an invariant of the one path that releases signatures is checked, not asserted (-O drops those)."""
    if signature is None:
        raise SignatureVerificationError(f"no verified signature for {address}", expected=address)
    return signature


class Signer:
    """An Ethereum signer over a key in custody. Obtain one with ``signers.load_signer(uri)``."""

    def __init__(
        self,
        backend: Backend,
        *,
        chain_id: int | None = None,
        plugin_manager: pluggy.PluginManager | None = None,
    ) -> None:
        if plugin_manager is None:
            from .manager import get_plugin_manager  # the process's manager, as load_signer uses

            plugin_manager = get_plugin_manager()
        self.backend = backend
        self.chain_id = chain_id
        self.plugin_manager = plugin_manager
        self._hook = plugin_manager.hook
        self.public_key = backend.public_key()
        self.address = self.public_key.address

    def __repr__(self) -> str:
        return f"Signer(address={self.address}, backend={self.backend.describe()!r})"

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Signer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def aclose(self) -> None:
        await self.backend.aclose()

    async def __aenter__(self) -> Signer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the one path every signature takes -------------------------------------------------------------
    def _request(self, digest: bytes, kind: str, payload: Any, context: Mapping[str, Any]) -> SignRequest:
        request = SignRequest(self, check_digest(digest), kind, payload, context)
        caller = self._hook.before_sign
        hookimpls = caller.get_hookimpls()  # a copy, as pluggy's own calls take
        if "chain_id" in context:
            # the core's chain policy runs inside the hook call, so that wrappers (the audit trail) record its
            # refusals like any policy's (pluggy's call_extra, without rebuilding the implementation each time)
            hookimpls = _with_chain_policy(hookimpls)
        # a policy refuses by raising; through the manager's _hookexec, as a hook call goes (tracing included)
        caller._hookexec(caller.name, hookimpls, {"request": request}, False)
        return request

    def _convert(self, raw: bytes, digest: bytes) -> Signature:
        if self.backend.signature_format == "der":
            return Signature.from_der(raw, digest, self.public_key)
        return Signature.from_rs(raw, digest, self.public_key)

    def _checked(self, request: SignRequest, raw: bytes, attempt: int) -> Signature | None:
        """The verified signature, None to ask the backend again, or the self-check error at the last try."""
        try:
            return self._convert(raw, request.digest)
        except SignatureVerificationError as error:
            self.backend.on_invalid_signature(error)
            if attempt == self.backend.invalid_signature_retries:
                raise
            return None

    def _sign(
        self, digest: bytes, kind: str = "digest", payload: Any = None, context: Mapping[str, Any] = {}
    ) -> Signature:  # noqa: B006
        return self._complete(self._request(digest, kind, payload, context))

    def _complete(self, request: SignRequest, first: bytes | None = None) -> Signature:
        """The backend's signature for a request that passed the policies, converted and self-checked (asked
        again up to the backend's retries), then after_sign. ``first``: an answer already in hand (a batch)."""
        signature = None
        try:
            for attempt in range(self.backend.invalid_signature_retries + 1):
                raw = first if attempt == 0 and first is not None else self.backend.sign_request(request)
                signature = self._checked(request, raw, attempt)
                if signature is not None:
                    break
        except SignerError as error:
            self._hook.sign_failed(request=request, error=error)
            raise
        signature = _released(signature, self.address)
        # record before release: an after_sign hook that raises (the audit trail could not commit) discards it
        self._hook.after_sign(request=request, signature=signature)
        return signature

    async def _asign(
        self, digest: bytes, kind: str = "digest", payload: Any = None, context: Mapping[str, Any] = {}
    ) -> Signature:  # noqa: B006
        # policies, and the audit trail's record of a refusal, run off the event loop (a write may wait)
        request = await asyncio.to_thread(self._request, digest, kind, payload, context)
        signature = None
        try:
            for attempt in range(self.backend.invalid_signature_retries + 1):
                signature = self._checked(request, await self.backend.asign_request(request), attempt)
                if signature is not None:
                    break
        except SignerError as error:
            await asyncio.to_thread(self._hook.sign_failed, request=request, error=error)
            raise
        signature = _released(signature, self.address)
        # the audit trail's insert (a disk write, a database round trip) must not block the event loop;
        # to_thread carries the context (the caller's client) into the worker thread
        await asyncio.to_thread(self._hook.after_sign, request=request, signature=signature)
        return signature

    # -- surfaces: each prepares a digest and a finisher, shared by the sync and async forms -------------
    def sign_digest(self, digest: bytes) -> Signature:
        """Sign exactly these 32 bytes (no prefix, no hashing)."""
        return self._sign(digest)

    async def asign_digest(self, digest: bytes) -> Signature:
        return await self._asign(digest)

    def sign_digests(self, digests: Sequence[bytes]) -> list[Signature]:
        """Sign many digests, each as ``sign_digest`` would: all pass the policies before the backend signs
        any (one refusal and nothing is signed), the backend may sign them together (a process pool spreads
        them over cores), and each is converted, self-checked and audited on its own, in order."""
        requests = [self._request(digest, "digest", None, {}) for digest in digests]
        signatures: list[Signature] = []
        answers = iter(self.backend.sign_requests(requests))
        for index, request in enumerate(requests):
            try:
                raw = next(answers, None)
                if raw is None:
                    raise BackendUnavailableError(
                        f"{self.backend.describe()} answered {index} of {len(requests)} requests",
                        hint="a bug in the backend's sign_requests; nothing of this batch was returned",
                    )
            except SignerError as error:
                self._failed(requests[index:], error)
                raise
            try:
                signatures.append(self._complete(request, raw))
            except SignerError as error:  # the request itself is recorded by _complete
                self._failed(requests[index + 1 :], error)
                raise
        return signatures

    def _failed(self, requests: Sequence[SignRequest], error: SignerError) -> None:
        for request in requests:
            self._hook.sign_failed(request=request, error=error)

    def _message(self, message: SignableMessage) -> tuple[bytes, Callable[[Signature], SignedMessage]]:
        from eth_account.datastructures import SignedMessage
        from hexbytes import HexBytes

        digest = hashing.eip191_hash(message)

        def finish(sig: Signature) -> SignedMessage:
            return SignedMessage(HexBytes(digest), sig.r, sig.s, sig.v, HexBytes(sig.to_bytes()))

        return digest, finish

    def sign_message(
        self, message: SignableMessage | bytes | str, *, context: Mapping[str, Any] | None = None
    ) -> SignedMessage:
        """EIP-191. bytes are signed as bytes and str as text (personal_sign); a SignableMessage as is.
        ``context`` tells policies and the audit trail what the message stands for (no secrets)."""
        signable = hashing.as_signable(message)
        digest, finish = self._message(signable)
        return finish(self._sign(digest, "message", signable, context or {}))

    async def asign_message(
        self, message: SignableMessage | bytes | str, *, context: Mapping[str, Any] | None = None
    ) -> SignedMessage:
        signable = hashing.as_signable(message)
        digest, finish = self._message(signable)
        return finish(await self._asign(digest, "message", signable, context or {}))

    def sign_typed_data(
        self,
        domain_data: dict[str, Any] | None = None,
        message_types: dict[str, Any] | None = None,
        message_data: dict[str, Any] | None = None,
        full_message: dict[str, Any] | None = None,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> SignedMessage:
        """EIP-712, with the arguments of eth-account's ``sign_typed_data``. ``context`` tells policies and the
        audit trail what the data stands for (no secrets), as for ``sign_message``."""
        signable = hashing.typed_data_message(domain_data, message_types, message_data, full_message)
        digest, finish = self._message(signable)
        typed = _typed(domain_data, message_types, message_data, full_message)
        return finish(self._sign(digest, "typed_data", typed, context or {}))

    async def asign_typed_data(
        self,
        domain_data: dict[str, Any] | None = None,
        message_types: dict[str, Any] | None = None,
        message_data: dict[str, Any] | None = None,
        full_message: dict[str, Any] | None = None,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> SignedMessage:
        signable = hashing.typed_data_message(domain_data, message_types, message_data, full_message)
        digest, finish = self._message(signable)
        typed = _typed(domain_data, message_types, message_data, full_message)
        return finish(await self._asign(digest, "typed_data", typed, context or {}))

    def sign_transaction(
        self, transaction: Mapping[str, Any], blobs: Sequence[bytes] | None = None
    ) -> SignedTransaction:
        """Legacy (EIP-155), EIP-2930, EIP-1559, EIP-4844 (with blobs) and EIP-7702 transactions."""
        from .transactions import prepare_transaction

        digest, finish, context = prepare_transaction(transaction, self.address, blobs)
        return finish(self._sign(digest, "transaction", transaction, context))

    async def asign_transaction(
        self, transaction: Mapping[str, Any], blobs: Sequence[bytes] | None = None
    ) -> SignedTransaction:
        from .transactions import prepare_transaction

        digest, finish, context = prepare_transaction(transaction, self.address, blobs)
        return finish(await self._asign(digest, "transaction", transaction, context))

    def _authorization(
        self, authorization: Mapping[str, Any], allow_all_chains: bool
    ) -> tuple[bytes, Callable[[Signature], SignedSetCodeAuthorization], dict[str, Any]]:
        from eth_account.datastructures import SignedSetCodeAuthorization
        from eth_account.typed_transactions.set_code_transaction import Authorization
        from eth_keys.datatypes import Signature as EthKeysSignature
        from hexbytes import HexBytes

        from .transactions import check_authorization

        chain_id, address, nonce = check_authorization(authorization)
        digest = bytes(Authorization(chain_id, address, nonce).hash())
        # what policies and the audit trail see; chain id 0 (valid on every chain) needs the caller's opt-in,
        # which the core's chain policy reads from here
        context: dict[str, Any] = {"chain_id": chain_id, "address": to_checksum_address(address), "nonce": nonce}
        if chain_id == 0 and allow_all_chains:
            context["allow_all_chains"] = True

        def finish(sig: Signature) -> SignedSetCodeAuthorization:
            return SignedSetCodeAuthorization(
                chain_id=chain_id,
                address=address,
                nonce=nonce,
                y_parity=sig.y_parity,
                r=sig.r,
                s=sig.s,
                signature=EthKeysSignature(vrs=(sig.y_parity, sig.r, sig.s)),
                authorization_hash=HexBytes(digest),
            )

        return digest, finish, context

    def sign_authorization(
        self, authorization: Mapping[str, Any], *, allow_all_chains: bool = False
    ) -> SignedSetCodeAuthorization:
        """EIP-7702 authorisation (``chainId``, ``address``, ``nonce``), as eth-account returns it. Chain id 0
        delegates the account on every chain: it is refused unless ``allow_all_chains=True`` (and always by a
        signer pinned to a chain)."""
        digest, finish, context = self._authorization(authorization, allow_all_chains)
        return finish(self._sign(digest, "authorization", authorization, context))

    async def asign_authorization(
        self, authorization: Mapping[str, Any], *, allow_all_chains: bool = False
    ) -> SignedSetCodeAuthorization:
        digest, finish, context = self._authorization(authorization, allow_all_chains)
        return finish(await self._asign(digest, "authorization", authorization, context))

    def _user_operation(
        self, user_operation: UserOperation, entry_point: str, chain_id: int, extra: Mapping[str, Any] | None
    ) -> tuple[bytes, str, UserOperation, dict[str, Any]]:
        """The request of every UserOperation surface (preflight, sync, async): digest, kind, payload, context."""
        if not isinstance(user_operation, UserOperation):
            raise FieldError(
                f"a UserOperation is expected, not a {type(user_operation).__name__}",
                hint="build it with signers.aa.UserOperation(...), or UserOperation.from_rpc(dict) from JSON-RPC",
            )
        chain_id = fields.chain_id(chain_id, "chain_id")  # EIP-2294 bounds, before anything is encoded
        op_hash = user_operation_hash(user_operation, entry_point, chain_id)
        context = {**(extra or {}), "user_op_hash": op_hash, "entry_point": entry_point, "chain_id": chain_id}
        return hashing.personal_sign_hash(op_hash), "user_operation", user_operation, context

    def preflight_user_operation(
        self,
        user_operation: UserOperation,
        entry_point: str,
        chain_id: int,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        """Run the policies (before_sign) on an op without signing it: a refusal raises, and the audit
        trail records it, before a draft op is shown to anyone (a bundler's gas estimation, say)."""
        self._request(*self._user_operation(user_operation, entry_point, chain_id, context))

    def sign_user_operation(
        self,
        user_operation: UserOperation,
        entry_point: str,
        chain_id: int,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> Signature:
        """ERC-4337 v0.7: EIP-191 personal_sign over the userOpHash, v = 27/28, as the account expects.
        ``context`` tells policies more about the op (no secrets), e.g. ``max_cost_wei``, a per-call cost
        bound the Smart Sessions scope check holds a session op to."""
        return self._sign(*self._user_operation(user_operation, entry_point, chain_id, context))

    async def asign_user_operation(
        self,
        user_operation: UserOperation,
        entry_point: str,
        chain_id: int,
        *,
        context: Mapping[str, Any] | None = None,
    ) -> Signature:
        return await self._asign(*self._user_operation(user_operation, entry_point, chain_id, context))
