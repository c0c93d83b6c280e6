/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error("expected a rejection");
}

/** The `code` of the error a promise rejects with (a NodeError's code); fails the test if it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  return (await rejection(p)).code as string;
}
