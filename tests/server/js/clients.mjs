// Stock ethers v6 (JsonRpcSigner) and viem v2 (JSON-RPC account) against a running `signers serve`, unchanged
// apart from the bearer token header. Prints what each produced; the Python test recovers every signature.
//
// Input (stdin):  {"url", "token", "address", "chainId", "to", "typedData": {domain, types, primaryType, message},
//                  "libraries": ["ethers", "viem"], "refuse": {"value": "<wei over the client's cap>"} | null}
// Output (stdout): {"ethers": {...}, "viem": {...}}, each {"messageText", "messageBytes", "typedData",
//                  "signedTransaction", "sentHash", "receiptStatus", "refusal" and "wrongToken": {"names", "code",
//                  "message"}}
// Numbers above 2**53 travel as decimal strings.
import { FetchRequest, JsonRpcProvider, getBytes } from "ethers";
import { createPublicClient, createWalletClient, defineChain, http } from "viem";

export const TEXT = "hello from a JavaScript client";
export const BYTES = "0x00ff10c0de";

function withoutDomainType(types) {
  const { EIP712Domain, ...rest } = types;
  return rest;
}

function refusalOf(error) {
  // ethers: code ACTION_REJECTED (from a message matching /user denied/); viem: a UserRejectedRequestError
  // (code 4001) as the cause of the action's error
  const names = [];
  let code = null;
  for (let e = error; e; e = e.cause) {
    names.push(e.name ?? "Error");
    code ??= e.code ?? null;
  }
  return {
    names,
    code,
    message: String(error?.shortMessage ?? error?.message ?? error).slice(0, 300),
  };
}

async function expectRefusal(promise) {
  try {
    await promise;
  } catch (error) {
    return refusalOf(error);
  }
  return { names: ["signed"], code: null, message: "the service signed what it should have refused" };
}

async function withEthers(job) {
  const request = new FetchRequest(job.url);
  request.setHeader("Authorization", `Bearer ${job.token}`);
  // staticNetwork: a stock provider retries a failing eth_chainId forever instead of raising
  const provider = new JsonRpcProvider(request, job.chainId, { staticNetwork: true, pollingInterval: 100 });
  const signer = await provider.getSigner(job.address);
  const { domain, types, message } = job.typedData;
  const fees = { maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n };
  const out = {
    address: await signer.getAddress(),
    messageText: await signer.signMessage(TEXT),
    messageBytes: await signer.signMessage(getBytes(BYTES)),
    typedData: await signer.signTypedData(domain, withoutDomainType(types), message),
    signedTransaction: await signer.signTransaction({
      to: job.to, value: 12345n, chainId: job.chainId, nonce: 7, gasLimit: 21000n, type: 2, ...fees,
    }),
  };
  // ethers batches what is asked within 10 ms: these five arrive as one JSON-RPC array
  out.batch = await Promise.all([0, 1, 2, 3, 4].map((i) => signer.signMessage(`${TEXT} #${i}`)));
  const sent = await signer.sendTransaction({ to: job.to, value: 1000n });
  const receipt = await sent.wait();
  out.sentHash = sent.hash;
  out.receiptStatus = receipt.status;
  if (job.refuse) out.refusal = await expectRefusal(signer.sendTransaction({ to: job.to, value: BigInt(job.refuse.value) }));
  provider.destroy();
  // A wrong token: with staticNetwork the 401 surfaces as an error instead of an endless eth_chainId retry.
  const wrong = new FetchRequest(job.url);
  wrong.setHeader("Authorization", "Bearer sgn_not-a-token");
  const stranger = new JsonRpcProvider(wrong, job.chainId, { staticNetwork: true });
  out.wrongToken = await expectRefusal(stranger.send("personal_sign", [BYTES, job.address]));
  stranger.destroy();
  return out;
}

async function withViem(job) {
  const transport = http(job.url, { fetchOptions: { headers: { Authorization: `Bearer ${job.token}` } }, retryCount: 0 });
  const chain = defineChain({
    id: job.chainId,
    name: "signers-local",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [job.url] } },
  });
  const wallet = createWalletClient({ account: job.address, chain, transport });
  const reader = createPublicClient({ chain, transport, pollingInterval: 100 });
  const out = {
    address: (await wallet.getAddresses())[0],
    messageText: await wallet.signMessage({ message: TEXT }),
    messageBytes: await wallet.signMessage({ message: { raw: BYTES } }),
    typedData: await wallet.signTypedData(job.typedData),
    signedTransaction: await wallet.signTransaction({
      to: job.to, value: 12345n, nonce: 7, gas: 21000n, maxFeePerGas: 3_000_000_000n, maxPriorityFeePerGas: 1_000_000_000n,
    }),
  };
  out.sentHash = await wallet.sendTransaction({ to: job.to, value: 1000n });
  out.receiptStatus = (await reader.waitForTransactionReceipt({ hash: out.sentHash })).status === "success" ? 1 : 0;
  if (job.refuse) out.refusal = await expectRefusal(wallet.sendTransaction({ to: job.to, value: BigInt(job.refuse.value) }));
  const stranger = createWalletClient({
    account: job.address,
    chain,
    transport: http(job.url, { fetchOptions: { headers: { Authorization: "Bearer sgn_not-a-token" } }, retryCount: 0 }),
  });
  out.wrongToken = await expectRefusal(stranger.signMessage({ message: TEXT }));
  return out;
}

async function main() {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  const job = JSON.parse(text);
  const runners = { ethers: withEthers, viem: withViem };
  const out = {};
  for (const name of job.libraries ?? ["ethers", "viem"]) out[name] = await runners[name](job);
  process.stdout.write(JSON.stringify(out, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
