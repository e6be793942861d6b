// A watch-driven cache of the cluster: registered nodes and group assignments. Reads are local;
// changes arrive through prefix watches (started before the initial list, so nothing is missed; an
// entry is only replaced by a newer revision). Groups missing from the cache are created lazily with
// a CAS (cluster/groups.ts).

import type { MetadataStore, WatchEvent } from "../ports/metadata.ts";
import type { Logger } from "../ports/logger.ts";
import { isoNow, sleep, type Clock } from "../ports/clock.ts";
import { SoltixError, errorMessage } from "../base/errors.ts";
import { DATABASES_PREFIX, GROUPS_PREFIX, MEMBERSHIP_PREFIX, MOVES_PREFIX, NODES_PREFIX } from "./keys.ts";
import { parseMembershipRecord, parseMoveProgress, type MembershipRecord, type MoveProgress } from "./membership.ts";
import { groupNodes, parseGroupRecord, parseNodeRecord, type GroupRecord, type NodeRecord } from "./records.ts";
import { ensureGroup } from "./groups.ts";
import { parseDatabaseRecord, type DatabaseRecord } from "./databases.ts";

/** A node named by the cluster that is not registered now. */
export interface DownNode {
  id: string;
  /** When this view saw its registration go (wall ns); the view's start when it was never seen registered. */
  sinceNs: bigint;
  /** Its last record (address), when this view ever saw it registered. */
  last: NodeRecord | undefined;
}

export class ClusterView {
  private readonly nodes = new Map<string, { record: NodeRecord; rev: bigint }>();
  /** Nodes whose registration this view saw disappear: their last record and when. */
  private readonly gone = new Map<string, { record: NodeRecord; sinceNs: bigint }>();
  private readonly openedAtNs: bigint;
  private readonly groups = new Map<number, { record: GroupRecord; rev: bigint }>();
  private readonly memberships = new Map<string, { record: MembershipRecord; rev: bigint }>();
  private readonly moves = new Map<number, { record: MoveProgress; rev: bigint }>();
  private readonly databases = new Map<string, { record: DatabaseRecord; rev: bigint }>();
  private readonly databaseListeners = new Set<() => void>();
  private readonly stops: Array<() => Promise<void>> = [];
  private readonly groupListeners = new Set<(group: number) => void>();

  /** False until the first list succeeded; `lastError` says why. */
  loaded = false;
  lastError: string | undefined = "cluster metadata not loaded yet";
  private closed = false;

  private constructor(private readonly store: MetadataStore, private readonly logger: Logger, private readonly clock: Clock) {
    this.openedAtNs = clock.nowNs();
  }

  /** Opens the view; resolves once loaded or after the first failed attempt (it keeps retrying in the background). */
  static async open(store: MetadataStore, logger: Logger, clock: Clock): Promise<ClusterView> {
    const v = new ClusterView(store, logger, clock);
    await new Promise<void>((firstAttempt) => void v.loadLoop(firstAttempt));
    return v;
  }

  private async relist(): Promise<void> {
    for (const kv of await this.store.list(NODES_PREFIX)) this.onNode({ type: "put", key: kv.key, value: kv.value, modRevision: kv.modRevision });
    for (const kv of await this.store.list(GROUPS_PREFIX)) this.onGroup({ type: "put", key: kv.key, value: kv.value, modRevision: kv.modRevision });
    for (const kv of await this.store.list(MEMBERSHIP_PREFIX)) this.onMembership({ type: "put", key: kv.key, value: kv.value, modRevision: kv.modRevision });
    for (const kv of await this.store.list(MOVES_PREFIX)) this.onMove({ type: "put", key: kv.key, value: kv.value, modRevision: kv.modRevision });
    for (const kv of await this.store.list(DATABASES_PREFIX)) this.onDatabase({ type: "put", key: kv.key, value: kv.value, modRevision: kv.modRevision });
  }

