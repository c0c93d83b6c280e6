import { beforeAll, describe, expect, it } from "@jest/globals";
import { Wallet, getBytes } from "ethers";
import fc from "fast-check";
import { decodeTransaction, TxErrorCode, type SignedTx } from "../../../chain/transaction.js";
import { TxDropReason, TxPool, TxPoolErrorCode, TxPoolEvent, type TxPoolOptions } from "../../../chain/txPool.js";
import type { Account, AccountReader, Hex } from "../../../chain/types.js";
import { codeOf } from "../../helpers/rejection.js";

const CHAIN_ID = 1984n;
const BASE_FEE = 10n;
const RICH = 10n ** 24n;
const RECIPIENT = "0x000000000000000000000000000000000000dead";

/** Head state as a plain map; unknown accounts are empty. */
class MemoryState implements AccountReader {
  readonly accounts = new Map<Hex, Account>();

  async getAccount(address: Hex): Promise<Account> {
    return this.accounts.get(address) ?? { nonce: 0n, balance: 0n };
  }

  set(address: Hex, nonce: bigint, balance = RICH): void {
    this.accounts.set(address, { nonce, balance });
  }
}

interface Setup {
  pool: TxPool;
  state: MemoryState;
  head: { baseFee: bigint };
  added: Hex[];
  dropped: [Hex, TxDropReason][];
}

function setup(opts: Partial<TxPoolOptions> = {}): [Setup, () => void] {
  const state = new MemoryState();
  const head = { baseFee: BASE_FEE };
  const pool = new TxPool(opts, { chainId: CHAIN_ID, baseFee: () => head.baseFee, state: () => state });
  const added: Hex[] = [];
  const dropped: [Hex, TxDropReason][] = [];
  pool.on(TxPoolEvent.added, (tx) => added.push(tx.hash));
  pool.on(TxPoolEvent.dropped, (hash, reason) => dropped.push([hash, reason]));
  pool.start();
  const close = (): void => {
    pool.stop();
    pool.removeAllListeners();
  };
  return [{ pool, state, head, added, dropped }, close];
}

const wallets = Array.from({ length: 6 }, (_, i) => new Wallet(`0x${(i + 1).toString(16).padStart(64, "0")}`));
const addr = (i: number): Hex => wallets[i]!.address.toLowerCase() as Hex;

interface TxParams {
  tip?: bigint;
  maxFee?: bigint;
  value?: bigint;
  gasLimit?: bigint;
  dataBytes?: number;
  legacy?: boolean;
}

async function makeTx(sender: number, nonce: number, p: TxParams = {}): Promise<SignedTx> {
  const tip = p.tip ?? 1n;
  const common = {
    chainId: CHAIN_ID,
    nonce,
    to: RECIPIENT,
    value: p.value ?? 0n,
    gasLimit: p.gasLimit ?? 100_000n,
    data: `0x${"ab".repeat(p.dataBytes ?? 0)}`,
  };
  const raw = p.legacy
    ? await wallets[sender]!.signTransaction({ ...common, type: 0, gasPrice: p.maxFee ?? BASE_FEE + tip })
    : await wallets[sender]!.signTransaction({ ...common, type: 2, maxPriorityFeePerGas: tip, maxFeePerGas: p.maxFee ?? BASE_FEE + tip });
  return decodeTransaction(getBytes(raw), CHAIN_ID);
}

/** Sender index and nonce of each transaction, to compare orderings readably. */
function ids(txs: readonly SignedTx[]): string[] {
  return txs.map((tx) => `${wallets.findIndex((w) => w.address.toLowerCase() === tx.from)}:${tx.nonce}`);
}

