import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "@jest/globals";
import fc from "fast-check";
import { EMPTY_TRIE_ROOT } from "../../../chain/block.js";
import { buildGenesis } from "../../../chain/blockchain.js";
import { loadGenesis, type GenesisConfig, type SubchainDeclaration } from "../../../chain/genesis.js";
import { StateDb } from "../../../chain/state.js";
import { genesisSubBlock, subchainsRoot } from "../../../chain/subchain.js";
import type { Hex } from "../../../chain/types.js";
import { MemoryStore } from "../../helpers/memoryStore.js";

const DEV_PATH = fileURLToPath(new URL("../../../genesis/dev.json", import.meta.url));

async function genesisBlockOf(g: GenesisConfig): Promise<Awaited<ReturnType<typeof buildGenesis>>["block"]> {
  return (await buildGenesis(g, new StateDb({}, { store: new MemoryStore() }))).block;
}

/** The dev genesis with sub-chain `id`'s declaration changed by `change`. */
function withSubchain(g: GenesisConfig, id: number, change: Partial<SubchainDeclaration>): GenesisConfig {
  return { ...g, subchains: g.subchains.map((d) => (d.id === id ? { ...d, ...change } : d)) };
}

describe("genesis block", () => {
  let dev: GenesisConfig;
  let devHash: Hex;
  beforeAll(async () => {
    dev = await loadGenesis(DEV_PATH);
    devHash = (await genesisBlockOf(dev)).hash;
  });

  it("seals the genesis sub-blocks: subchainsRoot commits to one per declared sub-chain, ascending id", async () => {
    const block = await genesisBlockOf(dev);
    const headers = dev.subchains.map((d) => genesisSubBlock(d).subBlock.header);
    expect(block.subBlocks).toEqual(headers);
    expect(block.subBlocks!.map((h) => h.subchainId)).toEqual([0, 1, 2, 3]);
    expect(block.header.subchainsRoot).toBe(subchainsRoot(headers));
    expect(block.header.subchainsRoot).not.toBe(EMPTY_TRIE_ROOT);
  });

  it("gives a different genesis hash when only one sub-chain's maxPayloadBytes differs", async () => {
    const posts = dev.subchains.find((d) => d.id === 1)!;
    const other = await genesisBlockOf(withSubchain(dev, 1, { maxPayloadBytes: posts.maxPayloadBytes - 1 }));
    expect(other.hash).not.toBe(devHash);
    // everything else in the header is the same
    const base = await genesisBlockOf(dev);
    expect({ ...other.header, subchainsRoot: base.header.subchainsRoot }).toEqual(base.header);
  });

  it("gives a different genesis hash for any change of a sub-chain declaration, and the same for the same file", async () => {
    expect((await genesisBlockOf(await loadGenesis(DEV_PATH))).hash).toBe(devHash);
    const change = fc.oneof(
      fc.record({ payloadGasPerByte: fc.bigInt({ min: 1n, max: 28n }) }),
      fc.record({ maxPayloadBytes: fc.integer({ min: 1, max: 1_000_000 }) }),
      fc.record({ maxSubBlockBytes: fc.integer({ min: 1_048_576, max: 67_108_864 }) }),
      fc.record({ name: fc.constantFrom("posts2", "news", "x") }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1, 2, 3), change, async (id, c) => {
        const decl = dev.subchains.find((d) => d.id === id)!;
        fc.pre(Object.entries(c).some(([k, v]) => decl[k as keyof SubchainDeclaration] !== v));
        expect((await genesisBlockOf(withSubchain(dev, id, c))).hash).not.toBe(devHash);
      }),
      { numRuns: 20 },
    );
    // a sub-chain left out
    expect((await genesisBlockOf({ ...dev, subchains: dev.subchains.filter((d) => d.id !== 3) })).hash).not.toBe(devHash);
  });
});
