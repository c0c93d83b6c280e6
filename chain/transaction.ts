import { createRequire } from "node:module";
import { Common, Hardfork, Mainnet, type ParamsDict } from "@ethereumjs/common";
import { RLP } from "@ethereumjs/rlp";
import type { NestedUint8Array } from "@ethereumjs/util";
import {
  create1559FeeMarketTxFromBytesArray,
  createLegacyTxFromBytesArray,
  paramsTx,
  type FeeMarket1559Tx,
  type LegacyTx,
  type TxOptions,
} from "@ethereumjs/tx";
import { secp256k1 as nobleSecp256k1 } from "@noble/curves/secp256k1.js";
import { NodeError } from "./errors.js";
import { keccak256 } from "./keccak.js";
import type { Account, Hex } from "./types.js";

/** Why a transaction was refused; the strings are stable and mapped to JSON-RPC errors in `rpc/`. */
export const TxErrorCode = {
  BAD_RLP: "TX_BAD_RLP",
  CONTRACT_CREATION: "TX_CONTRACT_CREATION",
  WRONG_CHAIN_ID: "TX_WRONG_CHAIN_ID",
  BAD_SIGNATURE: "TX_BAD_SIGNATURE",
  NONCE_TOO_LOW: "TX_NONCE_TOO_LOW",
  NONCE_TOO_HIGH: "TX_NONCE_TOO_HIGH",
  INSUFFICIENT_FUNDS: "TX_INSUFFICIENT_FUNDS",
  INTRINSIC_GAS_TOO_LOW: "TX_INTRINSIC_GAS_TOO_LOW",
  FEE_TOO_LOW: "TX_FEE_TOO_LOW",
  TIP_ABOVE_FEE_CAP: "TX_TIP_ABOVE_FEE_CAP",
  OVERSIZED: "TX_OVERSIZED",
  UNSUPPORTED_TYPE: "TX_UNSUPPORTED_TYPE",
} as const;

/** One of the {@link TxErrorCode} strings. */
export type TxErrorCode = (typeof TxErrorCode)[keyof typeof TxErrorCode];

/** The code of a refused transaction with the data that explains it. */
export type TxErrorType =
  | { code: typeof TxErrorCode.BAD_RLP; reason: string }
  | { code: typeof TxErrorCode.CONTRACT_CREATION }
  | { code: typeof TxErrorCode.WRONG_CHAIN_ID; expected: bigint; got: bigint | null }
  | { code: typeof TxErrorCode.BAD_SIGNATURE; reason: string }
  | { code: typeof TxErrorCode.NONCE_TOO_LOW; from: Hex; accountNonce: bigint; txNonce: bigint }
  | { code: typeof TxErrorCode.NONCE_TOO_HIGH; from: Hex; accountNonce: bigint; txNonce: bigint }
  | { code: typeof TxErrorCode.INSUFFICIENT_FUNDS; from: Hex; balance: bigint; cost: bigint }
  | { code: typeof TxErrorCode.INTRINSIC_GAS_TOO_LOW; gasLimit: bigint; intrinsicGas: bigint }
  | { code: typeof TxErrorCode.FEE_TOO_LOW; maxFeePerGas: bigint; baseFee: bigint }
  | { code: typeof TxErrorCode.TIP_ABOVE_FEE_CAP; maxPriorityFeePerGas: bigint; maxFeePerGas: bigint }
  | { code: typeof TxErrorCode.OVERSIZED; size: number; maxSize: number }
  | { code: typeof TxErrorCode.UNSUPPORTED_TYPE; txType: number };

/** A transaction refused by decoding or by the checks against fees and the sender's account. */
export class TxError extends NodeError<TxErrorType> {
  constructor(type: TxErrorType, message: string) {
    super(type, message);
  }
}

/** One entry of an EIP-2930 access list, in the JSON-RPC shape. */
export interface AccessListEntry {
  readonly address: Hex;
  readonly storageKeys: readonly Hex[];
}

