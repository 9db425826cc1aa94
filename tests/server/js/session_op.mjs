// A session UserOperation built by a viem client and signed by `signers serve` (signers_signUserOperation),
// through the example account of plugins/server/examples/viem-session-account.ts (compiled by tsc first).
//
// Input (stdin): {"service": {url, token, address}, "rpcUrl", "bundlerUrl", "chainId", "account", "permissionId",
//                 "smartSessions", "target", "inScopeData", "outOfScopeData"}
// Output: {"userOpHash", "success", "transactionHash", "sender", "nonce", "refusal": {code, message, signed}}
import { createPublicClient, defineChain, hexToBigInt, http } from "viem";
import { createBundlerClient } from "viem/account-abstraction";
import { toSignersSessionAccount } from "./node_modules/.examples/viem-session-account.js";

async function main() {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  const job = JSON.parse(text);
  const chain = defineChain({
    id: job.chainId,
    name: "signers-local",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [job.rpcUrl] } },
  });
  const client = createPublicClient({ chain, transport: http(job.rpcUrl) });
  const account = await toSignersSessionAccount({
    client,
    accountAddress: job.account,
    permissionId: job.permissionId,
    smartSessions: job.smartSessions,
    service: job.service,
  });
  const bundler = createBundlerClient({
    client,
    account,
    transport: http(job.bundlerUrl),
    pollingInterval: 100,
    userOperation: {
      async estimateFeesPerGas({ bundlerClient }) {
        const { fast } = await bundlerClient.request({ method: "pimlico_getUserOperationGasPrice" });
        return { maxFeePerGas: hexToBigInt(fast.maxFeePerGas), maxPriorityFeePerGas: hexToBigInt(fast.maxPriorityFeePerGas) };
      },
    },
  });

  const hash = await bundler.sendUserOperation({ calls: [{ to: job.target, data: job.inScopeData }] });
  const receipt = await bundler.waitForUserOperationReceipt({ hash, timeout: 60_000 });

  // Out of scope: the same account asks the service to sign a call the grant does not cover.
  const prepared = await bundler.prepareUserOperation({ calls: [{ to: job.target, data: job.inScopeData }] });
  const outOfScope = { ...prepared, callData: await account.encodeCalls([{ to: job.target, data: job.outOfScopeData }]) };
  let refusal = { code: null, message: "", signed: null };
  try {
    refusal.signed = await account.signUserOperation(outOfScope);
  } catch (error) {
    refusal = { code: error.code ?? null, message: String(error.message).slice(0, 300), signed: null };
  }
  process.stdout.write(
    JSON.stringify({
      userOpHash: hash,
      success: receipt.success,
      transactionHash: receipt.receipt.transactionHash,
      sender: receipt.sender,
      nonce: `0x${receipt.nonce.toString(16)}`,
      refusal,
    }),
  );
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
