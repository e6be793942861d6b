// Pulling a replica's points into this node: StreamPoints batches, each validated (the wire points go
// through the same checks as a client write, keeping their inserted_at) and written through the WAL.
// Shared by startup sync and the anti-entropy full-resync paths.

import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { SyncService, StreamPointsRequestSchema } from "../gen/soltix/v1/sync_pb.ts";
import type { Engine, StoredPoint } from "../engine/engine.ts";
import type { Clock } from "../ports/clock.ts";
import { pointFromProto, storedFromPoint } from "../rpc/convert.ts";

/** Consecutive failed attempts (no batch received in between) before a pull gives up. */
export const STREAM_RESUME_ATTEMPTS_MAX = 3;

/** Failures worth resuming after: the connection or the peer's stream broke, not the data. */
function resumable(e: unknown): boolean {
  if (!(e instanceof ConnectError)) return false;
  return [Code.Unavailable, Code.DeadlineExceeded, Code.Aborted, Code.Unknown, Code.Internal, Code.Canceled].includes(e.code);
}

/**
 * Streams `request` from the peer into the engine; `onBatch` sees each written batch. A stream that
 * breaks is resumed from the cursor of the last written batch (nothing is pulled twice, nothing
 * skipped), up to STREAM_RESUME_ATTEMPTS_MAX failures in a row. Returns the point count.
 */
export async function pullStream(
  client: Pick<Client<typeof SyncService>, "streamPoints">,
  request: MessageInitShape<typeof StreamPointsRequestSchema>,
  timeoutMs: number,
  engine: Engine,
  totalGroups: number,
  clock: Clock,
  onBatch: (stored: readonly StoredPoint[]) => void = () => {},
): Promise<number> {
  let n = 0;
  let cursor = request.cursor ?? "";
  let failures = 0;
  for (;;) {
    try {
      for await (const msg of client.streamPoints({ ...request, cursor }, { timeoutMs })) {
        const stored = msg.points.map((p) => storedFromPoint(pointFromProto(`points[${n++}]`, p, () => clock.nowNs()), totalGroups));
        await engine.write(stored);
        cursor = msg.cursor;
        failures = 0;
        onBatch(stored);
      }
      return n;
    } catch (e) {
      if (!resumable(e) || ++failures >= STREAM_RESUME_ATTEMPTS_MAX) throw e;
    }
  }
}