/** A signed transaction decoded and signature-checked once; immutable. */
export interface SignedTx {
  /** The exact serialized bytes (for type 2 the typed envelope `0x02 || rlp(...)`); not to be modified. */
  readonly raw: Uint8Array;
  /** keccak256(raw), the transaction hash wallets and explorers show. */
  readonly hash: Hex;
  readonly type: 0 | 2;
  readonly chainId: bigint;
  readonly nonce: bigint;
  /** Recipient, lowercase; contract creation is refused, so it is always present. */
  readonly to: Hex;
  readonly value: bigint;
  readonly data: Uint8Array;
  readonly gasLimit: bigint;
  /** The fee cap per gas; the gas price for a legacy transaction. */
  readonly maxFeePerGas: bigint;
  /** The tip cap per gas; the gas price for a legacy transaction. */
  readonly maxPriorityFeePerGas: bigint;
  /** EIP-2930 access list of a type 2 transaction; empty for legacy. */
  readonly accessList: readonly AccessListEntry[];
  /** Recovered sender, lowercase. */
  readonly from: Hex;
  /** Signature `v` as serialized: the y-parity for type 2, `chainId * 2 + 35 + parity` for legacy. */
  readonly v: bigint;
  readonly r: bigint;
  readonly s: bigint;
  /** Signature y-parity; set for type 2 only, as JSON-RPC shows it. */
  readonly yParity?: 0 | 1;
}

/** Largest serialized transaction accepted, in bytes (geth's txpool limit is of the same order). */
export const MAX_TX_SIZE = 128 * 1024;

const TX_BASE_GAS = 21000;
const TX_DATA_ZERO_GAS = 4;
const TX_DATA_NON_ZERO_GAS = 16;
// EIP-2930 prices: an access list is charged like Ethereum does, so it is not free bulk data.
const ACCESS_LIST_ADDRESS_GAS = 2400n;
const ACCESS_LIST_STORAGE_KEY_GAS = 1900n;

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const SECP256K1_N_HALF = SECP256K1_N >> 1n;
const SECP256K1_N_HALF_BYTES = hexToBytes(SECP256K1_N_HALF.toString(16).padStart(64, "0"));

/** Gas every transaction with this calldata pays before it runs: 21000 + 16 per non-zero and 4 per zero byte. */
export function intrinsicGas(data: Uint8Array): bigint {
  let zeros = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0) zeros++;
  // plain numbers are exact here: the sum stays far below 2^53 for any array that fits in memory
  return BigInt(TX_BASE_GAS + TX_DATA_ZERO_GAS * zeros + TX_DATA_NON_ZERO_GAS * (data.length - zeros));
}

/** Intrinsic gas of a decoded transaction: {@link intrinsicGas} of its calldata plus EIP-2930 prices for its access list. */
export function intrinsicGasOf(tx: Pick<SignedTx, "data" | "accessList">): bigint {
  let gas = intrinsicGas(tx.data);
  for (const entry of tx.accessList) gas += accessListEntryGas(entry.storageKeys.length);
  return gas;
}

function accessListEntryGas(storageKeys: number): bigint {
  return ACCESS_LIST_ADDRESS_GAS + ACCESS_LIST_STORAGE_KEY_GAS * BigInt(storageKeys);
}

// ---------------------------------------------------------------------------------------------
// secp256k1 recovery

type Secp256k1Native = typeof import("secp256k1");

// The native binding recovers about 30 times faster than @noble/curves here (18k/s against 600/s);
// noble remains as the fallback for a platform the package ships no prebuilt binary for.
function loadNativeSecp256k1(): Secp256k1Native | null {
  try {
    return createRequire(import.meta.url)("secp256k1/bindings.js") as Secp256k1Native;
  } catch {
    return null;
  }
}
const nativeSecp256k1 = loadNativeSecp256k1();

/** Which secp256k1 implementation recovers senders: the native binding, or noble when it could not load. */
export const secp256k1Backend: "native" | "noble" = nativeSecp256k1 ? "native" : "noble";

// Reused output buffer of the native recovery: the public key is hashed at once and never kept.
const publicKeyOut = new Uint8Array(65);

/**
 * Uncompressed 65-byte public key from a 32-byte message hash and a 64-byte `r || s` signature; null
 * if none recovers. With the native binding it is a view into a shared buffer, valid until the next call.
 */
