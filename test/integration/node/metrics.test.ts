import { describe, expect, it } from "@jest/globals";
import { hexToBytes } from "@ethereumjs/util";
import type { Hex } from "../../../chain/index.js";
import { NodeMetrics } from "../../../node/metrics.js";
import { devWallet, keyOf, openLedger, testGenesis } from "../../helpers/ledger.js";
import { mineBlock } from "../../helpers/mine.js";

/** The value of one sample line (`name{labels} value`) in the exposition text, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("NodeMetrics", () => {
  it("follows the head and the pool of a real ledger, and counts RPC calls", async () => {
    const genesis = await testGenesis();
    const [ledger, close] = await openLedger(genesis);
    const metrics = new NodeMetrics();
    try {
      metrics.trackLedger(ledger.chain, ledger.pool);
      let text = await metrics.text();
      expect(sample(text, "vs1984_head_number")).toBe(0);
      expect(sample(text, "vs1984_txpool_transactions")).toBe(0);
      expect(sample(text, "vs1984_peers")).toBe(0);
      // default process metrics are in the same registry
      expect(text).toContain("process_cpu_user_seconds_total");
      expect(text).toContain("nodejs_eventloop_lag_seconds");

      const miner = devWallet(9);
      await mineBlock(ledger, keyOf(miner), miner.address.toLowerCase() as Hex);
      await mineBlock(ledger, keyOf(miner), miner.address.toLowerCase() as Hex);
      expect(sample(await metrics.text(), "vs1984_head_number")).toBe(2);

      const raw = hexToBytes(
        (await devWallet(0).signTransaction({
          type: 2,
          chainId: Number(genesis.chainId),
          nonce: 0,
          to: devWallet(1).address,
          value: 1n,
          gasLimit: 21000,
          maxFeePerGas: 3n * 10n ** 9n,
          maxPriorityFeePerGas: 10n ** 9n,
        })) as Hex,
      );
      await ledger.submitRawTransaction(raw);
      text = await metrics.text();
      expect(sample(text, "vs1984_txpool_transactions")).toBe(1);
      expect(sample(text, "vs1984_txpool_bytes")).toBe(raw.length);

      const block = await mineBlock(ledger, keyOf(miner), miner.address.toLowerCase() as Hex);
      expect(block.transactions).toHaveLength(1);
      text = await metrics.text();
      expect(sample(text, "vs1984_head_number")).toBe(3);
      expect(sample(text, "vs1984_txpool_transactions")).toBe(0);
      expect(sample(text, "vs1984_txpool_bytes")).toBe(0);

      metrics.observeImport(0.02);
      metrics.observeCall("eth_blockNumber", 0.0004, true);
      metrics.observeCall("eth_blockNumber", 0.002, true);
      metrics.observeCall("eth_sendRawTransaction", 0.01, false);
      text = await metrics.text();
      expect(sample(text, "vs1984_block_import_seconds_count")).toBe(1);
      expect(sample(text, 'vs1984_block_import_seconds_bucket{le="0.025"}')).toBe(1);
      expect(sample(text, 'vs1984_rpc_calls_total{method="eth_blockNumber",status="ok"}')).toBe(2);
      expect(sample(text, 'vs1984_rpc_calls_total{method="eth_sendRawTransaction",status="error"}')).toBe(1);
      expect(sample(text, 'vs1984_rpc_call_seconds_count{method="eth_blockNumber"}')).toBe(2);
      expect(sample(text, 'vs1984_rpc_call_seconds_bucket{le="0.0005",method="eth_blockNumber"}')).toBe(1);

      // after stop() the metrics no longer follow the chain
      metrics.stop();
      metrics.stop();
      await mineBlock(ledger, keyOf(miner), miner.address.toLowerCase() as Hex);
      expect(sample(await metrics.text(), "vs1984_head_number")).toBe(3);
      expect(ledger.chain.listenerCount("chain.newHead")).toBe(1); // the ledger's own
    } finally {
      metrics.stop();
      await close();
    }
  });

  it("keeps its own registry and caps the method label set", async () => {
    const a = new NodeMetrics({ defaultMetrics: false, maxMethods: 2 });
    const b = new NodeMetrics({ defaultMetrics: false });
    for (const m of ["m1", "m2", "m3", "m4", "m1"]) a.observeCall(m, 0.001, true);
    const text = await a.text();
    expect(sample(text, 'vs1984_rpc_calls_total{method="m1",status="ok"}')).toBe(2);
    expect(sample(text, 'vs1984_rpc_calls_total{method="other",status="ok"}')).toBe(2);
    expect(text).not.toContain('method="m3"');
    expect(text).not.toContain("process_cpu_user_seconds_total");
    expect(await b.text()).not.toContain('method="m1"');
    expect(a.contentType).toContain("text/plain");
  });
});