describe("TxPool", () => {
  it("orders one sender's transactions by nonce whatever the arrival order", async () => {
    const [{ pool, state }, close] = setup();
    state.set(addr(0), 0n);
    for (const n of [2, 0, 1]) await pool.add(await makeTx(0, n));
    expect(ids(pool.pending())).toEqual(["0:0", "0:1", "0:2"]);
    expect(pool.queued()).toEqual([]);
    close();
  });

  it("orders senders by effective tip, keeping each sender's nonce order", async () => {
    const [{ pool, state }, close] = setup();
    for (let i = 0; i < 3; i++) state.set(addr(i), 0n);
    await pool.add(await makeTx(0, 0, { tip: 1n }));
    await pool.add(await makeTx(0, 1, { tip: 10n }));
    await pool.add(await makeTx(1, 0, { tip: 5n }));
    await pool.add(await makeTx(2, 0, { tip: 3n }));
    await pool.add(await makeTx(2, 1, { tip: 7n }));
    expect(ids(pool.pending())).toEqual(["1:0", "2:0", "2:1", "0:0", "0:1"]);
    close();
  });

  it("ranks by the tip at the current base fee, not by the fee cap", async () => {
    const [{ pool, state }, close] = setup();
    for (let i = 0; i < 3; i++) state.set(addr(i), 0n);
    // effective tips: sender 0 gets 5 (the highest cap), sender 1 gets 8, sender 2 bids 9 but its cap leaves 6
    await pool.add(await makeTx(0, 0, { tip: 5n, maxFee: 1000n }));
    await pool.add(await makeTx(1, 0, { tip: 8n, maxFee: BASE_FEE + 8n }));
    await pool.add(await makeTx(2, 0, { tip: 9n, maxFee: BASE_FEE + 6n }));
    expect(ids(pool.pending())).toEqual(["1:0", "2:0", "0:0"]);
    close();
  });

  it("keeps a future nonce queued until the gap fills", async () => {
    const [{ pool, state, added }, close] = setup();
    state.set(addr(0), 3n);
    const t3 = await makeTx(0, 3);
    const t5 = await makeTx(0, 5);
    await pool.add(t3);
    await pool.add(t5);
    expect(ids(pool.pending())).toEqual(["0:3"]);
    expect(ids(pool.queued())).toEqual(["0:5"]);
    expect(pool.content().queued.get(addr(0))).toEqual([t5]);
    await pool.add(await makeTx(0, 4));
    expect(ids(pool.pending())).toEqual(["0:3", "0:4", "0:5"]);
    expect(pool.queued()).toEqual([]);
    expect(added).toHaveLength(3);
    close();
  });

  it("gives a sender's pending nonce past its gapless pooled transactions", async () => {
    const [{ pool, state }, close] = setup();
    state.set(addr(0), 3n);
    expect(pool.pendingNonce(addr(0), 3n)).toBe(3n);
    await pool.add(await makeTx(0, 3));
    await pool.add(await makeTx(0, 4));
    await pool.add(await makeTx(0, 6));
    // 5 is missing: 6 waits and does not count
    expect(pool.pendingNonce(addr(0), 3n)).toBe(5n);
    // a head that already took nonce 3 and 4
    expect(pool.pendingNonce(addr(0), 5n)).toBe(5n);
    expect(pool.pendingNonce(addr(1), 7n)).toBe(7n);
    close();
  });

  it("replaces a transaction when both fee caps are 10% higher and refuses 9%", async () => {
    const [{ pool, state, dropped }, close] = setup();
    state.set(addr(0), 0n);
    const old = await makeTx(0, 0, { tip: 100n, maxFee: 1000n });
    await pool.add(old);
    expect(await codeOf(pool.add(await makeTx(0, 0, { tip: 109n, maxFee: 1090n })))).toBe(TxPoolErrorCode.REPLACEMENT_UNDERPRICED);
    expect(await codeOf(pool.add(await makeTx(0, 0, { tip: 100n, maxFee: 2000n })))).toBe(TxPoolErrorCode.REPLACEMENT_UNDERPRICED);
    expect(pool.has(old.hash)).toBe(true);
    const bumped = await makeTx(0, 0, { tip: 110n, maxFee: 1100n });
    await pool.add(bumped);
    expect(pool.has(old.hash)).toBe(false);
    expect(pool.get(bumped.hash)).toBe(bumped);
    expect(pool.size).toBe(1);
    expect(pool.bytes).toBe(bumped.raw.length);
    expect(dropped).toEqual([[old.hash, TxDropReason.REPLACED]]);
    close();
  });

  it("replaces a legacy transaction only for a 10% higher gas price", async () => {
    const [{ pool, state }, close] = setup();
    state.set(addr(0), 0n);
    await pool.add(await makeTx(0, 0, { legacy: true, maxFee: 200n }));
    expect(await codeOf(pool.add(await makeTx(0, 0, { legacy: true, maxFee: 219n })))).toBe(TxPoolErrorCode.REPLACEMENT_UNDERPRICED);
    await pool.add(await makeTx(0, 0, { legacy: true, maxFee: 220n }));
    expect(pool.pending()[0]!.maxFeePerGas).toBe(220n);
    close();
  });

  it("says why a replacement is underpriced, with the numbers", async () => {
    const [{ pool, state }, close] = setup();
    state.set(addr(0), 0n);
    await pool.add(await makeTx(0, 0, { tip: 100n, maxFee: 1000n }));
    await expect(pool.add(await makeTx(0, 0, { tip: 105n, maxFee: 1100n }))).rejects.toThrow(/at least 1100 and 110/);
    close();
  });

  describe("rejects", () => {
    it("a known transaction with ALREADY_KNOWN", async () => {
      const [{ pool, state }, close] = setup();
      state.set(addr(0), 0n);
      const tx = await makeTx(0, 0);
      await pool.add(tx);
      expect(await codeOf(pool.add(tx))).toBe(TxPoolErrorCode.ALREADY_KNOWN);
      close();
    });

    it("a fee cap under the base fee with FEE_TOO_LOW", async () => {
      const [{ pool, state }, close] = setup();
      state.set(addr(0), 0n);
      expect(await codeOf(pool.add(await makeTx(0, 0, { tip: 0n, maxFee: BASE_FEE - 1n })))).toBe(TxErrorCode.FEE_TOO_LOW);
      close();
    });

    it("a nonce below the account's with NONCE_TOO_LOW", async () => {
      const [{ pool, state }, close] = setup();
      state.set(addr(0), 5n);
      expect(await codeOf(pool.add(await makeTx(0, 4)))).toBe(TxErrorCode.NONCE_TOO_LOW);
      close();
    });

    it("a nonce more than maxNonceGap above the account's with NONCE_TOO_HIGH", async () => {
      const [{ pool, state }, close] = setup({ maxNonceGap: 4 });
      state.set(addr(0), 2n);
      await pool.add(await makeTx(0, 6));
      expect(await codeOf(pool.add(await makeTx(0, 7)))).toBe(TxErrorCode.NONCE_TOO_HIGH);
      close();
    });

    it("a cost above the balance with INSUFFICIENT_FUNDS", async () => {
      const [{ pool, state }, close] = setup();
      const tx = await makeTx(0, 0, { value: 1000n });
      state.set(addr(0), 0n, 1000n + tx.gasLimit * tx.maxFeePerGas - 1n);
      expect(await codeOf(pool.add(tx))).toBe(TxErrorCode.INSUFFICIENT_FUNDS);
      close();
    });

    it("a transaction for another chain with WRONG_CHAIN_ID", async () => {
      const [{ pool, state }, close] = setup();
      state.set(addr(0), 0n);
      const tx = await makeTx(0, 0);
      expect(await codeOf(pool.add({ ...tx, chainId: 1n }))).toBe(TxErrorCode.WRONG_CHAIN_ID);
      close();
    });

    it("a sender's transaction beyond maxPerSender with SENDER_LIMIT, unless it has a lower nonce", async () => {
      const [{ pool, state, dropped }, close] = setup({ maxPerSender: 2 });
      state.set(addr(0), 0n);
      await pool.add(await makeTx(0, 1));
      const t2 = await makeTx(0, 2);
      await pool.add(t2);
      expect(await codeOf(pool.add(await makeTx(0, 3)))).toBe(TxPoolErrorCode.SENDER_LIMIT);
      await pool.add(await makeTx(0, 0));
      expect(ids(pool.pending())).toEqual(["0:0", "0:1"]);
      expect(dropped).toEqual([[t2.hash, TxDropReason.SENDER_LIMIT]]);
      close();
    });
  });

  it("rejects a transaction whose cost with the sender's lower nonces exceeds the balance", async () => {
    const [{ pool, state }, close] = setup();
    const t0 = await makeTx(0, 0, { value: 500n });
    const t1 = await makeTx(0, 1, { value: 500n });
    const t2 = await makeTx(0, 2, { value: 500n });
    const t4 = await makeTx(0, 4, { value: 500n });
    state.set(addr(0), 0n, maxCostOf(t0) + maxCostOf(t1));
    await pool.add(t0);
    await pool.add(t1);
    expect(await codeOf(pool.add(t2))).toBe(TxErrorCode.INSUFFICIENT_FUNDS);
    expect(await codeOf(pool.add(t4))).toBe(TxErrorCode.INSUFFICIENT_FUNDS);
    await expect(pool.add(t2)).rejects.toThrow(/has 2201000 wei.* may cost 3301500 wei/);
    expect(pool.size).toBe(2);
    close();
  });

  it("drops the later nonces a filled gap makes unaffordable", async () => {
    const [{ pool, state, dropped }, close] = setup();
    const t0 = await makeTx(0, 0);
    const t1 = await makeTx(0, 1);
    const t2 = await makeTx(0, 2);
    state.set(addr(0), 0n, maxCostOf(t0) + maxCostOf(t1));
    await pool.add(t0);
    await pool.add(t2); // only t0 is below it
    await pool.add(t1);
    expect(pool.pending()).toEqual([t0, t1]);
    expect(dropped).toEqual([[t2.hash, TxDropReason.INSUFFICIENT_FUNDS]]);
    close();
  });

  it("drops later nonces a costlier replacement makes unaffordable", async () => {
    const [{ pool, state, dropped }, close] = setup();
    const t0 = await makeTx(0, 0, { tip: 10n });
    const t1 = await makeTx(0, 1, { tip: 10n });
    state.set(addr(0), 0n, maxCostOf(t0) + maxCostOf(t1));
    await pool.add(t0);
    await pool.add(t1);
    const bigger = await makeTx(0, 0, { tip: 11n, maxFee: 22n, value: 1n });
    await pool.add(bigger);
    expect(pool.pending()).toEqual([bigger]);
    expect(dropped).toEqual([
      [t0.hash, TxDropReason.REPLACED],
      [t1.hash, TxDropReason.INSUFFICIENT_FUNDS],
    ]);
    close();
  });

  describe("caps", () => {
    it("evicts the lowest-tip transaction beyond maxCount", async () => {
      const [{ pool, state, dropped }, close] = setup({ maxCount: 3 });
      for (let i = 0; i < 5; i++) state.set(addr(i), 0n);
      const low = await makeTx(0, 0, { tip: 1n });
      await pool.add(low);
      await pool.add(await makeTx(1, 0, { tip: 2n }));
      await pool.add(await makeTx(2, 0, { tip: 3n }));
      await pool.add(await makeTx(3, 0, { tip: 4n }));
      expect(pool.size).toBe(3);
      expect(pool.has(low.hash)).toBe(false);
      expect(dropped).toEqual([[low.hash, TxDropReason.EVICTED]]);
      close();
    });

    it("rejects a newcomer with POOL_FULL when it has the lowest tip, leaving the pool as it was", async () => {
      const [{ pool, state, dropped }, close] = setup({ maxCount: 2 });
      for (let i = 0; i < 3; i++) state.set(addr(i), 0n);
      await pool.add(await makeTx(0, 0, { tip: 5n }));
      await pool.add(await makeTx(1, 0, { tip: 6n }));
      const before = pool.pending();
      expect(await codeOf(pool.add(await makeTx(2, 0, { tip: 4n })))).toBe(TxPoolErrorCode.POOL_FULL);
      // a tie loses too: the pool keeps what came first
      expect(await codeOf(pool.add(await makeTx(2, 0, { tip: 5n })))).toBe(TxPoolErrorCode.POOL_FULL);
      expect(pool.pending()).toEqual(before);
      expect(dropped).toEqual([]);
      close();
    });

    it("rejects with POOL_FULL a replacement too big to fit and keeps the original", async () => {
      const original = await makeTx(0, 0, { tip: 1n });
      const [{ pool, state, dropped }, close] = setup({ maxBytes: original.raw.length + 10 });
      state.set(addr(0), 0n);
      await pool.add(original);
      expect(await codeOf(pool.add(await makeTx(0, 0, { tip: 5n, dataBytes: 100 })))).toBe(TxPoolErrorCode.POOL_FULL);
      expect(pool.pending()).toEqual([original]);
      expect(pool.bytes).toBe(original.raw.length);
      expect(dropped).toEqual([]);
      close();
    });

    it("evicts the lowest-tip transactions beyond maxBytes", async () => {
      const small = await makeTx(0, 0, { tip: 1n });
      const mid = await makeTx(1, 0, { tip: 2n });
      const high = await makeTx(2, 0, { tip: 3n });
      const big = await makeTx(3, 0, { tip: 4n, dataBytes: 2 * small.raw.length });
      const [{ pool, state, dropped }, close] = setup({ maxBytes: big.raw.length + high.raw.length });
      for (let i = 0; i < 4; i++) state.set(addr(i), 0n);
      for (const tx of [small, mid, high]) await pool.add(tx);
      await pool.add(big);
      expect(dropped).toEqual([
        [small.hash, TxDropReason.EVICTED],
        [mid.hash, TxDropReason.EVICTED],
      ]);
      expect(pool.bytes).toBe(big.raw.length + high.raw.length);
      expect(ids(pool.pending())).toEqual(["3:0", "2:0"]);
      close();
    });

    it("evicts a sender's highest nonce first so no gap opens", async () => {
      const [{ pool, state, dropped }, close] = setup({ maxCount: 3 });
      for (let i = 0; i < 3; i++) state.set(addr(i), 0n);
      await pool.add(await makeTx(0, 0, { tip: 1n }));
      const a1 = await makeTx(0, 1, { tip: 9n });
      await pool.add(a1);
      await pool.add(await makeTx(1, 0, { tip: 3n }));
      await pool.add(await makeTx(2, 0, { tip: 4n }));
      expect(dropped).toEqual([[a1.hash, TxDropReason.EVICTED]]);
      expect(ids(pool.pending())).toEqual(["2:0", "1:0", "0:0"]);
      expect(pool.queued()).toEqual([]);
      close();
    });

    it("evicts transactions behind a nonce gap before executable ones", async () => {
      const [{ pool, state, dropped }, close] = setup({ maxCount: 2 });
      for (let i = 0; i < 3; i++) state.set(addr(i), 0n);
      await pool.add(await makeTx(0, 0, { tip: 1n }));
      const gapped = await makeTx(1, 5, { tip: 100n });
      await pool.add(gapped);
      await pool.add(await makeTx(2, 0, { tip: 2n }));
      expect(dropped).toEqual([[gapped.hash, TxDropReason.EVICTED]]);
      close();
    });
  });

  describe("onNewHead", () => {
    it("drops included and stale-nonce transactions and promotes queued ones", async () => {
      const [{ pool, state, dropped }, close] = setup();
      state.set(addr(0), 0n);
      state.set(addr(1), 0n);
      const a0 = await makeTx(0, 0);
      const a1 = await makeTx(0, 1);
      const a3 = await makeTx(0, 3);
      const b0 = await makeTx(1, 0);
      for (const tx of [a0, a1, a3, b0]) await pool.add(tx);
      expect(ids(pool.queued())).toEqual(["0:3"]);

      // the block holds a0, a1, a2 (sent elsewhere) and another b0 (different fee, different hash)
      const a2 = await makeTx(0, 2);
      const otherB0 = await makeTx(1, 0, { tip: 2n });
      state.set(addr(0), 3n);
      state.set(addr(1), 1n);
      await pool.onNewHead([a0, a1, a2, otherB0], []);
      expect(ids(pool.pending())).toEqual(["0:3"]);
      expect(pool.queued()).toEqual([]);
      expect(pool.size).toBe(1);
      expect(pool.bytes).toBe(a3.raw.length);
      expect(dropped).toEqual([
        [a0.hash, TxDropReason.INCLUDED],
        [a1.hash, TxDropReason.INCLUDED],
        [b0.hash, TxDropReason.NONCE_TOO_LOW],
      ]);
      close();
    });

    it("drops transactions the sender can no longer pay for", async () => {
      const [{ pool, state, dropped }, close] = setup();
      const t0 = await makeTx(0, 0);
      const t1 = await makeTx(0, 1);
      state.set(addr(0), 0n);
      await pool.add(t0);
      await pool.add(t1);
      state.set(addr(0), 0n, maxCostOf(t0));
      await pool.onNewHead([], []);
      expect(pool.pending()).toEqual([t0]);
      expect(dropped).toEqual([[t1.hash, TxDropReason.INSUFFICIENT_FUNDS]]);
      close();
    });

    it("re-adds transactions of dropped blocks after a reorg and skips invalid ones", async () => {
      const [{ pool, state, added }, close] = setup();
      state.set(addr(0), 1n);
      state.set(addr(1), 0n);
      state.set(addr(2), 0n);
      const a0 = await makeTx(0, 0); // nonce used on the new chain too: skipped
      const b0 = await makeTx(1, 0);
      const b1 = await makeTx(1, 1);
      const c0 = await makeTx(2, 0); // in both the dropped and the new blocks: skipped
      state.set(addr(2), 1n);
      await pool.onNewHead([c0], [b1, a0, b0, c0]);
      expect(ids(pool.pending())).toEqual(["1:0", "1:1"]);
      expect(added).toEqual([b0.hash, b1.hash]);
      close();
    });

    it("revalidates against the base fee: a fee cap below it waits in queued", async () => {
      const [{ pool, state, head }, close] = setup();
      state.set(addr(0), 0n);
      await pool.add(await makeTx(0, 0, { tip: 1n, maxFee: 20n }));
      await pool.add(await makeTx(0, 1, { tip: 1n, maxFee: 40n }));
      head.baseFee = 30n;
      await pool.onNewHead([], []);
      expect(pool.pending()).toEqual([]);
      expect(ids(pool.queued())).toEqual(["0:0", "0:1"]);
      head.baseFee = 10n;
      expect(ids(pool.pending())).toEqual(["0:0", "0:1"]);
      close();
    });
  });

  it("serialises concurrent adds of the same transaction", async () => {
    const [{ pool, state }, close] = setup();
    state.set(addr(0), 0n);
    const tx = await makeTx(0, 0);
    const results = await Promise.allSettled([pool.add(tx), pool.add(tx)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(pool.size).toBe(1);
    close();
  });

  describe("property", () => {
    const SENDERS = 3;
    const NONCES = 6;
    const TIPS = [1n, 5n, 6n, 20n];
    let txs: SignedTx[][][] = [];

    beforeAll(async () => {
      txs = [];
      for (let s = 0; s < SENDERS; s++) {
        const perNonce: SignedTx[][] = [];
        for (let n = 0; n < NONCES; n++) perNonce.push(await Promise.all(TIPS.map((tip) => makeTx(s, n, { tip, dataBytes: n * 7 }))));
        txs.push(perNonce);
      }
    });

    it("keeps pending gapless from the account nonce and size/bytes equal to the contents", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.nat(SENDERS - 1), { minLength: SENDERS, maxLength: SENDERS }),
          fc.array(
            fc.oneof(
              fc.record({ kind: fc.constant("add" as const), s: fc.nat(SENDERS - 1), n: fc.nat(NONCES - 1), t: fc.nat(TIPS.length - 1) }),
              fc.record({ kind: fc.constant("head" as const), s: fc.nat(SENDERS - 1), by: fc.nat(2) }),
              fc.record({ kind: fc.constant("remove" as const), s: fc.nat(SENDERS - 1), n: fc.nat(NONCES - 1), t: fc.nat(TIPS.length - 1) }),
            ),
            { maxLength: 40 },
          ),
          fc.integer({ min: 2, max: 12 }),
          async (startNonces, ops, maxCount) => {
            const [{ pool, state }, close] = setup({ maxCount, maxPerSender: 4 });
            startNonces.forEach((n, s) => state.set(addr(s), BigInt(n)));
            for (const op of ops) {
              if (op.kind === "add") {
                await pool.add(txs[op.s]![op.n]![op.t]!).catch(() => undefined);
              } else if (op.kind === "remove") {
                pool.remove([txs[op.s]![op.n]![op.t]!.hash]);
              } else {
                const account = state.accounts.get(addr(op.s))!;
                state.set(addr(op.s), account.nonce + BigInt(op.by));
                await pool.onNewHead([], []);
              }
              const { pending, queued } = pool.content();
              for (const [from, list] of pending) {
                const nonce = state.accounts.get(from)!.nonce;
                expect(list.map((tx) => tx.nonce)).toEqual(list.map((_, i) => nonce + BigInt(i)));
              }
              const all = [...pending.values(), ...queued.values()].flat();
              for (const [, list] of queued) for (const tx of list) expect(tx.nonce).toBeGreaterThanOrEqual(state.accounts.get(tx.from)!.nonce);
              expect(pool.size).toBe(all.length);
              expect(new Set(all.map((tx) => tx.hash)).size).toBe(all.length);
              expect(pool.bytes).toBe(all.reduce((sum, tx) => sum + tx.raw.length, 0));
              expect(pool.size).toBeLessThanOrEqual(maxCount);
              const ordered = pool.pending();
              expect(new Set(ordered)).toEqual(new Set([...pending.values()].flat()));
              for (const [from, list] of pending) expect(ordered.filter((tx) => tx.from === from)).toEqual(list);
              for (const tx of all) expect(pool.get(tx.hash)).toBe(tx);
            }
            close();
          },
        ),
        { numRuns: 150 },
      );
    });
  });
});

