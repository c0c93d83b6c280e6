import { describe, expect, it } from "@jest/globals";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, dirname, resolve } from "node:path";

// node -> rpc -> messaging -> p2p -> consensus -> chain: a layer imports only layers below it,
// and another layer only through its index.ts.
const LAYERS = ["chain", "consensus", "p2p", "messaging", "rpc", "node"];
const ROOT = resolve(dirname(new URL(import.meta.url).pathname), "../..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (name.endsWith(".ts")) out.push(p);
  }
  return out;
}

describe("layering", () => {
  const violations: string[] = [];
  for (const layer of LAYERS) {
    for (const file of sources(join(ROOT, layer))) {
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/from\s+"(\.{1,2}\/[^"]+)"/g)) {
        const target = relative(ROOT, resolve(dirname(file), m[1]!));
        const targetLayer = target.split("/")[0]!;
        if (targetLayer === layer) continue;
        const rank = LAYERS.indexOf(targetLayer);
        const where = `${relative(ROOT, file)} imports ${m[1]}`;
        if (rank < 0) violations.push(`${where} (outside the layers)`);
        else if (rank > LAYERS.indexOf(layer)) violations.push(`${where} (an upper layer)`);
        else if (target !== `${targetLayer}/index.js`) violations.push(`${where} (not the layer's index.ts)`);
      }
    }
  }

  it("imports only downward, and only through each layer's index.ts", () => {
    expect(violations).toEqual([]);
  });
});
