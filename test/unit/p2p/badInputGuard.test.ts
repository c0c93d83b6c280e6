import { afterAll, describe, expect, it } from "@jest/globals";
import { execFileSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { loadOrCreateGuard } from "../../../p2p/guard.js";
import { tempDir } from "../../helpers/ledger.js";

const [root, remove] = tempDir("vs1984-guard-fifo-");
afterAll(remove);

describe("Guard key files that are not files", () => {
  it.each(["guard.key", "onion.key"])("refuses a named pipe as %s at once instead of waiting for a writer", async (name) => {
    const dir = join(root, name);
    await mkdir(dir, { mode: 0o700 });
    if (name === "onion.key") await loadOrCreateGuard(dir).then(() => execFileSync("rm", [join(dir, name)]));
    execFileSync("mkfifo", ["-m", "600", join(dir, name)]);
    const started = Date.now();
    await expect(loadOrCreateGuard(dir)).rejects.toThrow(`key file ${join(dir, name)} is malformed: not a regular file`);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
