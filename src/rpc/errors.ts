// The one place where error kinds become Connect codes. Handlers throw SoltixErrors (or let
// assertion bugs escape); this interceptor turns them into ConnectErrors and logs internal ones.

import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { SoltixError, type ErrorKind, errorMessage } from "../base/errors.ts";
import type { Logger } from "../ports/logger.ts";
import { raceDeadline, type Clock } from "../ports/clock.ts";

const CODE_OF: Record<ErrorKind, Code> = {
  invalid_argument: Code.InvalidArgument,
  not_found: Code.NotFound,
  resource_exhausted: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  data_loss: Code.DataLoss,
  deadline_exceeded: Code.DeadlineExceeded,
  failed_precondition: Code.FailedPrecondition,
  unauthenticated: Code.Unauthenticated,
  internal: Code.Internal,
};

export function codeOfKind(kind: ErrorKind): Code {
  return CODE_OF[kind];
}

export function toConnectError(e: unknown, logger: Logger, procedure: string): ConnectError {
  if (e instanceof ConnectError) return e;
  if (e instanceof SoltixError) return new ConnectError(e.message, CODE_OF[e.kind]);
  logger.log("error", "rpc: internal error", { procedure, error: errorMessage(e), stack: e instanceof Error ? e.stack : undefined });
  return new ConnectError(`internal error: ${errorMessage(e)}`, Code.Internal);
}

/** Maps every error thrown by a handler (unary or streaming) to a Connect error. */
export function errorInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const procedure = req.method.name;
    try {
      const res = await next(req);
      if (!res.stream) return res;
      const message = res.message;
      return {
        ...res,
        message: (async function* () {
          try {
            yield* message;
          } catch (e) {
            throw toConnectError(e, logger, procedure);
          }
        })(),
      };
    } catch (e) {
      throw toConnectError(e, logger, procedure);
    }
  };
}

/** Bounds every unary call by a server-side deadline. */
export function deadlineInterceptor(clock: Clock, unaryDeadlineMs: number): Interceptor {
  return (next) => async (req) => {
    if (req.stream) return next(req);
    return raceDeadline(clock, unaryDeadlineMs, next(req), () => new SoltixError("deadline_exceeded", `${req.method.name} did not finish within ${unaryDeadlineMs} ms (server deadline)`));
  };
}

/**
 * HTTP status of a Connect unary error (connectrpc.com/docs/protocol, "Error Codes"), except that a
 * size limit (resource_exhausted: a body, batch or id list over its limit) is 413, not 429: resending
 * the same request cannot succeed, and clients treat 429 as "retry later". The per-peer rate limit
 * (rpc/guard.ts) is the only 429, with Retry-After. Connect clients read the code from the body.
 */
const HTTP_STATUS: Record<ErrorKind, 400 | 401 | 404 | 413 | 500 | 503 | 504> = {
  invalid_argument: 400,
  failed_precondition: 400,
  not_found: 404,
  unauthenticated: 401,
  resource_exhausted: 413,
  unavailable: 503,
  deadline_exceeded: 504,
  data_loss: 500,
  internal: 500,
};

export function httpStatusOfKind(kind: ErrorKind): 400 | 401 | 404 | 413 | 500 | 503 | 504 {
  return HTTP_STATUS[kind];
}

/** A Connect unary error response for handlers that bypass the Connect router (the ingest fast path). */
export function connectErrorResponse(e: unknown, logger: Logger, procedure: string): Response {
  const kind: ErrorKind = e instanceof SoltixError ? e.kind : "internal";
  if (!(e instanceof SoltixError)) {
    logger.log("error", "rpc: internal error", { procedure, error: errorMessage(e), stack: e instanceof Error ? e.stack : undefined });
  }
  const message = e instanceof SoltixError ? e.message : `internal error: ${errorMessage(e)}`;
  return new Response(JSON.stringify({ code: kind, message }), { status: HTTP_STATUS[kind], headers: { "content-type": "application/json" } });
}
