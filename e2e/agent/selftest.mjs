#!/usr/bin/env node
// Self-test of the MLS agent without any server: spawns agent processes and drives them over the
// same stdin/stdout JSON-lines protocol the Java e2e tests use. The test itself plays the role of
// the Delivery Service (it just passes the bytes around). Exits non-zero on the first failure.

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { decodeMlsMessage } from "ts-mls";

const here = path.dirname(fileURLToPath(import.meta.url));
const AGENT = path.join(here, "agent.mjs");

let passed = 0;
let failed = 0;
const procs = [];

function check(cond, name, detail) {
  if (cond) {
    passed++;
    console.log(`  ok   ${name}`);
  } else {
    failed++;
    console.log(`  FAIL ${name}${detail !== undefined ? ": " + JSON.stringify(detail) : ""}`);
    throw new Error(`check failed: ${name}`);
  }
}

class AgentProc {
  constructor(name) {
    this.name = name;
    this.nextId = 1;
    this.waiting = new Map();
    this.proc = spawn(process.execPath, [AGENT], { stdio: ["pipe", "pipe", "pipe"] });
    procs.push(this);
    this.stderr = "";
    this.proc.stderr.on("data", (d) => (this.stderr += d));
    const rl = createInterface({ input: this.proc.stdout });
    rl.on("line", (line) => {
      let msg;
      try {
        msg = JSON.parse(line);
      } catch {
        console.log(`[${name}] non-JSON stdout line: ${line}`);
        failed++;
        return;
      }
      const w = this.waiting.get(msg.id);
      if (!w) {
        console.log(`[${name}] unexpected response id ${msg.id}`);
        failed++;
        return;
      }
      this.waiting.delete(msg.id);
      w(msg);
    });
    this.proc.on("exit", (code) => {
      for (const w of this.waiting.values()) w({ ok: false, error: `agent exited with ${code}; stderr: ${this.stderr}` });
      this.waiting.clear();
    });
  }

  raw(op, args = {}) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.proc.stdin.write(JSON.stringify({ id, op, ...args }) + "\n");
    });
  }

  async call(op, args = {}) {
    const r = await this.raw(op, args);
    if (!r.ok) throw new Error(`${this.name}.${op} failed: ${r.error}`);
    return r.result;
  }

  async exit() {
    const r = await this.raw("exit");
    return r.ok;
  }
}

// ---- wire-format helpers (what the Java server sees) ---------------------------------------

const bytes = (s) => new Uint8Array(Buffer.from(s, "base64"));
const u16 = (b, o) => (b[o] << 8) | b[o + 1];
const wireFormat = (s) => {
  const b = bytes(s);
  return { version: u16(b, 0), wireFormat: u16(b, 2) };
};
const decode = (s) => decodeMlsMessage(bytes(s), 0)[0];

