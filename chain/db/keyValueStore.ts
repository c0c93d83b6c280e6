/** One write of an atomic batch. */
export type BatchOp = { type: "put"; key: Uint8Array; value: Uint8Array } | { type: "del"; key: Uint8Array };

/** The small storage interface the chain needs; RocksDB implements it, every block is one `batch`. */
export interface KeyValueStore {
  /** Opens the store (idempotent). */
  start(): Promise<void>;
  /** Flushes and closes the store (idempotent). */
  stop(): Promise<void>;
  /** The value under `key`, or undefined. */
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Writes all ops atomically: after a crash either all of them are visible or none. */
  batch(ops: BatchOp[]): Promise<void>;
  /** Key/value pairs whose key starts with `prefix`, in key order. */
  entries(prefix: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]>;
}
