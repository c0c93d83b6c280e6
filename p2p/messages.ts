import { RLP } from "@ethereumjs/rlp";
import { bytesToBigInt, bytesToHex, bigIntToUnpaddedBytes, hexToBytes } from "@ethereumjs/util";
import { MAX_TX_SIZE, NodeError, blockOf, decodeBlockBody as decodeBodyParts, decodeHeader, encodeBody, encodeHeader, type Block, type BlockHeader, type Hex } from "../chain/index.js";

// Wire formats of the P2P layer. Every message is RLP; every decoder checks the shape and the sizes
// and throws a WireError naming what is wrong, so a peer's garbage is scored, never crashes a node.

/** Most headers one `headers` request may ask for and one response may carry. */
export const MAX_HEADERS_PER_REQUEST = 192;
/** Most bodies one `bodies` request may ask for. */
export const MAX_BODIES_PER_REQUEST = 64;
/** Most addresses one `peers` response carries. */
export const MAX_PEERS_PER_RESPONSE = 16;
/** Largest request frame any protocol accepts. */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** Largest response frame (a bodies response is cut short before it grows past this). */
export const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
/** Largest gossip message (one block): a full block's body stays well below it. */
export const MAX_GOSSIP_BYTES = 10 * 1024 * 1024;
/** Largest stem frame without a payload: a transaction of the largest size the pool takes, plus its hop count. */
export const MAX_STEM_BYTES = MAX_TX_SIZE + 64;
/** Most payload hashes one `payloads` request may ask for. */
export const MAX_PAYLOADS_PER_REQUEST = 16;

/** Largest stem frame on a chain whose largest payload is `maxPayloadBytes` (a publish carries its payload in its stem). */
export function maxStemBytes(maxPayloadBytes: number): number {
  return MAX_STEM_BYTES + maxPayloadBytes + 16;
}
/** Most hops a stem transaction may still travel before it must be gossiped. */
export const MAX_STEM_HOPS = 3;

/** Codes of malformed P2P messages. */
export const WireErrorCode = {
  MALFORMED: "P2P_MALFORMED",
  TOO_LARGE: "P2P_TOO_LARGE",
} as const;
/** One of WireErrorCode. */
export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/** A message from a peer that does not decode. */
export class WireError extends NodeError<{ code: WireErrorCode }> {}

function malformed(what: string): WireError {
  return new WireError({ code: WireErrorCode.MALFORMED }, `malformed ${what}`);
}

function decodeList(bytes: Uint8Array, what: string, maxBytes = MAX_RESPONSE_BYTES): unknown[] {
  if (bytes.length > maxBytes) throw new WireError({ code: WireErrorCode.TOO_LARGE }, `${what} too large: ${bytes.length} bytes, at most ${maxBytes}`);
  let items: unknown;
  try {
    items = RLP.decode(bytes);
  } catch (e) {
    throw malformed(`${what}: ${(e as Error).message}`);
  }
  if (!Array.isArray(items)) throw malformed(`${what}: not an RLP list`);
  return items;
}

function uint(item: unknown, what: string, maxBytes = 32): bigint {
  if (!(item instanceof Uint8Array) || item.length > maxBytes || (item.length > 0 && item[0] === 0)) throw malformed(what);
  return bytesToBigInt(item);
}

function hash32(item: unknown, what: string): Hex {
  if (!(item instanceof Uint8Array) || item.length !== 32) throw malformed(what);
  return bytesToHex(item) as Hex;
}

function smallInt(item: unknown, what: string, max: number): number {
  const n = uint(item, what, 6);
  if (n > BigInt(max)) throw malformed(`${what}: ${n} is above ${max}`);
  return Number(n);
}

// ---------------------------------------------------------------------------------------------
// status

/** What a node says of its chain when a connection opens. */
export interface Status {
  chainId: bigint;
  genesisHash: Hex;
  headHash: Hex;
  headNumber: bigint;
  /** Sum of base difficulty from genesis to the head (fork choice weight). */
  totalDifficulty: bigint;
}

export function encodeStatus(s: Status): Uint8Array {
  return RLP.encode([
    bigIntToUnpaddedBytes(s.chainId),
    hexToBytes(s.genesisHash),
    hexToBytes(s.headHash),
    bigIntToUnpaddedBytes(s.headNumber),
    bigIntToUnpaddedBytes(s.totalDifficulty),
  ]);
}

export function decodeStatus(bytes: Uint8Array): Status {
  const items = decodeList(bytes, "status", MAX_REQUEST_BYTES);
  if (items.length !== 5) throw malformed("status: expected 5 fields");
  return {
    chainId: uint(items[0], "status chain id", 8),
    genesisHash: hash32(items[1], "status genesis hash"),
    headHash: hash32(items[2], "status head hash"),
    headNumber: uint(items[3], "status head number", 8),
    totalDifficulty: uint(items[4], "status total difficulty"),
  };
}