  private async loadLoop(firstAttempt: () => void): Promise<void> {
    let delay = 250;
    while (!this.closed && !this.loaded) {
      try {
        // List first: it fails fast when the store is down (a watch would wait for it instead).
        await this.relist();
        this.stops.push(await this.store.watchPrefix(NODES_PREFIX, (e) => this.onNode(e)));
        this.stops.push(await this.store.watchPrefix(GROUPS_PREFIX, (e) => this.onGroup(e)));
        this.stops.push(await this.store.watchPrefix(MEMBERSHIP_PREFIX, (e) => this.onMembership(e)));
        this.stops.push(await this.store.watchPrefix(MOVES_PREFIX, (e) => this.onMove(e)));
        this.stops.push(await this.store.watchPrefix(DATABASES_PREFIX, (e) => this.onDatabase(e)));
        await this.relist(); // covers changes between the first list and the watches (newer revisions win)
        this.loaded = true;
        this.lastError = undefined;
      } catch (e) {
        this.lastError = errorMessage(e);
        this.logger.log("error", "cluster: cannot load metadata; retrying", { error: this.lastError, retry_in_ms: delay });
        for (const stop of this.stops.splice(0)) await stop().catch(() => {});
        firstAttempt();
        await sleep(this.clock, delay);
        delay = Math.min(5_000, delay * 2);
      }
    }
    firstAttempt();
  }

  private onNode(e: WatchEvent): void {
    const id = e.key.slice(NODES_PREFIX.length);
    const before = this.nodes.get(id)?.record;
    applyEvent(this.nodes, id, e, parseNodeRecord, this.logger);
    const after = this.nodes.get(id)?.record;
    if (after !== undefined) {
      const wasGone = this.gone.get(id);
      this.gone.delete(id);
      if (wasGone !== undefined) this.logger.log("info", "cluster: node is back (registered again)", { node: id, address: after.address, down_seconds: Number((this.clock.nowNs() - wasGone.sinceNs) / 1_000_000n) / 1000 });
    } else if (before !== undefined) {
      this.gone.set(id, { record: before, sinceNs: this.clock.nowNs() });
      this.logger.log("warn", "cluster: node is down (its registration is gone)", { node: id, address: before.address });
    }
  }

  private onGroup(e: WatchEvent): void {
    const id = Number(e.key.slice(GROUPS_PREFIX.length));
    if (!Number.isInteger(id)) return;
    applyEvent(this.groups, id, e, parseGroupRecord, this.logger);
    for (const fn of this.groupListeners) fn(id);
  }

  /** Calls `fn` after each change of a group record (a move begun or finished); returns the unsubscribe. */
  onGroupChange(fn: (group: number) => void): () => void {
    this.groupListeners.add(fn);
    return () => this.groupListeners.delete(fn);
  }

  private onMembership(e: WatchEvent): void {
    applyEvent(this.memberships, e.key.slice(MEMBERSHIP_PREFIX.length), e, parseMembershipRecord, this.logger);
  }

  private onMove(e: WatchEvent): void {
    const id = Number(e.key.slice(MOVES_PREFIX.length));
    if (Number.isInteger(id)) applyEvent(this.moves, id, e, parseMoveProgress, this.logger);
  }

  private onDatabase(e: WatchEvent): void {
    const name = e.key.slice(DATABASES_PREFIX.length);
    const before = this.databases.get(name)?.record.retention;
    applyEvent(this.databases, name, e, parseDatabaseRecord, this.logger);
    if (this.databases.get(name)?.record.retention !== before) for (const fn of this.databaseListeners) fn();
  }

  /** Has the database a record (created by a create call or its first write)? */
  hasDatabase(name: string): boolean {
    return this.databases.has(name);
  }

