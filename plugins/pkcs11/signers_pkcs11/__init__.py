"""signers-pkcs11: Ethereum signing with secp256k1 keys held in a PKCS#11 token (HSM, SoftHSM2...).

    signer = signers.load_signer("pkcs11:token=prod;object=session-1?pin-source=env:HSM_PIN")

URIs follow RFC 7512 (``signers_pkcs11.uri``). Thread safety and fault recovery are described in
``signers_pkcs11.module``; multi-core throughput comes from ``signers_pkcs11.pool.SigningPool``. Key
lifecycle commands: ``signers pkcs11 keygen | import | list | tokens`` (``signers_pkcs11.cli``). The plugin
template: hooks (entry points), uri, backend, errors (PKCS#11 -> signers errors), custody (the report), cli.
python-pkcs11 is imported when a backend or a command is first used, not with this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from signers.lazy import lazy_exports

from .hooks import from_uri, register_backends, register_commands

if TYPE_CHECKING:
    from .backend import Pkcs11Backend
    from .uri import Pkcs11URI, parse_pkcs11_uri

__all__ = ["Pkcs11Backend", "Pkcs11URI", "from_uri", "parse_pkcs11_uri", "register_backends", "register_commands"]
__getattr__ = lazy_exports(__name__, {"Pkcs11Backend": ".backend", "Pkcs11URI": ".uri", "parse_pkcs11_uri": ".uri"})
