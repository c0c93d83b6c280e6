// `npm test`: type check, lint, then the whole jest suite; ends with one plain line "N passed, N failed".
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const bin = (name) => join("node_modules", ".bin", name);
const run = (cmd, args, env = process.env) => spawnSync(cmd, args, { stdio: "inherit", env }).status ?? 1;

let failedSteps = 0;
console.log("> tsc --noEmit");
if (run(bin("tsc"), ["--noEmit"]) !== 0) failedSteps++;
console.log("> eslint .");
if (run(bin("eslint"), ["."]) !== 0) failedSteps++;

const dir = mkdtempSync(join(tmpdir(), "vs1984-jest-"));
const out = join(dir, "results.json");
console.log("> jest");
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --experimental-vm-modules`.trim() };
const jestStatus = run(bin("jest"), ["--json", `--outputFile=${out}`, ...process.argv.slice(2)], env);
let passed = 0;
let failed = 0;
try {
  const results = JSON.parse(readFileSync(out, "utf8"));
  passed = results.numPassedTests;
  failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
} catch {
  failed += 1; // jest wrote no results: count the run itself as a failure
}
rmSync(dir, { recursive: true, force: true });
failed += failedSteps;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || jestStatus !== 0 ? 1 : 0);
