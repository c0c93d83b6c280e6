// Writes the system modules' ABI files (chain/modules/*.abi.json) from their TypeScript constants,
// the ABIs the node runs. Run after changing an ABI: npx tsx scripts/writeModuleAbis.ts
// (test/unit/chain/modules/abi.test.ts fails while a file and its constant differ).
import { writeFileSync } from "node:fs";
import { CONTENT_REGISTRY_ABI } from "../chain/index.js";

/** Each ABI file, relative to this script, and its constant. */
const FILES: [string, unknown][] = [["../chain/modules/ContentRegistry.abi.json", CONTENT_REGISTRY_ABI]];

for (const [file, abi] of FILES) {
  const url = new URL(file, import.meta.url);
  writeFileSync(url, `${JSON.stringify(abi, null, 2)}\n`);
  console.log(`wrote ${url.pathname}`);
}
