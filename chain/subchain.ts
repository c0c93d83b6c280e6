import { RLP } from "@ethereumjs/rlp";
import { bigIntToUnpaddedBytes, bytesToBigInt, bytesToHex, hexToBytes, intToUnpaddedBytes } from "@ethereumjs/util";
import { MerkleTree } from "merkletreejs";
import { EMPTY_TRIE_ROOT, ZERO_HASH } from "./block.js";
import { NodeError } from "./errors.js";
import { MAX_SUBCHAIN_ID, type SubchainDeclaration } from "./genesis.js";
import { keccak256 } from "./keccak.js";
import type { Hex } from "./types.js";

/**
 * A sub-block header (DESIGN.md section 5, docs/subchains.md): its own number and parent hash in
 * the sub-chain of `subchainId`, and the Merkle root over its payload hashes.
 * Hash = keccak256(RLP(all fields in this order)).
 */
export interface SubBlockHeader {
  subchainId: number;
  /** Height in its own sub-chain; the genesis sub-block is 0. */
  number: bigint;
  /** Hash of the previous sub-block of the same sub-chain; ZERO_HASH for the genesis sub-block. */
  parentHash: Hex;
  /** Merkle root over the payload hashes (payloadRoot). */
  payloadRoot: Hex;
  /** How many payloads the sub-block carries. */
  payloadCount: number;
  /** Sum of the payloads' lengths. */
  payloadBytes: number;
  /**
   * Each payload's length in bytes, in payload order: what a publish's payload gas is charged on,
   * so a node that does not hold the bytes executes the block the same.
   */
  payloadLengths: number[];
}

/** A sub-block as a main block seals it and a reorg moves it: header, hash and its payload hashes in order. */
export interface SubBlock {
  header: SubBlockHeader;
  hash: Hex;
  payloadHashes: Hex[];
}

/** A sibling path in merkletreejs's own form: sibling hashes from the leaf up, each with the side it sits on. */
export type MerkleProof = { position: "left" | "right"; data: Hex }[];

/** Error codes of sub-block decoding and validation. */
export const SubchainErrorCode = {
  BAD_RLP: "SUBCHAIN_BAD_RLP",
  BAD_FIELD: "SUBCHAIN_BAD_FIELD",
  UNKNOWN_SUBCHAIN: "SUBCHAIN_UNKNOWN",
  WRONG_SUBCHAIN: "SUBCHAIN_WRONG_SUBCHAIN",
  BAD_NUMBER: "SUBCHAIN_BAD_NUMBER",
  BAD_PARENT_HASH: "SUBCHAIN_BAD_PARENT_HASH",
  BAD_PAYLOAD_ROOT: "SUBCHAIN_BAD_PAYLOAD_ROOT",
  BAD_PAYLOAD_COUNT: "SUBCHAIN_BAD_PAYLOAD_COUNT",
  BAD_PAYLOAD_BYTES: "SUBCHAIN_BAD_PAYLOAD_BYTES",
  EMPTY_SUB_BLOCK: "SUBCHAIN_EMPTY_SUB_BLOCK",
  EMPTY_PAYLOAD: "SUBCHAIN_EMPTY_PAYLOAD",
  PAYLOAD_TOO_LARGE: "SUBCHAIN_PAYLOAD_TOO_LARGE",
  SUB_BLOCK_TOO_LARGE: "SUBCHAIN_SUB_BLOCK_TOO_LARGE",
  /** payloadLengths does not list payloadCount lengths, or a payload is not as long as its entry. */
  BAD_PAYLOAD_LENGTHS: "SUBCHAIN_BAD_PAYLOAD_LENGTHS",
  BAD_ORDER: "SUBCHAIN_BAD_ORDER",
} as const;
/** One of SubchainErrorCode. */
export type SubchainErrorCode = (typeof SubchainErrorCode)[keyof typeof SubchainErrorCode];

/** A sub-block (or a main block's list of them) that could not be decoded or breaks a rule. */
export class SubchainError extends NodeError<{ code: SubchainErrorCode }> {}

