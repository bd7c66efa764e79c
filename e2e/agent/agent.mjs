#!/usr/bin/env node
// mlsds e2e MLS agent: one process == one simulated device.
// Protocol: line-delimited JSON on stdin/stdout, one request per line, one response per line, in order.
//   request : {"id": <any>, "op": "<name>", ...args}
//   response: {"id": <same>, "ok": true, "result": {...}} | {"id": <same>, "ok": false, "error": "..."}
// See README.md for the operations. Diagnostics go to stderr only.

import { createInterface } from "node:readline";
import { Agent, errMsg } from "./core.mjs";

// Keep stdout clean for the protocol: anything a library logs goes to stderr.
const out = process.stdout;
console.log = (...a) => console.error(...a);
console.info = (...a) => console.error(...a);
console.debug = (...a) => console.error(...a);

const agent = new Agent();
const debug = !!process.env.MLS_AGENT_DEBUG;

function send(obj) {
  out.write(JSON.stringify(obj) + "\n");
}

let chain = Promise.resolve();
let exiting = false;

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });

rl.on("line", (line) => {
  if (line.trim() === "") return;
  chain = chain.then(() => handleLine(line));
});

rl.on("close", () => {
  chain.then(() => process.exit(0));
});

async function handleLine(line) {
  if (exiting) return;
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    send({ id: null, ok: false, error: `invalid JSON request: ${e.message}` });
    return;
  }
  const id = req && typeof req === "object" && "id" in req ? req.id : null;
  if (!req || typeof req !== "object" || Array.isArray(req)) {
    send({ id, ok: false, error: "request must be a JSON object" });
    return;
  }
  if (req.op === "exit") {
    exiting = true;
    send({ id, ok: true, result: {} });
    out.write("", () => process.exit(0));
    return;
  }
  const t0 = Date.now();
  try {
    const result = await agent.handle(req);
    send({ id, ok: true, result: result ?? {} });
    if (debug) console.error(`[agent ${agent.identity ?? "-"}] ${req.op} ok ${Date.now() - t0}ms`);
  } catch (e) {
    if (debug) console.error(`[agent ${agent.identity ?? "-"}] ${req.op} failed`, e);
    send({ id, ok: false, error: errMsg(e) });
  }
}
