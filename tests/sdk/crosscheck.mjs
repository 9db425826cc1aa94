// Prints the real Startale SDK's encodings for the cases read (as JSON) on stdin; offline.
//
// Input:  {"cases": [{"kind": "...", ...}, ...]}      Output: {"results": [{...} | {"error": "..."}, ...]}
// Numbers that may exceed 2**53 travel as decimal strings; rule references as {"t": type, "v": value}.
// A custom viem transport answers the only chain reads the SDK makes here (eth_chainId, EntryPoint.getNonce),
// so nothing leaves the process.
import {
  EXECUTE_BATCH,
  EXECUTE_SINGLE,
  OWNABLE_VALIDATOR_ADDRESS,
  SMART_SESSIONS_ADDRESS,
  getSmartSessionsValidator,
  installModule,
  smartSessionCreateActions,
  toSmartSessionsValidator,
  toStartaleSmartAccount,
} from "@startale-scs/aa-sdk";
import {
  SmartSessionMode,
  encodeSmartSessionSignature,
  getOwnableValidatorMockSignature,
  getPermissionId,
  getRemoveSessionAction,
} from "@rhinestone/module-sdk";
import { custom, decodeFunctionData, defineChain, encodeAbiParameters, parseAbi } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import {
  entryPoint07Address,
  formatUserOperationRequest,
  getUserOperationHash,
  toPackedUserOperation,
} from "viem/account-abstraction";

const ENTRY_POINT_ABI = parseAbi(["function getNonce(address sender, uint192 key) view returns (uint256)"]);
// A throw-away key for accounts whose signer does not matter to the case (never used on a chain).
const FILLER_KEY = "0x0123456789012345678901234567890123456789012345678901234567890123";