function recoverPublicKeyFromCompact(msgHash: Uint8Array, signature: Uint8Array, recovery: number): Uint8Array | null {
  try {
    if (nativeSecp256k1) return nativeSecp256k1.ecdsaRecover(signature, recovery, msgHash, false, publicKeyOut);
    return nobleSecp256k1.Signature.fromBytes(signature, "compact")
      .addRecoveryBit(recovery)
      .recoverPublicKey(msgHash)
      .toBytes(false);
  } catch {
    return null;
  }
}

/** The address of an uncompressed public key: the last 20 bytes of the hash of the key without its 0x04 prefix. */
function publicKeyAddress(publicKey: Uint8Array): Hex {
  return toHex(keccak256(publicKey.subarray(1)).subarray(12));
}

/** Sender address from a 32-byte message hash and a 64-byte `r || s` signature; null if none recovers. */
function recoverFromCompact(msgHash: Uint8Array, signature: Uint8Array, recovery: number): Hex | null {
  const publicKey = recoverPublicKeyFromCompact(msgHash, signature, recovery);
  return publicKey === null ? null : publicKeyAddress(publicKey);
}

function badSignature(reason: string): TxError {
  return new TxError({ code: TxErrorCode.BAD_SIGNATURE, reason }, `invalid signature: ${reason}`);
}

function checkSignatureRange(r: bigint, s: bigint): void {
  if (r <= 0n || r >= SECP256K1_N) throw badSignature("r is out of range");
  if (s <= 0n || s >= SECP256K1_N) throw badSignature("s is out of range");
  // EIP-2: only the low-s form of each signature is valid, so a transaction has one hash.
  if (s > SECP256K1_N_HALF) throw badSignature("s is in the upper half of the curve order (EIP-2 allows only low s)");
}

/** Address (lowercase) that signed `msgHash` with (r, s, recovery); throws TxError BAD_SIGNATURE if none does. */
export function recoverAddress(msgHash: Uint8Array, r: bigint, s: bigint, recovery: number): Hex {
  if (msgHash.length !== 32) throw badSignature(`message hash must be 32 bytes, got ${msgHash.length}`);
  if (recovery !== 0 && recovery !== 1) throw badSignature(`recovery id must be 0 or 1, got ${recovery}`);
  checkSignatureRange(r, s);
  const signature = new Uint8Array(64);
  writeUint256(signature, 0, r);
  writeUint256(signature, 32, s);
  const from = recoverFromCompact(msgHash, signature, recovery);
  if (from === null) throw badSignature("no public key recovers from it");
  return from;
}

// ---------------------------------------------------------------------------------------------
// decoding

/**
 * A Common the transaction library may share instead of copying. @ethereumjs/tx copies the Common
 * and deep-copies (JSON round trip) its parameter table for every transaction it builds, which is
 * half of its decode time (legacy: 44 µs against 8 µs without). Ours is built with the library's
 * parameters and never changes hardfork or parameters afterwards, so sharing it is safe.
 */
class SharedCommon extends Common {
  override copy(): Common {
    return this;
  }

  override updateParams(_params: ParamsDict): void {
    // the parameters were given to the constructor, and are the only ones the library passes
  }

  // The library asks "is the hardfork at least homestead / spurious dragon" one to three times per
  // transaction, and each answer walks the whole hardfork list; the hardfork never changes here.
  // Made on first use: Common's constructor calls both methods before this class's fields exist.
  private gteCache: Map<string, boolean> | undefined;

  override gteHardfork(hardfork: string): boolean {
    this.gteCache ??= new Map();
    let answer = this.gteCache.get(hardfork);
    if (answer === undefined) {
      answer = super.gteHardfork(hardfork);
      this.gteCache.set(hardfork, answer);
    }
    return answer;
  }

  override setHardfork(hardfork: string): void {
    this.gteCache = undefined;
    super.setHardfork(hardfork);
  }
}

/** What decoding needs per chain id, built once. */
interface ChainContext {
  /** Options for the library's constructors, with the shared Common of this chain. */
  readonly txOptions: TxOptions;
  /** The tail of a legacy EIP-155 signing payload: `rlp(chainId) || rlp(0) || rlp(0)`. */
  readonly legacySuffix: Uint8Array;
}

const chainContexts = new Map<bigint, ChainContext>();

