// SyncService.FetchWindow answered directly (rpc/fast-stream.ts): the window's file in chunks, each
// message encoded once; the same messages as the Connect handler (windowFileMessages).

import { create, toBinary } from "@bufbuild/protobuf";
import { FetchWindowRequestSchema, FetchWindowResponseSchema } from "../gen/soltix/v1/sync_pb.ts";
import type { NodeContext } from "./context.ts";
import { fastServerStream } from "./fast-stream.ts";
import { windowFileMessages } from "./sync-service.ts";

export const FETCH_WINDOW_PATH = "/soltix.v1.SyncService/FetchWindow";

export function fastFetchWindow(req: Request, ctx: NodeContext, requestBytesMax: number): Promise<Response> {
  return fastServerStream(req, ctx, requestBytesMax, {
    procedure: "SyncService.FetchWindow",
    request: FetchWindowRequestSchema,
    async *messages(request) {
      for await (const m of windowFileMessages(request, ctx)) yield toBinary(FetchWindowResponseSchema, create(FetchWindowResponseSchema, m));
    },
  });
}
