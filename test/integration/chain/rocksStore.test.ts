import { describe, expect, it } from "@jest/globals";
import { RocksStore } from "../../../chain/db/rocksStore.js";
import { Bucket, bucketKey, numberKey } from "../../../chain/db/buckets.js";
import { tempDir } from "../../helpers/ledger.js";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("RocksStore", () => {
  it("writes batches, reads them back after reopening, deletes, and lists by prefix in key order", async () => {
    const [dir, remove] = tempDir();
    try {
      const store = new RocksStore({ path: dir });
      await store.start();
      expect(await store.get(enc("missing"))).toBeUndefined();
      await store.batch([
        { type: "put", key: bucketKey(Bucket.canonical, numberKey(2n)), value: enc("two") },
        { type: "put", key: bucketKey(Bucket.canonical, numberKey(1n)), value: enc("one") },
        { type: "put", key: bucketKey(Bucket.canonical, numberKey(256n)), value: enc("big") },
        { type: "put", key: bucketKey(Bucket.meta, enc("head")), value: enc("h") },
      ]);
      await store.batch([{ type: "del", key: bucketKey(Bucket.canonical, numberKey(2n)) }]);
      await store.stop();

      const again = new RocksStore({ path: dir });
      await again.start();
      const listed: string[] = [];
      for await (const [, v] of again.entries(Uint8Array.of(Bucket.canonical))) listed.push(new TextDecoder().decode(v));
      expect(listed).toEqual(["one", "big"]);
      expect(new TextDecoder().decode((await again.get(bucketKey(Bucket.meta, enc("head"))))!)).toBe("h");
      await again.stop();
      await again.stop(); // idempotent
    } finally {
      remove();
    }
  });

  it("refuses calls on a closed store with a clear error", async () => {
    const [dir, remove] = tempDir();
    try {
      const store = new RocksStore({ path: dir });
      await expect(store.get(enc("k"))).rejects.toThrow("database is not open");
    } finally {
      remove();
    }
  });
});
