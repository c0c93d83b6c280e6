import { afterAll, describe, expect, it } from "@jest/globals";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { checkDatadir, databaseOpenError, isDatabaseLocked } from "../../../node/dataDir.js";
import { tempDir } from "../../helpers/ledger.js";

const [dir, remove] = tempDir("vs1984-datadir-");
afterAll(remove);

function errno(code: string, message = code): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

describe("databaseOpenError", () => {
  it("names a data dir whose database another process holds", async () => {
    const locked = new Error(`cannot open database at ${dir}/chain: IO error: While lock file: ${dir}/chain/LOCK: Resource temporarily unavailable`);
    expect(isDatabaseLocked(locked)).toBe(true);
    expect(String(await databaseOpenError(dir, locked))).toBe(`Error: a node is running on ${dir} (its chain database is locked): stop it, or use another data dir`);
  });

  it("names the file that stands where a folder should be", async () => {
    await writeFile(join(dir, "file"), "");
    await mkdir(join(dir, "d"));
    await writeFile(join(dir, "d", "chain"), "");
    expect(String(await databaseOpenError(join(dir, "file", "x"), errno("ENOTDIR")))).toBe(
      `Error: data dir ${join(dir, "file", "x")} cannot be used: ${join(dir, "file")} is a file, not a folder`,
    );
    expect(String(await databaseOpenError(join(dir, "d"), errno("EEXIST")))).toBe(
      `Error: data dir ${join(dir, "d")} cannot be used: ${join(dir, "d", "chain")} is a file, not a folder`,
    );
  });

  it("says when the data dir cannot be written, from mkdir's code or RocksDB's text", async () => {
    expect(String(await databaseOpenError(dir, errno("EACCES")))).toMatch(/cannot be written \(EACCES\)/);
    const rocks = new Error(`cannot open database at ${dir}/chain: IO error: While open a file for appending: ${dir}/chain/000003.log: Permission denied`);
    expect(isDatabaseLocked(rocks)).toBe(false);
    expect(String(await databaseOpenError(dir, rocks))).toMatch(/cannot be written \(Permission denied\)/);
  });

  it("says the database is damaged when RocksDB finds it corrupt", async () => {
    const rocks = new Error(`cannot open database at ${dir}/chain: Corruption: CURRENT file corrupted`);
    expect(String(await databaseOpenError(dir, rocks))).toBe(
      `Error: the chain database in ${join(dir, "chain")} is damaged (RocksDB: Corruption: CURRENT file corrupted): restore it from a backup, or move it away and let the node sync again`,
    );
  });

  it("passes any other failure on as it is", async () => {
    const other = new Error("IO error: No space left on device");
    expect(await databaseOpenError(dir, other)).toBe(other);
    const notDirButNoFile = errno("ENOTDIR");
    expect(await databaseOpenError(join(dir, "nothing-here"), notDirButNoFile)).toBe(notDirButNoFile);
  });
});

describe("checkDatadir", () => {
  it("takes a missing data dir or an existing folder, and names a file on the path", async () => {
    await mkdir(join(dir, "ok"), { recursive: true });
    await writeFile(join(dir, "plain"), "");
    await expect(checkDatadir(join(dir, "ok"))).resolves.toBeUndefined();
    await expect(checkDatadir(join(dir, "ok", "not-yet", "deeper"))).resolves.toBeUndefined();
    await expect(checkDatadir(join(dir, "plain"))).rejects.toThrow(`data dir ${join(dir, "plain")} cannot be used: ${join(dir, "plain")} is a file, not a folder`);
    await expect(checkDatadir(join(dir, "plain", "x"))).rejects.toThrow(`${join(dir, "plain")} is a file, not a folder`);
  });
});
