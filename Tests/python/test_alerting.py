"""Built-in alerting on a running three-node cluster (cluster/up on SimChain, one process per
node, receivers on this machine):

  1 rules: an organisation owning the chain gets an `error_rate > 0.2` alert with four
    channels (a JSON webhook, Slack, PagerDuty, and a receiver that fails its first two
    POSTs) and a `no_leader` alert; bad rules are refused naming the field; a developer may
    read but not create
  2 firing: JSON-RPC errors through every node (the error rate is the cluster's, not the
    leader's share) open one incident; every channel gets one firing notification, signed
    (checked with the `standardwebhooks` reference), the failing receiver after retries,
    PagerDuty a `trigger` with the incident's dedup_key; the dashboard lists it firing
  3 failover: the leader is killed while it fires; good calls bring the rate down; the next
    leader resolves the same incident (no second one) and every channel gets its resolved
    notification with the same ids (PagerDuty `resolve`, same dedup_key); the incident shows
    every notification sent
  4 no leader: the leader and a follower paused (SIGSTOP); the follower left notifies `no_leader` by itself; once they are
    back, the resolution comes with the same message id, and the outage is in the incidents
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, http, until, with_cluster  # noqa: E402

from standardwebhooks.webhooks import Webhook as Verifier  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BASE = int(os.environ.get("ALERTING_BASE_PORT", "34000"))
RUN = os.path.join(ROOT, "chaos/.run/alerting")
RECEIVER = BASE + 900


class Receiver:
    """Every POST by path, in arrival order; /flaky fails its first two."""

    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []
        self.flaky_failures = 0

    def handle(self, path, headers, body):
        with self.lock:
            if path.startswith("/flaky") and self.flaky_failures < 2:
                self.flaky_failures += 1
                return 500
            self.posts.append((path.split("?")[0], {k.lower(): v for k, v in headers.items()}, body))
            return 200

    def at(self, path):
        with self.lock:
            return [(h, json.loads(b), b) for p, h, b in self.posts if p == path]


def serve(receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            code = receiver.handle(self.path, dict(self.headers), body)
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", RECEIVER), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class Cluster:
    def __init__(self):
        with open(os.path.join(RUN, "endpoints.json")) as f:
            self.ep = json.load(f)
        self.nodes = {n["id"]: n for n in self.ep["nodes"]}
        self.token = self.ep["adminToken"]
        self.api_key = self.ep["apiKey"]
        self.procs = {}

    def call(self, method, path, body=None, token=None, node=None):
        """The first answer that is not a 5xx / no answer, trying every live node."""
        ids = [node] if node else list(self.nodes)
        for _ in range(50):
            for nid in ids:
                code, raw, _ = http(method, self.nodes[nid]["http"] + path, body, {"Authorization": "Bearer " + (token or self.token)})
                if code and code < 500:
                    return code, json.loads(raw) if raw else None
            time.sleep(0.2)
        return None, None

    def status(self, nid):
        code, raw, _ = http("GET", self.nodes[nid]["http"] + "/status", headers={"Authorization": "Bearer " + self.token}, timeout=1)
        return json.loads(raw) if code == 200 else None

    def leader(self):
        for nid in self.nodes:
            s = self.status(nid)
            if s and s.get("role") == "leader":
                return nid
        return None

    def rpc(self, nid, method):
        return http("POST", self.nodes[nid]["http"] + "/", {"jsonrpc": "2.0", "id": 1, "method": method, "params": []},
                    {"X-API-Key": self.api_key}, timeout=2)

    def kill(self, nid, sig=signal.SIGKILL):
        os.kill(self.nodes[nid]["pid"], sig)
        p = self.procs.pop(nid, None)
        if p is not None:
            p.wait()

    def restart(self, nid):
        n = self.nodes[nid]
        log = open(n["log"], "ab")
        p = subprocess.Popen([self.ep["binary"], "node", "--config", n["config"]], stdout=log, stderr=log, start_new_session=True)
        n["pid"] = p.pid
        self.procs[nid] = p
        with open(os.path.join(RUN, "endpoints.json")) as f:
            ep = json.load(f)
        for e in ep["nodes"]:
            if e["id"] == nid:
                e["pid"] = p.pid
        with open(os.path.join(RUN, "endpoints.json"), "w") as f:
            json.dump(ep, f, indent=2)


def verified(secret, headers, raw):
    try:
        Verifier(secret).verify(raw, headers)
        return True
    except Exception:
        return False


def run(c, rx):
    print("1 rules")
    code, org = c.call("POST", "/v1/orgs", {"name": "alerting"})
    check(code == 201, f"an organisation ({code})")
    chain = (c.status(1).get("indexer") or {}).get("chainId") or 1337
    code, _ = c.call("PUT", f"/v1/orgs/{org['id']}/chains/{chain}")
    check(code == 200, f"it owns chain {chain} ({code})")
    r = f"http://127.0.0.1:{RECEIVER}"
    channels = [{"type": "webhook", "url": r + "/hook"}, {"type": "slack", "url": r + "/slack"},
                {"type": "pagerduty", "url": r + "/pd?routing_key=R0UT1NG"}, {"type": "webhook", "url": r + "/flaky"}]
    code, rule = c.call("POST", "/v1/alerts", {"org": org["id"], "name": "rpc errors", "condition": "error_rate > 0.2", "chain": chain,
                                               "severity": "critical", "channels": channels})
    check(code == 201 and rule["secret"].startswith("whsec_") and rule["condition"] == "error_rate > 0.2", f"the error-rate alert is created ({code})")
    secret = rule["secret"]
    code, nl = c.call("POST", "/v1/alerts", {"org": org["id"], "name": "no leader", "condition": "no_leader", "for": 5,
                                             "channels": [{"type": "webhook", "url": r + "/noleader"}]})
    check(code == 201, f"the no_leader alert is created ({code})")
    for body, says in [({"org": org["id"], "name": "x", "condition": "lag > 3", "channels": channels}, "the metric is one of"),
                       ({"org": org["id"], "name": "x", "condition": "lag_seconds > 3", "channels": []}, "channels is required"),
                       ({"org": org["id"], "name": "x", "condition": "lag_seconds > 3", "severity": "loud", "channels": channels}, "severity"),
                       ({"org": org["id"], "name": "x", "condition": "lag_seconds > 3", "channels": [{"type": "pagerduty", "url": r + "/pd"}]}, "routing key")]:
        code, answer = c.call("POST", "/v1/alerts", body)
        check(code == 400 and says in (answer or {}).get("error", ""), f"refused naming the problem: {says!r} ({code}: {(answer or {}).get('error')})")
    code, dev = c.call("POST", f"/v1/orgs/{org['id']}/members", {"name": "dev", "role": "developer"})
    code_read, listed = c.call("GET", f"/v1/alerts?org={org['id']}", token=dev["token"])
    code_make, _ = c.call("POST", "/v1/alerts", {"org": org["id"], "name": "y", "condition": "lag_seconds > 3", "channels": channels}, token=dev["token"])
    check(code_read == 200 and len(listed["alerts"]) == 2 and "secret" not in json.dumps(listed) and code_make == 403,
          f"a developer reads the alerts (no secret) but may not create one ({code_read}, {code_make})")
    check("R0UT1NG" not in json.dumps(listed), "the routing key is not shown back")

    print("2 firing")
    def failing():
        # Errors through every node, until every channel heard: the rate is judged over the
        # cluster's last minute, reported to the leader every 5 s.
        for nid in c.nodes:
            for _ in range(5):
                c.rpc(nid, "eth_noSuchMethod")
            c.rpc(nid, "eth_blockNumber")
        return all(rx.at(p) for p in ["/hook", "/slack", "/pd", "/flaky"]) or None
    fired = until(failing, 60, 0.5)
    check(fired is not None, f"every channel got a notification within 60 s ({[p for p in ['/hook', '/slack', '/pd', '/flaky'] if not rx.at(p)]} missing)")
    code, inc = c.call("GET", f"/v1/alerts/incidents?org={org['id']}&state=open")
    open_ = (inc or {}).get("incidents", [])
    check(code == 200 and len(open_) == 1 and open_[0]["alert"] == rule["id"] and open_[0]["state"] == "open",
          f"one open incident, of the error-rate alert ({len(open_)})")
    incident = open_[0]["id"] if open_ else None
    for path in ["/hook", "/slack", "/pd", "/flaky"]:
        posts = rx.at(path)
        check(all(verified(secret, h, raw) for h, _, raw in posts), f"{path}: every POST verifies with standardwebhooks")
        check(len({h["webhook-id"] for h, _, _ in posts}) == 1 and posts[0][0]["webhook-id"] == f"alert_{incident}_firing",
              f"{path}: one firing notification, id alert_{incident}_firing ({[h['webhook-id'] for h, _, _ in posts]})")
    hook = rx.at("/hook")[0][1]
    check(hook["type"] == "alert.firing" and hook["incident"]["id"] == incident and hook["alert"]["severity"] == "critical"
          and float(hook["incident"]["value"]) > 0.2, f"the JSON envelope names the incident and its value ({hook['incident']})")
    pd = rx.at("/pd")[0][1]
    check(pd["event_action"] == "trigger" and pd["routing_key"] == "R0UT1NG" and pd["payload"]["severity"] == "critical" and pd["dedup_key"].endswith(incident),
          f"PagerDuty: trigger, routing key, severity, dedup_key {pd.get('dedup_key')}")
    check("FIRING" in rx.at("/slack")[0][1]["text"], "Slack: a FIRING line")
    check(rx.flaky_failures == 2, "the failing receiver was retried past its two failures")
    code, dash = c.call("GET", "/v1/dashboard")
    firing = (dash or {}).get("alerts", {}).get("firing", [])
    check(code == 200 and [i["id"] for i in firing] == [incident] and any(k["condition"] == "alert_firing" for k in dash.get("conditions", [])),
          "the dashboard lists the incident firing, and as a condition")

    print("3 failover")
    leader = c.leader()
    c.kill(leader)
    print(f"  killed the leader, node {leader}")
    others = [n for n in c.nodes if n != leader]
    stop = time.time() + 90

    def resolved():
        for nid in others:
            for _ in range(20):
                c.rpc(nid, "eth_blockNumber")
        return all(any(b.get("event_action") == "resolve" or b.get("type") == "alert.resolved" or "RESOLVED" in b.get("text", "") for _, b, _ in rx.at(p))
                   for p in ["/hook", "/slack", "/pd", "/flaky"]) or None
    done = until(resolved, 90, 0.5)
    check(done is not None, f"every channel got the resolution within 90 s of the failover ({int(90 - (stop - time.time()))} s)")
    # Not at once: the next leader waits until it has heard a window of every node's traffic.
    code, inc = c.call("GET", f"/v1/alerts/incidents?org={org['id']}", node=others[0])
    c.restart(leader)
    code, inc = c.call("GET", f"/v1/alerts/incidents?org={org['id']}", node=others[0])
    mine = [i for i in (inc or {}).get("incidents", []) if i["alert"] == rule["id"]]
    check(len(mine) == 1 and mine[0]["id"] == incident and mine[0]["state"] == "resolved",
          f"the same incident resolved, no second one ({[(i['id'], i['state']) for i in mine]})")
    sent = until(lambda: (lambda m: m if m and all(n["firing"] == "sent" and n["resolved"] == "sent" for n in m[0]["notifications"]) else None)(
        [i for i in (c.call("GET", f"/v1/alerts/incidents?org={org['id']}", node=others[0])[1] or {}).get("incidents", []) if i["id"] == incident]), 30, 1)
    check(sent is not None, "the incident shows every notification sent")
    for path in ["/hook", "/slack", "/pd", "/flaky"]:
        ids = [h["webhook-id"] for h, _, _ in rx.at(path)]
        check(set(ids) == {f"alert_{incident}_firing", f"alert_{incident}_resolved"}, f"{path}: the firing and the resolution, nothing else ({sorted(set(ids))})")
    cli = subprocess.run([c.ep["binary"], "alert", "incidents", "--endpoint", c.nodes[others[0]]["http"], "--org", org["id"]],
                         capture_output=True, text=True, env=dict(os.environ, INFRASTACK_ADMIN_TOKEN=c.token))
    check(cli.returncode == 0 and incident in cli.stdout and "resolved" in cli.stdout, f"infrastack alert incidents lists it ({cli.stdout.strip()[:200]}{cli.stderr.strip()})")
    cli = subprocess.run([c.ep["binary"], "alert", "list", "--endpoint", c.nodes[others[0]]["http"], "--org", org["id"]],
                         capture_output=True, text=True, env=dict(os.environ, INFRASTACK_ADMIN_TOKEN=c.token))
    check(cli.returncode == 0 and "error_rate > 0.2" in cli.stdout and "no_leader" in cli.stdout, "infrastack alert list shows both alerts")
    pds = [b for _, b, _ in rx.at("/pd")]
    check({b["dedup_key"] for b in pds} == {pd["dedup_key"]} and pds[-1]["event_action"] == "resolve", "PagerDuty: resolve with the same dedup_key")

    print("4 no leader")
    until(lambda: c.leader(), 30)
    alive = until(lambda: all((c.status(n) or {}).get("leaderId") for n in c.nodes) or None, 30)
    check(alive is not None, "all three nodes answer again and know the leader")
    leader = c.leader()
    keep = [n for n in c.nodes if n != leader][0]
    stopped = [n for n in c.nodes if n != keep]
    for n in stopped:
        os.kill(c.nodes[n]["pid"], signal.SIGSTOP)
    print(f"  paused nodes {stopped}; node {keep} is left alone")
    got = until(lambda: rx.at("/noleader") or None, 40, 0.5)
    check(got is not None and got[0][1]["type"] == "alert.firing" and verified(nl["secret"], got[0][0], got[0][2]),
          "the node left alone notified no_leader itself, signed")
    for n in stopped:
        os.kill(c.nodes[n]["pid"], signal.SIGCONT)
    back = until(lambda: any(b["type"] == "alert.resolved" for _, b, _ in rx.at("/noleader")) or None, 60, 0.5)
    check(back is not None, "and its resolution once a leader is back")
    posts = rx.at("/noleader")
    firing_ids = {h["webhook-id"] for h, b, _ in posts if b["type"] == "alert.firing"}
    resolved_ids = {h["webhook-id"] for h, b, _ in posts if b["type"] == "alert.resolved"}
    check(len(firing_ids) == 1 and {i.replace("_firing", "_resolved") for i in firing_ids} == resolved_ids and not any(i.endswith("-0_firing") for i in firing_ids),
          f"one outage, named by the lost leader's term: the same id from every node that saw it ({sorted(firing_ids | resolved_ids)})")
    past = until(lambda: [i for i in (c.call("GET", f"/v1/alerts/incidents?org={org['id']}")[1] or {}).get("incidents", []) if i["alert"] == nl["id"]] or None, 30, 1)
    check(past is not None and len(past) == 1 and past[0]["state"] == "resolved", f"the outage is recorded as one incident ({past})")


def main():
    rx = Receiver()
    server = serve(rx)
    try:
        return with_cluster(RUN, ["--base-port", str(BASE), "--tick-ms", "50", "--webhooks-private"], lambda out: run(Cluster(), rx), "alerting")
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