  /** Databases with a record (created by the router's call), by name. */
  allDatabases(): DatabaseRecord[] {
    return [...this.databases.values()].map((d) => d.record).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Calls `fn` after a database's retention changed; returns the unsubscribe. */
  onDatabaseChange(fn: () => void): () => void {
    this.databaseListeners.add(fn);
    return () => this.databaseListeners.delete(fn);
  }

  /** What an operator decided about a node (decommission, remove, replace); undefined = nothing. */
  membership(id: string): MembershipRecord | undefined {
    return this.memberships.get(id)?.record;
  }

  allMemberships(): MembershipRecord[] {
    return [...this.memberships.values()].map((m) => m.record).sort((a, b) => (a.node_id < b.node_id ? -1 : 1));
  }

  /** Moves in progress as their joining nodes report them. */
  allMoves(): MoveProgress[] {
    return [...this.moves.values()].map((m) => m.record).sort((a, b) => a.group_id - b.group_id);
  }

  /** The id a node is placed as: a replacement is scored as the node it replaced. */
  placementOf(id: string): string {
    const p = this.memberships.get(id)?.record.placement_id;
    return p === undefined || p === "" ? id : p;
  }

  /** Is the node one that should hold data (not decommissioning, decommissioned or removed)? */
  isMember(id: string): boolean {
    const m = this.memberships.get(id)?.record;
    return m === undefined || m.state === "active";
  }

  activeNodes(): NodeRecord[] {
    return [...this.nodes.values()].map((n) => n.record).filter((n) => n.status === "active").sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  node(id: string): NodeRecord | undefined {
    return this.nodes.get(id)?.record;
  }

  /**
   * Nodes named by a group (or seen registered since this view opened) that are not registered now:
   * down, paused past their lease, or partitioned from the metadata store.
   */
  downNodes(): DownNode[] {
    const named = new Set<string>(this.gone.keys());
    for (const g of this.groups.values()) for (const id of [...groupNodes(g.record), ...g.record.joining_nodes]) named.add(id);
    const out: DownNode[] = [];
    for (const id of [...named].sort()) {
      if (this.nodes.has(id)) continue;
      const g = this.gone.get(id);
      out.push({ id, sinceNs: g?.sinceNs ?? this.openedAtNs, last: g?.record });
    }
    return out;
  }

  /** A node that is not registered now: since when (see downNodes); undefined when registered. */
  down(id: string): DownNode | undefined {
    if (this.nodes.has(id)) return undefined;
    const g = this.gone.get(id);
    return { id, sinceNs: g?.sinceNs ?? this.openedAtNs, last: g?.record };
  }

  cachedGroup(id: number): GroupRecord | undefined {
    return this.groups.get(id)?.record;
  }

  allGroups(): GroupRecord[] {
    return [...this.groups.values()].map((g) => g.record).sort((a, b) => a.group_id - b.group_id);
  }

  /** The group's assignment; created (CAS) from the active nodes on first use. */
  async group(id: number, factor: number): Promise<GroupRecord> {
    if (!this.loaded) throw new SoltixError("unavailable", `cluster metadata not loaded: ${this.lastError ?? "starting"}`);
    const cached = this.groups.get(id);
    if (cached !== undefined) return cached.record;
    // A new group is placed on the member nodes registered now (a decommissioning node takes none).
    const members = this.activeNodes().map((n) => n.id).filter((n) => this.isMember(n));
    const record = await ensureGroup(this.store, id, members, factor, isoNow(this.clock), (n) => this.placementOf(n));
    if (!this.groups.has(id)) this.groups.set(id, { record, rev: 0n });
    return record;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const stop of this.stops.splice(0)) await stop();
  }
}

/** One watch event on a cached map: a delete removes, a put replaces only an older revision; a malformed record is logged and skipped. */
function applyEvent<K, R>(map: Map<K, { record: R; rev: bigint }>, id: K, e: WatchEvent, parse: (value: string) => R, logger: Logger): void {
  if (e.type === "delete") {
    map.delete(id);
    return;
  }
  const cur = map.get(id);
  if (cur !== undefined && cur.rev >= e.modRevision) return;
  try {
    map.set(id, { record: parse(e.value), rev: e.modRevision });
  } catch (err) {
    logger.log("error", "cluster: ignoring malformed record", { key: e.key, error: errorMessage(err) });
  }
}
