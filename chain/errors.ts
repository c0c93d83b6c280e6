/** Base class of every error the node raises on purpose: a stable `code` plus data for logs and RPC. */
export class NodeError<T extends { code: string }> extends Error {
  readonly type: T;

  constructor(type: T, message?: string) {
    super(message ?? type.code);
    this.type = type;
    // `name` survives across module copies, unlike `instanceof`
    this.name = "NodeError";
  }

  /** The error's code, such as `TX_NONCE_TOO_LOW`. */
  get code(): string {
    return this.type.code;
  }
}

/** True for any NodeError, also across module copies. */
export function isNodeError(e: unknown): e is NodeError<{ code: string }> {
  return e instanceof Error && e.name === "NodeError" && typeof (e as { type?: unknown }).type === "object";
}
