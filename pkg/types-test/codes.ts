// Compile-time cross-check of the error codes (never run; `tsc -p types-test/tsconfig.checkjs.json`):
// - the engine codes that pkg/protocol.js lists at run time (ENGINE_ERROR_CODES) are
//   exactly the `ErrorCode` union generated from the Rust enum (pkg/types.d.ts);
// - the client codes of protocol.js (CLIENT_ERROR_CODES) are exactly index.d.ts's
//   `ClientErrorCode`;
// - index.d.ts's `ErrorCode` is exactly engine | client codes, and so is protocol.js's.
// A code added, removed or renamed on one side only fails here, naming it.
import type { CLIENT_ERROR_CODES, ENGINE_ERROR_CODES, ErrorCode as ProtocolErrorCode } from "../protocol.js";
import type { ErrorCode as GeneratedEngineCode } from "../types.js";
import type { ClientErrorCode, ErrorCode } from "../index.js";

type ProtocolEngineCode = (typeof ENGINE_ERROR_CODES)[number];
type ProtocolClientCode = (typeof CLIENT_ERROR_CODES)[number];

/** `true` when A and B are the same union; otherwise the codes found on one side only. */
type Same<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never]
  ? true
  : { onlyInFirst: Exclude<A, B>; onlyInSecond: Exclude<B, A> };

export const engineCodes: Same<GeneratedEngineCode, ProtocolEngineCode> = true;
export const clientCodes: Same<ClientErrorCode, ProtocolClientCode> = true;
export const publicCodes: Same<ErrorCode, GeneratedEngineCode | ProtocolClientCode> = true;
export const protocolCodes: Same<ProtocolErrorCode, ErrorCode> = true;

// The check itself can fail: a code missing on either side, or a list widened to string.
// @ts-expect-error: a code missing from the second union
export const missingSecond: Same<GeneratedEngineCode, Exclude<ProtocolEngineCode, "ABORTED">> = true;
// @ts-expect-error: a code missing from the first union
export const missingFirst: Same<Exclude<GeneratedEngineCode, "INTERNAL">, ProtocolEngineCode> = true;
// @ts-expect-error: a list whose element type is just string
export const widened: Same<GeneratedEngineCode, string> = true;
