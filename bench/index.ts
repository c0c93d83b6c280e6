// `npm run bench`: every benchmark, as one JSON object (machine-readable) and a table. Each one runs
// in a process of its own, so that none measures the heap, the open databases or the background
// compaction another left behind (the RPC figures dropped by a quarter when they ran after the
// import and P2P benchmarks in one process). `npm run bench -- rpc p2p` runs only those.
import { spawnSync } from "node:child_process";

/** Benchmark name -> its module and the function that returns its figures. */
const BENCHMARKS: Record<string, { file: string; fn: string }> = {
  txAdmission: { file: "./txAdmission.ts", fn: "benchTxAdmission" },
  blockImport: { file: "./blockImport.ts", fn: "benchBlockImport" },
  sealVerify: { file: "./sealVerify.ts", fn: "benchSealVerify" },
  rpc: { file: "./rpc.ts", fn: "benchRpc" },
  p2p: { file: "./p2p.ts", fn: "benchP2p" },
  contentCrypto: { file: "./contentCrypto.ts", fn: "benchContentCrypto" },
  subchains: { file: "./subchains.ts", fn: "benchSubchains" },
};

const RESULT = "BENCH-RESULT ";
const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(", ")}: there are ${Object.keys(BENCHMARKS).join(", ")}`);
  process.exit(2);
}

const results: Record<string, Record<string, number>> = {};
let failed = 0;
for (const [name, { file, fn }] of Object.entries(BENCHMARKS)) {
  if (asked.length > 0 && !asked.includes(name)) continue;
  const url = new URL(file, import.meta.url).href;
  const script = `await import(${JSON.stringify(new URL("../node/polyfills.ts", import.meta.url).href)});
const m = await import(${JSON.stringify(url)});
console.log(${JSON.stringify(RESULT)} + JSON.stringify(await m.${fn}()));`;
  const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  const lines = (run.stdout ?? "").split("\n");
  for (const line of lines) if (line && !line.startsWith(RESULT)) console.log(line);
  const result = lines.find((l) => l.startsWith(RESULT));
  if (run.status !== 0 || !result) {
    console.error(`bench ${name} failed (exit ${run.status})`);
    failed++;
    continue;
  }
  results[name] = JSON.parse(result.slice(RESULT.length)) as Record<string, number>;
}

const rows: { bench: string; figure: string; value: string }[] = [];
for (const [bench, figures] of Object.entries(results)) {
  for (const [figure, value] of Object.entries(figures)) {
    rows.push({ bench, figure, value: Number.isInteger(value) ? String(value) : value.toFixed(3) });
  }
}
console.table(rows);
console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, results }));
process.exit(failed > 0 ? 1 : 0);
