// MLS client core for the mlsds end-to-end test agent, built on ts-mls.
// One Agent instance == one simulated device (one identity, one signature key).
// Every public method takes a plain request object and returns a plain result object
// (binary values as base64 strings). Errors are thrown as Error with a readable message.

import {
  createGroup,
  joinGroup,
  createCommit,
  createApplicationMessage,
  processMessage,
  joinGroupExternal,
  createGroupInfoWithExternalPubAndRatchetTree,
  generateKeyPackageWithKey,
  getCiphersuiteImpl,
  getCiphersuiteFromName,
  ciphersuites,
  encodeMlsMessage,
  decodeMlsMessage,
  emptyPskIndex,
  acceptAll,
  defaultKeyRetentionConfig,
  defaultPaddingConfig,
  defaultAuthenticationService,
  defaultKeyPackageEqualityConfig,
} from "ts-mls";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { decodeRatchetTree } from "ts-mls/ratchetTree.js";

export const LAST_RESORT_EXTENSION_TYPE = 0x000a;
const DEFAULT_SUITE = "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519";
const DEFAULT_LIFETIME_SECONDS = 30 * 24 * 3600;
const NOT_BEFORE_SKEW_SECONDS = 60;

const utf8 = new TextEncoder();
const utf8dec = new TextDecoder("utf-8", { fatal: false });

// ---- encoding helpers -------------------------------------------------------

export function b64(bytes) {
  return Buffer.from(bytes).toString("base64");
}

export function unb64(s, what = "value") {
  if (typeof s !== "string") throw new Error(`${what}: expected base64 string`);
  // Buffer.from accepts both padded and unpadded standard (and url-safe) alphabets.
  return new Uint8Array(Buffer.from(s, "base64"));
}

export function hex(bytes) {
  return Buffer.from(bytes).toString("hex");
}

