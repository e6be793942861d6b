// Protobuf wire encoding of soltix.v1.Point written by hand for the router's fan-out: each point is
// encoded once, framed as one `repeated Point points = 1` entry, and a node's WriteRequest body is the
// concatenation of its points' frames (no per-node re-encoding). Held to protobuf-es by a test.

import { ByteWriter, concatBytes } from "../base/bytes.ts";
import type { Point } from "../model/point.ts";
import type { Tombstone } from "../model/tombstone.ts";
import { TIME_MAX_NS } from "../base/time.ts";

function varint64(w: ByteWriter, v: bigint): void {
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    w.u8(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  w.u8(Number(x));
}

function lenPrefixed(w: ByteWriter, field: number, body: (w: ByteWriter) => void, scratch: ByteWriter): void {
  scratch.reset();
  body(scratch);
  w.uvarint((field << 3) | 2);
  w.uvarint(scratch.length);
  w.bytes(scratch.view_());
}

const f64le = new DataView(new ArrayBuffer(8));
const inner = new ByteWriter(256);
const entry = new ByteWriter(256);
const value = new ByteWriter(64);
const pointW = new ByteWriter(1024);

/** `points` entry (tag 1, length, Point bytes) of a WriteRequest for one point. */
export function writeRequestEntry(p: Point): Uint8Array {
  const w = pointW;
  w.reset();
  w.u8(0x0a);
  inner.reset();
  inner.u8(0x0a);
  inner.str(p.database);
  inner.u8(0x12);
  inner.str(p.collection);
  inner.u8(0x1a);
  inner.str(p.id);
  if (p.timeNs !== 0n) {
    inner.u8(0x20);
    varint64(inner, p.timeNs);
  }
  for (const [name, v] of p.fields) {
    lenPrefixed(
      inner,
      5,
      (e) => {
        e.u8(0x0a);
        e.str(name);
        lenPrefixed(
          e,
          2,
          (x) => {
            switch (v.kind) {
              case "number":
                x.u8(0x09);
                f64le.setFloat64(0, v.value, true);
                for (let i = 0; i < 8; i++) x.u8(f64le.getUint8(i));
                break;
              case "string":
                x.u8(0x12);
                x.str(v.value);
                break;
              case "bool":
                x.u8(0x18);
                x.u8(v.value ? 1 : 0);
                break;
              case "int":
                x.u8(0x20);
                varint64(x, v.value);
                break;
            }
          },
          value,
        );
      },
      entry,
    );
  }
  if (p.insertedAtNs !== 0n) {
    inner.u8(0x30);
    varint64(inner, p.insertedAtNs);
  }
  w.uvarint(inner.length);
  w.bytes(inner.view_());
  return w.toBytes();
}

/** A WriteRequest body from already-encoded entries (a WriteRequest is just its entries in a row). */
export function writeRequestBody(entries: readonly Uint8Array[]): Uint8Array {
  return concatBytes(entries);
}

/** A WriteRequest holding one delete (field 2, a DeleteRequest with its inserted_at stamped). */
export function deleteRequestBody(t: Tombstone): Uint8Array {
  const d = new ByteWriter(64 + t.ids.length * 16);
  d.u8(0x0a);
  d.str(t.database);
  if (t.collection !== "") {
    d.u8(0x12);
    d.str(t.collection);
  }
  for (const id of t.ids) {
    d.u8(0x1a);
    d.str(id);
  }
  if (t.startNs !== 0n) {
    d.u8(0x20);
    varint64(d, t.startNs);
  }
  // TIME_MAX_NS is "no upper bound": sent as 0, as a client would.
  if (t.endNs !== TIME_MAX_NS) {
    d.u8(0x28);
    varint64(d, t.endNs);
  }
  d.u8(0x30);
  varint64(d, t.insertedAtNs);
  const w = new ByteWriter(d.length + 8);
  w.u8(0x12);
  w.uvarint(d.length);
  w.bytes(d.view_());
  return w.toBytes();
}
