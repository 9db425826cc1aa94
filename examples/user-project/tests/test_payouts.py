"""The payout service against real custody: no conftest, the fixtures come from signers[testing]."""

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from payouts import Approver, CounterBot, payout

import signers
from signers.aa import ScopeViolationError

TO = "0x" + "ab" * 20


def recovered(signature: bytes) -> str:
    return Account.recover_message(encode_typed_data(full_message=payout(TO, 5, 1)), signature=signature)


def test_payout_approved_with_a_key_in_softhsm(softhsm_token):
    approver = Approver(softhsm_token.generate_key())
    assert recovered(approver.approve(TO, 5)) == approver.address


def test_payout_approved_with_a_key_in_aws_kms(localstack_kms):
    approver = Approver(localstack_kms.create_key().uri)
    assert recovered(approver.approve(TO, 5)) == approver.address


def test_a_session_key_in_the_hsm_bumps_the_counter_and_nothing_else(aa_chain, localstack_kms, softhsm_token):
    owner = signers.load_signer(localstack_kms.create_key().uri)
    session_key = signers.load_signer(softhsm_token.generate_key())
    bot = CounterBot(aa_chain.new_account(owner.address), aa_chain.bundler(), aa_chain.counter)
    bot.grant(owner, session_key)
    assert bot.bump(session_key)
    bot.counter = aa_chain.test_token  # not granted: refused before the HSM is asked
    with pytest.raises(ScopeViolationError):
        bot.bump(session_key)
