import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import type RocksDBModule from "rocksdb";
import type { BatchOp, KeyValueStore } from "./keyValueStore.js";

type RocksFactory = typeof RocksDBModule.default;
type RocksDB = ReturnType<RocksFactory>;
// rocksdb is CommonJS with a prebuilt binary; NodeNext ESM loads it through require
const rocksdb = createRequire(import.meta.url)("rocksdb") as RocksFactory;

/** Options of the RocksDB store. */
export interface RocksStoreOptions {
  /** Folder of the database; created if missing. */
  path: string;
  /** fsync every batch (survives power loss, not only a killed process); slower. */
  sync: boolean;
}

/** Default RocksDB options (path must be given). */
export const defaultRocksStoreOptions: Omit<RocksStoreOptions, "path"> = { sync: false };

/** A KeyValueStore on RocksDB, with promise-based calls over the callback binding. */
export class RocksStore implements KeyValueStore {
  private readonly opts: RocksStoreOptions;
  private db: RocksDB | null = null;

  constructor(opts: Partial<RocksStoreOptions> & { path: string }) {
    this.opts = { ...defaultRocksStoreOptions, ...opts };
  }

  async start(): Promise<void> {
    if (this.db) return;
    mkdirSync(this.opts.path, { recursive: true });
    const db = rocksdb(this.opts.path);
    await new Promise<void>((resolve, reject) =>
      db.open({ createIfMissing: true }, (err) => (err ? reject(new Error(`cannot open database at ${this.opts.path}: ${err.message}`)) : resolve())),
    );
    this.db = db;
  }

  async stop(): Promise<void> {
    const db = this.db;
    if (!db) return;
    this.db = null;
    await new Promise<void>((resolve, reject) => db.close((err) => (err ? reject(err) : resolve())));
  }

  private open(): RocksDB {
    if (!this.db) throw new Error("database is not open");
    return this.db;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const db = this.open();
    return new Promise((resolve, reject) =>
      db.get(Buffer.from(key.buffer, key.byteOffset, key.byteLength), { asBuffer: true }, (err, value) => {
        if (err) {
          if (/NotFound/i.test(err.message)) resolve(undefined);
          else reject(err);
        } else resolve(new Uint8Array(value as Buffer));
      }),
    );
  }

  async batch(ops: BatchOp[]): Promise<void> {
    const db = this.open();
    const chained = db.batch();
    for (const op of ops) {
      const key = Buffer.from(op.key.buffer, op.key.byteOffset, op.key.byteLength);
      if (op.type === "put") chained.put(key, Buffer.from(op.value.buffer, op.value.byteOffset, op.value.byteLength));
      else chained.del(key);
    }
    return new Promise((resolve, reject) => chained.write({ sync: this.opts.sync }, (err) => (err ? reject(err) : resolve())));
  }

  async *entries(prefix: Uint8Array): AsyncIterable<[Uint8Array, Uint8Array]> {
    const db = this.open();
    const it = db.iterator({ gte: Buffer.from(prefix), keyAsBuffer: true, valueAsBuffer: true });
    try {
      for (;;) {
        const next = await new Promise<[Buffer, Buffer] | null>((resolve, reject) =>
          it.next((err, key, value) => (err ? reject(err) : resolve(key === undefined ? null : [key as Buffer, value as Buffer]))),
        );
        if (!next || !startsWith(next[0], prefix)) return;
        yield [new Uint8Array(next[0]), new Uint8Array(next[1])];
      }
    } finally {
      await new Promise<void>((resolve) => it.end(() => resolve()));
    }
  }
}

function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  if (key.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false;
  return true;
}
