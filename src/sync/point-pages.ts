// A replica's StreamPoints as raw protobuf pages: the Connect streaming protocol spoken directly
// (binary envelopes over the peer's counting fetch), so each StreamPointsResponse arrives as bytes the
// node's write decoder (rpc/write-fast.ts) turns into validated canonical encodings — StreamPointsResponse
// has WriteRequest's layout for field 1 and the decoder skips field 2 (the cursor). No protobuf-es
// objects on the way in. Errors are ConnectErrors with the peer's code, as from a Connect client.
// serverStream is that client for any server-streaming call (anti-entropy reads FetchWindow with it).

import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromHttpStatus, codeFromString } from "@connectrpc/connect/protocol-connect";
import { StreamPointsRequestSchema } from "../gen/soltix/v1/sync_pb.ts";
import type { PeerNet } from "../ports/peer-net.ts";
import type { Clock } from "../ports/clock.ts";
import { UNPACED, peerFetch, type ByteCounter, type Pacer } from "./peers.ts";

const PATH = "/soltix.v1.SyncService/StreamPoints";
const END_STREAM_FLAG = 2;
const HEADER_BYTES = 5;
/** A page larger than this is refused (a peer's pages are batch_size points of at most 1 MiB each). */
const PAGE_BYTES_MAX = 256 * 1024 * 1024;

export type StreamPointsInit = MessageInitShape<typeof StreamPointsRequestSchema>;

/** Where pullStream reads a replica's points from: StreamPointsResponse messages as bytes. */
export interface PointPages {
  pages(request: StreamPointsInit, timeoutMs: number): AsyncIterable<Uint8Array>;
}

function errorOf(json: string, fallback: Code): ConnectError {
  try {
    const e = (JSON.parse(json) as { error?: { code?: string; message?: string }; code?: string; message?: string });
    const body = e.error ?? e;
    if (body.code === undefined) return new ConnectError(json.slice(0, 500), fallback);
    return new ConnectError(body.message ?? "", codeFromString(body.code) ?? fallback);
  } catch {
    return new ConnectError(json.slice(0, 500), fallback);
  }
}

/** StreamPoints of the node at `address`, binary, through the peer network (credentials, TLS) with byte accounting. */
export function pointPagesClient(net: PeerNet, address: string, clock: Clock, counter: ByteCounter = { sent: 0, received: 0 }, pacer: Pacer = UNPACED): PointPages {
  return {
    pages: (request, timeoutMs) => serverStream(net, address, clock, counter, pacer, PATH, toBinary(StreamPointsRequestSchema, create(StreamPointsRequestSchema, request)), timeoutMs),
  };
}

/**
 * A Connect server-streaming call in the binary protocol, spoken directly: the request message's
 * bytes in, each response message's bytes out (no protobuf-es objects, no per-message machinery).
 * Errors are ConnectErrors with the peer's code.
 */
export async function* serverStream(net: PeerNet, address: string, clock: Clock, counter: ByteCounter, pacer: Pacer, path: string, msg: Uint8Array, timeoutMs: number): AsyncGenerator<Uint8Array> {
  const f = peerFetch(net, counter, pacer);
  const body = new Uint8Array(HEADER_BYTES + msg.length);
  new DataView(body.buffer).setUint32(1, msg.length);
  body.set(msg, HEADER_BYTES);
  const ctl = new AbortController();
  const timer = clock.setTimer(timeoutMs, () => ctl.abort());
  const method = path.slice(path.lastIndexOf("/") + 1);
  try {
    let res: Response;
    try {
      res = await f(net.url(address, path), {
        method: "POST",
        headers: { "content-type": "application/connect+proto", "connect-protocol-version": "1", "connect-timeout-ms": String(timeoutMs) },
        body,
        signal: ctl.signal,
      });
    } catch (e) {
      throw new ConnectError(`${method} to ${address}: ${e instanceof Error ? e.message : String(e)}`, ctl.signal.aborted ? Code.DeadlineExceeded : Code.Unavailable);
    }
    if (res.status !== 200 || res.body === null) throw errorOf(await res.text().catch(() => ""), codeFromHttpStatus(res.status));
    const reader = res.body.getReader();
    const q = new ChunkQueue();
    const read = async (): Promise<boolean> => {
      try {
        const chunk = await reader.read();
        if (chunk.done) return false;
        q.push(chunk.value);
        return true;
      } catch (e) {
        throw new ConnectError(`${method} from ${address} broke: ${e instanceof Error ? e.message : String(e)}`, ctl.signal.aborted ? Code.DeadlineExceeded : Code.Unavailable);
      }
    };
    for (;;) {
      while (q.length < HEADER_BYTES) if (!(await read())) throw new ConnectError(`${method} from ${address} ended without an end-stream message`, Code.Unavailable);
      const header = q.take(HEADER_BYTES);
      const flags = header[0]!;
      const len = new DataView(header.buffer, header.byteOffset, HEADER_BYTES).getUint32(1);
      if (len > PAGE_BYTES_MAX) throw new ConnectError(`${method} from ${address}: a ${len}-byte message, limit ${PAGE_BYTES_MAX}`, Code.ResourceExhausted);
      while (q.length < len) if (!(await read())) throw new ConnectError(`${method} from ${address} ended inside a message`, Code.Unavailable);
      const message = q.take(len);
      if ((flags & END_STREAM_FLAG) !== 0) {
        const text = new TextDecoder().decode(message);
        if (text.includes('"error"')) throw errorOf(text, Code.Unknown);
        return;
      }
      if (flags !== 0) throw new ConnectError(`${method} from ${address}: envelope flags ${flags} (compressed messages were not asked for)`, Code.Internal);
      yield message;
    }
  } finally {
    timer.cancel();
    ctl.abort();
  }
}

/** Received bytes, taken from the front in messages: each message is copied once. */
class ChunkQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  length = 0;

  push(c: Uint8Array): void {
    if (c.length === 0) return;
    this.chunks.push(c);
    this.length += c.length;
  }

  take(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first !== undefined && first.length - this.head >= n) {
      // Within the first chunk: a view, no copy.
      const out = first.subarray(this.head, this.head + n);
      this.advance(n);
      return out;
    }
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0]!;
      const k = Math.min(n - at, c.length - this.head);
      out.set(c.subarray(this.head, this.head + k), at);
      at += k;
      this.advance(k);
    }
    return out;
  }

  private advance(n: number): void {
    this.length -= n;
    this.head += n;
    while (this.chunks.length > 0 && this.head >= this.chunks[0]!.length) {
      this.head -= this.chunks[0]!.length;
      this.chunks.shift();
    }
  }
}
