import { stat } from "node:fs/promises";
import { dirname, join } from "node:path";

/** True when opening a chain database failed because another process holds its lock (RocksDB's LOCK file). */
export function isDatabaseLocked(e: unknown): boolean {
  // RocksDB: "IO error: While lock file: <dir>/LOCK: Resource temporarily unavailable"
  return e instanceof Error && /While lock file|LOCK:/i.test(e.message);
}

/** Refuses a data dir on whose path a file stands (the data dir itself or a folder above it), naming the file. */
export async function checkDatadir(datadir: string): Promise<void> {
  const file = await firstNonDirectory(datadir);
  if (file) throw notAFolder(datadir, file);
}

function notAFolder(datadir: string, file: string): Error {
  return new Error(`data dir ${datadir} cannot be used: ${file} is a file, not a folder`);
}

/**
 * Says in one line why the chain database of `datadir` (in `<datadir>/chain`) could not be
 * opened: another node runs on it, a part of its path is a file, it cannot be written, RocksDB finds
 * it corrupt. Any other
 * failure is returned as it is.
 */
export async function databaseOpenError(datadir: string, e: unknown): Promise<unknown> {
  if (isDatabaseLocked(e)) {
    return new Error(`a node is running on ${datadir} (its chain database is locked): stop it, or use another data dir`, { cause: e });
  }
  const corruption = /Corruption: .*/.exec(String((e as Error).message))?.[0];
  if (corruption) return damagedDatabaseError(datadir, `RocksDB: ${corruption}`, e);
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOTDIR" || code === "EEXIST") {
    const file = await firstNonDirectory(join(datadir, "chain"));
    if (file) return notAFolder(datadir, file);
  }
  // mkdir fails with a code; RocksDB inside an existing folder only with a text
  const denied = code === "EACCES" || code === "EPERM" || code === "EROFS" ? code : /Permission denied|Read-only file system/i.exec(String((e as Error).message))?.[0];
  if (denied) return new Error(`data dir ${datadir} cannot be written (${denied}): give a folder this user may write to`, { cause: e });
  return e;
}

/** The first of `path` and its parents (from the root down) that exists and is not a directory. */
async function firstNonDirectory(path: string): Promise<string | null> {
  const chain: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    chain.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of chain) {
    const s = await stat(p).catch(() => null);
    if (!s) return null;
    if (!s.isDirectory()) return p;
  }
  return null;
}

/** The chain database of `datadir` opened but its content cannot be read as a chain (`why` says what is wrong). */
export function damagedDatabaseError(datadir: string, why: string, cause?: unknown): Error {
  return new Error(
    `the chain database in ${join(datadir, "chain")} is damaged (${why}): restore it from a backup, or move it away and let the node sync again`,
    { cause },
  );
}
