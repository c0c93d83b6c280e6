import { randomBytes } from "node:crypto";
import { link, open, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Writes `text` to `file` (mode 0600) only if `file` does not exist yet: the text goes to a hidden
 * temporary file beside it, is synced, then hard-linked into place, so a crash never leaves half a
 * secret under the real name and an existing file is never replaced (the link fails with EEXIST).
 * The temporary file is removed whatever happens. Errors are the file system's (errno codes).
 */
export async function writeNewSecretFile(file: string, text: string): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    const fh = await open(tmp, "wx", 0o600);
    try {
      await fh.chmod(0o600); // the umask may only clear bits, but be explicit
      await fh.writeFile(text, "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await link(tmp, file);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
