"""Monitoring of a running three-node cluster (cluster/up --monitoring on SimChain, one
process per node, Debian's Prometheus scraping every second):

  1 /metrics on every node: refused without the scrape token, served with it; the text
    exposition passes `promtool check metrics` and Prometheus's own client library parses
    both it and the OpenMetrics one (prometheus_client, the reference parser); no secret
    and no unbounded label value appears in either; /status without a credential is the
    public summary only, with the scrape token the detailed JSON
  2 the real Prometheus: every target up, every rule healthy, the applied index rising on
    all three nodes, a request counter rising after traffic, exactly one leader, no alert
    firing on a healthy cluster
  3 the dashboard in headless Chromium (Debian's chromium and chromium-driver, through
    selenium): the page loads offline with a cluster admin's token, its rendered nodes,
    roles, terms, applied indexes and chain heads agree with every node's /status, no
    console error, a screenshot saved; a wrong token is shown as refused
  4 a follower killed with SIGKILL: Prometheus sees its target down and
    InfrastackNodeDown goes pending
"""
import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, http, until, with_cluster  # noqa: E402

from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families as parse_text  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BASE = int(os.environ.get("MONITORING_BASE_PORT", "33000"))
RUN = os.path.join(ROOT, "chaos/.run/monitoring")
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


class Cluster:
    def __init__(self):
        with open(os.path.join(RUN, "endpoints.json")) as f:
            self.ep = json.load(f)
        self.urls = [n["http"] for n in self.ep["nodes"]]
        self.token = open(self.ep["metricsTokenFile"]).read().strip()
        self.api_key = self.ep["apiKey"]
        self.admin_token = self.ep["adminToken"]
        self.prom = self.ep["prometheus"]["url"]

    def scrape(self, node, accept=None, token=True):
        h = {"Authorization": "Bearer " + self.token} if token else {}
        if accept:
            h["Accept"] = accept
        return http("GET", self.urls[node] + "/metrics", headers=h)

    def rpc(self, node, method="eth_blockNumber"):
        return http("POST", self.urls[node] + "/", {"jsonrpc": "2.0", "id": 1, "method": method, "params": []}, {"X-API-Key": self.api_key})

    def query(self, promql):
        code, body, _ = http("GET", self.prom + "/api/v1/query?query=" + urllib.parse.quote(promql))
        if code != 200:
            return None
        return json.loads(body)["data"]["result"]

    def status(self, node):
        # The detailed /status needs a credential (the scrape token will do); without one a
        # node answers its public summary.
        code, body, _ = http("GET", self.urls[node] + "/status", headers={"Authorization": "Bearer " + self.token})
        return json.loads(body) if code == 200 else None


def main():
    return with_cluster(RUN, ["--base-port", str(BASE), "--tick-ms", "50", "--monitoring", "--scrape-seconds", "1"],
                        lambda _: run(Cluster()), "monitoring")


