/** The `code` of what `fn` throws (a NodeError's code); fails the test when it does not throw. */
export function thrownCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  throw new Error("expected a throw");
}