function maxCostOf(tx: SignedTx): bigint {
  return tx.value + tx.gasLimit * tx.maxFeePerGas;
}

describe("TxPool block gas limit", () => {
  it("refuses a transaction asking for more gas than a block holds, which could never be mined", async () => {
    const wallet = Wallet.createRandom();
    const from = wallet.address.toLowerCase() as Hex;
    const pool = new TxPool({}, {
      chainId: 1984n,
      baseFee: () => 10n ** 9n,
      state: () => ({ getAccount: async () => ({ nonce: 0n, balance: 10n ** 24n }) }),
      blockGasLimit: 30_000_000n,
    });
    const sign = async (gasLimit: bigint): Promise<SignedTx> =>
      decodeTransaction(
        Buffer.from((await wallet.signTransaction({ type: 2, chainId: 1984, nonce: 0, to: from, value: 1n, gasLimit, maxFeePerGas: 2n * 10n ** 9n, maxPriorityFeePerGas: 1n })).slice(2), "hex"),
        1984n,
      );
    await expect(pool.add(await sign(30_000_001n))).rejects.toMatchObject({ code: TxPoolErrorCode.EXCEEDS_BLOCK_GAS_LIMIT });
    expect(pool.size).toBe(0);
    await pool.add(await sign(30_000_000n));
    expect(pool.size).toBe(1);
  });
});