function unhex(s, what = "value") {
  if (typeof s !== "string" || !/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error(`${what}: expected hex string`);
  return new Uint8Array(Buffer.from(s, "hex"));
}

function decodeMls(bytes, what) {
  let decoded;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch (e) {
    throw new Error(`${what}: cannot decode MLSMessage: ${e?.message ?? e}`);
  }
  if (decoded === undefined) throw new Error(`${what}: cannot decode MLSMessage`);
  const [msg, consumed] = decoded;
  if (consumed !== bytes.length) throw new Error(`${what}: ${bytes.length - consumed} trailing bytes after MLSMessage`);
  return msg;
}

function expectWire(msg, wireformat, what) {
  if (msg.wireformat !== wireformat) throw new Error(`${what}: expected ${wireformat}, got ${msg.wireformat}`);
  return msg;
}

const encMessage = (m) => encodeMlsMessage({ version: "mls10", ...m });

function suiteName(suite) {
  if (suite === undefined || suite === null) return DEFAULT_SUITE;
  if (typeof suite === "number") {
    const name = Object.keys(ciphersuites).find((k) => ciphersuites[k] === suite);
    if (!name) throw new Error(`unknown cipher suite id ${suite}`);
    return name;
  }
  if (typeof suite === "string" && suite in ciphersuites) return suite;
  if (typeof suite === "string" && /^\d+$/.test(suite)) return suiteName(Number(suite));
  throw new Error(`unknown cipher suite ${JSON.stringify(suite)}`);
}

function errMsg(e) {
  if (e instanceof Error) {
    const name = e.constructor?.name && e.constructor.name !== "Error" ? e.constructor.name + ": " : "";
    return name + e.message;
  }
  return String(e);
}

// Leaf identities are compared as raw credential bytes.
function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function leaves(tree) {
  const out = [];
  for (let i = 0; i < tree.length; i += 2) {
    const n = tree[i];
    if (n !== undefined && n.nodeType === "leaf") out.push({ leafIndex: i / 2, leaf: n.leaf });
  }
  return out;
}

function leafIdentity(leaf) {
  return leaf.credential.credentialType === "basic" ? leaf.credential.identity : new Uint8Array();
}

function clientConfig() {
  return {
    keyRetentionConfig: defaultKeyRetentionConfig,
    // ts-mls only checks a KeyPackage lifetime against the clock when it is the committer;
    // maximumTotalLifetime is not enforced by ts-mls 1.6.4. The server enforces the 90-day cap.
    lifetimeConfig: { maximumTotalLifetime: 10n * 365n * 24n * 3600n, validateLifetimeOnReceive: false },
    keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
    paddingConfig: defaultPaddingConfig,
    authService: defaultAuthenticationService,
  };
}

const SENT_CACHE_MAX = 2000;

function newGroupRecord(state) {
  // ownCommits: commits we created and merged (b64) -> re-delivery is a no-op.
  // seenCommits: commits from others we already merged (b64 -> epoch after) -> duplicate delivery is a no-op.
  // sent: application messages we encrypted (b64 -> plaintext bytes) -> our own echo is reported, not decrypted.
  return { state, pending: undefined, ownCommits: new Set(), seenCommits: new Map(), sent: new Map() };
}

const WIRE_FORMATS = { mls_public_message: 1, mls_private_message: 2, mls_welcome: 3, mls_group_info: 4, mls_key_package: 5 };

// ---- the agent --------------------------------------------------------------

export class Agent {
  constructor() {
    this.identity = undefined; // string
    this.cs = undefined; // CiphersuiteImpl
    this.sigKeys = undefined; // {signKey, publicKey}
    this.kpStore = new Map(); // refHex -> {publicPackage, privatePackage, lastResort}
    this.groups = new Map(); // groupIdHex -> {state, pending?, ownCommits:Set<b64>}
  }

  requireInit() {
    if (!this.cs) throw new Error("agent not initialised: call init first");
  }

  group(groupIdHex) {
    if (typeof groupIdHex !== "string") throw new Error("groupId (hex) required");
    const g = this.groups.get(groupIdHex.toLowerCase());
    if (!g) throw new Error(`unknown group ${groupIdHex}`);
    return g;
  }

  credential() {
    return { credentialType: "basic", identity: utf8.encode(this.identity) };
  }

  capabilities({ lastResort = true, grease = false } = {}) {
    const extensions = lastResort ? [LAST_RESORT_EXTENSION_TYPE] : [];
    if (grease) extensions.push(0x0a0a);
    return {
      versions: ["mls10"],
      ciphersuites: [this.cs.name],
      extensions,
      proposals: [],
      credentials: ["basic"],
    };
  }

  async newKeyPackage({ lastResort = false, lifetimeSeconds = DEFAULT_LIFETIME_SECONDS, notBefore, notAfter, grease = false } = {}) {
    const now = BigInt(Math.floor(Date.now() / 1000));
    const lifetime = {
      notBefore: notBefore !== undefined ? BigInt(notBefore) : now - BigInt(NOT_BEFORE_SKEW_SECONDS),
      notAfter: notAfter !== undefined ? BigInt(notAfter) : now + BigInt(Math.floor(lifetimeSeconds)),
    };
    const extensions = lastResort ? [{ extensionType: LAST_RESORT_EXTENSION_TYPE, extensionData: new Uint8Array() }] : [];
    // The capabilities always list 0x000A, so last-resort and ordinary KeyPackages share one leaf shape.
    const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
      this.credential(),
      this.capabilities({ lastResort: true, grease }),
      lifetime,
      extensions,
      this.sigKeys,
      this.cs,
    );
    const ref = await makeKeyPackageRef(publicPackage, this.cs.hash);
    return { publicPackage, privatePackage, ref };
  }

  // ---- ops ----

  async init({ identity, suite }) {
    if (typeof identity !== "string" || identity.length === 0) throw new Error("identity (string) required");
    if (this.cs) throw new Error("agent already initialised");
    const name = suiteName(suite);
    this.cs = await getCiphersuiteImpl(getCiphersuiteFromName(name));
    this.sigKeys = await this.cs.signature.keygen();
    this.identity = identity;
    return { signaturePublicKey: b64(this.sigKeys.publicKey), suite: ciphersuites[name], suiteName: name };
  }

  async keyPackages({ count = 1, lastResort = false, lifetimeSeconds, notBefore, notAfter, grease }) {
    this.requireInit();
    if (!Number.isInteger(count) || count < 0 || count > 1000) throw new Error("count must be an integer 0..1000");
    const out = [];
    for (let i = 0; i < count; i++) {
      const kp = await this.newKeyPackage({ lastResort, lifetimeSeconds, notBefore, notAfter, grease });
      const refHex = hex(kp.ref);
      this.kpStore.set(refHex, { publicPackage: kp.publicPackage, privatePackage: kp.privatePackage, lastResort: !!lastResort });
      out.push({
        keyPackage: b64(encMessage({ wireformat: "mls_key_package", keyPackage: kp.publicPackage })),
        keyPackageRef: refHex,
      });
    }
    return { keyPackages: out };
  }

  async createGroup({ groupId }) {
    this.requireInit();
    const gid = unhex(groupId, "groupId");
    if (gid.length === 0) throw new Error("groupId must not be empty");
    const key = groupId.toLowerCase();
    if (this.groups.has(key)) throw new Error(`group ${groupId} already exists locally`);
    const kp = await this.newKeyPackage({});
    const state = await createGroup(gid, kp.publicPackage, kp.privatePackage, [], this.cs, clientConfig());
    this.groups.set(key, newGroupRecord(state));
    return { groupId: key, epoch: Number(state.groupContext.epoch) };
  }

  async groupInfoFor(state) {
    const gi = await createGroupInfoWithExternalPubAndRatchetTree(state, [], this.cs);
    return b64(encMessage({ wireformat: "mls_group_info", groupInfo: gi }));
  }

  async makePending(g, proposals, kind) {
    if (g.pending) throw new Error(`group already has a pending ${g.pending.kind} commit for epoch ${g.pending.newState.groupContext.epoch}; applyPending or discardPending first`);
    const res = await createCommit(
      { state: g.state, cipherSuite: this.cs },
      { extraProposals: proposals, wireAsPublicMessage: true, ratchetTreeExtension: true },
    );
    const commitBytes = encodeMlsMessage(res.commit);
    const pending = { kind, newState: res.newState, commit: b64(commitBytes) };
    g.pending = pending;
    const out = {
      commit: pending.commit,
      groupInfo: await this.groupInfoFor(res.newState),
      epoch: Number(g.state.groupContext.epoch),
      newEpoch: Number(res.newState.groupContext.epoch),
    };
    if (res.welcome) out.welcome = b64(encMessage({ wireformat: "mls_welcome", welcome: res.welcome }));
    return out;
  }

  async addMembers({ groupId, keyPackages }) {
    this.requireInit();
    const g = this.group(groupId);
    if (!Array.isArray(keyPackages) || keyPackages.length === 0) throw new Error("keyPackages (non-empty array) required");
    const proposals = keyPackages.map((kpb, i) => {
      const msg = expectWire(decodeMls(unb64(kpb, `keyPackages[${i}]`), `keyPackages[${i}]`), "mls_key_package", `keyPackages[${i}]`);
      return { proposalType: "add", add: { keyPackage: msg.keyPackage } };
    });
    return this.makePending(g, proposals, "add");
  }

  async remove({ groupId, leafIndex, leafIndices, identity }) {
    this.requireInit();
    const g = this.group(groupId);
    const own = g.state.privatePath.leafIndex;
    const present = leaves(g.state.ratchetTree);
    let targets = [];
    if (leafIndex !== undefined) targets.push(leafIndex);
    if (Array.isArray(leafIndices)) targets.push(...leafIndices);
    if (identity !== undefined) {
      const idb = utf8.encode(identity);
      const matches = present.filter((l) => sameBytes(leafIdentity(l.leaf), idb)).map((l) => l.leafIndex);
      if (matches.length === 0) throw new Error(`no member with identity ${identity}`);
      targets.push(...matches.filter((i) => i !== own));
      if (targets.length === 0) throw new Error(`only our own leaf has identity ${identity}; a member cannot commit its own removal`);
    }
    targets = [...new Set(targets)];
    if (targets.length === 0) throw new Error("leafIndex, leafIndices or identity required");
    for (const t of targets) {
      if (!Number.isInteger(t)) throw new Error(`bad leaf index ${t}`);
      if (t === own) throw new Error("a member cannot commit its own removal");
      if (!present.some((l) => l.leafIndex === t)) throw new Error(`leaf ${t} is blank / not a member`);
    }
    const proposals = targets.map((t) => ({ proposalType: "remove", remove: { removed: t } }));
    const res = await this.makePending(g, proposals, "remove");
    return { ...res, removedLeafIndices: targets };
  }

  async update({ groupId }) {
    this.requireInit();
    const g = this.group(groupId);
    // No proposals => ts-mls creates a full UpdatePath (the RFC requires a path for empty commits).
    return this.makePending(g, [], "update");
  }

  async applyPending({ groupId }) {
    const g = this.group(groupId);
    if (!g.pending) throw new Error("no pending commit");
    g.state = g.pending.newState;
    g.ownCommits.add(g.pending.commit);
    g.pending = undefined;
    return { epoch: Number(g.state.groupContext.epoch) };
  }

  async discardPending({ groupId }) {
    const g = this.group(groupId);
    const had = !!g.pending;
    g.pending = undefined;
    return { discarded: had, epoch: Number(g.state.groupContext.epoch) };
  }

  async join({ welcome, ratchetTree }) {
    this.requireInit();
    const msg = expectWire(decodeMls(unb64(welcome, "welcome"), "welcome"), "mls_welcome", "welcome");
    const w = msg.welcome;
    let entry;
    let refHex;
    for (const s of w.secrets) {
      const h = hex(s.newMember);
      if (this.kpStore.has(h)) {
        entry = this.kpStore.get(h);
        refHex = h;
        break;
      }
    }
    if (!entry) throw new Error(`Welcome is not for any of our KeyPackages (new_member refs: ${w.secrets.map((s) => hex(s.newMember)).join(",")})`);
    let tree;
    if (ratchetTree !== undefined && ratchetTree !== null) {
      const d = decodeRatchetTree(unb64(ratchetTree, "ratchetTree"), 0);
      if (!d) throw new Error("cannot decode ratchetTree");
      tree = d[0];
    }
    const state = await joinGroup(w, entry.publicPackage, entry.privatePackage, emptyPskIndex, this.cs, tree, undefined, clientConfig());
    if (!entry.lastResort) this.kpStore.delete(refHex);
    const key = hex(state.groupContext.groupId);
    this.groups.set(key, newGroupRecord(state));
    return { groupId: key, epoch: Number(state.groupContext.epoch), keyPackageRef: refHex, leafIndex: state.privatePath.leafIndex };
  }

  async encrypt({ groupId, plaintext, plaintextBase64 }) {
    this.requireInit();
    const g = this.group(groupId);
    if (g.state.groupActiveState.kind === "removedFromGroup") throw new Error("removed from group");
    let data;
    if (typeof plaintext === "string") data = utf8.encode(plaintext);
    else if (typeof plaintextBase64 === "string") data = unb64(plaintextBase64, "plaintextBase64");
    else throw new Error("plaintext (string) required");
    const res = await createApplicationMessage(g.state, data, this.cs);
    g.state = res.newState;
    const message = encMessage({ wireformat: "mls_private_message", privateMessage: res.privateMessage });
    g.sent.set(b64(message), data);
    if (g.sent.size > SENT_CACHE_MAX) g.sent.delete(g.sent.keys().next().value);
    return { message: b64(message), epoch: Number(g.state.groupContext.epoch) };
  }

  async process({ groupId, message }) {
    this.requireInit();
    const bytes = unb64(message, "message");
    const msg = decodeMls(bytes, "message");
    let framed;
    if (msg.wireformat === "mls_public_message") framed = { groupId: msg.publicMessage.content.groupId, epoch: msg.publicMessage.content.epoch, contentType: msg.publicMessage.content.contentType };
    else if (msg.wireformat === "mls_private_message") framed = msg.privateMessage;
    else throw new Error(`cannot process ${msg.wireformat} (only PublicMessage / PrivateMessage)`);
    const gidHex = hex(framed.groupId);
    if (groupId !== undefined && groupId.toLowerCase() !== gidHex) throw new Error(`message is for group ${gidHex}, not ${groupId}`);
    const g = this.group(gidHex);
    const state = g.state;
    const epoch = state.groupContext.epoch;
    const b64msg = b64(bytes);

    if (framed.contentType === "application" && g.sent.has(b64msg)) {
      const data = g.sent.get(b64msg);
      return { kind: "application", own: true, plaintext: utf8dec.decode(data), plaintextBase64: b64(data), epoch: Number(framed.epoch) };
    }
    if (framed.contentType === "commit") {
      if (g.seenCommits.has(b64msg)) {
        return { kind: "commit", duplicate: true, epoch: Number(epoch) };
      }
      if (g.ownCommits.has(b64msg)) {
        return { kind: "commit", own: true, alreadyApplied: true, epoch: Number(epoch) };
      }
      if (g.pending && g.pending.commit === b64msg) {
        await this.applyPending({ groupId: gidHex });
        return { kind: "commit", own: true, epoch: Number(g.state.groupContext.epoch) };
      }
    }
    if (state.groupActiveState.kind === "removedFromGroup") throw new Error("removed from group: cannot process further messages");
    if (framed.epoch > epoch) throw new Error(`message is from future epoch ${framed.epoch} (local epoch ${epoch}); missing commits?`);
    if (framed.contentType !== "application" && framed.epoch < epoch)
      throw new Error(`${framed.contentType} is from old epoch ${framed.epoch} (local epoch ${epoch})`);

    let discardedPending = false;
    let res;
    try {
      res = await processMessage(msg, state, emptyPskIndex, acceptAll, this.cs);
    } catch (e) {
      // ts-mls 1.6.4 does not detect that an *external* commit (resync) removes our own leaf: it tries to
      // decrypt the UpdatePath and fails. A PublicMessage commit whose Remove targets our leaf means we are out.
      if (msg.wireformat === "mls_public_message" && framed.contentType === "commit" && framed.epoch === epoch &&
          this.commitRemovesLeaf(msg.publicMessage.content.commit, state, state.privatePath.leafIndex)) {
        g.state = { ...state, groupActiveState: { kind: "removedFromGroup" } };
        g.pending = undefined;
        return { kind: "commit", removed: true, epoch: Number(framed.epoch) + 1, external: msg.publicMessage.content.sender.senderType === "new_member_commit" };
      }
      throw e;
    }
    if (res.kind === "applicationMessage") {
      g.state = res.newState;
      return { kind: "application", plaintext: utf8dec.decode(res.message), plaintextBase64: b64(res.message), epoch: Number(framed.epoch) };
    }
    if (framed.contentType === "commit") {
      // Another member's commit won this epoch: our pending commit (if any) is obsolete.
      if (g.pending) {
        g.pending = undefined;
        discardedPending = true;
      }
    }
    g.state = res.newState;
    if (framed.contentType === "proposal") return { kind: "proposal", epoch: Number(g.state.groupContext.epoch) };
    const removed = g.state.groupActiveState.kind === "removedFromGroup";
    const out = { kind: "commit", epoch: Number(g.state.groupContext.epoch) };
    if (!removed) g.seenCommits.set(b64msg, Number(g.state.groupContext.epoch));
    if (msg.wireformat === "mls_public_message") {
      const snd = msg.publicMessage.content.sender;
      out.senderType = snd.senderType;
      if (snd.senderType === "member") out.senderLeafIndex = snd.leafIndex;
    }
    if (removed) {
      out.removed = true;
      // ts-mls leaves the epoch unchanged for a removed member; report the commit's target epoch.
      out.epoch = Number(framed.epoch) + 1;
    }
    if (discardedPending) out.discardedPending = true;
    return out;
  }

  commitRemovesLeaf(commit, state, leafIndex) {
    for (const p of commit.proposals) {
      let proposal;
      if (p.proposalOrRefType === "proposal") proposal = p.proposal;
      else proposal = state.unappliedProposals[b64(p.reference)]?.proposal;
      if (proposal?.proposalType === "remove" && proposal.remove.removed === leafIndex) return true;
    }
    return false;
  }

  async externalJoin({ groupInfo, identity, replaceLeafIndex, resync = true, ratchetTree }) {
    this.requireInit();
    const msg = expectWire(decodeMls(unb64(groupInfo, "groupInfo"), "groupInfo"), "mls_group_info", "groupInfo");
    const gi = msg.groupInfo;
    let tree;
    if (ratchetTree !== undefined && ratchetTree !== null) {
      const d = decodeRatchetTree(unb64(ratchetTree, "ratchetTree"), 0);
      if (!d) throw new Error("cannot decode ratchetTree");
      tree = d[0];
    }
    // ts-mls prefers the GroupInfo's ratchet_tree extension over a tree passed in; look up leaves the same way.
    const extTree = (() => {
      const ext = gi.extensions.find((e) => e.extensionType === "ratchet_tree");
      if (!ext) return undefined;
      const d = decodeRatchetTree(ext.extensionData, 0);
      return d ? d[0] : undefined;
    })();
    const treeForLookup = extTree ?? tree;
    if (!treeForLookup) throw new Error("GroupInfo has no ratchet_tree extension and no ratchetTree was given");
    // Resync (RFC 9420 12.4.3.2: an external commit may Remove the joiner's own old leaf, at most one).
    // Which leaf is "ours": replaceLeafIndex if given; else a leaf with our own signature key (same process,
    // state lost via forget); else, if identity is given, the first leaf with that credential identity
    // (a new process for the same DID). ts-mls finds the leaf via keyPackageEqualityConfig, which we override
    // to match that leaf's signature key (unique within a tree).
    const present = leaves(treeForLookup);
    let target;
    if (resync) {
      if (replaceLeafIndex !== undefined) {
        target = present.find((l) => l.leafIndex === replaceLeafIndex);
        if (!target) throw new Error(`replaceLeafIndex ${replaceLeafIndex} is not a member leaf`);
      } else {
        target = present.find((l) => sameBytes(l.leaf.signaturePublicKey, this.sigKeys.publicKey));
        if (!target && identity !== undefined) {
          const idb = utf8.encode(identity);
          target = present.find((l) => sameBytes(leafIdentity(l.leaf), idb));
        }
      }
    }
    const doResync = target !== undefined;
    const kp = await this.newKeyPackage({});
    const cfg = clientConfig();
    const joinCfg = {
      ...cfg,
      keyPackageEqualityConfig: {
        ...cfg.keyPackageEqualityConfig,
        compareKeyPackageToLeafNode: (_kp, leaf) => doResync && sameBytes(leaf.signaturePublicKey, target.leaf.signaturePublicKey),
      },
    };
    const { publicMessage, newState } = await joinGroupExternal(gi, kp.publicPackage, kp.privatePackage, doResync, this.cs, tree, joinCfg);
    const state = { ...newState, clientConfig: cfg };
    const key = hex(state.groupContext.groupId);
    const commitBytes = encMessage({ wireformat: "mls_public_message", publicMessage });
    const g = newGroupRecord(state);
    g.ownCommits.add(b64(commitBytes));
    this.groups.set(key, g);
    return {
      groupId: key,
      commit: b64(commitBytes),
      epoch: Number(state.groupContext.epoch),
      leafIndex: state.privatePath.leafIndex,
      removedLeafIndex: doResync ? target.leafIndex : undefined,
      groupInfo: await this.groupInfoFor(state),
    };
  }

  async members({ groupId }) {
    const g = this.group(groupId);
    return {
      epoch: Number(g.state.groupContext.epoch),
      ownLeafIndex: g.state.privatePath.leafIndex,
      members: leaves(g.state.ratchetTree).map((l) => ({
        leafIndex: l.leafIndex,
        identity: utf8dec.decode(leafIdentity(l.leaf)),
        signaturePublicKey: b64(l.leaf.signaturePublicKey),
      })),
    };
  }

  async epoch({ groupId }) {
    const g = this.group(groupId);
    const out = { epoch: Number(g.state.groupContext.epoch) };
    if (g.pending) out.pendingEpoch = Number(g.pending.newState.groupContext.epoch);
    if (g.state.groupActiveState.kind === "removedFromGroup") out.removed = true;
    return out;
  }

  async groupInfo({ groupId }) {
    this.requireInit();
    const g = this.group(groupId);
    return { groupInfo: await this.groupInfoFor(g.state), epoch: Number(g.state.groupContext.epoch) };
  }

  // Parse any MLSMessage without needing group state (what the DS sees).
  async inspect({ message }) {
    const bytes = unb64(message, "message");
    const msg = decodeMls(bytes, "message");
    const out = { version: (bytes[0] << 8) | bytes[1], wireFormat: WIRE_FORMATS[msg.wireformat], wireFormatName: msg.wireformat };
    if (msg.wireformat === "mls_public_message") {
      const c = msg.publicMessage.content;
      Object.assign(out, { groupId: hex(c.groupId), epoch: Number(c.epoch), contentType: c.contentType, senderType: c.sender.senderType });
      if (c.sender.senderType === "member") out.senderLeafIndex = c.sender.leafIndex;
      if (c.contentType === "commit") {
        out.hasPath = c.commit.path !== undefined;
        out.proposals = c.commit.proposals.map((p) => p.proposalOrRefType === "proposal"
          ? { type: p.proposal.proposalType, ...(p.proposal.proposalType === "remove" ? { removed: p.proposal.remove.removed } : {}) }
          : { ref: b64(p.reference) });
      }
    } else if (msg.wireformat === "mls_private_message") {
      const m = msg.privateMessage;
      Object.assign(out, { groupId: hex(m.groupId), epoch: Number(m.epoch), contentType: m.contentType });
    } else if (msg.wireformat === "mls_welcome") {
      Object.assign(out, { cipherSuite: ciphersuites[msg.welcome.cipherSuite], newMembers: msg.welcome.secrets.map((x) => hex(x.newMember)) });
    } else if (msg.wireformat === "mls_group_info") {
      const gi = msg.groupInfo;
      Object.assign(out, {
        groupId: hex(gi.groupContext.groupId), epoch: Number(gi.groupContext.epoch), cipherSuite: ciphersuites[gi.groupContext.cipherSuite],
        signer: gi.signer, extensions: gi.extensions.map((e) => e.extensionType),
      });
    } else if (msg.wireformat === "mls_key_package") {
      const kp = msg.keyPackage;
      const ln = kp.leafNode;
      Object.assign(out, {
        cipherSuite: ciphersuites[kp.cipherSuite],
        keyPackageRef: this.cs ? hex(await makeKeyPackageRef(kp, this.cs.hash)) : undefined,
        credentialType: ln.credential.credentialType,
        identity: utf8dec.decode(leafIdentity(ln)),
        notBefore: Number(ln.lifetime.notBefore), notAfter: Number(ln.lifetime.notAfter),
        extensions: kp.extensions.map((e) => e.extensionType),
        capabilityExtensions: ln.capabilities.extensions,
      });
    }
    return out;
  }

  async forget({ groupId }) {
    const key = String(groupId).toLowerCase();
    return { forgotten: this.groups.delete(key) };
  }

  async handle(req) {
    const op = req?.op;
    const table = {
      init: this.init,
      keyPackages: Agent.prototype.keyPackages,
      createGroup: this.createGroup,
      addMembers: this.addMembers,
      remove: this.remove,
      update: this.update,
      applyPending: this.applyPending,
      discardPending: this.discardPending,
      join: this.join,
      encrypt: this.encrypt,
      process: this.process,
      externalJoin: this.externalJoin,
      members: this.members,
      epoch: this.epoch,
      groupInfo: this.groupInfo,
      forget: this.forget,
      inspect: this.inspect,
    };
    const fn = Object.hasOwn(table, op) ? table[op] : undefined;
    if (!fn) throw new Error(`unknown op ${JSON.stringify(op)}`);
    return fn.call(this, req);
  }
}

export { errMsg };