const FIELDS = ["subchainId", "number", "parentHash", "payloadRoot", "payloadCount", "payloadBytes", "payloadLengths"] as const satisfies readonly (keyof SubBlockHeader)[];
const HASH_FIELDS = new Set<keyof SubBlockHeader>(["parentHash", "payloadRoot"]);
/** Largest value each integer field may hold when decoded (the genesis limits are checked later). */
const INT_MAX: Partial<Record<keyof SubBlockHeader, bigint>> = {
  subchainId: BigInt(MAX_SUBCHAIN_ID),
  number: 2n ** 64n - 1n,
  payloadCount: 2n ** 32n - 1n,
  payloadBytes: 2n ** 32n - 1n,
  payloadLengths: 2n ** 32n - 1n,
};
/** Deepest Merkle proof accepted: 2^32 leaves, as payloadCount is a 32-bit number. */
const MAX_PROOF_DEPTH = 32;

/** RLP list items of a sub-block header (payloadLengths is a nested list of integers). */
export function subBlockHeaderFields(h: SubBlockHeader): (Uint8Array | Uint8Array[])[] {
  return FIELDS.map((f) => {
    const v = h[f];
    if (typeof v === "bigint") return bigIntToUnpaddedBytes(v);
    if (typeof v === "number") return intToUnpaddedBytes(v);
    if (Array.isArray(v)) return v.map((n) => intToUnpaddedBytes(n));
    return hexToBytes(v);
  });
}

/** The RLP encoding of a sub-block header. */
export function encodeSubBlockHeader(h: SubBlockHeader): Uint8Array {
  return RLP.encode(subBlockHeaderFields(h));
}

/** The sub-block hash: keccak256 of the header's RLP. */
export function subBlockHash(h: SubBlockHeader): Hex {
  return bytesToHex(keccak256(encodeSubBlockHeader(h))) as Hex;
}

/** Decodes a sub-block header from its RLP list items, strictly (canonical integers, exact hash lengths, bounds). */
export function subBlockHeaderFromFields(items: unknown): SubBlockHeader {
  if (!Array.isArray(items) || items.length !== FIELDS.length) {
    throw new SubchainError({ code: SubchainErrorCode.BAD_RLP }, `sub-block header must be a list of ${FIELDS.length} items`);
  }
  const out: Record<string, bigint | number | number[] | Hex> = {};
  FIELDS.forEach((f, i) => {
    const item = items[i] as unknown;
    if (f === "payloadLengths") {
      if (!Array.isArray(item)) {
        throw new SubchainError({ code: SubchainErrorCode.BAD_RLP }, "sub-block header field payloadLengths must be a list");
      }
      out[f] = item.map((n: unknown, j) => Number(headerInt(`payloadLengths[${j}]`, n, INT_MAX.payloadLengths!)));
      return;
    }
    if (!(item instanceof Uint8Array)) {
      throw new SubchainError({ code: SubchainErrorCode.BAD_RLP }, `sub-block header field ${f} must be a byte string`);
    }
    if (HASH_FIELDS.has(f)) {
      if (item.length !== 32) {
        throw new SubchainError({ code: SubchainErrorCode.BAD_FIELD }, `sub-block header ${f} must be 32 bytes, got ${item.length}`);
      }
      out[f] = bytesToHex(item) as Hex;
      return;
    }
    const n = headerInt(f, item, INT_MAX[f]!);
    out[f] = f === "number" ? n : Number(n);
  });
  return out as unknown as SubBlockHeader;
}

/** A canonical integer item of a sub-block header, at most `max`. */
function headerInt(name: string, item: unknown, max: bigint): bigint {
  if (!(item instanceof Uint8Array)) {
    throw new SubchainError({ code: SubchainErrorCode.BAD_RLP }, `sub-block header field ${name} must be a byte string`);
  }
  if (item.length > 0 && item[0] === 0) {
    throw new SubchainError({ code: SubchainErrorCode.BAD_FIELD }, `sub-block header ${name} has leading zero bytes`);
  }
  if (item.length > 8 || bytesToBigInt(item) > max) {
    throw new SubchainError({ code: SubchainErrorCode.BAD_FIELD }, `sub-block header ${name} exceeds ${max}`);
  }
  return bytesToBigInt(item);
}