function chainOf(id) {
  return defineChain({
    id,
    name: `crosscheck-${id}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: ["http://127.0.0.1:9"] } },
  });
}

// The transport: getNonce answers key << 64 | sequence, and remembers the calldata it saw.
function transportOf(chainId, state) {
  return custom({
    async request({ method, params }) {
      if (method === "eth_chainId") return `0x${chainId.toString(16)}`;
      if (method === "eth_call") {
        const { to, data } = params[0];
        if (to.toLowerCase() === entryPoint07Address.toLowerCase()) {
          const { args } = decodeFunctionData({ abi: ENTRY_POINT_ABI, data });
          state.nonceCalls.push(data);
          return encodeAbiParameters([{ type: "uint256" }], [(args[1] << 64n) | state.sequence]);
        }
      }
      throw new Error(`crosscheck transport: no answer for ${method}`);
    },
  });
}

async function accountOf({ chainId, account, privateKey, state, index }) {
  const st = state ?? { nonceCalls: [], sequence: 0n };
  return toStartaleSmartAccount({
    chain: chainOf(chainId),
    transport: transportOf(chainId, st),
    signer: privateKeyToAccount(privateKey ?? FILLER_KEY),
    accountAddress: account,
    ...(index !== undefined ? { index: BigInt(index) } : {}),
  });
}

const big = (v) => (v === undefined || v === null ? undefined : BigInt(v));

function refOf(ref) {
  switch (ref.t) {
    case "address":
    case "hex":
      return ref.v;
    case "bigint":
      return BigInt(ref.v);
    case "number":
      return Number(ref.v);
    case "bool":
      return Boolean(ref.v);
    default:
      throw new Error(`unknown ref type ${ref.t}`);
  }
}

function sessionInfoOf(s) {
  const out = {
    sessionPublicKey: s.sessionPublicKey,
    actionPoliciesInfo: s.actionPoliciesInfo.map((a) => {
      const info = { contractAddress: a.contractAddress };
      if (a.functionSelector !== undefined) info.functionSelector = a.functionSelector;
      if (a.abi !== undefined) info.abi = a.abi;
      if (a.sudo !== undefined) info.sudo = a.sudo;
      if (a.validUntil !== undefined) info.validUntil = a.validUntil;
      if (a.validAfter !== undefined) info.validAfter = a.validAfter;
      if (a.valueLimit !== undefined) info.valueLimit = BigInt(a.valueLimit);
      if (a.usageLimit !== undefined) info.usageLimit = BigInt(a.usageLimit);
      if (a.tokenLimits !== undefined) info.tokenLimits = a.tokenLimits.map((t) => ({ token: t.token, limit: BigInt(t.limit) }));
      if (a.rules !== undefined)
        info.rules = a.rules.map((r) => ({
          condition: r.condition,
          offsetIndex: r.offsetIndex,
          isLimited: r.isLimited,
          ref: refOf(r.ref),
          usage: { limit: BigInt(r.usage.limit), used: BigInt(r.usage.used) },
        }));
      return info;
    }),
  };
  for (const k of ["sessionValidUntil", "sessionValidAfter", "salt", "sessionKeyData"]) if (s[k] !== undefined) out[k] = s[k];
  return out;
}

function userOpOf(u) {
  const op = {
    sender: u.sender,
    nonce: BigInt(u.nonce),
    callData: u.callData,
    callGasLimit: BigInt(u.callGasLimit),
    verificationGasLimit: BigInt(u.verificationGasLimit),
    preVerificationGas: BigInt(u.preVerificationGas),
    maxFeePerGas: BigInt(u.maxFeePerGas),
    maxPriorityFeePerGas: BigInt(u.maxPriorityFeePerGas),
    signature: u.signature ?? "0x",
  };
  if (u.factory) Object.assign(op, { factory: u.factory, factoryData: u.factoryData });
  if (u.paymaster)
    Object.assign(op, {
      paymaster: u.paymaster,
      paymasterVerificationGasLimit: BigInt(u.paymasterVerificationGasLimit),
      paymasterPostOpGasLimit: BigInt(u.paymasterPostOpGasLimit),
      paymasterData: u.paymasterData,
    });
  return op;
}

// A client whose sendUserOperation only records the calls and encodes them as the account would.
function fakeClient(account, withPaymaster) {
  const sent = [];
  const client = {
    account,
    async sendUserOperation({ calls }) {
      sent.push({ calls, callData: await account.encodeCalls(calls) });
      return `0x${"ab".repeat(32)}`;
    },
  };
  if (withPaymaster) client.paymaster = {};
  return { client, sent };
}

const handlers = {
  async sessions(c) {
    const account = await accountOf(c);
    const { client, sent } = fakeClient(account, c.withPaymaster);
    const actions = smartSessionCreateActions()(client);
    const infos = c.sessions.map(sessionInfoOf);
    const prepared = await actions.preparePermission({ sessionRequestedInfo: infos });
    const granted = await actions.grantPermission({ sessionRequestedInfo: infos });
    return {
      permissionIds: prepared.permissionIds,
      moduleSdkPermissionIds: prepared.sessions.map((session) => getPermissionId({ session })),
      actionTarget: prepared.action.target,
      enableSessionsCallData: prepared.action.callData,
      grantPermissionIds: granted.permissionIds,
      grantCallData: sent[0].callData,
      grantCalls: sent[0].calls.length,
    };
  },

  async install(c) {
    const account = await accountOf(c);
    const { client, sent } = fakeClient(account, false);
    let module = getSmartSessionsValidator({});
    if (c.sessions) {
      const prepared = await smartSessionCreateActions()(fakeClient(account, c.withPaymaster).client).preparePermission({
        sessionRequestedInfo: c.sessions.map(sessionInfoOf),
      });
      module = getSmartSessionsValidator({ sessions: prepared.sessions, useRegistry: c.useRegistry });
    }
    await installModule(client, { module });
    return { initData: module.initData, installCallData: sent[0].callData, calls: sent[0].calls.length };
  },

  async revoke(c) {
    const account = await accountOf(c);
    const { client, sent } = fakeClient(account, false);
    await smartSessionCreateActions()(client).revokeSession({ permissionId: c.permissionId });
    const action = getRemoveSessionAction({ permissionId: c.permissionId });
    return { removeSessionCallData: action.callData, target: action.target, revokeCallData: sent[0].callData };
  },

  async execute(c) {
    const account = await accountOf(c);
    const calls = c.calls.map((x) => ({ to: x.to, value: big(x.value), data: x.data }));
    return {
      callData: await account.encodeCalls(calls),
      executeSingle: await account.encodeExecute(calls[0]),
      executeBatch: await account.encodeExecuteBatch(calls),
      modeSingle: EXECUTE_SINGLE,
      modeBatch: EXECUTE_BATCH,
    };
  },

  async userop(c) {
    const op = userOpOf(c.userOperation);
    const packed = toPackedUserOperation(op);
    return {
      hash: getUserOperationHash({ chainId: c.chainId, entryPointAddress: entryPoint07Address, entryPointVersion: "0.7", userOperation: op }),
      rpc: formatUserOperationRequest(op),
      packed: { ...packed, nonce: `0x${packed.nonce.toString(16)}`, preVerificationGas: `0x${packed.preVerificationGas.toString(16)}` },
    };
  },

  async sign(c) {
    const state = { nonceCalls: [], sequence: BigInt(c.sequence ?? 0) };
    const account = await accountOf({ ...c, state });
    const op = userOpOf(c.userOperation);
    const out = {
      ownerStub: await account.getStubSignature(),
      ownerNonce: `0x${(await account.getNonce({ key: big(c.key) })).toString(16)}`,
      ownerSignature: await account.signUserOperation(op),
      userOpHash: await account.getUserOpHash({ ...op, sender: c.account }),
    };
    if (c.permissionId) {
      const signer = privateKeyToAccount(c.privateKey);
      account.setModule(toSmartSessionsValidator({ account, signer, moduleData: { permissionIds: [c.permissionId] } }));
      out.sessionStub = await account.getStubSignature();
      out.sessionNonce = `0x${(await account.getNonce({ key: big(c.key) })).toString(16)}`;
      const sessionOp = c.sessionUserOperation ? userOpOf(c.sessionUserOperation) : op;
      out.sessionSignature = await account.signUserOperation(sessionOp);
      out.sessionUserOpHash = await account.getUserOpHash({ ...sessionOp, sender: c.account });
      out.useEncoding = encodeSmartSessionSignature({ mode: SmartSessionMode.USE, permissionId: c.permissionId, signature: getOwnableValidatorMockSignature({ threshold: 1 }) });
    }
    out.nonceCalls = state.nonceCalls;
    return out;
  },

  async factory(c) {
    const account = await accountOf(c);
    return { factory: account.factoryAddress, factoryData: account.factoryData, initCode: account.getInitCode() };
  },

  async constants() {
    return { smartSessions: SMART_SESSIONS_ADDRESS, ownableValidator: OWNABLE_VALIDATOR_ADDRESS, entryPoint: entryPoint07Address };
  },
};

async function main() {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  const { cases } = JSON.parse(text);
  const results = [];
  for (const c of cases) {
    try {
      results.push(await handlers[c.kind](c));
    } catch (error) {
      results.push({ error: String(error?.shortMessage ?? error?.message ?? error) });
    }
  }
  process.stdout.write(JSON.stringify({ results }, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