def run(c):
    print("1 /metrics on every node")
    for i in range(3):
        for _ in range(20):
            c.rpc(i)
        c.rpc(i, "eth_noSuchMethod")
    secrets = [c.token, c.api_key, c.admin_token]
    for i in range(3):
        code, _, headers = c.scrape(i, token=False)
        check(code == 401 and "Bearer" in (headers.get("WWW-Authenticate") or ""), f"node {i + 1}: /metrics without the token is 401 with a Bearer challenge")
        code, body, headers = c.scrape(i)
        text = body.decode()
        check(code == 200 and headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"), f"node {i + 1}: the text exposition with the token")
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        check(lint.returncode == 0 and lint.stdout.strip() == "" and lint.stderr.strip() == "",
              f"node {i + 1}: promtool check metrics reports nothing ({(lint.stdout + lint.stderr).strip()[:300]})")
        try:
            families = {f.name: f for f in parse_text(text)}
            check(len(families) > 60, f"node {i + 1}: prometheus_client parses the text format ({len(families)} families)")
        except Exception as e:
            check(False, f"node {i + 1}: prometheus_client parses the text format ({e})")
            families = {}
        code, om_body, headers = c.scrape(i, accept=OPENMETRICS)
        om = om_body.decode()
        check(headers.get("Content-Type", "").startswith("application/openmetrics-text; version=1.0.0") and om.endswith("# EOF\n"),
              f"node {i + 1}: OpenMetrics when Accept asks for it")
        try:
            om_families = {f.name: f for f in parse_openmetrics(om)}
            check("raft_proposals" in om_families and om_families["raft_proposals"].type == "counter",
                  f"node {i + 1}: the reference OpenMetrics parser reads it ({len(om_families)} families; counters named without _total)")
        except Exception as e:
            check(False, f"node {i + 1}: the reference OpenMetrics parser reads it ({e})")
        check(not any(s in text or s in om for s in secrets), f"node {i + 1}: no token or key in the expositions")
        values = {v for f in families.values() for s in f.samples for v in s.labels.values()}
        unbounded = [v for v in values if re.fullmatch(r"0x[0-9a-fA-F]{40,}", v) or len(v) > 128]
        check(not unbounded, f"node {i + 1}: no address, hash or long value as a label ({unbounded[:3]})")
        needed = ["raft_term", "raft_applied_index", "raft_proposal_duration_seconds", "raft_log_sync_duration_seconds", "raft_ready_entries",
                  "raft_peer_match_lag_entries", "peer_link_state", "indexer_lag_blocks", "indexer_upstream_errors", "chain_applied_head",
                  "rpc_requests", "rpc_request_duration_seconds", "edge_requests", "rpc_subscriptions", "webhook_backlog_blocks",
                  "lmdb_used_bytes", "lmdb_map_limit_bytes", "data_filesystem_avail_bytes", "process_resident_memory_bytes",
                  "process_cpu_seconds", "process_open_fds", "process_start_time_seconds", "infrastack_build_info"]
        leader = (c.status(i) or {}).get("role") == "leader"
        missing = [n for n in needed if n not in families and not (n == "raft_peer_match_lag_entries" and not leader)]
        check(not missing, f"node {i + 1}: every series the rules and dashboards read ({missing})")
        calls = sum(s.value for s in families.get("rpc_requests", families.get("rpc_requests_total")).samples
                    if s.labels.get("method") == "eth_blockNumber") if families else 0
        check(calls >= 20, f"node {i + 1}: rpc_requests_total counts this node's 20 eth_blockNumber calls ({calls})")
        code, body, _ = http("GET", c.urls[i] + "/status")
        public = json.loads(body) if code == 200 else {}
        shown = [k for k in ("pid", "peers", "indexer", "rpc", "httpURL") if k in public]
        shown += [f"chains[].{k}" for ch in public.get("chains") or [] for k in ("slug", "upstreams") if k in ch]
        check(code == 200 and "status" in public and "chains" in public and not shown,
              f"node {i + 1}: /status without a credential is 200 with the public summary only ({code}; beyond it: {shown})")
        detail = c.status(i) or {}
        check("stateDigest" in detail and "peers" in detail, f"node {i + 1}: /status with the scrape token is the detailed JSON (stateDigest, peers)")

    print("2 the real Prometheus")
    up = until(lambda: (lambda r: r if r and len(r) == 3 and all(x["value"][1] == "1" for x in r) else None)(c.query('up{job="infrastack"}')), 30)
    check(up is not None, "Prometheus scrapes all three nodes (up == 1)")
    def rules():
        code, body, _ = http("GET", c.prom + "/api/v1/rules")
        return [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]] if code == 200 else []
    # A rule is "unknown" until its group's first evaluation.
    until(lambda: (lambda rs: rs and all(r.get("health") != "unknown" for r in rs))(rules()), 10)
    rules = rules()
    bad = [(r["name"], r.get("lastError")) for r in rules if r.get("health") != "ok"]
    check(len(rules) >= 25 and not bad, f"every recording and alert rule loaded and evaluates ({len(rules)} rules; unhealthy: {bad[:3]})")

    def applied():
        r = c.query("raft_applied_index")
        return {x["metric"]["instance"]: float(x["value"][1]) for x in r} if r else {}
    first = until(lambda: (lambda a: a if len(a) == 3 else None)(applied()), 10) or {}
    rising = until(lambda: (lambda a: a if len(a) == 3 and all(a[k] > first.get(k, 0) for k in a) else None)(applied()), 30)
    check(rising is not None, f"raft_applied_index rises on all three nodes ({first} -> {rising})")

    def total_calls():
        r = c.query('sum(rpc_requests_total{method="eth_chainId"})')
        return float(r[0]["value"][1]) if r else 0.0
    before = total_calls()
    for i in range(3):
        for _ in range(30):
            c.rpc(i, "eth_chainId")
    after = until(lambda: (lambda v: v if v >= before + 90 else None)(total_calls()), 15)
    check(after is not None, f"a request counter rises after traffic ({before} -> {after or total_calls()}, 90 calls sent)")
    leaders = until(lambda: (lambda r: r if r and r[0]["value"][1] == "1" else None)(c.query("infrastack:raft_leaders:sum")), 10)
    check(leaders is not None, "the recording rule sees exactly one leader")
    firing = c.query('ALERTS{alertstate="firing"}') or []
    check(not firing, f"no alert fires on a healthy cluster ({[a['metric'].get('alertname') for a in firing]})")

    print("3 the dashboard in headless Chromium")
    dashboard(c)

    print("4 a follower killed")
    follower = next((i for i in range(3) if (c.status(i) or {}).get("role") == "follower"), None)
    if not check(follower is not None, "a follower to kill"):
        return
    victim = c.ep["nodes"][follower]
    instance = victim["http"].split("://", 1)[1]
    os.kill(victim["pid"], signal.SIGKILL)
    down = until(lambda: (lambda r: r if r and r[0]["value"][1] == "0" else None)(c.query(f'up{{instance="{instance}"}}')), 15)
    check(down is not None, f"Prometheus sees {instance} down")

    def node_down_state():
        code, body, _ = http("GET", c.prom + "/api/v1/alerts")
        alerts = json.loads(body)["data"]["alerts"] if code == 200 else []
        return next((a["state"] for a in alerts if a["labels"].get("alertname") == "InfrastackNodeDown" and a["labels"].get("instance") == instance), None)
    state = until(node_down_state, 15)
    check(state in ("pending", "firing"), f"InfrastackNodeDown is {state} for {instance}")


