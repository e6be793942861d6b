// The ingest benchmark's workload: unique points, never recycled. 1 000 devices × 10 float fields, one
// point per device per second of simulated time (device = k mod 1 000, second = k div 1 000 for the
// k-th point of the run). Each field is a sensor-like random walk with one decimal (a temperature, a
// voltage), so compression sees what a real fleet sends. A batch of n points (n a multiple of 1 000)
// holds n / 1 000 consecutive seconds of every device.
//
// The same batch is produced as a StorageService WriteRequest (protobuf bytes, written directly from
// the field layout: a client encoder must not eat the server's core) and as Influx line protocol
// (for InfluxDB and VictoriaMetrics). `selfCheck` holds the hand encoder to protobuf-es.

import { fromBinary } from "@bufbuild/protobuf";
import { WriteRequestSchema } from "../../src/gen/soltix/v1/storage_pb.ts";

export const DEVICES = 1_000;
export const FIELDS = 10;
export const DATABASE = "bench";
export const COLLECTION = "metrics";
const NS_PER_S = 1_000_000_000n;

export interface Batch {
  /** Index of the batch's first point in the run. */
  firstPoint: number;
  points: number;
  /** Per device: the points and the sum of field f0 in this batch (to check the read-back). */
  f0SumByDevice: Float64Array;
  proto(): Uint8Array<ArrayBuffer>;
  lineProtocol(): string;
}

const enc = new TextEncoder();
const DEVICE_IDS = Array.from({ length: DEVICES }, (_, d) => `device-${d}`);
const DEVICE_ID_BYTES = DEVICE_IDS.map((s) => enc.encode(s));
const FIELD_NAMES = Array.from({ length: FIELDS }, (_, j) => `f${j}`);

/** A deterministic generator of the run's points, batch after batch. */
export class PointStream {
  private next = 0;
  private readonly walk = new Float64Array(DEVICES * FIELDS);
  private rng: number;

  constructor(readonly baseTimeNs: bigint, seed = 1) {
    this.rng = seed >>> 0 || 1;
    for (let i = 0; i < this.walk.length; i++) this.walk[i] = 100 + Math.round(this.random() * 2000) / 10;
  }

  private random(): number {
    // xorshift32: cheap and deterministic
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 4294967296;
  }

  /** Points generated so far. */
  get generated(): number {
    return this.next;
  }

  /** The time of point k (its device's k div 1 000-th second). */
  timeOf(k: number): bigint {
    return this.baseTimeNs + BigInt(Math.floor(k / DEVICES)) * NS_PER_S;
  }

  batch(points: number): Batch {
    if (points % DEVICES !== 0) throw new Error(`batch ${points} is not a multiple of ${DEVICES} devices`);
    const first = this.next;
    this.next += points;
    const values = new Float64Array(points * FIELDS);
    const f0Sum = new Float64Array(DEVICES);
    for (let i = 0; i < points; i++) {
      const d = (first + i) % DEVICES;
      for (let j = 0; j < FIELDS; j++) {
        const w = d * FIELDS + j;
        const v = Math.round((this.walk[w]! + (this.random() - 0.5) * 2) * 10) / 10;
        this.walk[w] = v;
        values[i * FIELDS + j] = v;
      }
      f0Sum[d] = f0Sum[d]! + values[i * FIELDS]!;
    }
    const times = (i: number) => this.timeOf(first + i);
    return {
      firstPoint: first,
      points,
      f0SumByDevice: f0Sum,
      proto: () => encodeWriteRequest(first, points, values, times),
      lineProtocol: () => {
        const lines: string[] = new Array(points);
        for (let i = 0; i < points; i++) {
          const d = (first + i) % DEVICES;
          let s = `${COLLECTION},device=${DEVICE_IDS[d]} `;
          for (let j = 0; j < FIELDS; j++) s += `${j === 0 ? "" : ","}${FIELD_NAMES[j]}=${values[i * FIELDS + j]}`;
          lines[i] = `${s} ${times(i)}`;
        }
        return lines.join("\n") + "\n";
      },
    };
  }
}

