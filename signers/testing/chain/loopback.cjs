// Preloaded into the Alto bundler (`node --require loopback.cjs ...`): Alto 0.0.20 hard-codes
// `fastify.listen({ host: "0.0.0.0" })` and has no host option, but the project's servers must listen on
// 127.0.0.1 only. This rewrites any wildcard listen address to LOOPBACK_HOST (default 127.0.0.1).
"use strict";
const net = require("net");

const loopback = process.env.LOOPBACK_HOST || "127.0.0.1";
const wildcard = new Set(["0.0.0.0", "::", "", undefined]);
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function (...args) {
  const [first] = args;
  if (first && typeof first === "object" && !Array.isArray(first) && first.path === undefined) {
    if (wildcard.has(first.host)) args[0] = { ...first, host: loopback };
  } else if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    // listen(port[, host][, backlog][, cb]): put the loopback host in when none (or a wildcard) is given
    if (typeof args[1] !== "string" || wildcard.has(args[1])) {
      args = [first, loopback, ...args.slice(typeof args[1] === "string" ? 2 : 1)];
    }
  }
  return listen.apply(this, args);
};
