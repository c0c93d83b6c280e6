import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { join } from "node:path";

const ROOT = join(new URL(".", import.meta.url).pathname, "../..");

/** A `vs1984` child process, started the way a user starts it, with its output collected. */
export interface CliProcess {
  child: ChildProcessWithoutNullStreams;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in the output (rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGINT, then waits for the exit code (SIGKILL after a grace period). */
  stop(): Promise<number | null>;
  /** Waits for the process to exit by itself; its exit code. */
  exited(): Promise<number | null>;
}

/** Runs `vs1984 <args>` (bin/vs1984.js) as a child process. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, [join(ROOT, "bin", "vs1984.js"), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
  });
  let out = "";
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const w of [...waiters]) {
      const m = out.match(w.pattern);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => out,
    waitFor(pattern, timeoutMs = 30_000) {
      const m = out.match(pattern);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern} in:\n${out.slice(-3000)}`)), timeoutMs);
        waiters.push({
          pattern,
          resolve: (mm) => {
            clearTimeout(timer);
            resolve(mm);
          },
        });
      });
    },
    exited: () => exited,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * Runs `vs1984 <args>` to its end: its exit code and output. The process goes into `track` so that
 * an `afterAll` can stop it when a test fails before it ends.
 */
export async function runToEnd(args: string[], track: CliProcess[], env: NodeJS.ProcessEnv = { NODE_OPTIONS: "" }): Promise<{ code: number | null; out: string }> {
  const p = runCli(args, env);
  track.push(p);
  const code = await p.exited();
  return { code, out: p.output() };
}