// ---------------------------------------------------------------------------------------------
// headers by range: the canonical headers [start, start + count) of the answering node

/** A request for `count` consecutive canonical headers from number `start`. */
export interface HeadersRequest {
  start: bigint;
  count: number;
}

export function encodeHeadersRequest(r: HeadersRequest): Uint8Array {
  return RLP.encode([bigIntToUnpaddedBytes(r.start), bigIntToUnpaddedBytes(BigInt(r.count))]);
}

export function decodeHeadersRequest(bytes: Uint8Array): HeadersRequest {
  const items = decodeList(bytes, "headers request", MAX_REQUEST_BYTES);
  if (items.length !== 2) throw malformed("headers request: expected [start, count]");
  const count = smallInt(items[1], "headers request count", MAX_HEADERS_PER_REQUEST);
  if (count === 0) throw malformed("headers request: count is 0");
  return { start: uint(items[0], "headers request start", 8), count };
}

export function encodeHeaders(headers: readonly BlockHeader[]): Uint8Array {
  return RLP.encode(headers.map((h) => encodeHeader(h)));
}

/** Decodes a headers response (at most MAX_HEADERS_PER_REQUEST); each header is checked by the block decoder. */
export function decodeHeaders(bytes: Uint8Array): BlockHeader[] {
  const items = decodeList(bytes, "headers response");
  if (items.length > MAX_HEADERS_PER_REQUEST) throw malformed(`headers response: ${items.length} headers, at most ${MAX_HEADERS_PER_REQUEST}`);
  return items.map((item, i) => {
    if (!(item instanceof Uint8Array)) throw malformed(`headers response: item ${i} is not a string`);
    try {
      return decodeHeader(item);
    } catch (e) {
      throw malformed(`headers response: header ${i}: ${(e as Error).message}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// bodies by block hash

/** A request by hashes (bodies, payloads): `RLP [hash, ...]`. */
function encodeHashList(hashes: readonly Hex[]): Uint8Array {
  return RLP.encode(hashes.map((h) => hexToBytes(h)));
}

/** A request of 1 to `max` hashes. */
function decodeHashList(bytes: Uint8Array, what: string, max: number): Hex[] {
  const items = decodeList(bytes, what, MAX_REQUEST_BYTES);
  if (items.length === 0 || items.length > max) throw malformed(`${what}: ${items.length} hashes, between 1 and ${max} allowed`);
  return items.map((item, i) => hash32(item, `${what} hash ${i}`));
}

export const encodeBodiesRequest = encodeHashList;

export function decodeBodiesRequest(bytes: Uint8Array): Hex[] {
  return decodeHashList(bytes, "bodies request", MAX_BODIES_PER_REQUEST);
}

/**
 * A bodies response: the encoded bodies (see chain's encodeBody) of the requested blocks in order,
 * possibly fewer than asked (a node stops at the first block it lacks or at the size cap).
 */
export function encodeBodies(bodies: readonly Uint8Array[]): Uint8Array {
  return RLP.encode(bodies as Uint8Array[]);
}

/** The raw encoded bodies of a response; decode each with {@link decodeBlockBody} against its header. */
export function decodeBodies(bytes: Uint8Array): Uint8Array[] {
  const items = decodeList(bytes, "bodies response");
  if (items.length > MAX_BODIES_PER_REQUEST) throw malformed(`bodies response: ${items.length} bodies, at most ${MAX_BODIES_PER_REQUEST}`);
  return items.map((item, i) => {
    if (!(item instanceof Uint8Array)) throw malformed(`bodies response: item ${i} is not a string`);
    return item;
  });
}

/** A block from a header and its encoded body (transactions decoded and signatures recovered, sub-block headers decoded). */
export function decodeBlockBody(header: BlockHeader, body: Uint8Array, chainId: bigint): Block {
  try {
    return blockOf(header, decodeBodyParts(body, chainId));
  } catch (e) {
    throw malformed(`block body: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// blocks (gossip)

export function encodeBlock(block: Block): Uint8Array {
  return RLP.encode([encodeHeader(block.header), encodeBody(block.transactions, block.subBlocks ?? [])]);
}

export function decodeBlock(bytes: Uint8Array, chainId: bigint): Block {
  const items = decodeList(bytes, "block", MAX_GOSSIP_BYTES);
  if (items.length !== 2 || !(items[0] instanceof Uint8Array) || !(items[1] instanceof Uint8Array)) {
    throw malformed("block: expected [header, body]");
  }
  let header: BlockHeader;
  try {
    header = decodeHeader(items[0]);
  } catch (e) {
    throw malformed(`block header: ${(e as Error).message}`);
  }
  return decodeBlockBody(header, items[1], chainId);
}

// ---------------------------------------------------------------------------------------------
// peer exchange: Guard IDs with their listen addresses (multiaddr strings). No wallet address.

/** A peer as peer exchange tells of it. */
export interface PeerRecord {
  /** Guard ID (libp2p peer id, base58). */
  id: string;
  /** Multiaddrs without the /p2p part. */
  addrs: string[];
}

const MAX_ADDRS_PER_PEER = 8;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

function text(item: unknown, what: string, maxBytes: number): string {
  if (!(item instanceof Uint8Array) || item.length === 0 || item.length > maxBytes) throw malformed(what);
  try {
    return textDecoder.decode(item);
  } catch {
    throw malformed(`${what}: not UTF-8`);
  }
}

export function encodePeers(peers: readonly PeerRecord[]): Uint8Array {
  return RLP.encode(peers.map((p) => [textEncoder.encode(p.id), p.addrs.map((a) => textEncoder.encode(a))]));
}

export function decodePeers(bytes: Uint8Array): PeerRecord[] {
  const items = decodeList(bytes, "peers response", 64 * 1024);
  if (items.length > MAX_PEERS_PER_RESPONSE) throw malformed(`peers response: ${items.length} peers, at most ${MAX_PEERS_PER_RESPONSE}`);
  return items.map((item, i) => {
    if (!Array.isArray(item) || item.length !== 2 || !Array.isArray(item[1]) || item[1].length > MAX_ADDRS_PER_PEER) {
      throw malformed(`peers response: entry ${i} is not [id, [addrs]]`);
    }
    return {
      id: text(item[0], `peers response: entry ${i} id`, 128),
      addrs: (item[1] as unknown[]).map((a, j) => text(a, `peers response: entry ${i} address ${j}`, 256)),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// stem (Dandelion-style first hops of a transaction)

/** A payload travelling with its publish transaction (stem) or alone (gossip, fetch). */
export interface PayloadItem {
  subchainId: number;
  bytes: Uint8Array;
}

/**
 * A transaction in its stem phase: how many more hops it may travel, its raw bytes and, for a
 * publish, the payload it commits to (so the payload leaves the submitting node the same
 * anonymous way as its transaction).
 */
export interface StemMessage {
  hopsLeft: number;
  raw: Uint8Array;
  payload?: PayloadItem;
}

/** `RLP [hopsLeft, rawTx]`, or `RLP [hopsLeft, rawTx, subchainId, payload]` for a publish with its payload. */
export function encodeStem(m: StemMessage): Uint8Array {
  const items: Uint8Array[] = [bigIntToUnpaddedBytes(BigInt(m.hopsLeft)), m.raw];
  if (m.payload) items.push(bigIntToUnpaddedBytes(BigInt(m.payload.subchainId)), m.payload.bytes);
  return RLP.encode(items);
}

/** Decodes a stem frame of at most `maxBytes` (see maxStemBytes). */
export function decodeStem(bytes: Uint8Array, maxBytes = MAX_STEM_BYTES): StemMessage {
  const items = decodeList(bytes, "stem message", maxBytes);
  if ((items.length !== 2 && items.length !== 4) || !(items[1] instanceof Uint8Array) || items[1].length === 0) {
    throw malformed("stem message: expected [hopsLeft, rawTx] or [hopsLeft, rawTx, subchainId, payload]");
  }
  const m: StemMessage = { hopsLeft: smallInt(items[0], "stem hops", MAX_STEM_HOPS), raw: items[1] };
  if (items.length === 4) {
    if (!(items[3] instanceof Uint8Array) || items[3].length === 0) throw malformed("stem message: empty payload");
    m.payload = { subchainId: smallInt(items[2], "stem payload sub-chain", 255), bytes: items[3] };
  }
  return m;
}

// ---------------------------------------------------------------------------------------------
// payloads by hash

/** A request for payloads by their keccak256 hash: `RLP [hash, ...]`, 1 to MAX_PAYLOADS_PER_REQUEST. */
export const encodePayloadsRequest = encodeHashList;

export function decodePayloadsRequest(bytes: Uint8Array): Hex[] {
  return decodeHashList(bytes, "payloads request", MAX_PAYLOADS_PER_REQUEST);
}

/**
 * A payloads response: one item per requested hash, in order, the payload bytes or an empty string
 * for one the node does not hold (or that no longer fits under the response cap).
 */
export function encodePayloads(payloads: readonly (Uint8Array | undefined)[]): Uint8Array {
  return RLP.encode(payloads.map((p) => p ?? new Uint8Array(0)));
}

/** The answered payloads (undefined where the peer has none); the caller checks each against its hash. */
export function decodePayloads(bytes: Uint8Array, asked: number, maxBytes = MAX_RESPONSE_BYTES): (Uint8Array | undefined)[] {
  const items = decodeList(bytes, "payloads response", maxBytes);
  if (items.length !== asked) throw malformed(`payloads response: ${items.length} items for ${asked} hashes`);
  return items.map((item, i) => {
    if (!(item instanceof Uint8Array)) throw malformed(`payloads response: item ${i} is not a string`);
    return item.length > 0 ? item : undefined;
  });
}