function varint(n) {
  // RFC 9420 2.1.2 variable-length integer
  if (n < 0x40) return Uint8Array.of(n);
  if (n < 0x4000) return Uint8Array.of(0x40 | (n >> 8), n & 0xff);
  return Uint8Array.of(0x80 | (n >>> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
}
const concat = (...arrs) => {
  const out = new Uint8Array(arrs.reduce((a, b) => a + b.length, 0));
  let o = 0;
  for (const a of arrs) {
    out.set(a, o);
    o += a.length;
  }
  return out;
};
// Independent KeyPackageRef computation: RefHash("MLS 1.0 KeyPackage Reference", KeyPackage)
function keyPackageRef(kpMessageB64) {
  const kp = bytes(kpMessageB64).subarray(4); // strip MLSMessage version + wire_format
  const label = new TextEncoder().encode("MLS 1.0 KeyPackage Reference");
  return Buffer.from(sha256(concat(varint(label.length), label, varint(kp.length), kp))).toString("hex");
}

// ---- the scenario ------------------------------------------------------------

async function main() {
  const A = new AgentProc("A");
  const B = new AgentProc("B");
  const C = new AgentProc("C");
  const D = new AgentProc("D");
  const ID = {
    A: "did:key:z6MkAliceAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    B: "did:key:z6MkBobBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    C: "did:key:z6MkCarolCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC",
    D: "did:key:z6MkDaveDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD",
  };

  console.log("# init");
  for (const [n, a] of Object.entries({ A, B, C, D })) {
    const r = await a.call("init", { identity: ID[n] });
    check(bytes(r.signaturePublicKey).length === 32 && r.suite === 1, `${n} init -> Ed25519 key, suite 1`);
  }
  const dup = await A.raw("init", { identity: "x" });
  check(!dup.ok, "second init is rejected");
  const bogus = await A.raw("noSuchOp");
  check(!bogus.ok && /unknown op/.test(bogus.error), "unknown op -> ok:false");

  console.log("# key packages");
  const bKps = (await B.call("keyPackages", { count: 2 })).keyPackages;
  check(bKps.length === 2, "B made 2 KeyPackages");
  for (const kp of bKps) {
    const wf = wireFormat(kp.keyPackage);
    check(wf.version === 1 && wf.wireFormat === 5, "KeyPackage is MLSMessage(version=1, wire_format=5)", wf);
    check(keyPackageRef(kp.keyPackage) === kp.keyPackageRef, "KeyPackageRef matches independent RefHash", kp.keyPackageRef);
    const k = decode(kp.keyPackage).keyPackage;
    const now = BigInt(Math.floor(Date.now() / 1000));
    const lt = k.leafNode.lifetime;
    check(lt.notBefore <= now && lt.notBefore >= now - 120n && lt.notAfter - now > 29n * 86400n && lt.notAfter - now <= 30n * 86400n,
      "lifetime is now-60s .. now+30d", { nb: String(lt.notBefore), na: String(lt.notAfter) });
    check(k.leafNode.credential.credentialType === "basic" && new TextDecoder().decode(k.leafNode.credential.identity) === ID.B,
      "basic credential with the DID as identity");
    check(k.leafNode.capabilities.credentials.includes("basic") && k.leafNode.capabilities.extensions.includes(10), "capabilities list basic + 0x000A");
    check(k.extensions.length === 0, "ordinary KeyPackage has no extensions");
  }
  const lr = (await B.call("keyPackages", { count: 1, lastResort: true, lifetimeSeconds: 90 * 86400 - 120 })).keyPackages[0];
  const lrk = decode(lr.keyPackage).keyPackage;
  check(lrk.extensions.length === 1 && lrk.extensions[0].extensionType === 10 && lrk.extensions[0].extensionData.length === 0,
    "last-resort KeyPackage carries extension 0x000A (empty)", lrk.extensions);
  check(lrk.leafNode.lifetime.notAfter - lrk.leafNode.lifetime.notBefore <= 90n * 86400n, "custom lifetime stays <= 90 days");

  console.log("# A creates group and adds B");
  const gid = "0123456789abcdef0123456789abcdef";
  check((await A.call("createGroup", { groupId: gid })).epoch === 0, "createGroup -> epoch 0");
  const add1 = await A.call("addMembers", { groupId: gid, keyPackages: [bKps[0].keyPackage] });
  check(wireFormat(add1.commit).wireFormat === 1, "commit is a PublicMessage (wire_format 1)");
  check(wireFormat(add1.welcome).wireFormat === 3, "welcome has wire_format 3");
  check(wireFormat(add1.groupInfo).wireFormat === 4, "groupInfo has wire_format 4");
  const pm = decode(add1.commit).publicMessage;
  check(pm.content.epoch === 0n && pm.content.contentType === "commit" && pm.content.sender.senderType === "member", "commit framed at epoch 0 by member");
  check(add1.newEpoch === 1 && add1.epoch === 0, "newEpoch 1");
  const w = decode(add1.welcome).welcome;
  check(w.secrets.length === 1 && Buffer.from(w.secrets[0].newMember).toString("hex") === bKps[0].keyPackageRef, "welcome new_member == B's KeyPackageRef");
  const gi1 = decode(add1.groupInfo).groupInfo;
  check(gi1.groupContext.epoch === 1n && Buffer.from(gi1.groupContext.groupId).toString("hex") === gid, "groupInfo is for the new epoch 1");
  check(gi1.extensions.some((e) => e.extensionType === "external_pub") && gi1.extensions.some((e) => e.extensionType === "ratchet_tree"),
    "groupInfo has external_pub + ratchet_tree");
  check((await A.call("epoch", { groupId: gid })).epoch === 0, "commit is pending: A still at epoch 0");
  check(!(await A.raw("update", { groupId: gid })).ok, "second pending commit is refused");
  check((await A.call("applyPending", { groupId: gid })).epoch === 1, "applyPending -> epoch 1");
  const jB = await B.call("join", { welcome: add1.welcome });
  check(jB.groupId === gid && jB.epoch === 1, "B joins from Welcome without out-of-band ratchet tree");
  const echo = await A.call("process", { groupId: gid, message: add1.commit });
  check(echo.kind === "commit" && echo.own === true && echo.epoch === 1, "A re-processing its own applied commit is a no-op", echo);

  console.log("# messages A <-> B");
  const m1 = await A.call("encrypt", { groupId: gid, plaintext: "hello B ✓" });
  check(wireFormat(m1.message).wireFormat === 2 && m1.epoch === 1, "application message is a PrivateMessage (wire_format 2)");
  const r1 = await B.call("process", { groupId: gid, message: m1.message });
  check(r1.kind === "application" && r1.plaintext === "hello B ✓", "B decrypts A's message", r1);
  const m2 = await B.call("encrypt", { groupId: gid, plaintext: "hello A" });
  const r2 = await A.call("process", { groupId: gid, message: m2.message });
  check(r2.kind === "application" && r2.plaintext === "hello A", "A decrypts B's message", r2);
  const own = await A.call("process", { groupId: gid, message: m1.message });
  check(own.kind === "application" && own.own === true && own.plaintext === "hello B ✓", "A's own message echoed back is reported as own", own);
  const ins = await B.call("inspect", { message: m1.message });
  check(ins.wireFormat === 2 && ins.groupId === gid && ins.epoch === 1 && ins.contentType === "application", "inspect PrivateMessage", ins);
  const insKp = await A.call("inspect", { message: lr.keyPackage });
  check(insKp.keyPackageRef === lr.keyPackageRef && insKp.identity === ID.B && insKp.extensions.join() === "10", "inspect KeyPackage", insKp);
  const insW = await A.call("inspect", { message: add1.welcome });
  check(insW.wireFormat === 3 && insW.newMembers.join() === bKps[0].keyPackageRef, "inspect Welcome", insW);
  const insC = await A.call("inspect", { message: add1.commit });
  check(insC.wireFormat === 1 && insC.epoch === 0 && insC.senderType === "member" && insC.proposals[0].type === "add", "inspect commit", insC);

  console.log("# A adds C");
  const cKp = (await C.call("keyPackages", { count: 1 })).keyPackages[0];
  const add2 = await A.call("addMembers", { groupId: gid, keyPackages: [cKp.keyPackage] });
  await A.call("applyPending", { groupId: gid });
  const rb = await B.call("process", { groupId: gid, message: add2.commit });
  check(rb.kind === "commit" && rb.epoch === 2, "B processes add-C commit -> epoch 2", rb);
  const dupl = await B.call("process", { groupId: gid, message: add2.commit });
  check(dupl.kind === "commit" && dupl.duplicate === true && dupl.epoch === 2, "duplicate delivery of a commit is a no-op", dupl);
  const jC = await C.call("join", { welcome: add2.welcome });
  check(jC.epoch === 2, "C joins at epoch 2");
  const mem = await C.call("members", { groupId: gid });
  check(mem.members.map((m) => m.identity).join() === [ID.A, ID.B, ID.C].join(), "members are A,B,C", mem);
  const m3 = await C.call("encrypt", { groupId: gid, plaintext: "hi all from C" });
  check((await A.call("process", { groupId: gid, message: m3.message })).plaintext === "hi all from C", "A decrypts C");
  check((await B.call("process", { groupId: gid, message: m3.message })).plaintext === "hi all from C", "B decrypts C");

  console.log("# commit race: B and C both commit at epoch 2, the DS accepts B's");
  const bUpd = await B.call("update", { groupId: gid });
  const cUpd = await C.call("update", { groupId: gid });
  check(bUpd.newEpoch === 3 && cUpd.newEpoch === 3, "both commits target epoch 3");
  await B.call("applyPending", { groupId: gid });
  const rc = await C.call("process", { groupId: gid, message: bUpd.commit });
  check(rc.kind === "commit" && rc.epoch === 3 && rc.discardedPending === true, "C processes winning commit, its own pending commit is discarded", rc);
  check((await A.call("process", { groupId: gid, message: bUpd.commit })).epoch === 3, "A processes B's update");
  const lost = await A.raw("process", { groupId: gid, message: cUpd.commit });
  check(!lost.ok, "the losing commit is rejected by members (stale epoch)", lost.error);

  console.log("# A removes B");
  const rem = await A.call("remove", { groupId: gid, identity: ID.B });
  check(rem.newEpoch === 4 && rem.removedLeafIndices.join() === "1" && wireFormat(rem.commit).wireFormat === 1 && rem.welcome === undefined,
    "remove-by-identity commit (PublicMessage, no welcome)", rem.removedLeafIndices);
  await A.call("applyPending", { groupId: gid });
  check((await C.call("process", { groupId: gid, message: rem.commit })).epoch === 4, "C processes removal");
  const rbr = await B.call("process", { groupId: gid, message: rem.commit });
  check(rbr.kind === "commit" && rbr.removed === true, "B learns it was removed", rbr);
  const m4 = await A.call("encrypt", { groupId: gid, plaintext: "B is gone" });
  check((await C.call("process", { groupId: gid, message: m4.message })).plaintext === "B is gone", "C decrypts post-removal message");
  const bFail = await B.raw("process", { groupId: gid, message: m4.message });
  check(!bFail.ok, "B cannot decrypt post-removal message", bFail.error);
  check(!(await B.raw("encrypt", { groupId: gid, plaintext: "x" })).ok, "B cannot send after removal");
  const memA = await A.call("members", { groupId: gid });
  check(memA.members.map((m) => m.identity).join() === [ID.A, ID.C].join(), "members are A,C", memA);

  console.log("# C self-update, A processes");
  const cu = await C.call("update", { groupId: gid });
  check(decode(cu.commit).publicMessage.content.commit.path !== undefined, "update commit carries an UpdatePath");
  await C.call("applyPending", { groupId: gid });
  check((await A.call("process", { groupId: gid, message: cu.commit })).epoch === 5, "A processes C's update -> epoch 5");
  const m5 = await A.call("encrypt", { groupId: gid, plaintext: "after update" });
  check((await C.call("process", { groupId: gid, message: m5.message })).plaintext === "after update", "C decrypts after its update");

  console.log("# pending discard");
  const dis = await A.call("update", { groupId: gid });
  check((await A.call("discardPending", { groupId: gid })).discarded === true, "discardPending");
  check((await A.call("epoch", { groupId: gid })).epoch === 5 && dis.newEpoch === 6, "epoch unchanged after discard");

  console.log("# external join by fresh device D");
  const giNow = (await C.call("groupInfo", { groupId: gid })).groupInfo;
  check(decode(giNow).groupInfo.groupContext.epoch === 5n, "groupInfo op returns the current epoch");
  const ej = await D.call("externalJoin", { groupInfo: giNow });
  const ejm = decode(ej.commit);
  check(ejm.wireformat === "mls_public_message" && ejm.publicMessage.content.sender.senderType === "new_member_commit" && ejm.publicMessage.content.epoch === 5n,
    "external commit is PublicMessage, sender new_member_commit, epoch 5");
  check(ej.groupId === gid && ej.epoch === 6 && ej.removedLeafIndex === undefined, "D is in the group at epoch 6", ej);
  check((await A.call("process", { groupId: gid, message: ej.commit })).epoch === 6, "A processes D's external commit");
  check((await C.call("process", { groupId: gid, message: ej.commit })).epoch === 6, "C processes D's external commit");
  const m6 = await D.call("encrypt", { groupId: gid, plaintext: "D here" });
  check((await A.call("process", { groupId: gid, message: m6.message })).plaintext === "D here", "A decrypts D");
  const m7 = await A.call("encrypt", { groupId: gid, plaintext: "welcome D" });
  check((await D.call("process", { groupId: gid, message: m7.message })).plaintext === "welcome D", "D decrypts A");

  console.log("# resync: C loses its state and rejoins externally (old leaf removed in the same commit)");
  const giFromAddUpdate = (await A.call("groupInfo", { groupId: gid })).groupInfo;
  const cLeaf = (await A.call("members", { groupId: gid })).members.find((m) => m.identity === ID.C).leafIndex;
  await C.call("forget", { groupId: gid });
  check(!(await C.raw("epoch", { groupId: gid })).ok, "C has no state for the group");
  const ej2 = await C.call("externalJoin", { groupInfo: giFromAddUpdate });
  check(ej2.epoch === 7 && ej2.removedLeafIndex === cLeaf, "C rejoins at epoch 7 replacing its old leaf", ej2);
  check((await A.call("process", { groupId: gid, message: ej2.commit })).epoch === 7, "A processes C's resync commit");
  check((await D.call("process", { groupId: gid, message: ej2.commit })).epoch === 7, "D processes C's resync commit");
  const memR = await D.call("members", { groupId: gid });
  check(memR.members.filter((m) => m.identity === ID.C).length === 1, "C appears exactly once", memR);

  console.log("# rejoin from a brand-new process with the same DID (new signature key)");
  const C2 = new AgentProc("C2");
  await C2.call("init", { identity: ID.C });
  const ej3 = await C2.call("externalJoin", { groupInfo: (await D.call("groupInfo", { groupId: gid })).groupInfo, identity: ID.C });
  check(ej3.epoch === 8 && ej3.removedLeafIndex === ej2.leafIndex, "C2 replaces C's leaf", ej3);
  check((await A.call("process", { groupId: gid, message: ej3.commit })).epoch === 8, "A processes C2's commit");
  check((await D.call("process", { groupId: gid, message: ej3.commit })).epoch === 8, "D processes C2's commit");
  const rOld = await C.call("process", { groupId: gid, message: ej3.commit });
  check(rOld.removed === true, "old C process learns its leaf was replaced", rOld);
  const m8 = await C2.call("encrypt", { groupId: gid, plaintext: "C2 back" });
  check((await A.call("process", { groupId: gid, message: m8.message })).plaintext === "C2 back", "A decrypts C2");
  check((await D.call("process", { groupId: gid, message: m8.message })).plaintext === "C2 back", "D decrypts C2");
  const memF = await A.call("members", { groupId: gid });
  check(memF.epoch === 8 && memF.members.map((m) => m.identity).sort().join() === [ID.A, ID.C, ID.D].sort().join(), "final members A,C,D", memF);

  console.log("# a second device of an existing DID joins externally (no replacement), then the DID is removed");
  const D2 = new AgentProc("D2");
  await D2.call("init", { identity: ID.D });
  const ej4 = await D2.call("externalJoin", { groupInfo: (await A.call("groupInfo", { groupId: gid })).groupInfo });
  check(ej4.epoch === 9 && ej4.removedLeafIndex === undefined, "D2 joins as an additional leaf", ej4);
  for (const [n, x] of [["A", A], ["C2", C2], ["D", D]]) {
    const r = await x.call("process", { groupId: gid, message: ej4.commit });
    check(r.epoch === 9 && r.senderType === "new_member_commit", `${n} processes D2's external commit`, r);
  }
  const memD = await A.call("members", { groupId: gid });
  check(memD.members.filter((m) => m.identity === ID.D).length === 2, "D has two leaves", memD);
  const remD = await C2.call("remove", { groupId: gid, identity: ID.D });
  check(remD.removedLeafIndices.length === 2, "remove by identity targets both of D's leaves", remD.removedLeafIndices);
  check((await C2.call("process", { groupId: gid, message: remD.commit })).epoch === 10, "C2 gets its own commit back from the DS -> pending applied");
  check((await A.call("process", { groupId: gid, message: remD.commit })).epoch === 10, "A processes D's removal");
  check((await D.call("process", { groupId: gid, message: remD.commit })).removed === true, "D learns it was removed");
  check((await D2.call("process", { groupId: gid, message: remD.commit })).removed === true, "D2 learns it was removed");
  const m10 = await A.call("encrypt", { groupId: gid, plaintext: "just us" });
  check((await C2.call("process", { groupId: gid, message: m10.message })).plaintext === "just us", "C2 decrypts at epoch 10");
  check(!(await D2.raw("process", { groupId: gid, message: m10.message })).ok, "D2 cannot decrypt at epoch 10");
  const memE = await A.call("members", { groupId: gid });
  check(memE.members.map((m) => m.identity).sort().join() === [ID.A, ID.C].sort().join(), "members are A,C", memE);

  console.log("# last-resort KeyPackage is reusable");
  const g2 = "aa01", g3 = "aa02";
  await A.call("createGroup", { groupId: g2 });
  await D.call("createGroup", { groupId: g3 });
  const a2 = await A.call("addMembers", { groupId: g2, keyPackages: [lr.keyPackage] });
  const a3 = await D.call("addMembers", { groupId: g3, keyPackages: [lr.keyPackage] });
  await A.call("applyPending", { groupId: g2 });
  await D.call("applyPending", { groupId: g3 });
  check((await B.call("join", { welcome: a2.welcome })).groupId === g2, "B joins group 2 with the last-resort KeyPackage");
  check((await B.call("join", { welcome: a3.welcome })).groupId === g3, "B joins group 3 with the same last-resort KeyPackage");
  const onceOnly = await B.raw("join", { welcome: add1.welcome });
  check(!onceOnly.ok, "an ordinary KeyPackage is single-use", onceOnly.error);
  const m9 = await B.call("encrypt", { groupId: g3, plaintext: "in g3" });
  check((await D.call("process", { groupId: g3, message: m9.message })).plaintext === "in g3", "D decrypts B in group 3");

  for (const p of procs) check(await p.exit(), `${p.name} exits`);
}

const timer = setTimeout(() => {
  console.log("selftest timed out");
  for (const p of procs) p.proc.kill();
  process.exit(2);
}, 120_000);

main()
  .catch((e) => {
    if (!String(e.message).startsWith("check failed")) {
      failed++;
      console.log(`  FAIL ${e.message}`);
    }
  })
  .finally(() => {
    clearTimeout(timer);
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill();
    console.log(`${passed} passed, ${failed} failed`);
    process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
  });
