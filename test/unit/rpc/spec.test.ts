import { describe, expect, it } from "@jest/globals";
import { expectValidResult } from "../../helpers/spec.js";

// The schema helper itself: the execution-apis' FilterResults is a oneOf of two kinds of list, which
// an empty list would match twice; the helper reads it as "any one of these lists".
describe("execution-apis result validation", () => {
  const hash = `0x${"ab".repeat(32)}`;
  const log = {
    address: `0x${"11".repeat(20)}`,
    topics: [hash],
    data: "0x",
    blockNumber: "0x1",
    blockHash: hash,
    transactionHash: hash,
    transactionIndex: "0x0",
    logIndex: "0x0",
    removed: false,
  };

  it("takes an empty list as filter results (no logs, no new hashes)", () => {
    for (const method of ["eth_getFilterChanges", "eth_getFilterLogs", "eth_getLogs"]) expectValidResult(method, []);
  });

  it("still takes a list of hashes or a list of logs, and refuses anything else", () => {
    expectValidResult("eth_getFilterChanges", [hash]);
    expectValidResult("eth_getFilterChanges", [log]);
    expect(() => expectValidResult("eth_getFilterChanges", ["0x12"])).toThrow(/does not match/);
    expect(() => expectValidResult("eth_getFilterChanges", [{ ...log, logIndex: 7 }])).toThrow(/does not match/);
    expect(() => expectValidResult("eth_getFilterChanges", {})).toThrow(/does not match/);
  });
});
