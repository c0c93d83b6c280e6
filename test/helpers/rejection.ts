/** The `code` of the error a promise rejects with (a NodeError's code); fails the test if it resolves. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code: string }).code;
  }
  throw new Error("expected a rejection");
}