/** Decodes a sub-block header from RLP bytes; throws SubchainError on any malformation. */
export function decodeSubBlockHeader(bytes: Uint8Array): SubBlockHeader {
  let items: unknown;
  try {
    items = RLP.decode(bytes);
  } catch (e) {
    throw new SubchainError({ code: SubchainErrorCode.BAD_RLP }, `sub-block header is not valid RLP: ${(e as Error).message}`);
  }
  return subBlockHeaderFromFields(items);
}

/** A payload's hash, what a publish transaction commits to: keccak256(payload). */
export function payloadHash(payload: Uint8Array): Hex {
  return bytesToHex(keccak256(payload)) as Hex;
}

// The tree both roots use, built by merkletreejs so anyone can check a proof with it: leaves are
// keccak256(hash) (the hash itself is never a node, so a 64-byte "payload" made of two child
// hashes cannot pass for a leaf), pairs are not sorted (a proof fixes the leaf's index), and the
// leaf layer is padded with zero hashes to a power of two (every proof has the same depth and its
// positions are the bits of the index).
const TREE_OPTIONS = { hashLeaves: true, sortPairs: false, fillDefaultHash: ZERO_HASH } as const;

function merkleTree(hashes: readonly Hex[]): MerkleTree {
  return new MerkleTree(hashes.map((h) => hexToBytes(h)), keccak256, TREE_OPTIONS);
}

/** Trees over more hashes than this are kept for later proofs (a small tree is cheaper to rebuild than to look up). */
const CACHED_TREE_MIN_LEAVES = 16;
/** Most trees kept; proofs are asked of the few latest sub-blocks (vs_getPayload, peers), so few are needed. */
const CACHED_TREES = 32;
/** Recently proven trees by their leaves (the hashes joined), oldest first. */
const provenTrees = new Map<string, MerkleTree>();

/** The tree over `hashes` for a proof: a large one is built once for its sub-block, not per proof (a 1,024-payload tree takes milliseconds). */
function proofTree(hashes: readonly Hex[]): MerkleTree {
  if (hashes.length <= CACHED_TREE_MIN_LEAVES) return merkleTree(hashes);
  const key = hashes.join("");
  let tree = provenTrees.get(key);
  if (tree) {
    provenTrees.delete(key);
  } else {
    tree = merkleTree(hashes);
    if (provenTrees.size >= CACHED_TREES) provenTrees.delete(provenTrees.keys().next().value as string);
  }
  provenTrees.set(key, tree);
  return tree;
}

/**
 * Root of the tree over `hashes` (payload hashes or sub-block hashes) in order; EMPTY_TRIE_ROOT
 * for none, the value a main header has always carried when it seals no sub-block.
 */
export function merkleRoot(hashes: readonly Hex[]): Hex {
  if (hashes.length === 0) return EMPTY_TRIE_ROOT;
  return bytesToHex(merkleTree(hashes).getRoot()) as Hex;
}

/** The proof that `hashes[index]` is in merkleRoot(hashes). */
export function merkleProof(hashes: readonly Hex[], index: number): MerkleProof {
  if (!Number.isSafeInteger(index) || index < 0 || index >= hashes.length) {
    throw new RangeError(`proof index ${index} is outside 0..${hashes.length - 1}`);
  }
  return proofTree(hashes)
    .getProof(leafNode(hashes[index]!), index)
    .map(({ position, data }) => ({ position, data: bytesToHex(data) as Hex }));
}

/** The tree's leaf for a hash: keccak256(hash). */
function leafNode(hash: Hex): Hex {
  return bytesToHex(keccak256(hexToBytes(hash))) as Hex;
}

const HASH_RE = /^0x[0-9a-f]{64}$/;

/**
 * True when `proof` links `hash` to `root`, and, if `index` is given, places it at that index.
 * Never throws: a malformed proof (wrong lengths, sides, depth) is simply false.
 */
export function verifyMerkleProof(root: Hex, hash: Hex, proof: MerkleProof, index?: number): boolean {
  if (typeof root !== "string" || typeof hash !== "string" || !HASH_RE.test(root) || !HASH_RE.test(hash)) return false;
  if (root === EMPTY_TRIE_ROOT || !Array.isArray(proof) || proof.length > MAX_PROOF_DEPTH) return false;
  for (const step of proof as unknown[]) {
    if (typeof step !== "object" || step === null) return false;
    const { position, data } = step as { position?: unknown; data?: unknown };
    if ((position !== "left" && position !== "right") || typeof data !== "string" || !HASH_RE.test(data)) return false;
  }
  if (index !== undefined) {
    if (!Number.isSafeInteger(index) || index < 0 || index >= 2 ** proof.length) return false;
    // in the padded tree the sibling sits on the left exactly where the index has a 1 bit
    let rest = index;
    for (const step of proof) {
      if ((rest % 2 === 1) !== (step.position === "left")) return false;
      rest = Math.floor(rest / 2);
    }
  }
  return MerkleTree.verify(proof, leafNode(hash), root, keccak256, TREE_OPTIONS);
}

