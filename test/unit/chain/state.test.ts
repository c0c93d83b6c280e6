import { describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { verifyMerkleProof } from "@ethereumjs/mpt";
import { RLP } from "@ethereumjs/rlp";
import { bigIntToBytes, bytesToBigInt, bytesToHex, hexToBytes, setLengthLeft } from "@ethereumjs/util";
import { EMPTY_TRIE_ROOT, StateDb, keccak256, type Hex } from "../../../chain/index.js";
import { MemoryStore } from "../../helpers/memoryStore.js";

const A: Hex = "0x00000000000000000000000000000000000000aa";
const B: Hex = "0x00000000000000000000000000000000000000bb";

function slotKey(slot: bigint): Uint8Array {
  return keccak256(setLengthLeft(bigIntToBytes(slot), 32));
}

/** A state database over a fresh in-memory store. */
function freshDb(): [StateDb, MemoryStore] {
  const store = new MemoryStore();
  return [new StateDb({}, { store }), store];
}

describe("account storage in the state trie", () => {
  it("commits storage words, reads them back from the written nodes alone, and proves them with EIP-1186 proofs", async () => {
    const [db, store] = freshDb();
    const view = db.open(EMPTY_TRIE_ROOT);
    view.setAccount(A, { nonce: 0n, balance: 7n });
    view.setStorage(A, 0n, 5n);
    view.setStorage(A, 1n << 255n, (1n << 256n) - 1n);
    const { root, ops } = await view.commit();
    await store.batch(ops);

    // a second database over the same store sees only what the batch wrote
    const reopened = new StateDb({}, { store }).open(root);
    expect(await reopened.getStorage(A, 0n)).toBe(5n);
    expect(await reopened.getStorage(A, 1n << 255n)).toBe((1n << 256n) - 1n);
    expect(await reopened.getStorage(A, 2n)).toBe(0n);
    expect(await reopened.getStorage(B, 0n)).toBe(0n);

    const storageRoot = await reopened.getStorageRoot(A);
    expect(storageRoot).not.toBe(EMPTY_TRIE_ROOT);
    const leaf = await verifyMerkleProof(keccak256(hexToBytes(A)), await reopened.getProof(A), { root: hexToBytes(root) });
    const [, balance, accountStorageRoot] = RLP.decode(leaf!) as Uint8Array[];
    expect([bytesToBigInt(balance!), bytesToHex(accountStorageRoot!)]).toEqual([7n, storageRoot]);
    const value = await verifyMerkleProof(slotKey(0n), await reopened.getStorageProof(A, 0n), { root: hexToBytes(storageRoot) });
    expect(bytesToBigInt(RLP.decode(value!) as Uint8Array)).toBe(5n);
    // absence of slot 2 is proven too
    expect(await verifyMerkleProof(slotKey(2n), await reopened.getStorageProof(A, 2n), { root: hexToBytes(storageRoot) })).toBeNull();
    // an account without storage has the empty root and an empty storage proof
    expect(await reopened.getStorageRoot(B)).toBe(EMPTY_TRIE_ROOT);
    expect(await reopened.getStorageProof(B, 0n)).toEqual([]);
  });

  it("keeps an account that holds storage but no balance, and removes it once its storage is cleared", async () => {
    const [db, store] = freshDb();
    const v1 = db.open(EMPTY_TRIE_ROOT);
    v1.setStorage(A, 3n, 9n);
    const c1 = await v1.commit();
    await store.batch(c1.ops);
    expect(c1.root).not.toBe(EMPTY_TRIE_ROOT);
    const v2 = db.open(c1.root);
    expect(await v2.getStorage(A, 3n)).toBe(9n);
    v2.setStorage(A, 3n, 0n);
    const c2 = await v2.commit();
    expect(c2.root).toBe(EMPTY_TRIE_ROOT);
    // the old root stays readable (nodes are never deleted)
    expect(await db.open(c1.root).getStorage(A, 3n)).toBe(9n);
  });

  it("reverts to a snapshot: accounts and storage written since are back as they were, earlier changes stay", async () => {
    const [db] = freshDb();
    const view = db.open(EMPTY_TRIE_ROOT);
    view.setAccount(A, { nonce: 1n, balance: 10n });
    view.setStorage(A, 1n, 1n);
    const snap = view.snapshot();
    view.setAccount(A, { nonce: 2n, balance: 3n });
    view.setAccount(B, { nonce: 0n, balance: 4n });
    view.setStorage(A, 1n, 2n);
    view.setStorage(A, 2n, 2n);
    view.setStorage(B, 1n, 8n);
    view.revertToSnapshot(snap);
    expect(await view.getAccount(A)).toEqual({ nonce: 1n, balance: 10n });
    expect(await view.getAccount(B)).toEqual({ nonce: 0n, balance: 0n });
    expect([await view.getStorage(A, 1n), await view.getStorage(A, 2n), await view.getStorage(B, 1n)]).toEqual([1n, 0n, 0n]);

    const expected = db.open(EMPTY_TRIE_ROOT);
    expected.setAccount(A, { nonce: 1n, balance: 10n });
    expected.setStorage(A, 1n, 1n);
    expect((await view.commit()).root).toBe((await expected.commit()).root);
    expect(() => view.revertToSnapshot(snap)).toThrow(RangeError);
  });

  it("refuses slots and values outside 256 bits", async () => {
    const view = freshDb()[0].open(EMPTY_TRIE_ROOT);
    expect(() => view.setStorage(A, 1n << 256n, 1n)).toThrow(RangeError);
    expect(() => view.setStorage(A, 0n, -1n)).toThrow(RangeError);
    await expect(view.getStorage(A, -1n)).rejects.toThrow(RangeError);
  });

  it("storage of any writes reads back as a model map after commit, and the root does not depend on the order of writes", async () => {
    const write = fc.record({ account: fc.constantFrom(A, B), slot: fc.bigInt({ min: 0n, max: 40n }), value: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }) });
    await fc.assert(
      fc.asyncProperty(fc.array(write, { maxLength: 40 }), async (writes) => {
        const [db, store] = freshDb();
        const model = new Map<string, bigint>();
        const view = db.open(EMPTY_TRIE_ROOT);
        for (const w of writes) {
          view.setStorage(w.account, w.slot, w.value);
          model.set(`${w.account}:${w.slot}`, w.value);
        }
        const { root, ops } = await view.commit();
        await store.batch(ops);
        const reopened = new StateDb({}, { store }).open(root);
        for (const [k, v] of model) {
          const [account, slot] = k.split(":") as [Hex, string];
          expect(await reopened.getStorage(account, BigInt(slot))).toBe(v);
        }
        // the final values written in another order give the same root
        const other = db.open(EMPTY_TRIE_ROOT);
        for (const [k, v] of [...model].reverse()) {
          const [account, slot] = k.split(":") as [Hex, string];
          other.setStorage(account, BigInt(slot), v);
        }
        expect((await other.commit()).root).toBe(root);
      }),
      { numRuns: 60 },
    );
  });
});
