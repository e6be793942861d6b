// Typed operating-condition errors. A kind says what went wrong; rpc/errors.ts maps each kind to a
// Connect code in exactly one place. Broken invariants are not SoltixErrors: they are assertion bugs.

export type ErrorKind =
  | "invalid_argument"
  | "not_found"
  | "resource_exhausted"
  | "unavailable"
  | "data_loss"
  | "deadline_exceeded"
  | "failed_precondition"
  | "unauthenticated"
  | "internal";

export class SoltixError extends Error {
  readonly kind: ErrorKind;
  /** The input field the error is about (e.g. `points[3].id`), when there is one. */
  readonly field: string | undefined;

  constructor(kind: ErrorKind, message: string, field?: string) {
    super(field === undefined ? message : `${field}: ${message}`);
    this.name = "SoltixError";
    this.kind = kind;
    this.field = field;
  }
}

export function invalidArgument(field: string, message: string): SoltixError {
  return new SoltixError("invalid_argument", message, field);
}

export function resourceExhausted(field: string, message: string): SoltixError {
  return new SoltixError("resource_exhausted", message, field);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
