// SyncService.StreamPoints answered directly (rpc/fast-stream.ts): each batch written as protobuf
// bytes transcoded from the canonical encodings (rpc/query-fast.ts; StreamPointsResponse has
// QueryResponse's layout: 1 repeated Point, 2 string) — no protobuf-es objects on the way out. The
// walk is the Connect handler's (streamPointPages); errors end the stream with the same Connect codes.

import { ByteWriter } from "../base/bytes.ts";
import { StreamPointsRequestSchema } from "../gen/soltix/v1/sync_pb.ts";
import type { NodeContext } from "./context.ts";
import { fastServerStream } from "./fast-stream.ts";
import { appendNextCursor, appendPointFromEncoding } from "./query-fast.ts";
import { streamPointPages } from "./sync-service.ts";

export const STREAM_POINTS_PATH = "/soltix.v1.SyncService/StreamPoints";

export function fastStreamPoints(req: Request, ctx: NodeContext, requestBytesMax: number): Promise<Response> {
  return fastServerStream(req, ctx, requestBytesMax, {
    procedure: "SyncService.StreamPoints",
    request: StreamPointsRequestSchema,
    async *messages(request, cancelled) {
      const out = new ByteWriter(64 * 1024);
      for await (const page of streamPointPages(request, ctx, cancelled)) {
        out.reset();
        for (const enc of page.encs) appendPointFromEncoding(out, enc);
        appendNextCursor(out, page.cursor);
        // Copied by the envelope before the next page reuses the writer.
        yield out.view_();
      }
    },
  });
}
