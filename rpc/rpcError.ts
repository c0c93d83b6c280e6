/** JSON-RPC 2.0 and EIP-1474 error codes the node answers with. */
export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** A call reverted (geth's code for eth_call / eth_estimateGas): `data` holds the revert data. */
  EXECUTION_REVERTED: 3,
  /** A request the node refuses: a rejected transaction, an unknown block in a filter... (geth's -32000). */
  SERVER_ERROR: -32000,
  /** Resource not found (EIP-1474). */
  RESOURCE_NOT_FOUND: -32001,
  /** Method exists but is not available in this mode (EIP-1474). */
  METHOD_NOT_SUPPORTED: -32004,
  /** A limit was exceeded: batch size, log range, filters per connection (EIP-1474). */
  LIMIT_EXCEEDED: -32005,
} as const;
/** One of RpcErrorCode. */
export type RpcErrorCode = (typeof RpcErrorCode)[keyof typeof RpcErrorCode];

/** An error answered to the client as `{code, message, data}`. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

/** `invalid argument <index>: <problem>`, geth's wording for a bad parameter. */
export function invalidParam(index: number, problem: string): RpcError {
  return new RpcError(RpcErrorCode.INVALID_PARAMS, `invalid argument ${index}: ${problem}`);
}
