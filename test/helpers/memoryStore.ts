import { bytesToHex, hexToBytes } from "@ethereumjs/util";
import type { BatchOp, KeyValueStore } from "../../chain/index.js";

/** A KeyValueStore in a Map, for pure tests of the state and modules without a disk. */
export class MemoryStore implements KeyValueStore {
  readonly map = new Map<string, Uint8Array>();

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.map.get(bytesToHex(key));
  }

  async batch(ops: BatchOp[]): Promise<void> {
    for (const op of ops) {
      if (op.type === "put") this.map.set(bytesToHex(op.key), op.value);
      else this.map.delete(bytesToHex(op.key));
    }
  }

  async *entries(prefix: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> {
    const p = bytesToHex(prefix);
    for (const k of [...this.map.keys()].sort()) if (k.startsWith(p)) yield [hexToBytes(k as `0x${string}`), this.map.get(k)!];
  }
}