function chainContext(chainId: bigint): ChainContext {
  let context = chainContexts.get(chainId);
  if (context === undefined) {
    if (chainId <= 0n || chainId > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new RangeError(`chain id must be a positive safe integer, got ${chainId}`);
    }
    // Same chain configuration as `createCustomCommon({chainId}, Mainnet)`, with the hardfork pinned.
    const common = new SharedCommon({
      chain: { ...Mainnet, chainId: Number(chainId) },
      hardfork: Hardfork.Prague,
      params: paramsTx,
    });
    context = {
      // the library's object is read once and dropped (decode copies what it needs into a frozen
      // SignedTx), so freezing it too is wasted work on the admission path
      txOptions: { common, freeze: false },
      legacySuffix: RLP.encode([chainId, EMPTY_BYTES, EMPTY_BYTES]).subarray(1),
    };
    chainContexts.set(chainId, context);
  }
  return context;
}

const EMPTY_BYTES = new Uint8Array(0);
const EMPTY_ACCESS_LIST: readonly AccessListEntry[] = Object.freeze([]);

type RlpValues = Uint8Array | NestedUint8Array;
type FeeMarketValues = Parameters<typeof create1559FeeMarketTxFromBytesArray>[0];
type LegacyValues = Parameters<typeof createLegacyTxFromBytesArray>[0];

function badRlp(reason: string): TxError {
  return new TxError({ code: TxErrorCode.BAD_RLP, reason }, `malformed transaction: ${reason}`);
}

function wrongChainId(expected: bigint, got: bigint): TxError {
  return new TxError(
    { code: TxErrorCode.WRONG_CHAIN_ID, expected, got },
    `wrong chain id: the transaction is signed for chain ${got}, this chain is ${expected}`,
  );
}

const UNSUPPORTED_TYPE_NAMES: Record<number, string> = {
  1: "EIP-2930 access list",
  3: "EIP-4844 blob",
  4: "EIP-7702 set code",
};

/**
 * Decodes a signed transaction and checks everything that needs no state: size, encoding, type,
 * chain id (legacy must be EIP-155), recipient, signature and intrinsic gas; recovers the sender.
 * `knownSender` skips the recovery: only for transactions read back from the node's own database,
 * whose sender was recovered when they were first admitted.
 */
export function decodeTransaction(raw: Uint8Array, chainId: bigint, knownSender?: Hex): SignedTx {
  if (raw.length > MAX_TX_SIZE) {
    throw new TxError(
      { code: TxErrorCode.OVERSIZED, size: raw.length, maxSize: MAX_TX_SIZE },
      `transaction too large: ${raw.length} bytes, at most ${MAX_TX_SIZE}`,
    );
  }
  if (raw.length === 0) throw badRlp("empty input");
  const first = raw[0] as number;
  if (first < 0x80 && first !== 2) {
    const name = UNSUPPORTED_TYPE_NAMES[first];
    throw new TxError(
      { code: TxErrorCode.UNSUPPORTED_TYPE, txType: first },
      `unsupported transaction type ${first}${name ? ` (${name})` : ""}: ` +
        "only legacy EIP-155 and type 2 (EIP-1559) transactions are accepted",
    );
  }
  // Kept as given when it owns its whole buffer, copied when it is a view into a larger one (a
  // gossip batch, say) that it would otherwise keep alive; callers must not modify it afterwards.
  const bytes = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength ? raw : raw.slice();
  const type = first === 2 ? 2 : 0;

  let values: RlpValues;
  try {
    values = RLP.decode(type === 2 ? bytes.subarray(1) : bytes);
  } catch (e) {
    throw badRlp(errorReason(e));
  }
  if (!Array.isArray(values)) throw badRlp("the transaction is not an RLP list");

  return type === 2 ? decodeFeeMarket(bytes, values, chainId, knownSender) : decodeLegacy(bytes, values, chainId, knownSender);
}

