// JSON-RPC throughput over HTTP: what a wallet, dApp or explorer backend gets from one node. Each
// method is hammered by autocannon with 10 keep-alive connections; the limit beside it is a bare
// fastify route that takes the same JSON-RPC POST body and returns a constant, on the same host in
// the same run (the cost of the HTTP + JSON stack alone). Goals: eth_blockNumber >= 70 % of the bare route, eth_getBalance >= 40 %.
import "../node/polyfills.js";
import autocannon from "autocannon";
import Fastify from "fastify";
import { startTestNode } from "../test/helpers/node.js";
import { mineBlock } from "../test/helpers/mine.js";
import { devAccount } from "../node/devAccounts.js";

const DURATION_S = Number(process.env.BENCH_RPC_SECONDS ?? 5);
const CONNECTIONS = 10;

async function hammer(url: string, body: string): Promise<number> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`bench: ${result.non2xx} non-2xx answers, ${result.errors} errors for ${body}`);
  return result.requests.average;
}

const rpc = (method: string, params: unknown[]): string => JSON.stringify({ jsonrpc: "2.0", id: 1, method, params });

/** Runs the RPC throughput benchmark and returns requests per second and ratios to the bare route. */
export async function benchRpc(): Promise<Record<string, number>> {
  const [node, close] = await startTestNode({ mine: false });
  const bare = Fastify();
  bare.post("/", async () => ({ jsonrpc: "2.0", id: 1, result: "0x1" }));
  await bare.listen({ host: "127.0.0.1", port: 0 });
  try {
    const miner = devAccount(9);
    for (let i = 0; i < 20; i++) await mineBlock(node.ledger, miner.privateKey, miner.address);
    const url = node.rpc!.url;
    const addr = bare.server.address();
    const bareUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/`;
    const bareRps = await hammer(bareUrl, rpc("eth_blockNumber", []));
    const blockNumber = await hammer(url, rpc("eth_blockNumber", []));
    const balance = await hammer(url, rpc("eth_getBalance", [devAccount(0).address, "latest"]));
    const block = await hammer(url, rpc("eth_getBlockByNumber", ["latest", false]));
    return {
      bareRoutePerSec: Math.round(bareRps),
      blockNumberPerSec: Math.round(blockNumber),
      getBalancePerSec: Math.round(balance),
      getBlockByNumberPerSec: Math.round(block),
      blockNumberRatio: blockNumber / bareRps,
      getBalanceRatio: balance / bareRps,
      getBlockByNumberRatio: block / bareRps,
    };
  } finally {
    await bare.close();
    await close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchRpc()));
}
