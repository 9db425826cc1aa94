"""signers.aa: ERC-4337 v0.7 + ERC-7579 + Smart Sessions, byte for byte with the Startale SDK.

See spec/smart-sessions.md for the formats. The names most users need:

    UserOperation, user_operation_hash                     the op and its hash
    StartaleAccount, NexusAccount                          the accounts (nonces, calls, signing rules)
    CreateSessionDataParams, ActionPolicyInfo, Rule, ...   what a session may do (the SDK's types)
    prepare_sessions, permission_id                        Session structs and their ids
    BundlerClient, PaymasterClient                         eth_*UserOperation*, ERC-7677
    install_smart_sessions, grant_permission,
    send_session_user_operation, revoke_permission         the flows
    enable_scope_check, register_session                   the local before_sign scope check
"""

from .accounts import (
    ECDSA_DUMMY_SIGNATURE,
    NexusAccount,
    SmartAccount,
    StartaleAccount,
    Validation,
    nonce_key,
    random_nonce_key,
    split_nonce,
    startale_factory_data,
)
from .addresses import CANONICAL, AddressBook, addresses_for, register_addresses, unregister_addresses
from .bundler import BundlerClient, GasEstimate, GasFees, Paymaster, PaymasterClient, PaymasterData
from .errors import (
    AAConfigurationError,
    AAError,
    BundlerError,
    ContractCallError,
    ExecutionRevertedError,
    InvalidFieldsError,
    MethodNotFoundError,
    OpcodeViolationError,
    OutOfTimeRangeError,
    PaymasterRejectedError,
    RpcError,
    RpcUnavailableError,
    ScopeViolationError,
    SignatureCheckFailedError,
    StakeTooLowError,
    ThrottledEntityError,
    UnsupportedAggregatorError,
    UserOperationFailedError,
    UserOperationNotFoundError,
    UserOperationRejectedError,
    UserOperationTimeoutError,
)
from .execution import (
    MODE_BATCH,
    MODE_SINGLE,
    Call,
    ModuleType,
    decode_execute,
    encode_execute,
    encode_install_module,
    encode_is_module_installed,
    encode_uninstall_module,
)
from .flows import (
    GrantResult,
    UserOperationResult,
    build_user_operation,
    grant_permission,
    install_smart_sessions,
    is_smart_sessions_installed,
    revoke_permission,
    send_session_user_operation,
)
from .rpc import JsonRpcClient, NodeClient
from .scope import (
    SCOPES,
    ScopeRegistry,
    SessionScopeCheck,
    check_scope,
    enable_scope_check,
    register_session,
    scope_check_disabled,
)
from .sessions import (
    OWNABLE_MOCK_SIGNATURE,
    ActionData,
    ActionPolicyInfo,
    CreateSessionDataParams,
    ERC7739Data,
    LimitUsage,
    ParamCondition,
    PolicyData,
    PreparedPermission,
    Rule,
    Session,
    SmartSessionMode,
    TokenLimit,
    decode_use_signature,
    encode_enable_sessions,
    encode_is_permission_enabled,
    encode_remove_session,
    encode_use_signature,
    encode_validation_data,
    permission_id,
    prepare_sessions,
    smart_sessions_init_data,
    stub_signature,
)
from .user_operation import PackedUserOperation, UserOperation, user_operation_hash

__all__ = [name for name in dir() if not name.startswith("_")]