function decodeLegacy(raw: Uint8Array, values: RlpValues[], chainId: bigint, knownSender: Hex | undefined): SignedTx {
  // values: [nonce, gasPrice, gasLimit, to, value, data, v, r, s]
  // Chain id and the signature's form are checked before the library sees them, so that they get
  // their own codes rather than the library's generic errors.
  // An unsigned EIP-155 payload has nine items too, with v = chainId and empty r and s.
  if (values.length === 9 && (isEmpty(values[7]) || isEmpty(values[8]))) {
    throw badSignature("the transaction is not signed");
  }
  let recovery = 0;
  const vField = values[6];
  if (values.length === 9 && isCanonicalUint(vField) && vField.length > 0) {
    const v = bytesToUint(vField);
    if (v === 27n || v === 28n) {
      throw new TxError(
        { code: TxErrorCode.WRONG_CHAIN_ID, expected: chainId, got: null },
        `wrong chain id: the legacy transaction has no EIP-155 replay protection (v = ${v}) and names no chain; ` +
          `this chain (${chainId}) accepts only EIP-155 signed legacy transactions`,
      );
    }
    if (v < 35n) throw badSignature(`legacy v must be chainId * 2 + 35 or + 36, got ${v}`);
    const txChainId = (v - 35n) >> 1n;
    if (txChainId !== chainId) throw wrongChainId(chainId, txChainId);
    recovery = Number((v - 35n) & 1n);
  }
  checkHighS(values.length === 9 ? values[8] : undefined);
  const context = chainContext(chainId);

  let tx: LegacyTx;
  try {
    tx = createLegacyTxFromBytesArray(values as Uint8Array[] as LegacyValues, context.txOptions);
  } catch (e) {
    throw badRlp(errorReason(e));
  }
  const { v, r, s } = tx;
  if (tx.to === undefined) throw contractCreation();
  if (v === undefined || r === undefined || s === undefined) throw badSignature("the transaction is not signed");
  checkSignatureRange(r, s);
  checkIntrinsicGas(tx.gasLimit, tx.data, 0n);

  // EIP-155 signing payload: rlp([nonce, gasPrice, gasLimit, to, value, data, chainId, 0, 0]).
  const from =
    knownSender ??
    recoverSender(
      signingMessage(raw, 0, values[6] as Uint8Array, values[7] as Uint8Array, values[8] as Uint8Array, context.legacySuffix),
      values[7] as Uint8Array,
      values[8] as Uint8Array,
      recovery,
    );

  return Object.freeze({
    raw,
    hash: toHex(keccak256(raw)),
    type: 0 as const,
    chainId,
    nonce: tx.nonce,
    to: toHex(values[3] as Uint8Array),
    value: tx.value,
    data: tx.data,
    gasLimit: tx.gasLimit,
    maxFeePerGas: tx.gasPrice,
    maxPriorityFeePerGas: tx.gasPrice,
    accessList: EMPTY_ACCESS_LIST,
    from,
    v,
    r,
    s,
  });
}

function decodeFeeMarket(raw: Uint8Array, values: RlpValues[], chainId: bigint, knownSender: Hex | undefined): SignedTx {
  // values: [chainId, nonce, maxPriorityFee, maxFee, gasLimit, to, value, data, accessList, yParity, r, s]
  const chainIdField = values[0];
  if (chainIdField instanceof Uint8Array) {
    // the library does not check this field for leading zeros; a non-canonical copy of a
    // transaction would get a second hash
    if (!isCanonicalUint(chainIdField)) throw badRlp("chain id has leading zeros");
    const txChainId = bytesToUint(chainIdField);
    if (txChainId !== chainId) throw wrongChainId(chainId, txChainId);
  }
  const parity = values[9];
  if (values.length === 12 && isCanonicalUint(parity) && (parity.length > 1 || (parity[0] ?? 0) > 1)) {
    throw badSignature(`y-parity must be 0 or 1, got ${bytesToUint(parity)}`);
  }
  checkHighS(values.length === 12 ? values[11] : undefined);
  if (values.length === 12 || values.length === 9) checkAccessListShape(values[8]);
  checkTipBelowFeeCap(values[2], values[3]);

  let tx: FeeMarket1559Tx;
  try {
    tx = create1559FeeMarketTxFromBytesArray(values as unknown as FeeMarketValues, chainContext(chainId).txOptions);
  } catch (e) {
    throw badRlp(errorReason(e));
  }
  const { v, r, s } = tx;
  if (tx.to === undefined) throw contractCreation();
  if (v === undefined || r === undefined || s === undefined) throw badSignature("the transaction is not signed");
  checkSignatureRange(r, s);
  let accessListGas = 0n;
  for (const [, keys] of tx.accessList) accessListGas += accessListEntryGas(keys.length);
  checkIntrinsicGas(tx.gasLimit, tx.data, accessListGas);

  // EIP-1559 signing payload: 0x02 || rlp([chainId, ..., data, accessList]), the first nine fields.
  const yParity = v === 0n ? 0 : 1;
  const from =
    knownSender ??
    recoverSender(
      signingMessage(raw, 1, values[9] as Uint8Array, values[10] as Uint8Array, values[11] as Uint8Array, EMPTY_BYTES),
      values[10] as Uint8Array,
      values[11] as Uint8Array,
      yParity,
    );

  return Object.freeze({
    raw,
    hash: toHex(keccak256(raw)),
    type: 2 as const,
    chainId,
    nonce: tx.nonce,
    to: toHex(values[5] as Uint8Array),
    value: tx.value,
    data: tx.data,
    gasLimit: tx.gasLimit,
    maxFeePerGas: tx.maxFeePerGas,
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas,
    accessList: tx.accessList.length === 0 ? EMPTY_ACCESS_LIST : accessListToJson(tx.accessList),
    from,
    v,
    r,
    s,
    yParity,
  });
}

