// The router's write path: stamp every point once (inserted_at, so all replicas hold the same
// version), split by group, encode each group's batch once, deliver it to every node of the group,
// and answer when each group has the acknowledgements the replication policy asks for. Deliveries
// past that point continue in the background.
//
// A node that is down (its registration is gone: dead, paused past its lease, partitioned) is still
// a replica for `hint_window`: with NATS its stream keeps receiving the batches (it applies them when
// it returns); with direct delivery they wait in the hint buffer and are replayed. Such a node does
// not count toward durable acknowledgements, and never turns a write into a 503 while enough live
// nodes take it. Past the window it is skipped (its startup sync repairs it).

import { SoltixError, errorMessage } from "../base/errors.ts";
import { groupOf } from "../model/group.ts";
import type { Point } from "../model/point.ts";
import { deleteRequestBody, writeRequestBody, writeRequestEntry } from "./wire.ts";
import type { Tombstone } from "../model/tombstone.ts";
import type { DatabaseRegistry } from "../cluster/databases.ts";
import { noteFieldType, type BatchFieldTypes, type FieldKind, type FieldTypes } from "../cluster/field-types.ts";

const KIND_OF: Readonly<Record<Point["fields"][number][1]["kind"], FieldKind>> = { number: "float", int: "int", string: "string", bool: "bool" };
import type { ClusterView } from "../cluster/view.ts";
import { groupNodes, writeNodes, type GroupRecord, type NodeRecord } from "../cluster/records.ts";
import type { Logger } from "../ports/logger.ts";
import type { Clock } from "../ports/clock.ts";
import { randomToken, type Rng } from "../ports/rng.ts";
import { NS_PER_MS } from "../base/time.ts";
import type { Delivery, DeliveryMode } from "./delivery.ts";
import { HintBuffer } from "./hints.ts";

export interface ReplicationPolicy {
  factor: number;
  strategy: "sync" | "async";
  minReplicasForWrite: number;
  totalGroups: number;
  /** direct: no queue, so both strategies wait for durable node acks. */
  queue: "direct" | "nats";
  /** How long a down node keeps receiving writes (its queue stream, or hints). */
  hintWindowMs: number;
  /** Direct delivery: bytes of hints held for down nodes. */
  hintBufferBytes: number;
}

/** A point ready to fan out: its group and its `points` entry of a WriteRequest (tag, length, bytes). */
export interface RoutedPoint {
  group: number;
  entry: Uint8Array;
}

export interface WriteResult {
  accepted: number;
  groups: number;
  minAcks: number;
}

/** A delivery that did not reach its node now but is kept for it (its queue stream, or a hint): not a failure to report. */
class Hinted extends SoltixError {}

/** After a failed direct delivery, a node's writes go straight to hints for this long (no 10 s timeouts per batch). */
const SUSPECT_MS = 5_000;
/** Refused writes are logged at most once per this long (with how many were refused meanwhile): an outage does not flood the log. */
const REFUSAL_LOG_EVERY_MS = 10_000;

/** How many acknowledgements a group of `nodes` nodes needs, and of which kind. */
export function ackRequirement(p: ReplicationPolicy, nodes: number): { need: number; mode: DeliveryMode } {
  if (p.queue === "nats" && p.strategy === "async") return { need: nodes, mode: "accepted" };
  return { need: Math.min(p.minReplicasForWrite, nodes), mode: "durable" };
}

/** What the router does with a group's batch for one node. */
type Plan = { kind: "live"; node: NodeRecord } | { kind: "hint"; since: bigint; last: NodeRecord | undefined } | { kind: "skip" };

export interface DownNodeStatus {
  id: string;
  down_since: string;
  /** Writes kept for it: hints in the buffer (direct), or messages waiting in its stream (NATS; -1 = unknown). */
  hints_pending: number;
  hint_window_ends: string;
  /** true once the window ended: writes no longer go to it; its startup sync will repair it. */
  past_hint_window: boolean;
}

export class WriteRouter {
  private seq = 0;
  private readonly instance: string;
  /** samplesSkipped: remote_write samples left out (not finite: staleness markers). */
  readonly stats = { batches: 0, points: 0, deletes: 0, deliveryFailures: 0, hinted: 0, samplesSkipped: 0 };
  readonly hints: HintBuffer | undefined;
  private readonly suspectUntilMs = new Map<string, number>();
  private refusalLog = { lastMs: -Infinity, unlogged: 0 };

