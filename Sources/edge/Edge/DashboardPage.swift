import Net

/// `GET /dashboard`: one self-contained page (no external assets, works offline) that
/// reads `/v1/dashboard` with the token the user enters (kept in the tab's
/// sessionStorage, never in a cookie) and refreshes every 5 seconds. The page holds no
/// data itself, so it is served to anyone; the data endpoint decides what each role sees.
enum DashboardPage {
    static var response: HTTPResponse {
        HTTPResponse(status: 200, headers: [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
            // Inline script and style only; requests only to this node.
            ("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
        ], body: Array(html.utf8))
    }

    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>InfraStack dashboard</title>
<style>
  :root { --bg: #0f1419; --panel: #19212a; --line: #2a3441; --text: #d8dee6; --dim: #8a96a3; --ok: #3fb97f; --warn: #e5b440; --bad: #e5534b; --accent: #58a6ff; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: center; gap: 16px; padding: 12px 20px; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 16px; margin: 0; font-weight: 600; }
  header .dim { margin-left: auto; }
  main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: var(--dim); margin: 0 0 10px; font-weight: 600; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 8px 4px 0; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--dim); font-weight: 500; }
  .dim { color: var(--dim); }
  .ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
  .chain { border-top: 1px solid var(--line); padding-top: 8px; margin-top: 8px; }
  .chain:first-of-type { border-top: 0; margin-top: 0; padding-top: 0; }
  .bar { height: 6px; background: var(--line); border-radius: 3px; overflow: hidden; margin: 4px 0; }
  .bar > div { height: 100%; background: var(--accent); }
  .kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-variant-numeric: tabular-nums; }
  svg { width: 100%; height: 90px; display: block; }
  svg polyline { fill: none; stroke-width: 1.5; }
  form { display: flex; gap: 8px; }
  input { background: var(--bg); color: var(--text); border: 1px solid var(--line); border-radius: 4px; padding: 4px 8px; width: 22em; }
  button { background: var(--accent); color: #04101f; border: 0; border-radius: 4px; padding: 4px 12px; cursor: pointer; }
  ul { margin: 0; padding-left: 18px; }
  #error { color: var(--bad); }
</style>
</head>
<body>
<header>
  <h1>InfraStack</h1>
  <span id="scope" class="dim"></span>
  <form id="login"><input id="token" type="password" placeholder="admin or personal token" autocomplete="off"><button type="submit">Show</button></form>
  <span id="updated" class="dim"></span>
</header>
<main>
  <section class="wide"><h2>Conditions</h2><div id="error"></div><ul id="conditions"><li class="dim">enter a token to load the cluster</li></ul></section>
  <section class="wide" id="cluster-section"><h2>Cluster</h2>
    <table><thead><tr><th>node</th><th>role</th><th>term</th><th>applied index</th><th>behind</th><th>link</th><th>RSS</th><th>version</th></tr></thead>
    <tbody id="nodes"></tbody></table></section>
  <section class="wide"><h2>Chains</h2><div id="chains" class="dim">no chains visible</div></section>
  <section id="rpc-section"><h2>JSON-RPC, last hour (all nodes)</h2>
    <div class="kv"><span>calls/s now</span><span id="rpc-rate">–</span><span>p50 / p99 now</span><span id="rpc-latency">–</span><span>errors now</span><span id="rpc-errors">–</span><span>rate-limited/s</span><span id="rpc-limited">–</span></div>
    <svg id="chart-rate" viewBox="0 0 360 90" preserveAspectRatio="none" aria-label="calls per second"></svg>
    <svg id="chart-latency" viewBox="0 0 360 90" preserveAspectRatio="none" aria-label="p50 and p99 latency"></svg>
    <div class="dim">calls/s (blue); p50 (green) and p99 (yellow) in ms; 10 s intervals</div></section>
  <section id="webhook-section"><h2>Webhooks</h2><div class="kv" id="webhooks"></div></section>
  <section class="wide" id="alert-section"><h2>Alerts</h2>
    <table><thead><tr><th>state</th><th>severity</th><th>alert</th><th>what</th><th>since</th><th>resolved</th><th>notified</th></tr></thead>
    <tbody id="alerts"></tbody></table></section>
</main>
<script>
"use strict";
const KEY = "infrastack-dashboard-token";
const $ = (id) => document.getElementById(id);
const fmt = (n) => (n === null || n === undefined || Number.isNaN(n)) ? "–" : Number(n).toLocaleString("en-US");
const num = (v) => (v === null || v === undefined || v === "+Inf") ? null : Number(v);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (k === "class") e.className = v; else e.setAttribute(k, v); }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}
function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return Math.round(s) + " s";
  if (s < 5400) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}
function bytes(b) { return b === undefined ? "–" : (b / 1048576).toFixed(0) + " MiB"; }

function token() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) { sessionStorage.setItem(KEY, decodeURIComponent(m[1])); history.replaceState(null, "", location.pathname); }
  return sessionStorage.getItem(KEY);
}

$("login").addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem(KEY, $("token").value.trim());
  $("token").value = "";
  refresh();
});