// Scratch space for signing payloads: decoding is synchronous, so one buffer serves every call,
// and a payload is never longer than its transaction (plus a few header bytes).
const messageScratch = new Uint8Array(MAX_TX_SIZE + 16);

/**
 * The signing payload of a decoded transaction, cut from its raw bytes rather than re-encoded
 * field by field (that took 2.7 µs of the per-transaction budget): the list's items without the
 * signature (v, r, s, which are the last three), plus `suffix`, under a new list header, after the
 * type byte for a typed transaction. This is exact because every item was checked canonical by the
 * RLP decoder and the library, and because v, r and s are short strings of at most 32 bytes.
 * The result is a view into a scratch buffer, valid until the next call.
 */
function signingMessage(
  raw: Uint8Array,
  typePrefix: 0 | 1,
  vField: Uint8Array,
  rField: Uint8Array,
  sField: Uint8Array,
  suffix: Uint8Array,
): Uint8Array {
  const header = raw[typePrefix] as number;
  const itemsStart = typePrefix + 1 + (header <= 0xf7 ? 0 : header - 0xf7);
  const itemsEnd = raw.length - shortItemLength(vField) - shortItemLength(rField) - shortItemLength(sField);
  const length = itemsEnd - itemsStart + suffix.length;
  const message = messageScratch;
  let at = 0;
  if (typePrefix === 1) message[at++] = raw[0] as number;
  if (length <= 55) {
    message[at++] = 0xc0 + length;
  } else {
    // length < 2^24, as MAX_TX_SIZE is
    const lengthOfLength = length <= 0xff ? 1 : length <= 0xffff ? 2 : 3;
    message[at++] = 0xf7 + lengthOfLength;
    for (let shift = 8 * (lengthOfLength - 1); shift >= 0; shift -= 8) message[at++] = (length >>> shift) & 0xff;
  }
  message.set(raw.subarray(itemsStart, itemsEnd), at);
  at += itemsEnd - itemsStart;
  message.set(suffix, at);
  return message.subarray(0, at + suffix.length);
}

/** Length of the RLP encoding of a byte string of at most 55 bytes. */
function shortItemLength(item: Uint8Array): number {
  return item.length === 1 && (item[0] as number) < 0x80 ? 1 : 1 + item.length;
}

function contractCreation(): TxError {
  return new TxError(
    { code: TxErrorCode.CONTRACT_CREATION },
    "contract creation is not supported: the transaction has no `to` address (this chain runs no EVM)",
  );
}

// The library checks the lengths of addresses and keys but takes an empty string where a list
// belongs (0x80 for 0xc0) as an empty list: such a copy of a transaction would get a second hash.
function checkAccessListShape(list: RlpValues | undefined): void {
  if (!Array.isArray(list)) throw badRlp("the access list is not a list");
  for (const entry of list) {
    const keys = Array.isArray(entry) ? entry[1] : undefined;
    if (!Array.isArray(entry) || entry.length !== 2 || !(entry[0] instanceof Uint8Array) || !Array.isArray(keys)) {
      throw badRlp("an access list entry is not [address, [storage keys]]");
    }
    for (const key of keys) if (!(key instanceof Uint8Array)) throw badRlp("an access list storage key is not a string");
  }
}

