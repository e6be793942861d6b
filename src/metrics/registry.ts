// Prometheus metrics (DESIGN §12): counters, gauges and histograms with labels, and collectors that read
// a component's own counters when a scrape comes — rendered as the text exposition format 0.0.4. Names
// are `soltix_*` in base units (`_seconds`, `_bytes`); counters end in `_total`. Held to the real
// parser by `promtool check metrics` in the suite (test/rpc/metrics.test.ts).
//
// Hand-written rather than prom-client: what is needed is a few dozen lines of exposition, and the core
// must run unchanged on Bun and Deno (prom-client's default collectors are Node-process specific).

export type MetricType = "counter" | "gauge" | "histogram";
export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  labels?: Labels;
  value: number;
}

/** Default histogram buckets for durations (seconds): 0.5 ms .. 30 s. */
export const DURATION_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] as const;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function labelKey(labels: Labels | undefined): string {
  if (labels === undefined) return "";
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join("\u0000");
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function renderLabels(labels: Labels | undefined, extra?: [string, string]): string {
  const parts: string[] = [];
  for (const k of Object.keys(labels ?? {}).sort()) parts.push(`${k}="${escapeLabelValue(labels![k]!)}"`);
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

function renderValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** A counter or gauge with labels, set or added to as things happen. */
export class Series {
  private readonly values = new Map<string, { labels: Labels | undefined; value: number }>();

  inc(labels?: Labels, by = 1): void {
    const k = labelKey(labels);
    const cur = this.values.get(k);
    if (cur === undefined) this.values.set(k, { labels, value: by });
    else cur.value += by;
  }

  set(value: number, labels?: Labels): void {
    this.values.set(labelKey(labels), { labels, value });
  }

  samples(): Sample[] {
    return [...this.values.values()].map((v) => ({ ...(v.labels === undefined ? {} : { labels: v.labels }), value: v.value }));
  }
}

/** A histogram with labels: cumulative bucket counts, sum and count per label set. */
export class HistogramSeries {
  private readonly values = new Map<string, { labels: Labels | undefined; counts: number[]; sum: number; count: number }>();

  constructor(readonly buckets: readonly number[]) {}

  observe(value: number, labels?: Labels): void {
    const k = labelKey(labels);
    let h = this.values.get(k);
    if (h === undefined) this.values.set(k, (h = { labels, counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) h.counts[i]!++;
    h.sum += value;
    h.count++;
  }

  render(name: string): string[] {
    const out: string[] = [];
    for (const h of this.values.values()) {
      this.buckets.forEach((b, i) => out.push(`${name}_bucket${renderLabels(h.labels, ["le", renderValue(b)])} ${h.counts[i]}`));
      out.push(`${name}_bucket${renderLabels(h.labels, ["le", "+Inf"])} ${h.count}`);
      out.push(`${name}_sum${renderLabels(h.labels)} ${renderValue(h.sum)}`);
      out.push(`${name}_count${renderLabels(h.labels)} ${h.count}`);
    }
    return out;
  }
}

interface Family {
  name: string;
  help: string;
  type: MetricType;
  series?: Series;
  histogram?: HistogramSeries;
  collect?: () => Sample[] | Promise<Sample[]>;
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  private add(f: Family): void {
    if (!NAME_RE.test(f.name)) throw new Error(`metric name ${JSON.stringify(f.name)} is not a Prometheus name`);
    if (this.families.has(f.name)) throw new Error(`metric ${f.name} registered twice`);
    if (f.type === "counter" && !f.name.endsWith("_total")) throw new Error(`counter ${f.name} must end in _total`);
    this.families.set(f.name, f);
  }

  counter(name: string, help: string): Series {
    const series = new Series();
    this.add({ name, help, type: "counter", series });
    return series;
  }

  gauge(name: string, help: string): Series {
    const series = new Series();
    this.add({ name, help, type: "gauge", series });
    return series;
  }

  histogram(name: string, help: string, buckets: readonly number[] = DURATION_BUCKETS_SECONDS): HistogramSeries {
    const histogram = new HistogramSeries(buckets);
    this.add({ name, help, type: "histogram", histogram });
    return histogram;
  }

  /** A counter or gauge whose samples are read from a component when a scrape comes. */
  collect(name: string, help: string, type: "counter" | "gauge", collect: () => Sample[] | Promise<Sample[]>): void {
    this.add({ name, help, type, collect });
  }

  /** The exposition text (format 0.0.4); a collector that fails is left out (its family has no samples). */
  async render(): Promise<string> {
    const out: string[] = [];
    for (const f of this.families.values()) {
      let samples: Sample[] = [];
      if (f.collect !== undefined) {
        try {
          samples = await f.collect();
        } catch {
          samples = [];
        }
      } else if (f.series !== undefined) samples = f.series.samples();
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
      out.push(`# TYPE ${f.name} ${f.type}`);
      if (f.histogram !== undefined) out.push(...f.histogram.render(f.name));
      for (const s of samples) {
        for (const k of Object.keys(s.labels ?? {})) if (!LABEL_RE.test(k) || k === "le") throw new Error(`metric ${f.name}: label name ${JSON.stringify(k)}`);
        out.push(`${f.name}${renderLabels(s.labels)} ${renderValue(s.value)}`);
      }
    }
    return `${out.join("\n")}\n`;
  }
}

/** The content type of the exposition. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