/** RLP [index, [sibling, ...]]: a proof as the wire and the database carry it (sides follow from the index). */
export function encodeMerkleProof(index: number, proof: MerkleProof): Uint8Array {
  return RLP.encode([intToUnpaddedBytes(index), proof.map((s) => hexToBytes(s.data))]);
}

/** Decodes encodeMerkleProof's bytes; throws SubchainError on any malformation. */
export function decodeMerkleProof(bytes: Uint8Array): { index: number; proof: MerkleProof } {
  let items: unknown;
  try {
    items = RLP.decode(bytes);
  } catch (e) {
    throw new SubchainError({ code: SubchainErrorCode.BAD_RLP }, `Merkle proof is not valid RLP: ${(e as Error).message}`);
  }
  if (!Array.isArray(items) || items.length !== 2 || !(items[0] instanceof Uint8Array) || !Array.isArray(items[1])) {
    throw new SubchainError({ code: SubchainErrorCode.BAD_RLP }, "Merkle proof must be a list [index, [siblings]]");
  }
  const [rawIndex, siblings] = items as [Uint8Array, unknown[]];
  if (siblings.length > MAX_PROOF_DEPTH) {
    throw new SubchainError({ code: SubchainErrorCode.BAD_FIELD }, `Merkle proof deeper than ${MAX_PROOF_DEPTH}`);
  }
  if ((rawIndex.length > 0 && rawIndex[0] === 0) || rawIndex.length > 4) {
    throw new SubchainError({ code: SubchainErrorCode.BAD_FIELD }, "Merkle proof index must be a canonical 32-bit integer");
  }
  const index = Number(bytesToBigInt(rawIndex));
  if (index >= 2 ** siblings.length) {
    throw new SubchainError({ code: SubchainErrorCode.BAD_FIELD }, `Merkle proof index ${index} does not fit a tree of depth ${siblings.length}`);
  }
  const proof = siblings.map((s, level): MerkleProof[number] => {
    if (!(s instanceof Uint8Array) || s.length !== 32) {
      throw new SubchainError({ code: SubchainErrorCode.BAD_FIELD }, `Merkle proof sibling ${level} must be 32 bytes`);
    }
    return { position: Math.floor(index / 2 ** level) % 2 === 1 ? "left" : "right", data: bytesToHex(s) as Hex };
  });
  return { index, proof };
}

/** payloadRoot of a sub-block: merkleRoot over its payload hashes in order. */
export function payloadRoot(payloadHashes: readonly Hex[]): Hex {
  return merkleRoot(payloadHashes);
}

/** The proof of the payload at `index` against the sub-block's payloadRoot. */
export function payloadProof(payloadHashes: readonly Hex[], index: number): MerkleProof {
  return merkleProof(payloadHashes, index);
}

/** True when `proof` shows that a payload with `hash` is in the sub-block with `root` (at `index`, if given). */
export function verifyPayloadProof(root: Hex, hash: Hex, proof: MerkleProof, index?: number): boolean {
  return verifyMerkleProof(root, hash, proof, index);
}

/**
 * The main header's subchainsRoot: merkleRoot over the hashes of the sub-block headers it seals, in
 * ascending sub-chain id (checkSealedSubBlocks); EMPTY_TRIE_ROOT when it seals none.
 */
export function subchainsRoot(sealed: readonly SubBlockHeader[]): Hex {
  return merkleRoot(sealed.map(subBlockHash));
}

/**
 * The sub-block that follows `parent` in its sub-chain and carries `payloads` in order (block
 * building); checks nothing against the genesis limits.
 */