function checkTipBelowFeeCap(tipField: RlpValues | undefined, feeCapField: RlpValues | undefined): void {
  // The library refuses it with a generic error; geth's words let clients (viem's
  // TipAboveFeeCapError) tell what is wrong.
  if (!isCanonicalUint(tipField) || !isCanonicalUint(feeCapField) || tipField.length > 32 || feeCapField.length > 32) return;
  const tip = bytesToUint(tipField);
  const feeCap = bytesToUint(feeCapField);
  if (tip > feeCap) {
    throw new TxError(
      { code: TxErrorCode.TIP_ABOVE_FEE_CAP, maxPriorityFeePerGas: tip, maxFeePerGas: feeCap },
      `max priority fee per gas higher than max fee per gas: the tip ${tip} is above the fee cap ${feeCap}`,
    );
  }
}

function checkHighS(sField: RlpValues | undefined): void {
  // The library refuses a high s with a generic error; refuse it first with BAD_SIGNATURE.
  if (isCanonicalUint(sField) && sField.length === 32 && compareBytes(sField, SECP256K1_N_HALF_BYTES) > 0) {
    throw badSignature("s is in the upper half of the curve order (EIP-2 allows only low s)");
  }
}

function checkIntrinsicGas(gasLimit: bigint, data: Uint8Array, extra: bigint): void {
  const needed = intrinsicGas(data) + extra;
  if (gasLimit < needed) {
    throw new TxError(
      { code: TxErrorCode.INTRINSIC_GAS_TOO_LOW, gasLimit, intrinsicGas: needed },
      `intrinsic gas too low: gas limit ${gasLimit} is below the ${needed} the transaction needs`,
    );
  }
}

// Reused: the native binding and noble copy the signature before returning.
const signatureScratch = new Uint8Array(64);

function recoverSender(message: Uint8Array, rField: Uint8Array, sField: Uint8Array, recovery: number): Hex {
  const from = recoverFromCompact(keccak256(message), compactSignature(rField, sField), recovery);
  if (from === null) throw badSignature("no public key recovers from it");
  return from;
}

/** `r || s` in a shared 64-byte buffer, valid until the next call. */
function compactSignature(rField: Uint8Array, sField: Uint8Array): Uint8Array {
  // r and s are canonical, non-zero and at most 32 bytes here (checked by decoding), so they are
  // left-padded into the 64-byte compact form without going through bigint.
  const signature = signatureScratch.fill(0);
  signature.set(rField, 32 - rField.length);
  signature.set(sField, 64 - sField.length);
  return signature;
}

/**
 * The uncompressed 65-byte public key (`0x04 || x || y`) that signed a decoded transaction: the key a
 * content key is sealed to for the buyer of a purchase. Checked to hash to `tx.from`; throws TxError
 * BAD_SIGNATURE otherwise (possible only for a transaction decoded with a wrong `knownSender`).
 */
export function recoverSenderPublicKey(tx: SignedTx): Uint8Array {
  const typed = tx.type === 2;
  let values: RlpValues;
  try {
    values = RLP.decode(typed ? tx.raw.subarray(1) : tx.raw);
  } catch (e) {
    throw badRlp(errorReason(e));
  }
  // decodeTransaction checked the shape: the last three items are v, r and s, short strings
  if (!Array.isArray(values) || values.length !== (typed ? 12 : 9)) throw badRlp("not a signed transaction");
  const [vField, rField, sField] = values.slice(-3) as [Uint8Array, Uint8Array, Uint8Array];
  const suffix = typed ? EMPTY_BYTES : chainContext(tx.chainId).legacySuffix;
  const message = signingMessage(tx.raw, typed ? 1 : 0, vField, rField, sField, suffix);
  const recovery = Number(typed ? tx.v : (tx.v - 35n) & 1n);
  const recovered = recoverPublicKeyFromCompact(keccak256(message), compactSignature(rField, sField), recovery);
  if (recovered === null) throw badSignature("no public key recovers from it");
  const publicKey = recovered.slice(); // out of the shared buffer
  const signer = publicKeyAddress(publicKey);
  if (signer !== tx.from) throw badSignature(`it recovers to ${signer}, not to the sender ${tx.from}`);
  return publicKey;
}