  constructor(
    private readonly view: ClusterView,
    private readonly delivery: Delivery,
    private readonly policy: ReplicationPolicy,
    private readonly clock: Clock,
    rng: Rng,
    private readonly logger: Logger,
    /** Records databases on their first write (none: a router without metadata for them, e.g. in tests). */
    private readonly databases?: DatabaseRegistry,
    /** Each collection's field types (none: not checked). */
    private readonly fieldTypes?: FieldTypes,
  ) {
    this.instance = randomToken(rng, 12);
    if (policy.queue === "direct") {
      this.hints = new HintBuffer(
        policy.hintBufferBytes,
        policy.hintWindowMs,
        async (id, batchId, body) => {
          const node = this.view.node(id);
          if (node === undefined) throw new SoltixError("unavailable", `node ${id} is not registered`);
          await this.delivery.deliver(node, batchId, body, "durable");
          this.suspectUntilMs.delete(id);
        },
        clock,
        logger,
      );
    }
  }

  private plan(id: string): Plan {
    const node = this.view.node(id);
    if (node !== undefined) return { kind: "live", node };
    const down = this.view.down(id)!;
    const ageMs = Number((this.clock.nowNs() - down.sinceNs) / NS_PER_MS);
    return ageMs <= this.policy.hintWindowMs ? { kind: "hint", since: down.sinceNs, last: down.last } : { kind: "skip" };
  }

  /** Routes validated, stamped core points (the JSON API, line protocol, remote_write). */
  write(points: readonly Point[]): Promise<WriteResult> {
    const types: BatchFieldTypes = new Map();
    points.forEach((p, i) => {
      for (const [name, v] of p.fields) noteFieldType(types, p.database, p.collection, name, KIND_OF[v.kind], `points[${i}]`);
    });
    return this.writeRouted(points.map((p) => ({ group: groupOf(p.database, p.collection, p.id, this.policy.totalGroups), entry: writeRequestEntry(p) })), new Set(points.map((p) => p.database)), types);
  }

  /**
   * Routes points already encoded as WriteRequest entries (validated and stamped): the `databases` they
   * name get their record first, and their field `types` are checked against each collection's (and
   * the new ones recorded) before anything is delivered.
   */
  async writeRouted(points: readonly RoutedPoint[], databases?: Iterable<string>, types?: BatchFieldTypes): Promise<WriteResult> {
    if (types !== undefined) await this.fieldTypes?.check(types);
    if (databases !== undefined) await this.databases?.ensure(databases);
    const byGroup = new Map<number, Uint8Array[]>();
    for (const p of points) {
      const list = byGroup.get(p.group);
      if (list === undefined) byGroup.set(p.group, [p.entry]);
      else list.push(p.entry);
    }
    // One delivery per node, holding every group it serves: a batch costs (nodes) messages, not
    // (groups × replicas). Each point is encoded once.
    const records = await Promise.all([...byGroup.keys()].map((g) => this.view.group(g, this.policy.factor)));
    const minAcks = await this.fanOut(records, (groups) => writeRequestBody(groups.flatMap((g) => byGroup.get(g)!)));
    this.stats.batches++;
    this.stats.points += points.length;
    return { accepted: points.length, groups: byGroup.size, minAcks };
  }

  /**
   * Routes a stamped delete (DESIGN §11) like a write: to every node of each group it touches — the
   * groups of its devices, or every group there is — under the same acknowledgement rules. A group
   * with no record has never been written, so holds nothing to delete. Each node gets the delete once
   * and places its tombstones in its own groups.
   */
  async delete(t: Tombstone): Promise<WriteResult> {
    const ids = t.ids.length === 0 ? undefined : new Set(t.ids.map((id) => groupOf(t.database, t.collection, id, this.policy.totalGroups)));
    const records = ids === undefined ? this.view.allGroups() : [...ids].flatMap((g) => this.view.cachedGroup(g) ?? []);
    if (records.length === 0) return { accepted: 0, groups: 0, minAcks: 0 };
    const body = deleteRequestBody(t);
    const minAcks = await this.fanOut(records, () => body);
    this.stats.deletes++;
    return { accepted: 0, groups: records.length, minAcks };
  }