def dashboard(c):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    opts = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]:
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        token = open(os.path.join(RUN, "bootstrap-admin-token")).read().strip()
        driver.get(c.urls[0] + "/dashboard#token=" + urllib.parse.quote(token))
        rendered = until(lambda: driver.execute_script("return document.body.dataset.generatedAt || null"), 20)
        check(rendered is not None, "the page rendered the cluster's data")
        check(driver.execute_script("return document.body.dataset.view") == "cluster", "a cluster admin gets the cluster view")
        check("token=" not in driver.current_url, "the token left the address bar")
        statuses = [c.status(i) or {} for i in range(3)]
        rows = {}
        for tr in driver.find_elements(By.CSS_SELECTOR, "#nodes tr[data-node]"):
            rows[int(tr.get_attribute("data-node"))] = {td.get_attribute("data-field"): td.text for td in tr.find_elements(By.CSS_SELECTOR, "td[data-field]")}
        check(sorted(rows) == [1, 2, 3], f"three node rows ({sorted(rows)})")
        for s in statuses:
            row = rows.get(s.get("nodeId"), {})
            check(row.get("role") == s.get("role") and row.get("term") == str(s.get("term")),
                  f"node {s.get('nodeId')}: role and term as /status says ({row.get('role')}/{row.get('term')} vs {s.get('role')}/{s.get('term')})")
            shown = int(row.get("appliedIndex") or -1)
            check(0 <= s.get("appliedIndex", 0) - shown <= 50, f"node {s.get('nodeId')}: applied index {shown}, /status {s.get('appliedIndex')} a moment later")
        chain = driver.find_elements(By.CSS_SELECTOR, "#chains [data-chain]")
        progress = chain[0].find_element(By.CSS_SELECTOR, "[data-field=progress]").text if chain else ""
        m = re.match(r"block ([\d,]+) of ([\d,]+), ([\d.]+) %, ETA ", progress)
        head = max((s.get("indexer") or {}).get("appliedHead") or 0 for s in statuses)
        check(m is not None and abs(int(m.group(1).replace(",", "")) - head) <= 5,
              f"the chain shows 'block N of M, P %, ETA …' with N at the applied head ({progress!r}, /status head {head})")
        conditions = [li.get_attribute("data-condition") for li in driver.find_elements(By.CSS_SELECTOR, "#conditions li")]
        check(conditions == ["none"], f"a healthy cluster shows no condition ({conditions})")
        # The charts need two samples of the node's 10 s history; the page refreshes every 5 s.
        rate = until(lambda: (lambda t: t if re.fullmatch(r"[\d.]+", t) else None)(driver.find_element(By.ID, "rpc-rate").text), 30, step=1)
        points = driver.execute_script("return document.querySelector('#chart-rate polyline').getAttribute('points').split(' ').filter(Boolean).length")
        check(rate is not None and points >= 1, f"JSON-RPC over the last hour: calls/s {rate!r}, {points} chart point(s)")
        shot = os.path.join(RUN, "dashboard.png")
        driver.save_screenshot(shot)
        check(os.path.getsize(shot) > 10000, f"screenshot saved ({shot})")
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        check(not errors, f"no console error ({errors[:2]})")
        # A token that is nobody's: the page says so instead of showing data.
        driver.execute_script("sessionStorage.clear()")
        driver.get(c.urls[1] + "/dashboard#token=ist_0000000000000000000000000000000000000000000000000000000000000000")
        refused = until(lambda: driver.find_element(By.ID, "error").text or None, 10)
        check(refused is not None and refused.startswith("401"), f"a wrong token is shown as refused ({refused!r})")
        check(not driver.find_elements(By.CSS_SELECTOR, "#nodes tr"), "and nothing of the cluster is shown")
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