export function buildSubBlock(parent: SubBlockHeader, payloads: readonly Uint8Array[]): SubBlock {
  const payloadHashes = payloads.map(payloadHash);
  const header: SubBlockHeader = {
    subchainId: parent.subchainId,
    number: parent.number + 1n,
    parentHash: subBlockHash(parent),
    payloadRoot: payloadRoot(payloadHashes),
    payloadCount: payloads.length,
    payloadBytes: payloads.reduce((sum, p) => sum + p.length, 0),
    payloadLengths: payloads.map((p) => p.length),
  };
  return { header, hash: subBlockHash(header), payloadHashes };
}

/**
 * The one payload of a sub-chain's genesis sub-block: RLP [id, name, payloadGasPerByte,
 * maxPayloadBytes, maxSubBlockBytes], so every later sub-block hash depends on the declaration.
 */
export function subchainDeclarationPayload(decl: SubchainDeclaration): Uint8Array {
  return RLP.encode([
    intToUnpaddedBytes(decl.id),
    new TextEncoder().encode(decl.name),
    bigIntToUnpaddedBytes(decl.payloadGasPerByte),
    intToUnpaddedBytes(decl.maxPayloadBytes),
    intToUnpaddedBytes(decl.maxSubBlockBytes),
  ]);
}

/** The genesis sub-block of a declared sub-chain: number 0, parent ZERO_HASH, the declaration as its one payload. */
export function genesisSubBlock(decl: SubchainDeclaration): { subBlock: SubBlock; payloads: Uint8Array[] } {
  const payload = subchainDeclarationPayload(decl);
  const payloadHashes = [payloadHash(payload)];
  const header: SubBlockHeader = {
    subchainId: decl.id,
    number: 0n,
    parentHash: ZERO_HASH,
    payloadRoot: payloadRoot(payloadHashes),
    payloadCount: 1,
    payloadBytes: payload.length,
    payloadLengths: [payload.length],
  };
  return { subBlock: { header, hash: subBlockHash(header), payloadHashes }, payloads: [payload] };
}

function fail(code: SubchainErrorCode, message: string): never {
  throw new SubchainError({ code }, message);
}

/** Checks that `header` follows `parent` in the same sub-chain (id, number, parent hash). */
export function checkSubBlockLink(header: SubBlockHeader, parent: SubBlockHeader): void {
  if (header.subchainId !== parent.subchainId) {
    fail(SubchainErrorCode.WRONG_SUBCHAIN, `sub-block of sub-chain ${header.subchainId} cannot follow one of sub-chain ${parent.subchainId}`);
  }
  if (header.number !== parent.number + 1n) {
    fail(SubchainErrorCode.BAD_NUMBER, `sub-block number ${header.number} does not follow parent ${parent.number} in sub-chain ${header.subchainId}`);
  }
  const parentHash = subBlockHash(parent);
  if (header.parentHash !== parentHash) {
    fail(SubchainErrorCode.BAD_PARENT_HASH, `sub-block parentHash ${header.parentHash} is not the parent's hash ${parentHash}`);
  }
}

/**
 * Checks a sealed (non-genesis) sub-block header against its sub-chain's declaration, without its
 * payloads: not empty, payloadLengths lists payloadCount lengths of 1..maxPayloadBytes each whose
 * sum is payloadBytes, at most maxSubBlockBytes.
 */
export function checkSubBlockHeader(header: SubBlockHeader, decl: SubchainDeclaration): void {
  if (header.subchainId !== decl.id) {
    fail(SubchainErrorCode.WRONG_SUBCHAIN, `sub-block of sub-chain ${header.subchainId} checked against the declaration of ${decl.id}`);
  }
  if (header.payloadCount === 0) fail(SubchainErrorCode.EMPTY_SUB_BLOCK, `sub-block of sub-chain ${decl.name} carries no payload`);
  if (header.payloadBytes > decl.maxSubBlockBytes) {
    fail(SubchainErrorCode.SUB_BLOCK_TOO_LARGE, `sub-block of ${decl.name} carries ${header.payloadBytes} payload bytes, more than maxSubBlockBytes ${decl.maxSubBlockBytes}`);
  }
  if (header.payloadLengths.length !== header.payloadCount) {
    fail(SubchainErrorCode.BAD_PAYLOAD_LENGTHS, `sub-block of ${decl.name} lists ${header.payloadLengths.length} payload lengths for ${header.payloadCount} payloads`);
  }
  let total = 0;
  header.payloadLengths.forEach((length, i) => {
    if (length === 0) fail(SubchainErrorCode.EMPTY_PAYLOAD, `payload ${i} of the ${decl.name} sub-block is empty`);
    if (length > decl.maxPayloadBytes) {
      fail(SubchainErrorCode.PAYLOAD_TOO_LARGE, `payload ${i} of the ${decl.name} sub-block is ${length} bytes, more than maxPayloadBytes ${decl.maxPayloadBytes}`);
    }
    total += length;
  });
  if (total !== header.payloadBytes) {
    fail(SubchainErrorCode.BAD_PAYLOAD_BYTES, `sub-block of ${decl.name} claims ${header.payloadBytes} payload bytes, its payload lengths sum to ${total}`);
  }
}

