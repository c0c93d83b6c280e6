import { describe, expect, it } from "@jest/globals";
import { parseDeliveryRecord } from "../../../node/content/deliveryService.js";

// <datadir>/key-delivery.json is read at every start of the key-delivery service: a damaged one
// must stop the node with a message naming it and what to do, not with a TypeError.

const FILE = "/data/key-delivery.json";
const HASH = `0x${"ab".repeat(32)}`;
const BUYER = `0x${"12".repeat(20)}`;

function good(): Record<string, unknown> {
  return { version: 1, scanned: { number: "42", hash: HASH }, open: [{ contentId: "7", buyer: BUYER, txHash: HASH, deliveryTx: null }] };
}

describe("parseDeliveryRecord", () => {
  it("reads the record the service writes", () => {
    expect(parseDeliveryRecord(JSON.stringify(good()), FILE)).toEqual({
      scanned: { number: 42n, hash: HASH },
      open: [{ contentId: 7n, buyer: BUYER, txHash: HASH, deliveryTx: null }],
    });
    expect(parseDeliveryRecord(JSON.stringify({ version: 1, scanned: null, open: [] }), FILE)).toEqual({ scanned: null, open: [] });
  });

  it.each([
    ["cut short", JSON.stringify(good()).slice(0, 30), /not JSON/],
    ["empty", "", /not JSON/],
    ["null", "null", /not a JSON object/],
    ["an array", "[]", /not a JSON object/],
    ["of another version", JSON.stringify({ ...good(), version: 2 }), /unknown version 2/],
    ["with a scan cursor that is not a number", JSON.stringify({ ...good(), scanned: { number: "x", hash: HASH } }), /field scanned/],
    ["without a scan cursor", JSON.stringify({ version: 1, open: [] }), /field scanned/],
    ["without open purchases", JSON.stringify({ version: 1, scanned: null }), /field open must be an array/],
    ["with open purchases that are not a list", JSON.stringify({ ...good(), open: {} }), /field open must be an array/],
    ["with a purchase of a bad content id", JSON.stringify({ ...good(), open: [{ contentId: "1.5", buyer: BUYER, txHash: HASH, deliveryTx: null }] }), /open\[0\]/],
    ["with a purchase without a buyer", JSON.stringify({ ...good(), open: [{ contentId: "1", txHash: HASH, deliveryTx: null }] }), /open\[0\]/],
    ["with a purchase that is null", JSON.stringify({ ...good(), open: [null] }), /open\[0\]/],
  ])("names a record %s as damaged, with what to do", (_what, text, why) => {
    let message = "";
    try {
      parseDeliveryRecord(text, FILE);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(new RegExp(`^key-delivery record ${FILE} is damaged \\(.+\\): move it away and the service scans the chain for purchases again$`));
    expect(message).toMatch(why);
  });
});
