// `npm run bench`: every benchmark, as one JSON object (machine-readable) and a table.
import "../node/polyfills.js";
import { benchBlockImport } from "./blockImport.js";
import { benchContentCrypto } from "./contentCrypto.js";
import { benchP2p } from "./p2p.js";
import { benchRpc } from "./rpc.js";
import { benchSealVerify } from "./sealVerify.js";
import { benchSubchains } from "./subchains.js";
import { benchTxAdmission } from "./txAdmission.js";

const results: Record<string, Record<string, number>> = {
  txAdmission: await benchTxAdmission(),
  blockImport: await benchBlockImport(),
  sealVerify: await benchSealVerify(),
  rpc: await benchRpc(),
  p2p: await benchP2p(),
  contentCrypto: await benchContentCrypto(),
  subchains: await benchSubchains(),
};

const rows: { bench: string; figure: string; value: string }[] = [];
for (const [bench, figures] of Object.entries(results)) {
  for (const [figure, value] of Object.entries(figures)) {
    rows.push({ bench, figure, value: Number.isInteger(value) ? String(value) : value.toFixed(3) });
  }
}
console.table(rows);
console.log(JSON.stringify({ date: new Date().toISOString(), node: process.version, results }));
