"""The signers.testing plugin as users meet it: loaded by its pytest11 entry point, lazy, its settings, and the
conformance kit failing a backend that signs wrong (a kit that cannot fail proves nothing)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

import signers
from signers.testing import config


def test_the_plugin_is_loaded_by_its_entry_point(pytestconfig: pytest.Config) -> None:
    plugin = pytestconfig.pluginmanager.get_plugin("signers")
    assert plugin is not None and plugin.__name__ == "signers.testing.plugin"


def test_local_key_signs_and_recovers(local_key: str) -> None:
    signer = signers.load_signer(local_key)
    signed = signer.sign_message("hello")
    assert Account.recover_message(encode_defunct(text="hello"), signature=signed.signature) == signer.address


def test_a_suite_without_the_fixtures_imports_no_service_code(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_nothing_heavy():
            assert "signers.testing.plugin" in sys.modules
            loaded = [m for m in ("signers.testing.localstack", "signers.testing.chain.stack",
                                  "signers.testing.softhsm", "signers.testing.gcp_kms", "signers.testing.postgres",
                                  "signers.aa", "boto3") if m in sys.modules]
            assert loaded == []
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_ini_settings_reach_the_environment_and_the_environment_wins(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        signers_testing_state = state-here
        signers_testing_chain_rpc_port = 18545
        signers_testing_localstack_port = 14566
        """
    )
    pytester.makepyfile(
        """
        import os
        from signers.testing import config

        def test_settings(pytestconfig):
            assert config.state_root() == pytestconfig.rootpath / "state-here"
            assert config.configured_port("SIGNERS_CHAIN_RPC_PORT") == 18545
            assert config.configured_port("LOCALSTACK_PORT") == 4599  # the environment's, not the ini's
        """
    )
    for name in ("SIGNERS_TESTING_STATE", "SIGNERS_CHAIN_RPC_PORT"):
        pytester._monkeypatch.delenv(name, raising=False)
    pytester._monkeypatch.setenv("LOCALSTACK_PORT", "4599")
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_ports_default_to_free_ones_and_refuse_nonsense(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIGNERS_CHAIN_BUNDLER_PORT", raising=False)
    assert config.configured_port("SIGNERS_CHAIN_BUNDLER_PORT") == 0
    monkeypatch.setenv("SIGNERS_CHAIN_BUNDLER_PORT", "http://x")
    with pytest.raises(ValueError, match="must be a port number"):
        config.configured_port("SIGNERS_CHAIN_BUNDLER_PORT")
    port = config.free_port()
    assert config.port_free(port)


def test_a_missing_program_fails_with_the_command_that_installs_it() -> None:
    with pytest.raises(config.MissingDependency, match="install it with: apt-get install -y no-such-tool"):
        config.require("no-such-tool-signers", "apt-get install -y no-such-tool")


def test_a_missing_softhsm_fails_the_fixture_with_the_install_command(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_token(softhsm_token):
            pass
        """
    )
    # an empty PATH and a module path that is not SoftHSM's: softhsm2-util cannot be found
    pytester._monkeypatch.setenv("PATH", str(pytester.path))
    pytester._monkeypatch.setenv("SIGNERS_TESTING_STATE", str(pytester.path / "state"))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*softhsm2-util (SoftHSM2) is not installed; install it with: apt-get install*"])


def test_the_kit_fails_a_backend_whose_signatures_do_not_recover(pytester: pytest.Pytester) -> None:
    """A signer that answers with another key's signatures: every signing surface of the kit must fail."""
    pytester.makepyfile(
        """
        import os, pytest, signers
        from signers.testing.conformance import SignerConformance

        class Liar:
            def __init__(self, real, other):
                self.real, self.other = real, other
            def __getattr__(self, name):
                return getattr(self.other if name.startswith(("sign", "asign")) else self.real, name)

        @pytest.fixture(scope="module")
        def signer():
            os.environ["KIT_A"], os.environ["KIT_B"] = "0x" + "11" * 32, "0x" + "22" * 32
            return Liar(signers.load_signer("local:env:KIT_A"), signers.load_signer("local:env:KIT_B"))

        class TestLiar(SignerConformance):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-o", "asyncio_mode=auto")
    outcomes = result.parseoutcomes()
    # 6 sync + 6 async surfaces fail; the bad-digest tests (14) still pass: the refusal is the core's
    assert outcomes.get("failed") == 12 and outcomes.get("passed") == 14, outcomes


def test_every_chain_file_ships_in_the_wheel() -> None:
    """aa_chain installs from the package, not a checkout: every file it reads must match the package data."""
    import fnmatch
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["signers"]
    chain = root / "signers" / "testing" / "chain"
    data = [p.relative_to(root / "signers").as_posix() for p in chain.rglob("*") if p.is_file() and p.suffix != ".py"]
    data = [name for name in data if "__pycache__" not in name]
    assert {"testing/chain/package-lock.json", "testing/chain/compile.cjs", "testing/chain/loopback.cjs"} <= set(data)
    assert [name for name in data if not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)] == []
