// A direct reader of prometheus.WriteRequest (proto/prometheus/remote.proto) for the remote_write hot
// path: the series' labels and their samples, read straight from the protobuf wire format without
// building the generated message objects (@bufbuild/protobuf's fromBinary spent most of a request's
// decoding time there: scripts/bench/ingest-formats.ts). Exemplars, metadata and unknown fields are
// skipped. Held to the library's decoding by test/router/remote-write.test.ts (every message, and
// every byte string: equal answers or both refuse).

export interface DecodedSeries {
  labels: Array<{ name: string; value: string }>;
  values: number[];
  /** Sample timestamps, ms since the epoch (exact within ±2^53; out-of-range ones are refused by the caller). */
  timestampsMs: number[];
}

export class WireError extends Error {}

const utf8 = new TextDecoder();
const TWO_32 = 4294967296;

function combine(lo: number, hi: number): number {
  const l = lo >>> 0;
  const h = hi >>> 0;
  if (h & 0x80000000) return -((~h >>> 0) * TWO_32 + (~l >>> 0) + 1);
  return h * TWO_32 + l;
}

/**
 * One cursor over the whole buffer (no per-message objects: a sample is 2 fields in ~11 bytes, so
 * allocation per message would cost more than the reading). `end` is the current message's end.
 */
class Reader {
  pos = 0;
  end: number;
  private readonly view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.end = buf.length;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private byte(): number {
    if (this.pos >= this.end) throw new WireError("truncated varint");
    return this.buf[this.pos++]!;
  }

  /**
   * A varint of up to 64 bits as a number: read as two 32-bit halves, then an int64 in two's
   * complement (negative when the top bit is set); exact within ±2^53.
   */
  varint(): number {
    let lo = 0;
    let b: number;
    for (let shift = 0; shift < 28; shift += 7) {
      b = this.byte();
      lo |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return lo >>> 0;
    }
    b = this.byte();
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x7f) >> 4;
    if (!(b & 0x80)) return combine(lo, hi);
    for (let shift = 3; shift <= 31; shift += 7) {
      b = this.byte();
      hi |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return combine(lo, hi);
    }
    throw new WireError("varint longer than 10 bytes");
  }

  /** A field's tag: field number × 8 + wire type. */
  tag(): number {
    const t = this.varint();
    if (t < 8) throw new WireError("field number 0");
    return t;
  }

  /** A length-delimited field's length; returns the end of its bytes. */
  sub(): number {
    const n = this.varint();
    if (n < 0 || n > this.end - this.pos) throw new WireError(`length ${n} past the end of the message`);
    return this.pos + n;
  }

  double(): number {
    if (this.end - this.pos < 8) throw new WireError("truncated double");
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  string(): string {
    const e = this.sub();
    const start = this.pos;
    this.pos = e;
    return utf8.decode(this.buf.subarray(start, e));
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        if (this.end - this.pos < 8) throw new WireError("truncated fixed64");
        this.pos += 8;
        return;
      case 2:
        this.pos = this.sub();
        return;
      case 5:
        if (this.end - this.pos < 4) throw new WireError("truncated fixed32");
        this.pos += 4;
        return;
      default:
        throw new WireError(`wire type ${wireType} is not supported`);
    }
  }

  /** Reads a nested message ending at `e` with `body`, then restores the outer end. */
  nested(e: number, body: () => void): void {
    const outer = this.end;
    this.end = e;
    body();
    this.end = outer;
  }
}

/**
 * Skips a field that is not read here: an unknown one (any wire type), or one the schema declares
 * but that is not needed (exemplars, metadata). A declared field must carry its declared wire type
 * (`declared[field]`; a field read here reaches this only when its wire type was not the declared one).
 */
function skipField(r: Reader, tag: number, message: string, declared: ReadonlyArray<number | undefined>): void {
  const field = Math.floor(tag / 8);
  const wt = tag & 7;
  const want = field < declared.length ? declared[field] : undefined;
  if (want !== undefined && wt !== want) throw new WireError(`${message} field ${field} has wire type ${wt}, the schema's is ${want}`);
  r.skip(wt);
}

/** Wire types by field number (proto/prometheus/remote.proto). */
const LABEL_FIELDS = [undefined, 2, 2];
const SAMPLE_FIELDS = [undefined, 1, 0];
const SERIES_FIELDS = [undefined, 2, 2, 2];
const REQUEST_FIELDS = [undefined, 2, undefined, 2];

const LABEL_NAME = (1 << 3) | 2;
const LABEL_VALUE = (2 << 3) | 2;
const SAMPLE_VALUE = (1 << 3) | 1;
const SAMPLE_TIMESTAMP = (2 << 3) | 0;
const SERIES_LABEL = (1 << 3) | 2;
const SERIES_SAMPLE = (2 << 3) | 2;
const REQUEST_SERIES = (1 << 3) | 2;

function readSeries(r: Reader): DecodedSeries {
  const out: DecodedSeries = { labels: [], values: [], timestampsMs: [] };
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === SERIES_SAMPLE) {
      const e = r.sub();
      const outer = r.end;
      r.end = e;
      let value = 0;
      let ts = 0;
      while (r.pos < e) {
        const f = r.tag();
        if (f === SAMPLE_VALUE) value = r.double();
        else if (f === SAMPLE_TIMESTAMP) ts = r.varint();
        else skipField(r, f, "Sample", SAMPLE_FIELDS);
      }
      r.end = outer;
      out.values.push(value);
      out.timestampsMs.push(ts);
    } else if (t === SERIES_LABEL) {
      const e = r.sub();
      let name = "";
      let value = "";
      r.nested(e, () => {
        while (r.pos < e) {
          const f = r.tag();
          if (f === LABEL_NAME) name = r.string();
          else if (f === LABEL_VALUE) value = r.string();
          else skipField(r, f, "Label", LABEL_FIELDS);
        }
      });
      out.labels.push({ name, value });
    } else skipField(r, t, "TimeSeries", SERIES_FIELDS);
  }
  return out;
}

/** The series of a WriteRequest, in order; throws WireError on bytes that are not one. */
export function decodeWriteRequest(buf: Uint8Array): DecodedSeries[] {
  const r = new Reader(buf);
  const series: DecodedSeries[] = [];
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === REQUEST_SERIES) {
      const e = r.sub();
      r.nested(e, () => series.push(readSeries(r)));
    } else skipField(r, t, "WriteRequest", REQUEST_FIELDS);
  }
  return series;
}
