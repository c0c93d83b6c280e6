// Small helpers the benchmarks share.

/** Nearest-rank percentile (q in 0..1) of a non-empty list. */
export function percentile(xs: readonly number[], q: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** The median of a non-empty list (the upper middle one of an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
}

/** Runs `op` over `count` items, again and again until at least `minMs` passed (once with 0); returns items per second. */
export function rate(count: number, op: (i: number) => void, minMs = 0): number {
  let done = 0;
  const start = performance.now();
  let elapsed: number;
  do {
    for (let i = 0; i < count; i++) op(i);
    done += count;
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  return done / (elapsed / 1000);
}

/** `x` rounded to `digits` decimals. */
export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True if `p` settles within `ms`, false otherwise (the timer is cleared either way). */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the measurements `rounds` times, each round back to back in rotating order, so that load
 * from other processes on a shared machine hits every side of each ratio; returns the median of each.
 */
export function paired(measures: Record<string, () => number>, rounds: number): Record<string, number> {
  const names = Object.keys(measures);
  for (const name of names) measures[name]!(); // warm-up: JIT, caches
  const figures: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(r + j) % names.length]!;
      figures[name]!.push(measures[name]!());
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(figures[n]!)]));
}