function renderConditions(list) {
  const ul = $("conditions");
  ul.replaceChildren();
  if (!list.length) { ul.append(el("li", { class: "ok", "data-condition": "none" }, "all clear")); return; }
  for (const c of list) {
    ul.append(el("li", { class: c.severity === "critical" ? "bad" : "warn", "data-condition": c.condition }, `${c.severity}: ${c.message}`));
  }
}

function renderNodes(nodes, leaderId) {
  const body = $("nodes");
  body.replaceChildren();
  for (const n of nodes) {
    const role = n.reachable ? n.role : "unreachable";
    const cls = !n.reachable || (n.alarms && n.alarms.length) ? "bad" : (n.lagEntries > 1000 ? "warn" : "");
    body.append(el("tr", { "data-node": n.id, class: cls },
      el("td", { "data-field": "id" }, n.id + (n.id === leaderId ? " ★" : "")),
      el("td", { "data-field": "role" }, role),
      el("td", { "data-field": "term" }, n.term === undefined ? "–" : n.term),
      el("td", { "data-field": "appliedIndex" }, n.appliedIndex === undefined ? "–" : n.appliedIndex),
      el("td", { "data-field": "lagEntries" }, n.lagEntries === undefined ? "–" : fmt(n.lagEntries)),
      el("td", { "data-field": "link", class: n.link === "disconnected" ? "bad" : "" }, n.link),
      el("td", { "data-field": "rss" }, bytes(n.rssBytes)),
      el("td", { "data-field": "version" }, n.version || "–")));
  }
}

function renderChains(chains) {
  const box = $("chains");
  box.replaceChildren();
  box.className = chains.length ? "" : "dim";
  if (!chains.length) { box.append("no chains visible"); return; }
  for (const c of chains) {
    const ix = c.indexer;
    const name = c.slug || ("chain " + c.chainId);
    const div = el("div", { class: "chain", "data-chain": c.chainId });
    div.append(el("div", {}, el("strong", {}, name), " ", el("span", { class: "dim" }, "id " + c.chainId)));
    if (ix) {
      const start = num(ix.startBlock) || 0, up = num(ix.upstreamHead), at = num(ix.indexedHead);
      const pct = (up !== null && at !== null && up > start) ? Math.min(100, 100 * (at - start) / (up - start)) : null;
      const progress = (at !== null && up !== null)
        ? `block ${fmt(at)} of ${fmt(up)}, ${pct === null ? "–" : pct.toFixed(pct >= 99.95 ? 0 : 1)} %, ETA ${num(ix.lagBlocks) ? duration(num(ix.etaSeconds)) : "caught up"}`
        : "waiting for the upstream";
      div.append(el("div", { "data-field": "progress" }, progress));
      const bar = el("div", { class: "bar" }, el("div", { style: `width:${pct === null ? 0 : pct}%` }));
      div.append(bar);
      div.append(el("div", { class: "kv" },
        "state", el("span", { "data-field": "state", class: ix.stateKind === "halted" ? "bad" : (ix.stateKind === "backoff" ? "warn" : "ok") }, ix.state),
        "rate", el("span", { "data-field": "rate" }, `${fmt(Math.round(num(ix.blocksPerSecond)))} blocks/s, ${fmt(Math.round(num(ix.txPerSecond)))} tx/s`),
        "lag", el("span", { "data-field": "lag" }, `${fmt(num(ix.lagBlocks))} blocks, ${duration(num(ix.lagSeconds))}`),
        "refused blocks", el("span", { "data-field": "refusedBlocks", class: num(ix.refusedBlocks) ? "bad" : "" }, fmt(num(ix.refusedBlocks))),
        "reorgs", el("span", { "data-field": "reorgs" }, fmt(num(ix.reorgs)))));
    } else {
      div.append(el("div", { class: "dim", "data-field": "progress" }, "indexer: no leader reported progress"));
    }
    const heads = Object.entries(c.appliedHeads || {}).map(([id, h]) => `node ${id}: ${h === null ? "–" : fmt(h)}`).join(" · ");
    div.append(el("div", { class: "dim", "data-field": "appliedHeads" }, "applied " + heads));
    box.append(div);
  }
}

function chart(svg, series, colors) {
  svg.replaceChildren();
  const all = series.flat().filter((v) => v !== null && Number.isFinite(v));
  const max = Math.max(1e-9, ...all);
  series.forEach((s, i) => {
    const pts = s.map((v, x) => (v === null || !Number.isFinite(v)) ? null : `${(x / Math.max(1, s.length - 1)) * 360},${88 - (v / max) * 84}`).filter(Boolean);
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", pts.join(" "));
    line.setAttribute("stroke", colors[i]);
    svg.append(line);
  });
  const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
  label.setAttribute("x", "2"); label.setAttribute("y", "10"); label.setAttribute("fill", "#8a96a3"); label.setAttribute("font-size", "9");
  label.textContent = "max " + (max >= 100 ? Math.round(max) : max.toFixed(2));
  svg.append(label);
}