// ---- protobuf: WriteRequest { repeated Point points = 1 } ------------------------------------------
// Point: database=1, collection=2, id=3 (strings), time=4 (int64 varint), fields=5 (map entry:
// key=1 string, value=2 FieldValue { double number_value = 1 }).

const DB = enc.encode(DATABASE);
const COLL = enc.encode(COLLECTION);
const FIELD_ENTRY_BYTES = 2 + 2 + 2 + 9; // key tag+len+"fN", value tag+len, double tag+8

function varintLength(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function encodeWriteRequest(first: number, points: number, values: Float64Array, timeOf: (i: number) => bigint): Uint8Array<ArrayBuffer> {
  const timeLen = varintLength(timeOf(points - 1));
  const pointBodyMax = 2 + DB.length + 2 + COLL.length + 2 + 16 + 1 + timeLen + FIELDS * (2 + FIELD_ENTRY_BYTES);
  const out = new Uint8Array(points * (pointBodyMax + 3));
  const dv = new DataView(out.buffer);
  let o = 0;
  const bytesField = (tag: number, b: Uint8Array) => {
    out[o++] = tag;
    out[o++] = b.length;
    out.set(b, o);
    o += b.length;
  };
  for (let i = 0; i < points; i++) {
    const id = DEVICE_ID_BYTES[(first + i) % DEVICES]!;
    const body = 2 + DB.length + 2 + COLL.length + 2 + id.length + 1 + varintLength(timeOf(i)) + FIELDS * (2 + FIELD_ENTRY_BYTES);
    out[o++] = 0x0a;
    if (body < 0x80) out[o++] = body;
    else {
      out[o++] = (body & 0x7f) | 0x80;
      out[o++] = body >> 7;
    }
    bytesField(0x0a, DB);
    bytesField(0x12, COLL);
    bytesField(0x1a, id);
    out[o++] = 0x20;
    let t = timeOf(i);
    while (t >= 0x80n) {
      out[o++] = Number(t & 0x7fn) | 0x80;
      t >>= 7n;
    }
    out[o++] = Number(t);
    for (let j = 0; j < FIELDS; j++) {
      out[o++] = 0x2a;
      out[o++] = FIELD_ENTRY_BYTES;
      out[o++] = 0x0a;
      out[o++] = 2;
      out[o++] = 0x66; // "f"
      out[o++] = 0x30 + j;
      out[o++] = 0x12;
      out[o++] = 9;
      out[o++] = 0x09;
      dv.setFloat64(o, values[i * FIELDS + j]!, true);
      o += 8;
    }
  }
  return out.subarray(0, o);
}

/** Throws unless the hand encoder's bytes decode (protobuf-es) to the points the stream describes. */
export function selfCheck(): void {
  const s = new PointStream(1_700_000_000n * NS_PER_S, 7);
  const b = s.batch(DEVICES);
  const req = fromBinary(WriteRequestSchema, b.proto());
  if (req.points.length !== DEVICES) throw new Error(`self-check: ${req.points.length} points decoded`);
  const lines = b.lineProtocol().trimEnd().split("\n");
  for (let i = 0; i < DEVICES; i++) {
    const p = req.points[i]!;
    if (p.database !== DATABASE || p.collection !== COLLECTION || p.id !== DEVICE_IDS[i] || p.time !== s.timeOf(i)) throw new Error(`self-check: point ${i} key differs`);
    const line = lines[i]!;
    for (let j = 0; j < FIELDS; j++) {
      const v = p.fields[`f${j}`]?.value;
      if (v?.case !== "numberValue" || !line.includes(`f${j}=${v.value}${j === FIELDS - 1 ? " " : ","}`)) throw new Error(`self-check: point ${i} field f${j} differs from the line protocol`);
    }
  }
}
