// Prints module-sdk's (and solady-js's) ENABLE-mode encodings for the cases read (as JSON) on stdin; offline.
//
// Input:  {"cases": [{"kind": "flz" | "enable", ...}, ...]}    Output: {"results": [{...} | {"error": "..."}, ...]}
//   flz:    {data}                                  -> {compressed, decompressed}   (LibZip.flzCompress / flzDecompress)
//   enable: {sessions, account, chainIds, nonces, digests, smartSession, mode, sessionIndex, validator,
//            ownerSignature, sessionSignature, permitGenericPolicy, permitAdminAccess, ignoreSecurityAttestations}
//           -> {permissionId, permissionEnableHash, chainSessionsHash, signature, decoded}
// getEnableSessionDetails reads getNonce and getSessionDigest through a fake client that answers the values given
// (the chain's answers are what the e2e test checks), so nothing leaves the process.
import {
  decodeSmartSessionSignature,
  encodeSmartSessionSignature,
  getEnableSessionDetails,
  getPermissionId,
  hashChainSessions,
} from "@rhinestone/module-sdk";
import { LibZip } from "solady";

function sessionOf(s, chainId) {
  return {
    ...s,
    chainId: BigInt(chainId),
    erc7739Policies: {
      allowedERC7739Content: s.erc7739Policies.allowedERC7739Content,
      erc1271Policies: s.erc7739Policies.erc1271Policies,
    },
  };
}

async function enableCase(c) {
  const sessions = c.sessions.map((s, i) => sessionOf(s, c.chainIds[i]));
  const clients = [...new Set(c.chainIds)].map((id) => ({
    chain: { id },
    async readContract({ functionName, args }) {
      const i = sessions.findIndex(
        (s) => BigInt(s.chainId) === BigInt(id) && getPermissionId({ session: s }) === args[0],
      );
      if (i < 0) throw new Error(`no session for ${functionName} ${args[0]} on chain ${id}`);
      if (functionName === "getNonce") return BigInt(c.nonces[i]);
      if (functionName === "getSessionDigest") return c.digests[i];
      throw new Error(`unexpected read ${functionName}`);
    },
  }));
  const account = { address: c.account, type: "nexus", deployedOnChains: [], initCode: "0x" };
  const details = await getEnableSessionDetails({
    sessions,
    sessionIndex: c.sessionIndex,
    enableMode: c.mode,
    account,
    clients,
    enableValidatorAddress: c.validator,
    permitGenericPolicy: c.permitGenericPolicy,
    permitAdminAccess: c.permitAdminAccess,
    ignoreSecurityAttestations: c.ignoreSecurityAttestations,
  });
  details.enableSessionData.enableSession.permissionEnableSig = c.ownerSignature;
  const signature = encodeSmartSessionSignature({
    mode: details.mode,
    permissionId: details.permissionId,
    signature: c.sessionSignature,
    enableSessionData: details.enableSessionData,
  });
  const chainSessionsHash = hashChainSessions(
    sessions.map((s, i) => ({
      chainId: BigInt(c.chainIds[i]),
      session: {
        ...s,
        permissions: {
          permitGenericPolicy: c.permitGenericPolicy,
          permitAdminAccess: c.permitAdminAccess,
          ignoreSecurityAttestations: c.ignoreSecurityAttestations,
          permitERC4337Paymaster: s.permitERC4337Paymaster,
          userOpPolicies: s.userOpPolicies,
          erc7739Policies: s.erc7739Policies,
          actions: s.actions,
        },
        account: c.account,
        smartSession: c.smartSession,
        nonce: BigInt(c.nonces[i]),
      },
    })),
  );
  const decoded = decodeSmartSessionSignature({ signature, account });
  return {
    permissionId: details.permissionId,
    permissionEnableHash: details.permissionEnableHash,
    chainSessionsHash,
    signature,
    decoded: {
      mode: decoded.mode,
      permissionId: decoded.permissionId,
      signature: decoded.signature,
      validator: decoded.enableSessionData.validator,
      permissionEnableSig: decoded.enableSessionData.enableSession.permissionEnableSig,
      chainDigestIndex: decoded.enableSessionData.enableSession.chainDigestIndex,
    },
  };
}

async function run(c) {
  switch (c.kind) {
    case "flz":
      return { compressed: LibZip.flzCompress(c.data), decompressed: LibZip.flzDecompress(c.compressed ?? "0x") };
    case "enable":
      return enableCase(c);
    default:
      throw new Error(`unknown case kind ${c.kind}`);
  }
}

let text = "";
for await (const chunk of process.stdin) text += chunk;
const { cases } = JSON.parse(text);
const results = [];
for (const c of cases) {
  try {
    results.push(await run(c));
  } catch (e) {
    results.push({ error: String(e?.stack ?? e) });
  }
}
process.stdout.write(JSON.stringify({ results }, (_, v) => (typeof v === "bigint" ? v.toString() : v)));
