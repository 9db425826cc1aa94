// Compiles chain/contracts/*.sol with solc-js (npm `solc`, offline) into one JSON file:
//   { "<Contract>": { "abi": [...], "bytecode": "0x...", "deployedBytecode": "0x..." }, ... }
// Usage: node compile.cjs <node_modules dir> <output file>
"use strict";
const fs = require("fs");
const path = require("path");

const [nodeModules, outFile] = process.argv.slice(2);
if (!nodeModules || !outFile) {
  console.error("usage: node compile.cjs <node_modules dir> <output file>");
  process.exit(2);
}
const solc = require(path.join(nodeModules, "solc"));
const dir = path.join(__dirname, "contracts");
const sources = {};
for (const name of fs.readdirSync(dir).sort()) {
  if (name.endsWith(".sol")) sources[name] = { content: fs.readFileSync(path.join(dir, name), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);
const result = { _solc: solc.version() };
for (const file of Object.keys(output.contracts || {})) {
  for (const [name, c] of Object.entries(output.contracts[file])) {
    if (!c.evm.bytecode.object) continue; // interfaces and libraries without code
    result[name] = {
      abi: c.abi,
      bytecode: "0x" + c.evm.bytecode.object,
      deployedBytecode: "0x" + c.evm.deployedBytecode.object,
    };
  }
}
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile + ".tmp", JSON.stringify(result));
fs.renameSync(outFile + ".tmp", outFile);
console.error(`compiled ${Object.keys(result).length - 1} contracts with solc ${result._solc}`);
