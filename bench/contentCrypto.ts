// Cryptography of paid content. ECIES seal: one per purchase the author's node serves (key
// delivery); ECIES open: one per purchase on the buyer's node; both measured beside one raw native
// secp256k1 ECDH, their limit (a seal also makes an ephemeral key, an open derives the recipient's
// public key). Content encryption and decryption: every publish and every read of paid content,
// here of 1 MiB (a sub-chain's default largest payload), measured beside raw node:crypto
// AES-256-GCM over the same bytes in the same 64 KiB steps in one cipher whose output is dropped;
// the ratios are the figures to watch. Beside it, the same raw cipher whose output is gathered
// into one buffer, as a function returning the ciphertext must: on this kind of machine a fresh
// 1 MiB buffer costs about as much as encrypting 1 MiB (page faults), so that is the practical limit
// of the whole-buffer functions, and chunking itself (a key setup and a tag per 64 KiB) is cheap.
import { createCipheriv, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import type * as Secp256k1 from "secp256k1";
import { decryptContent, defaultContentCipherOptions, encryptContent, generateContentKey } from "../node/content/contentCipher.js";
import { eciesBackend, eciesDecrypt, eciesEncrypt } from "../node/content/ecies.js";
import { paired, rate } from "./util.js";

const ROUNDS = 7;
const BOXES = 2000;
const CONTENT_BYTES = 1024 * 1024;
/** Contents per measurement, so each one runs for tens of milliseconds. */
const CONTENTS = 32;



/** Measures ECIES seal and open per second and content encryption MB/s, each beside its raw limit. */
export async function benchContentCrypto(): Promise<Record<string, number>> {
  const secp = createRequire(import.meta.url)("secp256k1/bindings.js") as typeof Secp256k1;
  let recipientPrivate: Uint8Array;
  do recipientPrivate = new Uint8Array(randomBytes(32));
  while (!secp.privateKeyVerify(recipientPrivate));
  const recipient = secp.publicKeyCreate(recipientPrivate, false);
  const contentKey = generateContentKey();
  const boxes = Array.from({ length: BOXES }, () => eciesEncrypt(recipient, contentKey));
  const xOnly = { hashfn: (x: Uint8Array) => x };

  const ecies = paired({
    rawEcdh: () => rate(BOXES, () => secp.ecdh(recipient, recipientPrivate, xOnly, new Uint8Array(32))),
    seal: () => rate(BOXES, () => eciesEncrypt(recipient, contentKey)),
    open: () => rate(BOXES, (i) => eciesDecrypt(recipientPrivate, boxes[i]!)),
  }, ROUNDS);

  const plain = randomBytes(CONTENT_BYTES);
  const cipherText = encryptContent(plain, contentKey);
  const aesKey = randomBytes(32);
  const step = defaultContentCipherOptions.chunkSize;
  const mbps = (op: () => void): number => rate(CONTENTS, op) * (CONTENT_BYTES / 1e6);
  const content = paired({
    rawAesGcm: () =>
      mbps(() => {
        const cipher = createCipheriv("aes-256-gcm", aesKey, randomBytes(12));
        for (let at = 0; at < CONTENT_BYTES; at += step) cipher.update(plain.subarray(at, at + step));
        cipher.final();
      }),
    rawAesGcmOneBuffer: () =>
      mbps(() => {
        const cipher = createCipheriv("aes-256-gcm", aesKey, randomBytes(12));
        const parts: Buffer[] = [];
        for (let at = 0; at < CONTENT_BYTES; at += step) parts.push(cipher.update(plain.subarray(at, at + step)));
        cipher.final();
        Buffer.concat(parts);
      }),
    encrypt: () => mbps(() => encryptContent(plain, contentKey)),
    decrypt: () => mbps(() => decryptContent(cipherText, contentKey)),
  }, ROUNDS);

  const round3 = (x: number): number => Math.round(x * 1000) / 1000;
  const result = {
    eciesSealPerSec: Math.round(ecies.seal!),
    eciesOpenPerSec: Math.round(ecies.open!),
    rawEcdhPerSec: Math.round(ecies.rawEcdh!),
    eciesSealRatio: round3(ecies.seal! / ecies.rawEcdh!),
    eciesOpenRatio: round3(ecies.open! / ecies.rawEcdh!),
    contentEncryptMBps: Math.round(content.encrypt!),
    contentDecryptMBps: Math.round(content.decrypt!),
    rawAesGcmMBps: Math.round(content.rawAesGcm!),
    rawAesGcmOneBufferMBps: Math.round(content.rawAesGcmOneBuffer!),
    contentEncryptRatio: round3(content.encrypt! / content.rawAesGcm!),
    contentDecryptRatio: round3(content.decrypt! / content.rawAesGcm!),
  };
  if (eciesBackend !== "native") console.warn("bench: node/content/ecies.ts runs ECDH with noble, not native");
  console.log(JSON.stringify({ bench: "contentCrypto", ...result }));
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchContentCrypto();
}
