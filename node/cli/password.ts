import { readFile, stat } from "node:fs/promises";

/** The terminal a hidden prompt talks to (process.stdin / process.stderr unless a test gives others). */
export interface PromptIo {
  /** Where keystrokes come from; must be a TTY for a prompt. */
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  /** Where the prompt text goes (stderr, so stdout stays clean for scripts). */
  output: NodeJS.WritableStream;
}

/** How to get a secret: from a file's first line, or from a hidden prompt. */
export interface SecretRequest {
  /** File whose first line is the secret (`--password-file`, `--key-file`); takes precedence over the prompt. */
  file?: string;
  /** Prompt text, such as "Password: ". */
  prompt: string;
  /** Ask a second time and require the same answer (new passwords). */
  confirm?: boolean;
  /** Names the option that gives the secret from a file, for the non-TTY error. */
  fileOption: string;
  /** Names what is asked for, for errors ("password", "private key"). */
  what: string;
}

// Secrets are short; a large "password file" is a wrong path, not a password.
const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** The first line of `file`, its line ending stripped (a password file or key file). */
export async function readSecretFile(file: string, what = "password"): Promise<string> {
  let text: string;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new Error("not a regular file");
    if (s.size > MAX_SECRET_FILE_BYTES) throw new Error(`${s.size} bytes is too large for a ${what} file`);
    text = await readFile(file, "utf8");
  } catch (e) {
    throw new Error(`cannot read ${what} file ${file}: ${(e as Error).message}`, { cause: e });
  }
  const end = text.search(/\r?\n/);
  return end < 0 ? text : text.slice(0, end);
}

/** Asks for a secret on a terminal without echoing it; rejects on Ctrl-C / Ctrl-D or when `input` is not a TTY. */
export function promptHidden(prompt: string, what: string, io: PromptIo): Promise<string> {
  const { input, output } = io;
  if (!input.isTTY || typeof input.setRawMode !== "function") return Promise.reject(new Error(`no ${what}: not a terminal`));
  const setRawMode = input.setRawMode.bind(input);
  output.write(prompt);
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const finish = (err: Error | null): void => {
      input.off("data", onData);
      setRawMode(false);
      input.pause();
      output.write("\n");
      if (err) reject(err);
      else resolve(chars.join(""));
      chars = [];
    };
    const onData = (chunk: string | Buffer): void => {
      // One chunk may hold several keystrokes (a paste), so handle them one code point at a time.
      for (const ch of Array.from(typeof chunk === "string" ? chunk : chunk.toString("utf8"))) {
        if (ch === "\r" || ch === "\n") return finish(null);
        if (ch === "\u0003") return finish(new Error("cancelled"));
        if (ch === "\u0004") {
          if (chars.length === 0) return finish(new Error("cancelled"));
          continue;
        }
        if (ch === "\u007f" || ch === "\b") {
          chars.pop();
          continue;
        }
        if (ch === "\u0015") {
          chars = []; // Ctrl-U clears the line, as in a shell
          continue;
        }
        if (ch < " ") continue; // other control keys and escape sequences' lead bytes
        chars.push(ch);
      }
    };
    input.setEncoding("utf8");
    setRawMode(true);
    input.on("data", onData);
    input.resume();
  });
}

/**
 * Reads a secret from `req.file`, or else from a hidden prompt on the terminal; never from a
 * command-line argument. Without a file and without a terminal: "no password: give --password-file FILE".
 */
export async function readSecret(req: SecretRequest, io: PromptIo = { input: process.stdin, output: process.stderr }): Promise<string> {
  if (req.file !== undefined) return readSecretFile(req.file, req.what);
  if (!io.input.isTTY) throw new Error(`no ${req.what}: give ${req.fileOption} FILE`);
  const first = await promptHidden(req.prompt, req.what, io);
  if (req.confirm) {
    const again = await promptHidden(`Repeat ${req.what}: `, req.what, io);
    if (again !== first) throw new Error(`the two ${req.what}s do not match`);
  }
  return first;
}

/** A password from `--password-file FILE` or a hidden prompt (asked twice when `confirm`, for a new keystore). */
export function readPassword(passwordFile: string | undefined, opts: { confirm?: boolean; prompt?: string } = {}, io?: PromptIo): Promise<string> {
  return readSecret(
    { file: passwordFile, prompt: opts.prompt ?? "Password: ", confirm: opts.confirm, fileOption: "--password-file", what: "password" },
    io,
  );
}
