"""Keys on a token: find one, check it can sign for Ethereum, read its custody facts, create one.

Every function here takes a python-pkcs11 session and must run under its module's lock
(``signers_pkcs11.module``): they are called by the backend, the CLI and the test fixtures alike.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import coincurve
from eth_hash.auto import keccak
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11x

from signers.errors import (
    AmbiguousKeyError,
    ConfigurationError,
    KeyNotFoundError,
    KeyUsageError,
    MalformedSignatureError,
    SignatureVerificationError,
    WrongCurveError,
)
from signers.keys import SECP256K1_EC_PARAMS, PublicKey, curve_name
from signers.signature import Signature

# The custody facts a security review asks for, in the order they are shown.
CUSTODY_FLAGS = (
    "EXTRACTABLE",
    "SENSITIVE",
    "NEVER_EXTRACTABLE",
    "ALWAYS_SENSITIVE",
    "LOCAL",
    "PRIVATE",
    "TOKEN",
    "MODIFIABLE",
    "COPYABLE",
    "DESTROYABLE",
    "ALWAYS_AUTHENTICATE",
    "WRAP_WITH_TRUSTED",
)
OPERATIONS = ("SIGN", "SIGN_RECOVER", "DECRYPT", "UNWRAP", "DERIVE")
# What a key made by `signers pkcs11 keygen` allows and forbids (the defaults of tokens are permissive): not
# MODIFIABLE, so that no one widens it later (DERIVE, DECRYPT), and not COPYABLE, so that no copy with other
# attributes can be made.
SIGN_ONLY = {
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.PRIVATE: True,
    Attribute.SIGN: True,
    Attribute.SIGN_RECOVER: False,
    Attribute.DECRYPT: False,
    Attribute.UNWRAP: False,
    Attribute.DERIVE: False,
    Attribute.MODIFIABLE: False,
    Attribute.COPYABLE: False,
}
_CHECK_DIGEST = keccak(b"signers-pkcs11: does this private key match its public key?")


def _read(obj: Any, name: str) -> Any:
    """An attribute, or None where the token does not have or will not tell it."""
    attribute = Attribute.ALLOWED_MECHANISMS if name == "ALLOWED_MECHANISMS" else Attribute[name]
    try:
        return obj[attribute]
    except (p11x.AttributeTypeInvalid, p11x.AttributeSensitive, p11x.FunctionFailed, NotImplementedError):
        return None
    except ValueError:  # CK_UNAVAILABLE_INFORMATION where python-pkcs11 expects an enum member
        return None


def _describe_id(key_id: bytes) -> str:
    return key_id.hex() if key_id else "(empty)"


def find_private_key(session: Any, label: str | None, key_id: bytes | None, where: str) -> Any:
    """The one private key matching label and/or id, or a KeyNotFoundError / AmbiguousKeyError."""
    template: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PRIVATE_KEY}
    if label is not None:
        template[Attribute.LABEL] = label
    if key_id is not None:
        template[Attribute.ID] = key_id
    found = list(session.get_objects(template))
    selector = " ".join(
        part
        for part in (f"object={label!r}" if label is not None else "", f"id={key_id.hex()}" if key_id else "")
        if part
    )
    if not found:
        raise KeyNotFoundError(
            f"pkcs11: no private key with {selector} on {where}",
            hint="run `signers pkcs11 list` to see the token's keys, or create one with `signers pkcs11 keygen`",
        )
    if len(found) > 1:
        ids = ", ".join(_describe_id(k[Attribute.ID]) for k in found)
        raise AmbiguousKeyError(
            f"pkcs11: {len(found)} private keys match {selector} on {where} (their ids: {ids})",
            hint="add the id of the one you mean to the URI (id=%01...) or give the keys unique labels",
        )
    return found[0]


def check_signing_key(key: Any, where: str) -> None:
    """Refuse what CKM_ECDSA cannot turn into an Ethereum signature: other curves, keys that may not sign."""
    name = f"pkcs11 key {key.label!r} on {where}"
    if key.key_type != KeyType.EC:
        raise WrongCurveError(f"{name} is a {key.key_type.name} key, not an elliptic-curve key")
    params = _read(key, "EC_PARAMS")
    if params != SECP256K1_EC_PARAMS:
        curve = curve_name(params[2:]) if params and params[:1] == b"\x06" else "an unnamed or explicit curve"
        raise WrongCurveError(f"{name} is on {curve}, not secp256k1")
    if not _read(key, "SIGN"):
        raise KeyUsageError(
            f"{name} has CKA_SIGN=false: the token refuses to sign with it",
            hint="generate a signing key with `signers pkcs11 keygen` (CKA_SIGN=true)",
        )
    allowed = _read(key, "ALLOWED_MECHANISMS")
    if allowed and Mechanism.ECDSA not in allowed:
        raise KeyUsageError(
            f"{name}: CKA_ALLOWED_MECHANISMS does not include CKM_ECDSA (raw ECDSA over a digest)",
            hint="create the key with CKM_ECDSA allowed, as `signers pkcs11 keygen` does",
        )


def _public_objects(session: Any, key: Any) -> list[Any]:
    key_id = key[Attribute.ID]
    template: dict[Attribute, Any] = {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.KEY_TYPE: KeyType.EC}
    if key_id:
        template[Attribute.ID] = key_id
    else:
        template[Attribute.LABEL] = key.label
    return list(session.get_objects(template))


def _sign_raw(key: Any, digest: bytes, pin: str | None) -> bytes:
    result: bytes = key.sign(digest, mechanism=Mechanism.ECDSA, **({"pin": pin} if pin is not None else {}))
    return result


def _valid(public_key: PublicKey, rs: bytes, digest: bytes) -> bool:
    try:
        Signature.from_rs(rs, digest, public_key)  # the core's strict parse and self-check
    except (MalformedSignatureError, SignatureVerificationError):
        return False
    return True


def _recover_candidates(rs: bytes, digest: bytes) -> set[bytes]:
    points = set()
    for recid in (0, 1):
        try:
            pub = coincurve.PublicKey.from_signature_and_message(rs + bytes([recid]), digest, hasher=None)
        except ValueError:
            continue
        points.add(pub.format(compressed=False))
    return points


def public_key_of(session: Any, key: Any, where: str, pin: str | None = None) -> tuple[PublicKey, str]:
    """The key's public key and where it came from; proven to be the private key's by a test signature.

    The public key object with the same CKA_ID (or label) is used when there is one; a token that keeps
    only the private key still works: the point is recovered from two signatures."""
    candidates = []
    for obj in _public_objects(session, key):
        point = _read(obj, "EC_POINT")
        if point:
            try:
                candidates.append(PublicKey.from_bytes(point))
            except (ConfigurationError, WrongCurveError):
                continue
    # SoftHSM's secp256k1 CKM_ECDSA is known to yield an invalid signature now and then: allow a few tries
    for _ in range(4):
        rs = _sign_raw(key, _CHECK_DIGEST, pin)
        for candidate in candidates:
            if _valid(candidate, rs, _CHECK_DIGEST):
                return candidate, "public key object"
        if not candidates:
            second = keccak(_CHECK_DIGEST)
            common = _recover_candidates(rs, _CHECK_DIGEST) & _recover_candidates(_sign_raw(key, second, pin), second)
            if len(common) == 1:
                return PublicKey(common.pop()), "recovered from test signatures (no public key object)"
    if candidates:
        raise KeyNotFoundError(
            f"pkcs11: the public key object(s) paired with key {key.label!r} on {where} do not match it",
            hint="pair the private key with its own public key (same CKA_ID), or delete the stray public object",
        )
    raise KeyNotFoundError(
        f"pkcs11: the public key of {key.label!r} on {where} could not be established",
        hint="store the key's public key object on the token with the same CKA_ID (or re-create the key with keygen)",
    )


@dataclass(frozen=True)
class KeyInfo:
    label: str
    id: bytes
    address: str | None
    origin: str
    curve: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "id": self.id.hex(),
            "address": self.address,
            "origin": self.origin,
            "curve": self.curve,
        }


def origin(key: Any) -> str:
    """Where the key was born, from the attributes the token maintains (the user cannot set them)."""
    local, never_extractable = _read(key, "LOCAL"), _read(key, "NEVER_EXTRACTABLE")
    always_sensitive = _read(key, "ALWAYS_SENSITIVE")
    if local and never_extractable and always_sensitive:
        return "generated on the device, never extractable"
    if local:
        return "generated on the device, but was extractable or not sensitive at some point"
    return "imported: the key existed outside the device (once extractable)"


def key_facts(key: Any) -> dict[str, Any]:
    """The attributes a security review reads, as a JSON-able dict (no secret is readable here)."""
    params = _read(key, "EC_PARAMS")
    allowed = _read(key, "ALLOWED_MECHANISMS")
    mechanisms = None
    if allowed:
        mechanisms = [f"CKM_{Mechanism(m).name}" if m in Mechanism._value2member_map_ else hex(m) for m in allowed]
    keygen = _read(key, "KEY_GEN_MECHANISM")
    return {
        "label": key.label,
        "id": _describe_id(key[Attribute.ID]),
        "key_type": key.key_type.name,
        "curve": curve_name(params[2:]) if params and params[:1] == b"\x06" else None,
        "origin": origin(key),
        "attributes": {name: _read(key, name) for name in CUSTODY_FLAGS},
        "allowed_operations": {name: _read(key, name) for name in OPERATIONS},
        "allowed_mechanisms": mechanisms or "any (CKA_ALLOWED_MECHANISMS not set)",
        "key_gen_mechanism": (
            f"CKM_{Mechanism(keygen).name}" if keygen is not None and keygen in Mechanism._value2member_map_ else None
        ),
    }


def list_keys(session: Any, where: str) -> list[KeyInfo]:
    out = []
    # materialised first: a token runs one search per session at a time
    for key in list(session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})):
        params = _read(key, "EC_PARAMS")
        curve = curve_name(params[2:]) if params and params[:1] == b"\x06" else key.key_type.name
        address = None
        if params == SECP256K1_EC_PARAMS:
            for obj in _public_objects(session, key):
                point = _read(obj, "EC_POINT")
                if point:
                    try:
                        address = PublicKey.from_bytes(point).address
                        break
                    except (ConfigurationError, WrongCurveError):
                        continue
        out.append(KeyInfo(key.label, key[Attribute.ID], address, origin(key), curve))
    return sorted(out, key=lambda k: (k.label, k.id))


def _refuse_duplicates(session: Any, label: str, key_id: bytes, where: str) -> None:
    for attribute, value, what in (
        (Attribute.LABEL, label, f"label {label!r}"),
        (Attribute.ID, key_id, f"id {key_id.hex()}"),
    ):
        if list(session.get_objects({attribute: value})):
            raise ConfigurationError(
                f"pkcs11: {where} already has an object with {what}",
                hint="choose another --label / --id: a URI must select exactly one key",
            )


def new_id() -> bytes:
    return secrets.token_bytes(8)


def generate_key(session: Any, label: str, key_id: bytes | None, where: str) -> tuple[PublicKey, bytes]:
    """A secp256k1 key pair generated on the device: SENSITIVE, not EXTRACTABLE, sign-only (CKM_ECDSA)."""
    key_id = key_id or new_id()
    _refuse_duplicates(session, label, key_id, where)
    params = session.create_domain_parameters(KeyType.EC, {Attribute.EC_PARAMS: SECP256K1_EC_PARAMS}, local=True)
    public, private = params.generate_keypair(
        store=True,
        label=label,
        id=key_id,
        capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
        private_template={**SIGN_ONLY, Attribute.ALLOWED_MECHANISMS: [Mechanism.ECDSA]},
        public_template={
            Attribute.ENCRYPT: False,
            Attribute.WRAP: False,
            Attribute.DERIVE: False,
            Attribute.VERIFY: True,
        },
    )
    point = PublicKey.from_bytes(public[Attribute.EC_POINT])
    return point, key_id


def import_key(
    session: Any, label: str, key_id: bytes | None, private_key: bytes, where: str
) -> tuple[PublicKey, bytes]:
    """Store an existing secp256k1 private key (a migration). The token records it as not LOCAL and not
    NEVER_EXTRACTABLE: custody reports show it existed outside the device."""
    try:
        point = PublicKey(coincurve.PrivateKey(private_key).public_key.format(compressed=False))
    except (ValueError, TypeError):
        raise ConfigurationError(
            "pkcs11 import: not a valid secp256k1 private key",
            hint="give 32 bytes of hex, a scalar between 1 and the curve order minus 1",
        ) from None
    key_id = key_id or new_id()
    _refuse_duplicates(session, label, key_id, where)
    common = {
        Attribute.TOKEN: True,
        Attribute.LABEL: label,
        Attribute.ID: key_id,
        Attribute.KEY_TYPE: KeyType.EC,
        Attribute.EC_PARAMS: SECP256K1_EC_PARAMS,
    }
    session.create_object(
        {
            **common,
            **SIGN_ONLY,
            Attribute.CLASS: ObjectClass.PRIVATE_KEY,
            Attribute.VALUE: private_key,
            Attribute.ALLOWED_MECHANISMS: [Mechanism.ECDSA],
        }
    )
    session.create_object(
        {
            **common,
            Attribute.CLASS: ObjectClass.PUBLIC_KEY,
            Attribute.EC_POINT: b"\x04\x41" + point.point,
            Attribute.VERIFY: True,
            Attribute.ENCRYPT: False,
            Attribute.WRAP: False,
            Attribute.DERIVE: False,
        }
    )
    return point, key_id
