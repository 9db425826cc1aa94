"""The signers conformance kit, unchanged, against the keyholder backend: a real holder process per module."""

import secrets
import subprocess
import sys

import pytest
from eth_account import Account

import signers
from signers.testing.conformance import SignerConformance

KEY = "0x" + secrets.token_hex(32)


@pytest.fixture(scope="module")
def signer(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keyholder")
    (folder / "key").write_text(KEY)
    holder = subprocess.Popen([sys.executable, "-m", "signers_keyholder.holder", folder / "key", folder / "h.sock"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "ready"
    with signers.load_signer(f"keyholder:{folder / 'h.sock'}") as loaded:
        yield loaded
    holder.terminate()
    holder.wait()


def test_the_address_is_the_key_files(signer):
    assert signer.address == Account.from_key(KEY).address


class TestKeyholder(SignerConformance):
    pass