  /**
   * Delivers one body per node (built from the groups it serves) to every node of the groups, and
   * resolves with the smallest number of acknowledgements of a group once each group has what the
   * policy asks for (rejects, naming the groups, once that can no longer happen).
   */
  private async fanOut(records: readonly GroupRecord[], bodyFor: (groups: readonly number[]) => Uint8Array): Promise<number> {
    const groupsOfNode = new Map<string, number[]>();
    const plans = new Map<string, Plan>();
    const requirements: Array<{ group: number; nodes: string[]; counted: string[]; need: number }> = [];
    const queueAsync = this.policy.queue === "nats" && this.policy.strategy === "async";
    const mode: DeliveryMode = queueAsync ? "accepted" : "durable";
    for (const record of records) {
      // Replicas count toward the acknowledgement; joining nodes (a move filling them) get every write too.
      const nodes = groupNodes(record);
      const targets = writeNodes(record);
      for (const id of targets) if (!plans.has(id)) plans.set(id, this.plan(id));
      // Who can acknowledge: with NATS async every node whose stream takes the batch (live or
      // hinted); otherwise only live nodes confirm durability.
      const counted = nodes.filter((id) => (queueAsync ? plans.get(id)!.kind !== "skip" : plans.get(id)!.kind === "live"));
      // min_replicas_for_write is a floor of copies (capped by the group's size), whatever is down:
      // nodes past the hint window do not lower it — fewer copies than that is a refusal, not an ack.
      const floor = Math.min(this.policy.minReplicasForWrite, Math.max(1, nodes.length));
      const need = queueAsync ? Math.max(floor, counted.length) : floor;
      requirements.push({ group: record.group_id, nodes, counted, need });
      for (const id of targets) {
        if (plans.get(id)!.kind === "skip") continue;
        const gs = groupsOfNode.get(id);
        if (gs === undefined) groupsOfNode.set(id, [record.group_id]);
        else gs.push(record.group_id);
      }
    }
    const batchId = `${this.instance}-${++this.seq}`;
    const outcome = new Map<string, { ok: boolean; error?: string }>();
    return new Promise<number>((resolve, reject) => {
      let done = false;
      const check = () => {
        if (done) return;
        let allMet = true;
        let min = Infinity;
        const hopeless: string[] = [];
        for (const r of requirements) {
          let ok = 0;
          let settled = 0;
          for (const id of r.counted) {
            const o = outcome.get(id);
            if (o !== undefined) settled++;
            if (o?.ok === true) ok++;
          }
          min = Math.min(min, ok);
          if (ok < r.need) {
            allMet = false;
            if (settled === r.counted.length) {
              const errs = r.counted.map((id) => outcome.get(id)).filter((o) => o?.ok === false).map((o) => o!.error);
              const down = r.nodes.filter((id) => plans.get(id)!.kind !== "live");
              const downText = down.length === 0 ? "" : `; down: ${down.map((id) => `${id} (${plans.get(id)!.kind === "hint" ? "its writes are kept for it" : "past the hint window"})`).join(", ")}`;
              hopeless.push(`group ${r.group}: ${ok} of ${r.nodes.length} nodes acknowledged, ${r.need} needed (${mode})${downText}${errs.length > 0 ? `; not acknowledged: ${errs.join("; ")}` : ""}`);
            }
          }
        }
        if (allMet) {
          done = true;
          resolve(min === Infinity ? 0 : min);
        } else if (hopeless.length > 0 && [...groupsOfNode.keys()].every((id) => outcome.has(id) || !requirements.some((r) => r.counted.includes(id)))) {
          // Report once every counted delivery settled, so the counts say what was really stored.
          done = true;
          const refusal = new SoltixError("unavailable", hopeless.slice(0, 5).join(" | ") + (hopeless.length > 5 ? ` | … ${hopeless.length - 5} more groups` : ""));
          this.logRefusal(refusal.message);
          reject(refusal);
        }
      };
      for (const [id, groups] of groupsOfNode) {
        const plan = plans.get(id)!;
        const attempt = this.send(id, plan, batchId, bodyFor(groups), mode);
        attempt.then(
          () => {
            outcome.set(id, { ok: true });
            check();
          },
          (e: unknown) => {
            outcome.set(id, { ok: false, error: errorMessage(e) });
            if (!(e instanceof Hinted)) {
              this.stats.deliveryFailures++;
              if (done) this.logger.log("warn", "router: delivery failed after the write was acknowledged; sync will repair", { node: id, groups: groupsOfNode.get(id)?.length, error: errorMessage(e) });
            }
            check();
          },
        );
      }
      check();
    });
  }

