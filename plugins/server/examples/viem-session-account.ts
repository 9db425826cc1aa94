// A viem smart account (ERC-4337 v0.7, an ERC-7579 account such as Nexus or Startale) whose session key lives
// behind `signers serve`: `signUserOperation` sends the whole op to `signers_signUserOperation`, so the service
// runs the Smart Sessions scope check on every call of the op before its HSM signs, and answers the signature
// already wrapped for Smart Sessions USE mode. The app holds a client token, never a key.
//
//   const account = await toSignersSessionAccount({ client, accountAddress, permissionId, smartSessions, service })
//   const bundler = createBundlerClient({ client, account, transport: http(BUNDLER_URL) })
//   const hash = await bundler.sendUserOperation({ calls: [{ to: counter, data: "0xd09de08a" }] })
//
// The test suite compiles this file with `tsc` (tests/server/js/tsconfig.json) and sends a session op on the
// local chain with it (tests/server/test_js_clients.py).
import {
  type Address,
  type Chain,
  type Client,
  type Hex,
  type Transport,
  concat,
  encodeAbiParameters,
  encodeFunctionData,
  encodePacked,
  parseAbi,
  toHex,
} from "viem";
import {
  type SmartAccount,
  type UserOperation,
  entryPoint07Abi,
  entryPoint07Address,
  formatUserOperationRequest,
  toSmartAccount,
} from "viem/account-abstraction";
import { readContract } from "viem/actions";

/** Where the signing service is, the client's token, and the session key's address (one of `eth_accounts`). */
export type SignersService = { url: string; token: string; address: Address };

/** An error the service answered: `code` 4001 is a policy refusal ("User denied: ..."), nothing was signed. */
export class SignersServiceError extends Error {
  constructor(
    public readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = "SignersServiceError";
  }
}

const EXECUTE_ABI = parseAbi(["function execute(bytes32 mode, bytes executionCalldata)"]);
const MODE_SINGLE: Hex = `0x${"00".repeat(32)}`;
const MODE_BATCH: Hex = `0x01${"00".repeat(31)}`;
// OwnableValidator's mock signature inside a USE-mode stub (0x00 || permissionId || signature), for gas estimation
const OWNABLE_MOCK_SIGNATURE: Hex =
  "0xe8b94748580ca0b4993c9a1b86b5be851bfc076ff5ce3a1ff65bf16392acfcb800f9b4f1aef1555c7fce5599fffb17e7c635502154a0333ba21f3ae491839af51c";
const NONCE_KEY_MODULO = 0xffffffn; // the 3-byte free part of the nonce key, as the Startale SDK reduces it

/** One JSON-RPC call to the service, with the bearer token. */
export async function callService<T>(service: SignersService, method: string, params: unknown[]): Promise<T> {
  const response = await fetch(service.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${service.token}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  const body = (await response.json()) as { result?: T; error?: { code: number; message: string } };
  if (body.error) throw new SignersServiceError(body.error.code, body.error.message);
  if (!response.ok || body.result === undefined) throw new SignersServiceError(-32603, `HTTP ${response.status}`);
  return body.result;
}

export type SignersSessionAccountParameters = {
  client: Client<Transport, Chain, undefined>; // reads the chain (EntryPoint nonces, the account's code)
  accountAddress: Address; // the deployed account that granted the session
  permissionId: Hex; // the session's permission id (from the grant)
  smartSessions: Address; // the Smart Sessions validator module installed on the account
  service: SignersService;
};

export async function toSignersSessionAccount(params: SignersSessionAccountParameters): Promise<SmartAccount> {
  const { client, accountAddress, permissionId, smartSessions, service } = params;
  const stub = concat(["0x00", permissionId, OWNABLE_MOCK_SIGNATURE]);
  return toSmartAccount({
    client,
    entryPoint: { abi: entryPoint07Abi, address: entryPoint07Address, version: "0.7" },
    async getAddress() {
      return accountAddress;
    },
    async encodeCalls(calls) {
      if (calls.length === 1) {
        const { to, value, data } = calls[0];
        const execution = encodePacked(["address", "uint256", "bytes"], [to, value ?? 0n, data ?? "0x"]);
        return encodeFunctionData({ abi: EXECUTE_ABI, functionName: "execute", args: [MODE_SINGLE, execution] });
      }
      const executions = encodeAbiParameters(
        [{ type: "tuple[]", components: [{ type: "address" }, { type: "uint256" }, { type: "bytes" }] }],
        [calls.map((c) => [c.to, c.value ?? 0n, c.data ?? "0x"] as const)],
      );
      return encodeFunctionData({ abi: EXECUTE_ABI, functionName: "execute", args: [MODE_BATCH, executions] });
    },
    async getFactoryArgs() {
      return { factory: undefined, factoryData: undefined }; // the account is deployed before a session exists
    },
    async getNonce(parameters) {
      // nonce key = free key (3 bytes) || validation mode 0 (1) || validator (20): the op validates with Smart Sessions
      const key = ((parameters?.key ?? 0n) % NONCE_KEY_MODULO << 168n) | BigInt(smartSessions);
      return readContract(client, {
        abi: entryPoint07Abi,
        address: entryPoint07Address,
        functionName: "getNonce",
        args: [accountAddress, key],
      });
    },
    async getStubSignature() {
      return stub;
    },
    async signMessage() {
      throw new Error("a session key signs UserOperations only (the service refuses anything else)");
    },
    async signTypedData() {
      throw new Error("a session key signs UserOperations only (the service refuses anything else)");
    },
    async signUserOperation(parameters) {
      const { chainId = client.chain.id, ...op } = parameters;
      const userOperation = { ...op, sender: accountAddress, signature: stub } as UserOperation<"0.7">;
      const result = await callService<{ signature: Hex; ecdsa: Hex; userOpHash: Hex }>(
        service,
        "signers_signUserOperation",
        [
          {
            userOperation: formatUserOperationRequest(userOperation),
            entryPoint: entryPoint07Address,
            chainId: toHex(chainId),
            address: service.address,
            permissionId,
          },
        ],
      );
      return result.signature; // 0x00 || permissionId || r || s || v, as the account's validator expects
    },
  });
}
