// The status page (DESIGN §12): `GET /` on a router (the cluster) and on a node (its groups). One
// self-contained HTML document — no framework, no external asset (the machine may be offline) — that
// reads `/api/status` (app/status.ts) every 2 s and draws: nodes and their health, groups per node and
// their state, moves and syncs with progress bars and ETA, and a heat map of (group × day window) by
// the last anti-entropy result and its age.

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>soltix status</title>
<style>
  :root { --ok: #2e9b4f; --rep: #2f6fd6; --bad: #d33b2f; --none: #c9ccd1; --fg: #1d2430; --mute: #69707c; }
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 20px 28px; background: #fafbfc; }
  h1 { font-size: 20px; margin: 0 0 2px; } h2 { font-size: 15px; margin: 22px 0 8px; }
  .sub { color: var(--mute); margin-bottom: 12px; }
  table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 2px #0001; }
  th, td { padding: 5px 10px; border-bottom: 1px solid #eceef1; text-align: left; white-space: nowrap; }
  th { font-weight: 600; font-size: 12px; color: var(--mute); text-transform: uppercase; letter-spacing: .03em; }
  .pill { display: inline-block; padding: 1px 8px; border-radius: 9px; font-size: 12px; font-weight: 600; color: #fff; }
  .up { background: var(--ok); } .down { background: var(--bad); } .warn { background: #d98a1c; }
  .bar { width: 220px; height: 10px; background: #e7e9ed; border-radius: 5px; overflow: hidden; display: inline-block; vertical-align: middle; }
  .bar > div { height: 100%; background: var(--rep); }
  .heat { display: grid; gap: 2px; align-items: center; font-size: 11px; }
  .cell { width: 16px; height: 16px; border-radius: 3px; background: var(--none); }
  .in_sync { background: var(--ok); } .repaired { background: var(--rep); } .partial, .failed { background: var(--bad); }
  .legend span { display: inline-flex; align-items: center; gap: 4px; margin-right: 14px; font-size: 12px; color: var(--mute); }
  .err { color: var(--bad); } td .err { display: inline-block; max-width: 340px; overflow: hidden; text-overflow: ellipsis; vertical-align: bottom; } .empty { color: var(--mute); font-style: italic; }
</style>
</head>
<body>
<h1 id="title">soltix</h1>
<div class="sub" id="sub">loading /api/status …</div>
<div id="errors" class="err"></div>
<h2>Nodes</h2><div id="nodes"></div>
<h2>Moves</h2><div id="moves"></div>
<h2>Syncs</h2><div id="syncs"></div>
<h2>Groups</h2><div id="groups"></div>
<h2>Anti-entropy (group × day window: last result; fainter = older)</h2>
<div class="legend"><span><i class="cell in_sync"></i>in sync</span><span><i class="cell repaired"></i>repaired</span><span><i class="cell failed"></i>partial / failed</span><span><i class="cell"></i>not compared yet</span></div>
<div id="heat"></div>
<script>
"use strict";
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const bytes = (n) => n < 1e3 ? n + " B" : n < 1e6 ? (n / 1e3).toFixed(1) + " kB" : n < 1e9 ? (n / 1e6).toFixed(1) + " MB" : (n / 1e9).toFixed(2) + " GB";
const eta = (s) => s < 0 ? "–" : s < 90 ? Math.round(s) + " s" : s < 5400 ? Math.round(s / 60) + " min" : (s / 3600).toFixed(1) + " h";
const bar = (f, label) => '<span class="bar" role="progressbar" aria-valuenow="' + Math.round(f * 100) + '" aria-valuemin="0" aria-valuemax="100"><div style="width:' + (f * 100).toFixed(1) + '%"></div></span> ' + esc(label);
const table = (head, rows) => rows.length === 0 ? '<div class="empty">none</div>' : "<table><tr>" + head.map((h) => "<th>" + esc(h) + "</th>").join("") + "</tr>" + rows.map((r) => "<tr" + (r.attrs || "") + ">" + r.cells.map((c) => "<td>" + c + "</td>").join("") + "</tr>").join("") + "</table>";
const rank = { failed: 3, partial: 3, repaired: 2, in_sync: 1 };

function render(s) {
  document.getElementById("title").textContent = "soltix " + s.role + " " + s.id;
  document.getElementById("sub").textContent = "version " + s.version + " · " + s.generated_at + " · refreshes every 2 s";
  document.getElementById("errors").textContent = s.errors.length ? "Not read: " + s.errors.join("; ") : "";
  document.getElementById("nodes").innerHTML = table(["node", "address", "health", "membership", "groups", "joining", "down since"], s.nodes.map((n) => ({
    attrs: ' class="node-row" data-node="' + esc(n.id) + '" data-health="' + esc(n.health) + '"',
    cells: [esc(n.id), esc(n.address), '<span class="pill ' + (n.health === "up" ? "up" : "down") + '">' + esc(n.health) + "</span>", esc(n.membership), n.groups, n.joining, esc(n.down_since || "")],
  })));
  document.getElementById("moves").innerHTML = table(["group", "from → to", "phase", "progress", "bytes", "rate", "ETA", "attempts", "error"], s.moves.map((m) => ({
    attrs: ' class="move-row" data-group="' + m.group_id + '"',
    cells: [m.group_id, esc((m.source || m.leave || "?") + " → " + m.join), esc(m.phase), bar(m.progress, m.windows_done + "/" + m.windows_total + " windows"), bytes(m.bytes), bytes(m.rate_bytes_per_sec) + "/s", eta(m.eta_seconds), m.attempts, '<span class="err" title="' + esc(m.error) + '">' + esc(m.error) + "</span>"],
  })));
  document.getElementById("syncs").innerHTML = table(["node", "group", "state", "phase", "progress", "ETA"], s.syncs.filter((x) => x.state !== "done").map((x) => ({
    attrs: ' class="sync-row"',
    cells: [esc(x.node), x.group_id, esc(x.state), esc(x.phase), bar(x.progress, x.points + (x.expected_points > 0 ? "/" + x.expected_points : "") + " points"), eta(x.eta_seconds)],
  })));
  const perNode = {};
  for (const g of s.groups) for (const id of g.replicas) perNode[id] = (perNode[id] || 0) + 1;
  document.getElementById("groups").innerHTML = table(["group", "replicas", "joining", "leaving", "syncing", "state"], s.groups.map((g) => ({
    cells: [g.group_id, esc(g.replicas.join(", ")), esc(g.joining.join(", ")), esc(g.leaving.join(", ")), esc(g.syncing.join(", ")), esc(g.state) + (g.tombstones ? " · " + g.tombstones + " tombstones" : "")],
  })));
  // Heat map: the worst recent result per (group, day) over every node and peer; older is fainter.
  const days = [...new Set(s.windows.map((w) => w.day))].sort();
  const groups = [...new Set(s.groups.map((g) => g.group_id).concat(s.windows.map((w) => w.group_id)))].sort((a, b) => a - b);
  const cell = {};
  for (const w of s.windows) {
    const k = w.group_id + "|" + w.day;
    const cur = cell[k];
    if (!cur || rank[w.result] > rank[cur.result] || (rank[w.result] === rank[cur.result] && w.age_seconds < cur.age_seconds)) cell[k] = w;
  }
  if (days.length === 0) { document.getElementById("heat").innerHTML = '<div class="empty">no anti-entropy run yet</div>'; return; }
  let html = '<div class="heat" style="grid-template-columns: 60px repeat(' + days.length + ', 16px)"><div></div>' + days.map((d) => '<div title="' + d + '" style="writing-mode: vertical-rl; height: 70px">' + d.slice(5) + "</div>").join("");
  for (const g of groups) {
    html += "<div>group " + g + "</div>";
    for (const d of days) {
      const w = cell[g + "|" + d];
      const fade = w ? Math.max(0.25, 1 - w.age_seconds / 86400) : 1;
      html += '<div class="cell heat-cell ' + (w ? esc(w.result) : "") + '" style="opacity:' + fade.toFixed(2) + '" data-group="' + g + '" data-day="' + d + '" title="' + (w ? "group " + g + ", " + d + ": " + esc(w.result) + " via " + esc(w.path) + " (" + esc(w.node) + "↔" + esc(w.peer) + ", " + Math.round(w.age_seconds) + " s ago)" : "group " + g + ", " + d + ": not compared yet") + '"></div>';
    }
  }
  document.getElementById("heat").innerHTML = html + "</div>";
}

async function refresh() {
  try {
    const r = await fetch("api/status", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
  } catch (e) {
    document.getElementById("sub").textContent = "cannot read /api/status: " + e.message;
  }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;