function renderRPC(byNode) {
  // Sum the nodes' rates per 10 s bucket; latency: the worst node's.
  const buckets = new Map();
  for (const points of Object.values(byNode || {})) {
    for (const p of points) {
      const t = Math.floor(p.t / 10000);
      const b = buckets.get(t) || { calls: 0, limited: 0, errors: 0, p50: null, p99: null };
      const calls = num(p.callsPerSecond) || 0;
      b.calls += calls; b.limited += num(p.rateLimitedPerSecond) || 0;
      if (p.errorRatio !== null) b.errors += calls * num(p.errorRatio);
      const p50 = p.p50Ms === "+Inf" ? Infinity : num(p.p50Ms), p99 = p.p99Ms === "+Inf" ? Infinity : num(p.p99Ms);
      if (p50 !== null) b.p50 = Math.max(b.p50 ?? 0, p50);
      if (p99 !== null) b.p99 = Math.max(b.p99 ?? 0, p99);
      buckets.set(t, b);
    }
  }
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  const rows = keys.map((k) => buckets.get(k));
  const last = rows[rows.length - 1];
  $("rpc-rate").textContent = last ? last.calls.toFixed(1) : "–";
  $("rpc-latency").textContent = last && last.p50 !== null ? `${last.p50} / ${last.p99 === Infinity ? "> 10,000" : last.p99} ms` : "–";
  $("rpc-errors").textContent = last && last.calls > 0 ? (100 * last.errors / last.calls).toFixed(2) + " %" : "–";
  $("rpc-limited").textContent = last ? last.limited.toFixed(1) : "–";
  chart($("chart-rate"), [rows.map((r) => r.calls)], ["#58a6ff"]);
  chart($("chart-latency"), [rows.map((r) => r.p50), rows.map((r) => r.p99 === Infinity ? null : r.p99)], ["#3fb97f", "#e5b440"]);
}

function renderWebhooks(w) {
  const box = $("webhooks");
  box.replaceChildren();
  if (!w) { box.append(el("span", { class: "dim" }, "–")); return; }
  box.append("delivering", el("span", { "data-field": "active" }, fmt(num(w.active))),
             "paused", el("span", { "data-field": "paused", class: num(w.paused) ? "warn" : "" }, fmt(num(w.paused))),
             "furthest behind", el("span", { "data-field": "backlogMaxBlocks" }, fmt(num(w.backlogMaxBlocks)) + " blocks"),
             "delivered / failed", el("span", { "data-field": "deliveries" }, `${fmt(num(w.delivered))} / ${fmt(num(w.failed))}`));
}

function renderAlerts(a) {
  const box = $("alerts");
  box.replaceChildren();
  const rows = [...((a && a.firing) || []), ...((a && a.resolved) || [])];
  if (!rows.length) { box.append(el("tr", {}, el("td", { class: "dim", colspan: "7" }, "no incidents"))); return; }
  for (const i of rows) {
    const sent = (i.notifications || []).map((n) => `${n.type}: ${n.firing}${n.resolved ? " / " + n.resolved : ""}`).join(", ");
    box.append(el("tr", { "data-incident": i.id, "data-state": i.state },
      el("td", { class: i.state === "open" ? "bad" : "dim" }, i.state === "open" ? "firing" : "resolved"),
      el("td", {}, i.severity), el("td", {}, i.name || i.alert), el("td", {}, i.summary),
      el("td", {}, new Date(i.openedAt).toLocaleTimeString()), el("td", {}, i.resolvedAt ? new Date(i.resolvedAt).toLocaleTimeString() : "–"),
      el("td", { class: "dim" }, sent)));
  }
}

let timer = null;
async function refresh() {
  clearTimeout(timer);
  const t = token();
  if (!t) { return; }
  try {
    const r = await fetch("/v1/dashboard", { headers: { "Authorization": "Bearer " + t }, cache: "no-store" });
    const body = await r.json();
    if (!r.ok) { $("error").textContent = `${r.status}: ${body.error || "refused"}`; timer = setTimeout(refresh, 5000); return; }
    $("error").textContent = "";
    const cluster = body.view === "cluster";
    $("scope").textContent = `${cluster ? "cluster view" : "your organisations' chains"} · served by node ${body.servedBy}`;
    document.body.dataset.view = body.view;
    for (const id of ["cluster-section", "rpc-section", "webhook-section"]) $(id).hidden = !cluster;
    renderConditions(body.conditions || []);
    if (cluster) { renderNodes(body.nodes || [], body.leaderId); renderRPC(body.rpc); renderWebhooks(body.webhooks); }
    renderChains(body.chains || []);
    renderAlerts(body.alerts);
    $("updated").textContent = "updated " + new Date(body.generatedAt).toLocaleTimeString();
    document.body.dataset.generatedAt = body.generatedAt;
  } catch (e) {
    $("error").textContent = "cannot reach the node: " + e.message;
  }
  timer = setTimeout(refresh, 5000);
}
refresh();
</script>
</body>
</html>
"""#
}
