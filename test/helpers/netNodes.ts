import { afterAll } from "@jest/globals";
import type { VsNode } from "../../node/node.js";
import { startNetNode, type NetNodeOptions } from "./net.js";

// Apart from net.ts, which benchmarks import too: jest's globals exist only inside a test run.

/**
 * The nodes of one test file: `start` starts a node (startNetNode) and `onStop` registers anything
 * else to stop; all of it is stopped after the file's tests (jest afterAll).
 */
export function useNetNodes(): { start: (opts: NetNodeOptions) => Promise<VsNode>; onStop: (stop: () => Promise<void>) => void } {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    await Promise.all(stops.map((s) => s()));
  });
  return {
    start: async (opts) => {
      const [node, stop] = await startNetNode(opts);
      stops.push(stop);
      return node;
    },
    onStop: (stop) => {
      stops.push(stop);
    },
  };
}
