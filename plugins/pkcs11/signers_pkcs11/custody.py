"""The custody report of a key on a PKCS#11 token: the module, slot and token, the key's attributes, and what a
reviewer should know (a software token, a key that can leave or was imported, operations beyond signing, a key
still MODIFIABLE or COPYABLE, no mechanism restriction). Read under the module lock, like every token call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pkcs11

from signers import custody
from signers.custody import CustodyReport
from signers.keys import PublicKey

from . import keys

if TYPE_CHECKING:
    from .backend import Pkcs11Backend
    from .module import Module

CUSTODY = "PKCS#11 token (the private key never leaves it; it signs on the device)"


def report(backend: Pkcs11Backend, module: Module, token: Any, key: Any, public: PublicKey | None) -> CustodyReport:
    info = keys.key_facts(key)
    attributes = info["attributes"]
    software = is_software(token)
    return CustodyReport(
        backend=backend.describe(),
        kind="software" if software else "hsm",
        custody=CUSTODY,
        address=public.address if public else None,
        extractable=bool(attributes.get("EXTRACTABLE")),
        generated_in_hardware=bool(attributes.get("LOCAL") and attributes.get("NEVER_EXTRACTABLE")) and not software,
        state="enabled" if info["allowed_operations"].get("SIGN") else "cannot sign (CKA_SIGN false)",
        warnings=tuple(warnings(info, token)),
        details={
            "public_key": public.point.hex() if public else None,
            "public_key_source": backend.public_key_source,
            "module": _module(module),
            "slot": _slot(token.slot),
            "token": _token(token),
            "key": info,
        },
    )


def is_software(token: Any) -> bool:
    return "softhsm" in f"{token.manufacturer_id} {token.model}".lower()


def warnings(info: dict[str, Any], token: Any) -> list[str]:
    """Plain-language findings for a reviewer; empty for a sign-only key generated inside hardware."""
    out = []
    attributes, operations = info["attributes"], info["allowed_operations"]
    if attributes.get("EXTRACTABLE"):
        out.append("EXTRACTABLE is true: the key can be exported (wrapped) from the token")
    if not attributes.get("SENSITIVE"):
        out.append("SENSITIVE is false: the token may reveal the private value")
    if not attributes.get("NEVER_EXTRACTABLE") or not attributes.get("LOCAL"):
        out.append("the key was not generated on this token or was extractable once: copies may exist elsewhere")
    for name in ("DECRYPT", "UNWRAP", "DERIVE", "SIGN_RECOVER"):
        if operations.get(name):
            out.append(custody.NOT_SIGN_ONLY.format(what=name))
    if attributes.get("MODIFIABLE"):
        out.append("MODIFIABLE is true: the key's attributes can still be changed (to allow DERIVE or DECRYPT, say)")
    if attributes.get("COPYABLE"):
        out.append("COPYABLE is true: the token can copy the key object (C_CopyObject), with other attributes")
    if isinstance(info["allowed_mechanisms"], str):
        out.append("CKA_ALLOWED_MECHANISMS is not set: any signing mechanism may use the key")
    if is_software(token):
        out.append(custody.SOFTWARE_HSM)
    return out


def _module(module: Module) -> dict[str, Any]:
    lib = module.lib
    return {
        "path": module.path,
        "manufacturer": lib.manufacturer_id,
        "description": lib.library_description,
        "cryptoki_version": ".".join(map(str, lib.cryptoki_version)),
        "library_version": ".".join(map(str, lib.library_version)),
    }


def _slot(slot: Any) -> dict[str, Any]:
    return {
        "id": slot.slot_id,
        "description": slot.slot_description,
        "hardware_slot": bool(slot.flags & pkcs11.SlotFlag.HW_SLOT),
    }


def _token(token: Any) -> dict[str, Any]:
    return {
        "label": token.label,
        "manufacturer": token.manufacturer_id,
        "model": token.model,
        "serial": token.serial.decode(errors="replace").strip(),
        "hardware_version": ".".join(map(str, token.hardware_version)),
        "firmware_version": ".".join(map(str, token.firmware_version)),
        "flags": sorted(f.name for f in pkcs11.TokenFlag if f.name and token.flags & f),
    }
