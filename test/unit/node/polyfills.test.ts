import { describe, expect, it } from "@jest/globals";
import "../../../node/polyfills.js";

describe("polyfills", () => {
  it("provides Promise.withResolvers that resolves the returned promise", async () => {
    const p = Promise as unknown as { withResolvers: <T>() => { promise: Promise<T>; resolve: (v: T) => void } };
    const { promise, resolve } = p.withResolvers<number>();
    resolve(42);
    await expect(promise).resolves.toBe(42);
  });
});