/** Checks a sub-block header's payloadCount and payloadRoot against its payload hashes (known without the payloads). */
export function checkSubBlockPayloadHashes(header: SubBlockHeader, payloadHashes: readonly Hex[]): void {
  if (header.payloadCount !== payloadHashes.length) {
    fail(SubchainErrorCode.BAD_PAYLOAD_COUNT, `sub-block payloadCount ${header.payloadCount} but ${payloadHashes.length} payload hashes`);
  }
  const root = payloadRoot(payloadHashes);
  if (header.payloadRoot !== root) {
    fail(SubchainErrorCode.BAD_PAYLOAD_ROOT, `sub-block payloadRoot ${header.payloadRoot} does not match its payloads (${root})`);
  }
}

/**
 * Checks a sealed sub-block with all its payloads: each payload's size against the declaration and
 * its entry in payloadLengths, payloadBytes, the header rules, payloadCount and payloadRoot.
 * `hashes` are the payloads' keccak256 when the caller has them already (a pool keyed by hash).
 */
export function checkSubBlockPayloads(
  header: SubBlockHeader,
  payloads: readonly Uint8Array[],
  decl: SubchainDeclaration,
  hashes: readonly Hex[] = payloads.map(payloadHash),
): void {
  if (header.subchainId !== decl.id) {
    fail(SubchainErrorCode.WRONG_SUBCHAIN, `sub-block of sub-chain ${header.subchainId} checked against the declaration of ${decl.id}`);
  }
  let total = 0;
  payloads.forEach((p, i) => {
    if (p.length === 0) fail(SubchainErrorCode.EMPTY_PAYLOAD, `payload ${i} of the ${decl.name} sub-block is empty`);
    if (p.length > decl.maxPayloadBytes) {
      fail(SubchainErrorCode.PAYLOAD_TOO_LARGE, `payload ${i} of the ${decl.name} sub-block is ${p.length} bytes, more than maxPayloadBytes ${decl.maxPayloadBytes}`);
    }
    const committed = header.payloadLengths[i];
    if (committed !== undefined && committed !== p.length) {
      fail(SubchainErrorCode.BAD_PAYLOAD_LENGTHS, `payload ${i} of the ${decl.name} sub-block is ${p.length} bytes, its header says ${committed}`);
    }
    total += p.length;
  });
  if (total !== header.payloadBytes) {
    fail(SubchainErrorCode.BAD_PAYLOAD_BYTES, `sub-block payloadBytes ${header.payloadBytes} but its payloads hold ${total}`);
  }
  checkSubBlockHeader(header, decl);
  checkSubBlockPayloadHashes(header, hashes);
}

/** Checks the sub-block headers one main block seals: declared sub-chains, at most one each, in ascending id. */
export function checkSealedSubBlocks(sealed: readonly SubBlockHeader[], subchains: readonly SubchainDeclaration[]): void {
  let last = -1;
  for (const h of sealed) {
    if (!subchains.some((d) => d.id === h.subchainId)) {
      fail(SubchainErrorCode.UNKNOWN_SUBCHAIN, `sub-block of sub-chain ${h.subchainId}, which the genesis does not declare`);
    }
    if (h.subchainId <= last) {
      fail(SubchainErrorCode.BAD_ORDER, `sealed sub-blocks must be in strictly ascending sub-chain id, got ${h.subchainId} after ${last}`);
    }
    last = h.subchainId;
  }
}
