"""signers-server: ``signers serve``, one signing service in front of keys in custody.

Applications in any language call it over JSON-RPC 2.0 (the methods ethers, viem and web3.py already send,
plus ``signers_signUserOperation`` and ``signers_signAuthorization``); it holds the credentials, checks each
client's rights and the library's policies, and records every signature in the audit trail with the client's
name. The contract is in this distribution's README.
"""

__version__ = "0.1.0"
