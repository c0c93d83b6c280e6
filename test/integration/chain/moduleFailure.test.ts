import { afterAll, describe, expect, it } from "@jest/globals";
import { Interface } from "ethers";
import { ContentRegistry, SystemModules, type Hex, type SystemModule } from "../../../chain/index.js";
import { devWallet, keyOf, openLedger, testGenesis, devAddress } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";
import { sendModuleCall } from "../../helpers/modules.js";

// A system module that fails with something other than a revert (a bug) must not stop block
// production: the template leaves the transaction out, the state stays as it was, and the pool
// drops it.

const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c();
});

const BROKEN = "0x0000000000000000000000000000000000001986" as Hex;
const addr = devAddress;

/** A module whose every call first takes storage and then throws a plain Error. */
class BrokenModule implements SystemModule {
  readonly address = BROKEN;
  readonly name = "Broken";
  readonly abi = new Interface(["function poke()"]);
  async execute(ctx: Parameters<SystemModule["execute"]>[0]): Promise<Uint8Array> {
    ctx.storage.store(0n, 1n);
    throw new Error("module bug: index out of range");
  }
  async call(): Promise<Uint8Array> {
    throw new Error("module bug in a view");
  }
}

describe("a system module that throws (not a revert) while a block is built", () => {
  it("leaves the transaction out, keeps the state untouched, drops it from the pool and reports it; mining goes on", async () => {
    const errors: unknown[] = [];
    const genesis = await testGenesis();
    const [l, close] = await openLedger(genesis, {
      systemModules: new SystemModules([new ContentRegistry(), new BrokenModule()]),
      onError: (e) => errors.push(e),
    });
    closers.push(close);
    const broken = await sendModuleCall(l, 0, { to: BROKEN, data: new Interface(["function poke()"]).encodeFunctionData("poke"), nonce: 0 });
    const later = await sendModuleCall(l, 0, { to: BROKEN, data: "0x", nonce: 1 });
    const fine = await sendModuleCall(l, 1, { to: BROKEN.replace("1986", "1987") as Hex, data: "0x", nonce: 0 });
    const before = await l.chain.headState().getAccount(addr(0));

    const block = await mineBlock(l, keyOf(devWallet(9)), addr(9));
    expect(block.transactions.map((t) => t.hash)).toEqual([fine]);
    expect(await l.chain.headState().getAccount(addr(0))).toEqual(before);
    expect(await l.chain.stateAt(l.chain.head.header).getStorage(BROKEN, 0n)).toBe(0n);
    expect(l.pool.has(broken)).toBe(false);
    // the sender's next nonce waits for a nonce-0 transaction again
    expect(l.pool.has(later)).toBe(true);
    expect(errors.map(String)).toEqual([expect.stringContaining(`transaction ${broken} dropped: executing it failed: Error: module bug`)]);

    const next = await mineBlock(l, keyOf(devWallet(8)), addr(8));
    expect(next.header.number).toBe(2n);
  });
});
