// Pulling a replica's points into this node: StreamPoints batches, each validated (the wire points go
// through the same checks as a client write, keeping their inserted_at) and written through the WAL.
// Shared by startup sync and the anti-entropy full-resync paths.

import type { Client } from "@connectrpc/connect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { SyncService, StreamPointsRequestSchema } from "../gen/soltix/v1/sync_pb.ts";
import type { Engine, StoredPoint } from "../engine/engine.ts";
import type { Clock } from "../ports/clock.ts";
import { pointFromProto, storedFromPoint } from "../rpc/convert.ts";

/** Streams `request` from the peer into the engine; `onBatch` sees each written batch. Returns the point count. */
export async function pullStream(
  client: Client<typeof SyncService>,
  request: MessageInitShape<typeof StreamPointsRequestSchema>,
  timeoutMs: number,
  engine: Engine,
  totalGroups: number,
  clock: Clock,
  onBatch: (stored: readonly StoredPoint[]) => void = () => {},
): Promise<number> {
  let n = 0;
  for await (const msg of client.streamPoints(request, { timeoutMs })) {
    const stored = msg.points.map((p) => storedFromPoint(pointFromProto(`points[${n++}]`, p, () => clock.nowNs()), totalGroups));
    await engine.write(stored);
    onBatch(stored);
  }
  return n;
}
