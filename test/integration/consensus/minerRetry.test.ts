import { describe, expect, it } from "@jest/globals";
import { isNodeError } from "../../../chain/index.js";
import { devWallet, keyOf, openLedger, testGenesis } from "../../helpers/ledger.js";

// A miner whose every round fails (here: the head is stamped far in the future, so no block it can
// make is within the 15 s the timestamp rule allows) must back off instead of retrying every 50 ms
// with a logged error each time, and must still stop at once.
describe("Miner after failing rounds", () => {
  it("retries ever more slowly, and stops without waiting out its pause", async () => {
    const clock = (): bigint => BigInt(Math.floor(Date.now() / 1000));
    const genesis = { ...(await testGenesis()), timestamp: clock() + 1_000_000n };
    const errors: unknown[] = [];
    const [ledger, close] = await openLedger(genesis, {
      minerKey: keyOf(devWallet(9)),
      now: clock,
      onError: (e) => errors.push(e),
    });
    try {
      await new Promise((r) => setTimeout(r, 2500));
      // every failure is the timestamp rule's, and nothing was mined
      expect(errors.length).toBeGreaterThanOrEqual(3);
      for (const e of errors) expect(isNodeError(e) && e.code).toBe("TIMESTAMP_TOO_FAR_AHEAD");
      expect(ledger.chain.head.header.number).toBe(0n);
      // waits of 50, 100, 200, 400, 800, 1600 ms: at most 7 rounds in 2.5 s (every 50 ms: about 50)
      expect(errors.length).toBeLessThanOrEqual(7);
    } finally {
      const stopping = Date.now();
      await close();
      expect(Date.now() - stopping).toBeLessThan(1000);
    }
  });
});
