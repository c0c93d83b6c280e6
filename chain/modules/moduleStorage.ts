import { bigIntToBytes, bytesToBigInt, concatBytes, hexToBytes, setLengthLeft } from "@ethereumjs/util";
import { keccak256 } from "../keccak.js";
import type { StateView } from "../state.js";
import type { Hex } from "../types.js";
import { type GasMeter, ModuleGas } from "./gasMeter.js";

const WORD_MASK = (1n << 256n) - 1n;

function word(v: bigint): Uint8Array {
  return setLengthLeft(bigIntToBytes(v), 32);
}

/** Solidity's slot of `mapping[key]` for a mapping at slot `base`: keccak256(pad32(key) ‖ pad32(base)). */
export function mappingSlot(base: bigint, key: bigint | Hex): bigint {
  const k = typeof key === "bigint" ? word(key) : setLengthLeft(hexToBytes(key), 32);
  return bytesToBigInt(keccak256(concatBytes(k, word(base))));
}

/** The slot `offset` words after `slot` (wrapping at 2^256, as Solidity's struct fields do). */
export function slotAt(slot: bigint, offset: number | bigint): bigint {
  return (slot + BigInt(offset)) & WORD_MASK;
}

/** Reads a module's storage (view functions). */
export interface StorageReader {
  /** The 256-bit word at `slot` (0 if never written). */
  load(slot: bigint): Promise<bigint>;
  /** A byte string written by {@link StorageWriter.storeBytes} at `slot` (empty if none). */
  loadBytes(slot: bigint): Promise<Uint8Array>;
}

/** Reads and writes a module's storage (state-changing functions). */
export interface StorageWriter extends StorageReader {
  /** Writes a word (0 clears the slot). */
  store(slot: bigint, value: bigint): void;
  /** Writes a byte string: its length at `slot`, its bytes in 32-byte words from keccak256(pad32(slot)). */
  storeBytes(slot: bigint, data: Uint8Array): Promise<void>;
}

/**
 * One account's storage words in a state view, every access charged to a gas meter
 * (ModuleGas.STORAGE_READ / STORAGE_WRITE per word).
 */
export class AccountStorage implements StorageWriter {
  constructor(
    private readonly state: StateView,
    private readonly address: Hex,
    private readonly gas: GasMeter,
  ) {}

  load(slot: bigint): Promise<bigint> {
    this.gas.charge(ModuleGas.STORAGE_READ);
    return this.state.getStorage(this.address, slot);
  }

  store(slot: bigint, value: bigint): void {
    this.gas.charge(ModuleGas.STORAGE_WRITE);
    this.state.setStorage(this.address, slot, value);
  }

  async loadBytes(slot: bigint): Promise<Uint8Array> {
    const length = await this.load(slot);
    if (length === 0n) return new Uint8Array(0);
    const words = Number((length + 31n) / 32n);
    const first = dataSlot(slot);
    const out = new Uint8Array(words * 32);
    for (let i = 0; i < words; i++) out.set(word(await this.load(slotAt(first, i))), i * 32);
    return out.subarray(0, Number(length));
  }

  async storeBytes(slot: bigint, data: Uint8Array): Promise<void> {
    const oldWords = Number((await this.load(slot)) + 31n) >> 5;
    const words = Math.ceil(data.length / 32);
    const first = dataSlot(slot);
    this.store(slot, BigInt(data.length));
    const padded = new Uint8Array(words * 32);
    padded.set(data);
    for (let i = 0; i < words; i++) this.store(slotAt(first, i), bytesToBigInt(padded.subarray(i * 32, i * 32 + 32)));
    // a shorter value leaves no words of the longer one behind
    for (let i = words; i < oldWords; i++) this.store(slotAt(first, i), 0n);
  }
}

function dataSlot(slot: bigint): bigint {
  return bytesToBigInt(keccak256(word(slot)));
}