function accessListToJson(list: FeeMarket1559Tx["accessList"]): readonly AccessListEntry[] {
  return Object.freeze(
    list.map(([address, keys]) =>
      Object.freeze({ address: toHex(address), storageKeys: Object.freeze(keys.map((k) => toHex(k))) }),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// fee and account checks

/** Price per gas the sender pays in a block with this base fee (legacy: its gas price); assumes {@link checkFee} passed. */
export function effectiveGasPrice(tx: SignedTx, baseFee: bigint): bigint {
  if (tx.type === 0) return tx.maxFeePerGas;
  const capped = baseFee + tx.maxPriorityFeePerGas;
  return capped < tx.maxFeePerGas ? capped : tx.maxFeePerGas;
}

/** Refuses a transaction whose fee cap (legacy: gas price) is below the base fee. */
export function checkFee(tx: SignedTx, baseFee: bigint): void {
  if (tx.maxFeePerGas < baseFee) {
    throw new TxError(
      { code: TxErrorCode.FEE_TOO_LOW, maxFeePerGas: tx.maxFeePerGas, baseFee },
      `fee too low: max fee per gas ${tx.maxFeePerGas} is below the base fee ${baseFee}`,
    );
  }
}

/** Most the transaction can take from its sender: value + gasLimit * maxFeePerGas. */
export function maxCost(tx: SignedTx): bigint {
  return tx.value + tx.gasLimit * tx.maxFeePerGas;
}

/** Checks the transaction's nonce and cost against its sender's account; future nonces only when allowed (pool queue). */
export function checkAgainstAccount(tx: SignedTx, account: Account, opts: { allowFutureNonce: boolean }): void {
  if (tx.nonce < account.nonce) {
    throw new TxError(
      { code: TxErrorCode.NONCE_TOO_LOW, from: tx.from, accountNonce: account.nonce, txNonce: tx.nonce },
      `nonce too low: account ${tx.from} has nonce ${account.nonce}, transaction has ${tx.nonce}`,
    );
  }
  if (tx.nonce > account.nonce && !opts.allowFutureNonce) {
    throw new TxError(
      { code: TxErrorCode.NONCE_TOO_HIGH, from: tx.from, accountNonce: account.nonce, txNonce: tx.nonce },
      `nonce too high: account ${tx.from} has nonce ${account.nonce}, transaction has ${tx.nonce}`,
    );
  }
  const cost = maxCost(tx);
  if (account.balance < cost) {
    throw new TxError(
      { code: TxErrorCode.INSUFFICIENT_FUNDS, from: tx.from, balance: account.balance, cost },
      `insufficient funds: account ${tx.from} has ${account.balance} wei, ` +
        `the transaction may cost ${cost} wei (value + gas limit * max fee per gas)`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// byte helpers

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

// A table lookup is faster here than Buffer's hex for the short strings it serves (addresses).
function toHex(bytes: Uint8Array): Hex {
  let hex = "0x";
  for (let i = 0; i < bytes.length; i++) hex += HEX_BYTE[bytes[i] as number];
  return hex as Hex;
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.length % 2 === 1 ? `0${hex}` : hex, "hex"));
}

function isEmpty(field: RlpValues | undefined): boolean {
  return field instanceof Uint8Array && field.length === 0;
}

/** True for a byte string without leading zero bytes (the canonical RLP form of an integer). */
function isCanonicalUint(field: RlpValues | undefined): field is Uint8Array {
  return field instanceof Uint8Array && (field.length === 0 || field[0] !== 0);
}

/** Compares two byte strings of equal length as big-endian numbers. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

function bytesToUint(bytes: Uint8Array): bigint {
  if (bytes.length <= 6) {
    let n = 0;
    for (let i = 0; i < bytes.length; i++) n = n * 256 + (bytes[i] as number);
    return BigInt(n);
  }
  return BigInt(toHex(bytes));
}

function writeUint256(target: Uint8Array, offset: number, value: bigint): void {
  let rest = value;
  for (let i = offset + 31; i >= offset; i--) {
    target[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
}

function errorReason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
