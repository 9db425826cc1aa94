"""signers.testing: real services for integration tests (a pytest plugin) and the backend conformance kit.

Install with ``pip install "signers[testing]"``; pytest then loads the plugin by itself (entry point
``pytest11: signers``, module signers.testing.plugin). Its fixtures start real processes on 127.0.0.1 on first
use: ``softhsm_token``, ``localstack_kms``, ``gcp_kms_emulator``, ``aa_chain``, ``postgres``, ``local_key``.
The service managers behind them (softhsm, localstack, gcp_kms, chain, postgres) work without pytest too, and
``signers.testing.conformance`` runs every signing surface against a backend. See docs/testing.md.

Nothing is imported here: a test suite that uses none of it pays nothing for the plugin.
"""
