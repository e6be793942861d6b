// A router's Prometheus metrics (DESIGN §12; the list is in the README): what it routed, the nodes
// down with the writes kept for each (hints, or messages waiting in their streams), HTTP requests.

import { MetricsRegistry, type Sample } from "../metrics/registry.ts";
import type { WriteRouter } from "../router/write-router.ts";
import type { ClusterView } from "../cluster/view.ts";

export interface RouterMetrics {
  registry: MetricsRegistry;
  observeRequest: (route: string, status: number, seconds: number) => void;
}

export function routerMetrics(d: { writer: WriteRouter; view: ClusterView; version: string; id: string }): RouterMetrics {
  const r = new MetricsRegistry();
  const one = (value: number): Sample[] => [{ value }];
  const s = d.writer.stats;
  r.gauge("soltix_build_info", "Always 1: the version of this process").set(1, { version: d.version, role: "router", node_id: d.id });
  r.collect("soltix_router_points_total", "Points routed (acknowledged writes)", "counter", () => one(s.points));
  r.collect("soltix_router_batches_total", "Write batches routed", "counter", () => one(s.batches));
  r.collect("soltix_router_deletes_total", "Deletes routed", "counter", () => one(s.deletes));
  r.collect("soltix_router_delivery_failures_total", "Deliveries to a node that failed (not hinted)", "counter", () => one(s.deliveryFailures));
  r.collect("soltix_router_hinted_total", "Deliveries kept for a node that is down (hints, or its stream)", "counter", () => one(s.hinted));
  r.collect("soltix_router_samples_skipped_total", "remote_write samples left out: not finite (staleness markers, NaN, ±Inf)", "counter", () => one(s.samplesSkipped));
  r.collect("soltix_nodes_registered", "Storage nodes registered now", "gauge", () => one(d.view.activeNodes().length));
  r.collect("soltix_hints_pending", "Writes kept for each node that is down: hints in this router's buffer (direct), or messages waiting in its stream (NATS)", "gauge", async () =>
    (await d.writer.downNodes()).filter((n) => n.hints_pending >= 0).map((n) => ({ labels: { node: n.id }, value: n.hints_pending })),
  );
  r.collect("soltix_hints_bytes", "Bytes of hints this router holds (direct delivery)", "gauge", () => one(d.writer.hints?.snapshot().reduce((n, h) => n + h.bytes, 0) ?? 0));
  const requests = r.counter("soltix_http_requests_total", "HTTP requests answered, by route and status code");
  const durations = r.histogram("soltix_http_request_duration_seconds", "Time to answer an HTTP request, by route");
  return {
    registry: r,
    observeRequest: (route, status, seconds) => {
      requests.inc({ route, code: String(status) });
      durations.observe(seconds, { route });
    },
  };
}
