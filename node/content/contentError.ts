import { NodeError } from "../../chain/index.js";

/** Why content or a content key could not be encrypted, decrypted, sealed or opened; stable strings. */
export const ContentErrorCode = {
  /** A content key, private key or option given by the caller is unusable (wrong length, out of range). */
  INVALID_ARGUMENT: "CONTENT_INVALID_ARGUMENT",
  /** The bytes are not a content ciphertext this node reads (too short, magic, version, header fields). */
  MALFORMED: "CONTENT_MALFORMED",
  /** The key is not the one the content was encrypted with (the header's key check differs). */
  BAD_KEY: "CONTENT_BAD_KEY",
  /** keccak256(key) is not the key commitment published with the content. */
  KEY_COMMITMENT_MISMATCH: "CONTENT_KEY_COMMITMENT_MISMATCH",
  /** A chunk fails authentication, or the ciphertext is shorter or longer than its header says. */
  TAMPERED: "CONTENT_TAMPERED",
  /** An ECIES box too short to hold its fixed fields. */
  ECIES_TOO_SHORT: "ECIES_TOO_SHORT",
  /** An ECIES box whose version byte this node does not know. */
  ECIES_UNKNOWN_VERSION: "ECIES_UNKNOWN_VERSION",
  /** An ECIES box whose ephemeral public key is not a point of secp256k1. */
  ECIES_BAD_EPHEMERAL_KEY: "ECIES_BAD_EPHEMERAL_KEY",
  /** A recipient public key that is not a 33- or 65-byte point of secp256k1. */
  ECIES_BAD_PUBLIC_KEY: "ECIES_BAD_PUBLIC_KEY",
  /** A recipient private key that is not 32 bytes in [1, n-1]. */
  ECIES_BAD_PRIVATE_KEY: "ECIES_BAD_PRIVATE_KEY",
  /** The box does not open with this private key: sealed to another key, or altered. */
  ECIES_AUTH_FAILED: "ECIES_AUTH_FAILED",
} as const;

/** One of the {@link ContentErrorCode} strings. */
export type ContentErrorCode = (typeof ContentErrorCode)[keyof typeof ContentErrorCode];

/** The code of a content-crypto failure, with what names the problem (never key material). */
export interface ContentErrorType {
  code: ContentErrorCode;
  /** What was wrong, in a few words: "chunk 3 of 5 fails authentication", "version 7". */
  problem: string;
}

/** A content or ECIES failure; the message names the problem and never contains keys or plaintext. */
export class ContentError extends NodeError<ContentErrorType> {
  constructor(code: ContentErrorCode, problem: string, message?: string) {
    super({ code, problem }, message ?? `${code}: ${problem}`);
  }
}