  /** A refused write, in the log: the first at once, then one line per REFUSAL_LOG_EVERY_MS with the count. */
  private logRefusal(message: string): void {
    const now = this.clock.monotonicMs();
    if (now - this.refusalLog.lastMs < REFUSAL_LOG_EVERY_MS) {
      this.refusalLog.unlogged++;
      return;
    }
    this.logger.log("warn", "router: write refused (not enough replicas acknowledged)", { reason: message, refused_since_last_line: this.refusalLog.unlogged });
    this.refusalLog = { lastMs: now, unlogged: 0 };
  }

  /**
   * Delivers one node's batch as planned. Resolves when it counts as acknowledged by that node: a live
   * node's durable (or accepted) write; with NATS, a down node's stream taking it. A direct-delivery
   * batch that a node did not take becomes a hint and rejects (it is not acknowledged by that node).
   */
  private async send(id: string, plan: Plan, batchId: string, body: Uint8Array, mode: DeliveryMode): Promise<void> {
    if (plan.kind === "skip") throw new SoltixError("unavailable", `node ${id} is past the hint window`);
    if (this.hints === undefined) {
      // The queue: a down node's durable stream is its hint. Publishing needs only its id.
      if (plan.kind === "hint") {
        this.stats.hinted++;
        await this.delivery.deliver(plan.last ?? downRecord(id), batchId, body, "accepted");
        if (mode === "durable") throw new Hinted("unavailable", `node ${id} is down; the batch waits in its stream`);
        return;
      }
      return this.delivery.deliver(plan.node, batchId, body, mode);
    }
    const hints = this.hints;
    const suspect = (this.suspectUntilMs.get(id) ?? 0) > this.clock.monotonicMs();
    if (plan.kind === "hint" || suspect) {
      this.stats.hinted++;
      hints.add(id, batchId, body, plan.kind === "hint" ? "not registered" : "recent delivery failure");
      throw new Hinted("unavailable", `node ${id} is ${plan.kind === "hint" ? "down" : "not answering"}; the batch is kept as a hint`);
    }
    try {
      await this.delivery.deliver(plan.node, batchId, body, mode);
    } catch (e) {
      // A node that answered "no" to the data itself would refuse the replay too: only transport
      // failures become hints.
      if (e instanceof SoltixError && e.kind === "invalid_argument") throw e;
      if ((this.suspectUntilMs.get(id) ?? 0) <= this.clock.monotonicMs()) {
        this.logger.log("warn", "router: a node did not take a write; its writes are kept as hints for now", { node: id, address: plan.node.address, error: errorMessage(e), hint_for_ms: SUSPECT_MS });
      }
      this.suspectUntilMs.set(id, this.clock.monotonicMs() + SUSPECT_MS);
      this.stats.hinted++;
      hints.add(id, batchId, body, errorMessage(e));
      throw e;
    }
  }

  /** Nodes named by groups that are down, with what waits for them (router /readyz). */
  async downNodes(): Promise<DownNodeStatus[]> {
    const out: DownNodeStatus[] = [];
    for (const d of this.view.downNodes()) {
      const ageMs = Number((this.clock.nowNs() - d.sinceNs) / NS_PER_MS);
      const pending = this.hints !== undefined ? this.hints.pending(d.id) : await this.delivery.backlog(d.id).catch(() => -1);
      out.push({
        id: d.id,
        down_since: new Date(Number(d.sinceNs / NS_PER_MS)).toISOString(),
        hints_pending: pending,
        hint_window_ends: new Date(Number(d.sinceNs / NS_PER_MS) + this.policy.hintWindowMs).toISOString(),
        past_hint_window: ageMs > this.policy.hintWindowMs,
      });
    }
    return out;
  }

  close(): void {
    this.hints?.close();
  }
}

/** A record for publishing to a node this router never saw registered (the queue needs only its id). */
function downRecord(id: string): NodeRecord {
  return { id, address: "", status: "active", version: "", updated_at: "", instance: "" };
}
