#!/usr/bin/env python3
"""Hostile inputs against a running three-node cluster (cluster/up on SimChain), one
check per row of the hardening table: each input is sent, then the test asserts the
answer is the expected error, every node process is still up, and the cluster still
has one leader with equal state digests.

  1 chunk size of 16 hex digits with the sign bit      6 slowloris: a byte every second
  2 JSON nested 511 deep (members, JSON-RPC)           7 request, then shutdown(SHUT_WR)
  3 promote a never-added node, without / with token   8 Expect: 100-continue
  4 80 held connections on the Raft port, a peer       9 REST account above the head
    restarts through them                             10 huge echoes, per-key filter cap,
  5 the data directory's filesystem fills up             NUL in a header, TE in HTTP/1.0
    (tmpfs; follower, leader, restart while full)

The disk-full row needs root (it mounts a small tmpfs); elsewhere it says so and skips,
unless INFRASTACK_REQUIRE_REFERENCES=1 (CI), where that is a failure.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, failures, http  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BASE = int(os.environ.get("ABUSE_BASE_PORT", "30000"))
RUN = os.path.join(ROOT, "chaos/.run/abuse")
SECOND_KEY = "abuse-second-key-0123456789"


def raw(port, data, shut_wr=False, timeout=5.0, src=None, read=True):
    """Sends bytes on a fresh connection; returns everything read until close or timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if src:
        s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    out = b""
    try:
        s.sendall(data)
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        if read:
            deadline = time.time() + timeout
            while time.time() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return out


def status_line(resp):
    return resp.split(b"\r\n", 1)[0].decode(errors="replace")


class Cluster:
    def __init__(self):
        with open(os.path.join(RUN, "endpoints.json")) as f:
            self.ep = json.load(f)
        self.binary = self.ep["binary"]
        self.nodes = {n["id"]: n for n in self.ep["nodes"]}
        self.key = self.ep["apiKey"]
        self.token = self.ep["adminToken"]
        self.admin = {"Authorization": "Bearer " + self.token}
        self.procs = {}

    def port(self, nid):
        return int(self.nodes[nid]["http"].rsplit(":", 1)[1])

    def raft_port(self, nid):
        return int(self.nodes[nid]["raft"].rsplit(":", 1)[1])

    def status(self, nid, timeout=2):
        code, body, _ = http("GET", self.nodes[nid]["http"] + "/status", headers=self.admin, timeout=timeout)
        return json.loads(body) if code == 200 else None

    def alive(self, nid):
        proc = self.procs.get(nid)
        if proc is not None:
            return proc.poll() is None
        try:   # started by cluster/up, so not our child: a zombie counts as dead
            with open(f"/proc/{self.nodes[nid]['pid']}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    def leader(self):
        for nid in self.nodes:
            s = self.status(nid)
            if s and s["role"] == "leader":
                return nid
        return None

    def wait(self, cond, seconds, what):
        deadline = time.time() + seconds
        while time.time() < deadline:
            v = cond()
            if v:
                return v
            time.sleep(0.1)
        return None

    def healthy(self, what, seconds=30, nodes=None):
        """Every node process up; one leader all agree on; equal digests at an equal applied index."""
        nodes = nodes or list(self.nodes)
        down = [n for n in nodes if not self.alive(n)]
        if not check(not down, f"{what}: every node process is still up (down: {down})"):
            for n in down:   # bring it back so the rows after this one test a whole cluster
                print(f"        last log lines of node {n}: {open(self.nodes[n]['log'], errors='replace').read()[-600:]!r}")
                self.restart(n)
            self.wait(lambda: self.leader() is not None, 30, "a leader")
            return False

        def agreed():
            ss = [self.status(n) for n in nodes]
            if any(s is None for s in ss):
                return None
            leaders = {s["leaderId"] for s in ss}
            if len(leaders) != 1 or 0 in leaders or sum(s["role"] == "leader" for s in ss) != 1:
                return None
            if len({s["appliedIndex"] for s in ss}) != 1:
                return None
            return ss if len({s["stateDigest"] for s in ss}) == 1 else ("diverged", ss)
        r = self.wait(agreed, seconds, what)
        if isinstance(r, tuple):
            return check(False, f"{what}: digests diverged at one applied index: {[s['stateDigest'] for s in r[1]]}")
        return check(r is not None, f"{what}: one leader, equal digests at one applied index")

    def kill(self, nid):
        os.kill(self.nodes[nid]["pid"], signal.SIGKILL)
        proc = self.procs.pop(nid, None)
        if proc is not None:
            proc.wait()
        else:
            time.sleep(0.2)

    def restart(self, nid):
        n = self.nodes[nid]
        log = open(n["log"], "ab")
        p = subprocess.Popen([self.binary, "node", "--config", n["config"]], stdout=log, stderr=log, start_new_session=True)
        n["pid"] = p.pid
        self.procs[nid] = p
        with open(os.path.join(RUN, "endpoints.json")) as f:
            ep = json.load(f)
        for e in ep["nodes"]:
            if e["id"] == nid:
                e["pid"] = p.pid
        with open(os.path.join(RUN, "endpoints.json"), "w") as f:
            json.dump(ep, f, indent=2)

    def rpc(self, nid, body, headers=None):
        h = {"Content-Type": "application/json", "X-API-Key": self.key}
        h.update(headers or {})
        return http("POST", self.nodes[nid]["http"] + "/", body, h)

    def put(self, nid, key, value=b"x"):
        return http("PUT", f"{self.nodes[nid]['http']}/v1/debug/kv/{key}", value, self.admin)[0]


def row1_chunked_overflow(c):
    print("row 1: chunk sizes that overflow", flush=True)
    for nid in c.nodes:
        for size in (b"8000000000000000", b"ffffffffffffffff", b"7fffffffffffffff", b"fffffffffffffffff"):
            try:
                resp = raw(c.port(nid), b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nabc\r\n", timeout=3)
            except OSError as e:
                resp = repr(e).encode()
            line = status_line(resp)
            check(line.startswith("HTTP/1.1 413") or line.startswith("HTTP/1.1 400"), f"node {nid} chunk size {size.decode()}: {line}")
    c.healthy("after row 1")


def nested(depth):
    return ('{"a":' * depth + "1" + "}" * depth).encode()


def row2_nesting(c):
    print("row 2: JSON nested 511 deep", flush=True)
    follower = next(n for n in c.nodes if n != c.leader())
    for depth in (511, 100_000):
        body = nested(depth)
        code, resp, _ = http("POST", c.nodes[follower]["http"] + "/v1/cluster/members", body, {"Content-Type": "application/json"})
        check(code == 401, f"follower members without a token, depth {depth}: {code}")
        code, resp, _ = http("POST", c.nodes[follower]["http"] + "/v1/cluster/members", body, dict(c.admin, **{"Content-Type": "application/json"}))
        check(code == 400, f"follower members with the token, depth {depth}: {code} {resp[:120]!r}")
        for nid in c.nodes:
            code, resp, _ = c.rpc(nid, body)
            err = json.loads(resp).get("error", {}) if code == 200 else {}
            check(code == 200 and err.get("code") == -32700, f"node {nid} JSON-RPC depth {depth}: {code} {err.get('message', resp[:80])}")
            arr = ("[" * depth + "]" * depth).encode()
            code, resp, _ = c.rpc(nid, arr)
            check(code == 200 and json.loads(resp).get("error", {}).get("code") in (-32700, -32600), f"node {nid} JSON-RPC arrays depth {depth}")
        gql = ("{ block { " * 200 + "number" + " }" * 200).encode()
        code, resp, _ = http("POST", c.nodes[follower]["http"] + "/graphql", json.dumps({"query": gql.decode()}).encode(),
                             {"Content-Type": "application/json", "X-API-Key": c.key})
        check(code in (200, 400) and b"errors" in resp, f"GraphQL selections 200 deep: {code}")
    c.healthy("after row 2")


def row3_promote_ghost(c):
    print("row 3: promote a node never added", flush=True)
    before = c.status(c.leader())["voters"]
    for nid in c.nodes:
        code, _, headers = http("POST", c.nodes[nid]["http"] + "/v1/cluster/members/99/promote")
        check(code == 401 and "Bearer" in headers.get("WWW-Authenticate", ""), f"node {nid} promote 99 without a token: {code}")
        code, body, _ = http("POST", c.nodes[nid]["http"] + "/v1/cluster/members/99/promote", headers={"Authorization": "Bearer not-the-admin-token"})
        # A token nobody holds is no credential at all (401, RFC 6750's invalid_token), as a
        # user's token that falls short is refused 403.
        check(code == 401 and b"not valid" in body, f"node {nid} promote 99 with a wrong token: {code}")
        code, _, _ = http("POST", c.nodes[nid]["http"] + "/v1/cluster/members/99/promote", headers={"X-API-Key": c.key})
        check(code == 401, f"node {nid} promote 99 with a read API key: {code}")
        code, body, _ = http("POST", c.nodes[nid]["http"] + "/v1/cluster/members/99/promote", headers=c.admin)
        check(code == 409 and b"not a learner" in body, f"node {nid} promote 99 with the token: {code} {body[:100]!r}")
        code, _, _ = http("PUT", c.nodes[nid]["http"] + "/v1/debug/kv/open", b"x")
        check(code == 401, f"node {nid} debug KV write without a token: {code}")
    after = c.status(c.leader())["voters"]
    check(sorted(before) == sorted(after) == [1, 2, 3], f"voters unchanged: {after}")
    c.healthy("after row 3")


def row4_raft_flood(c):
    print("row 4: Raft port flood while a peer restarts", flush=True)
    leader = c.leader()
    victim = next(n for n in c.nodes if n != leader)
    sources = [f"127.0.{1 + i // 40}.{2 + i % 20}" for i in range(80)]

    def dial(src):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", c.raft_port(leader)))
            return s
        except OSError:
            s.close()
            return None
    socks = [dial(src) for src in sources]
    opened = sum(1 for s in socks if s)
    # The leader cuts each one at its handshake deadline; re-dial at once so the flood lasts.
    stop = threading.Event()

    def keep_flooding():
        while not stop.is_set():
            for k, s in enumerate(socks):
                dead = s is None
                if s is not None:
                    try:
                        dead = s.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b""
                    except BlockingIOError:
                        dead = False
                    except OSError:
                        dead = True
                if dead:
                    if s is not None:
                        s.close()
                    socks[k] = dial(sources[k])
            stop.wait(0.2)
    t = threading.Thread(target=keep_flooding, daemon=True)
    t.start()
    try:
        check(opened == 80, f"80 flood connections open to the leader's Raft port ({opened})")
        c.kill(victim)
        before = c.status(leader)["commitIndex"]
        c.restart(victim)
        t0 = time.time()
        back = c.wait(lambda: (lambda s: s and s["leaderId"] == leader and s["appliedIndex"] >= before)(c.status(victim)), 20, "rejoin")
        check(bool(back), f"node {victim} rejoined through the flood in {time.time() - t0:.1f} s")
        code, body, _ = http("GET", c.nodes[leader]["http"] + "/status")
        log = open(c.nodes[leader]["log"], errors="replace").read()
        check("peer_connection_refused" in log, "the leader logged refused connections")
    finally:
        stop.set()
        t.join()
        for s in socks:
            if s:
                s.close()
    c.healthy("after row 4")


def row6_slowloris(c):
    print("row 6: slowloris", flush=True)
    nid = c.leader()
    conns = []
    for _ in range(40):
        s = socket.create_connection(("127.0.0.1", c.port(nid)), timeout=30)
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        conns.append(s)
    closed = [False] * len(conns)
    t0 = time.time()
    while time.time() - t0 < 25 and not all(closed):
        for i, s in enumerate(conns):
            if closed[i]:
                continue
            try:
                s.sendall(b"X")   # one byte of a header per round, forever
                s.setblocking(False)
                try:
                    if s.recv(4096) is not None:
                        closed[i] = True
                except BlockingIOError:
                    pass
                s.setblocking(True)
            except OSError:
                closed[i] = True
        code, _, _ = http("GET", c.nodes[nid]["http"] + "/healthz", timeout=2)
        if code != 200:
            check(False, f"healthz answered {code} during the trickle")
        time.sleep(1)
    check(all(closed), f"all 40 trickling connections cut within {time.time() - t0:.0f} s (header deadline is absolute)")
    for s in conns:
        s.close()
    c.healthy("after row 6")


def row7_half_close(c):
    print("row 7: request then shutdown(SHUT_WR)", flush=True)
    nid = next(n for n in c.nodes if n != c.leader())
    req = (f"PUT /v1/debug/kv/halfclose HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {c.token}\r\n"
           "Content-Length: 5\r\n\r\nhello").encode()
    resp = raw(c.port(nid), req, shut_wr=True, timeout=10)
    check(status_line(resp).startswith("HTTP/1.1 200"), f"half-closed PUT answered: {status_line(resp)!r}")
    resp = raw(c.port(nid), ("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").encode(), shut_wr=True)
    check(resp.endswith(b"ok\n"), "half-closed GET answered in full")
    c.healthy("after row 7")


def row8_expect_continue(c):
    print("row 8: Expect: 100-continue", flush=True)
    nid = c.leader()
    body = b"y" * 2_000_000
    s = socket.create_connection(("127.0.0.1", c.port(nid)), timeout=5)
    s.sendall((f"PUT /v1/debug/kv/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {c.token}\r\n"
               f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
    t0 = time.time()
    interim = s.recv(4096)
    check(interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), f"100 Continue sent at once ({time.time() - t0:.3f} s): {interim[:40]!r}")
    s.sendall(body)
    final = b""
    while b"\r\n\r\n" not in final:
        final += s.recv(4096)
    check(final.startswith(b"HTTP/1.1 200"), f"then the PUT is answered: {status_line(final)}")
    s.close()
    resp = raw(c.port(nid), (f"POST /v1/cluster/members HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                             "Expect: 100-continue\r\n\r\n").encode(), timeout=3)
    check(status_line(resp).startswith("HTTP/1.1 401") and b"100 Continue" not in resp, f"no token: refused before the body: {status_line(resp)}")
    resp = raw(c.port(nid), b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: teapot\r\n\r\n", timeout=3)
    check(status_line(resp).startswith("HTTP/1.1 417"), f"an unknown expectation: {status_line(resp)}")
    c.healthy("after row 8")


def row9_rest_above_head(c):
    print("row 9: REST reads above the head", flush=True)
    nid = c.leader()
    base = c.nodes[nid]["rpc"]
    code, body, _ = http("GET", base + "/v1/chain/accounts/0x0000000000000000000000000000000000000001?block=0x5000")
    check(code == 404, f"account at block 0x5000: {code} {body[:100]!r}")
    code, body, _ = http("GET", base + "/v1/chain/storage/0x0000000000000000000000000000000000000001/0x0?block=99999999")
    check(code == 404, f"storage at block 99999999: {code}")
    code, body, _ = http("GET", base + "/v1/chain/accounts/0x0000000000000000000000000000000000000001?block=latest")
    check(code == 200, f"account at latest still answers: {code}")
    c.healthy("after row 9")


def row10_echo_limits_headers(c):
    print("row 10: bounded echoes, per-key filter caps, header bytes, HTTP/1.0", flush=True)
    nid = c.leader()
    big = "m" * 1_000_000
    code, resp, _ = c.rpc(nid, json.dumps({"jsonrpc": "2.0", "id": 1, "method": big}).encode())
    check(code == 200 and len(resp) < 2000, f"1 MB method name: answer of {len(resp)} bytes")
    var = "v" * 7_000_000
    q = {"query": "query($n: Long!) { block(number: $n) { number } }", "variables": {"n": var}}
    code, resp, _ = http("POST", c.nodes[nid]["http"] + "/graphql", json.dumps(q).encode(),
                         {"Content-Type": "application/json", "X-API-Key": c.key}, timeout=30)
    check(code in (200, 400) and len(resp) < 4000, f"7 MB GraphQL variable: {code}, answer of {len(resp)} bytes")
    # Filters per key: the first key fills its share; the second key still installs.
    new_filter = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_newBlockFilter", "params": []}).encode()
    batch = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "eth_newBlockFilter", "params": []} for i in range(100)]).encode()
    refused = 0
    for _ in range(11):
        code, resp, _ = c.rpc(nid, batch)
        refused += sum(1 for a in json.loads(resp) if "error" in a)
    check(refused == 100, f"key A: 1,100 filters asked, 100 refused past its 1,000 ({refused})")
    code, resp, _ = c.rpc(nid, new_filter, {"X-API-Key": SECOND_KEY})
    check("result" in json.loads(resp), f"key B still installs a filter: {resp[:100]!r}")
    resp = raw(c.port(nid), b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Evil: a\x00b\r\n\r\n", timeout=3)
    check(status_line(resp).startswith("HTTP/1.1 400"), f"NUL in a header value: {status_line(resp)}")
    resp = raw(c.port(nid), b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", timeout=3)
    check(status_line(resp).startswith("HTTP/1.1 400"), f"Transfer-Encoding in HTTP/1.0: {status_line(resp)}")
    c.healthy("after row 10")


def row5_disk_full(c, mount):
    print("row 5: the data directory's filesystem fills (node 3 on a tmpfs)", flush=True)
    filler = os.path.join(mount, "filler")

    def fill():
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=1M", "count=10000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def free():
        os.remove(filler)

    def alarmed():
        s = c.status(3)
        return s if s and any(a.get("alarm") == "NOSPACE" for a in s.get("alarms", [])) else None

    def write_until(what, nodes, seconds=30):
        """Writes 60 kB values through `nodes` until node 3 raises its alarm."""
        deadline = time.time() + seconds
        i = 0
        while time.time() < deadline:
            i += 1
            for nid in nodes:
                c.put(nid, f"fill-{what}-{i}", b"z" * 60_000)
            if alarmed():
                return True
        return False

    # (a) a follower's disk fills
    leader = c.leader()
    if leader == 3:
        c.kill(3)
        c.restart(3)
        leader = c.wait(lambda: (lambda l: l if l and l != 3 else None)(c.leader()), 20, "another leader")
    fill()
    check(write_until("a", [leader]), "node 3 (follower) raised the NOSPACE alarm")
    code, body, _ = http("GET", c.nodes[3]["http"] + "/readyz")
    check(code == 503 and b"disk alarm" in body, f"node 3 /readyz: {code} {body[:120]!r}")
    check(c.alive(3), "node 3 is still running")
    others = [n for n in c.nodes if n != 3]
    acked = [k for k in range(20) if c.put(leader, f"during-{k}") == 200]
    check(len(acked) == 20, f"the other two keep acknowledging writes ({len(acked)}/20)")
    code, _, _ = http("GET", c.nodes[3]["rpc"] + "/v1/chain/head")
    check(code == 200, f"node 3 still serves reads from what it has: {code}")
    code, body, _ = http("PUT", c.nodes[3]["http"] + "/v1/debug/kv/x", b"x", dict(c.admin, **{"X-Infrastack-Forwarded": "test"}))
    check(code == 507, f"node 3 refuses a write itself: {code} {body[:100]!r}")
    # (c) restarting with a full disk does not crash-loop
    c.kill(3)
    c.restart(3)
    time.sleep(4)
    check(c.alive(3), "node 3 restarted with a full disk stays up")
    check(c.wait(alarmed, 20, "alarm after restart") is not None, "and reports the alarm again")
    free()
    check(c.wait(lambda: not alarmed() and (c.status(3) or {}).get("leaderId", 0) != 0, 30, "recovery") is not None,
          "node 3 cleared the alarm by itself once space returned")
    c.healthy("after the follower's disk filled and emptied", seconds=60)
    missing = [k for k in acked if http("GET", f"{c.nodes[3]['http']}/v1/debug/kv/during-{k}", headers=c.admin)[0] != 200]
    check(not missing, f"node 3 has every write acknowledged while it was full (missing {missing})")

    # (b) the leader's disk fills: it steps down, the others go on
    for _ in range(8):
        if c.leader() == 3:
            break
        l = c.leader()
        if l is None:
            time.sleep(0.5)
            continue
        c.kill(l)
        c.restart(l)
        c.wait(lambda: c.leader() is not None, 20, "a leader")
        time.sleep(0.5)
    if check(c.leader() == 3, "node 3 became the leader (by killing the others' leadership)"):
        fill()
        check(write_until("b", [3], seconds=30), "node 3 (leader) raised the NOSPACE alarm")
        new = c.wait(lambda: (lambda l: l if l and l != 3 else None)(c.leader()), 20, "a new leader")
        check(new is not None, f"another node took over: leader {new}")
        s3 = c.status(3)
        check(s3 is not None and s3["role"] != "leader", f"node 3 stepped down: {s3 and s3['role']}")
        ok = [k for k in range(10) if c.put(new or 1, f"after-leader-full-{k}") == 200]
        check(len(ok) == 10, f"writes continue on the new leader ({len(ok)}/10)")
        free()
        check(c.wait(lambda: not alarmed(), 30, "recovery") is not None, "node 3 recovered")
        c.healthy("after the leader's disk filled and emptied", seconds=60)


def main():
    subprocess.run([os.path.join(ROOT, "cluster/down"), "--run-dir", RUN, "--wipe"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.makedirs(RUN, exist_ok=True)
    mount = os.path.join(RUN, "data/node-3")
    mounted = False
    if os.geteuid() == 0:
        os.makedirs(mount, exist_ok=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mount]).returncode == 0
    # Two read API keys: the first is the one cluster/up hands out.
    with open(os.path.join(RUN, "api-keys"), "w") as f:
        f.write("abuse-first-key-0123456789\n" + SECOND_KEY + "\n")
    up = subprocess.run([os.path.join(ROOT, "cluster/up"), "--run-dir", RUN, "--base-port", str(BASE), "--tick-ms", "50",
                         "--debug-kv", "--snapshot-every", "200"], stdout=subprocess.DEVNULL)
    if up.returncode != 0:
        print("FAIL: cluster/up")
        return 1
    c = Cluster()
    try:
        c.wait(lambda: all((c.status(n) or {}).get("indexer", {}).get("appliedHead", 0) >= 3 for n in c.nodes), 60, "indexing")
        rows = (row1_chunked_overflow, row2_nesting, row3_promote_ghost, row9_rest_above_head, row10_echo_limits_headers,
                row7_half_close, row8_expect_continue, row6_slowloris, row4_raft_flood)
        only = os.environ.get("ABUSE_ROWS")   # e.g. "3,4,5" to run some rows while debugging
        for row in rows:
            if only and row.__name__[3:].split("_")[0] not in only.split(","):
                continue
            try:
                row(c)
            except Exception as e:  # a row that throws is a failure, and the rest still run
                check(False, f"{row.__name__} raised {e!r}")
        if only and "5" not in only.split(","):
            pass
        elif mounted:
            try:
                row5_disk_full(c, mount)
            except Exception as e:
                check(False, f"row5_disk_full raised {e!r}")
        elif os.environ.get("INFRASTACK_REQUIRE_REFERENCES") == "1":
            check(False, "row 5 (disk full) needs root to mount a tmpfs")
        else:
            print("row 5 skipped: mounting a tmpfs needs root")
    finally:
        for nid in c.nodes:
            try:
                os.kill(c.nodes[nid]["pid"], signal.SIGKILL)
            except OSError:
                pass
        subprocess.run([os.path.join(ROOT, "cluster/down"), "--run-dir", RUN], stdout=subprocess.DEVNULL)
        if mounted:
            subprocess.run(["umount", "-l", mount])
    print(f"{len(failures)} failures" if failures else "PASS")
    for f in failures:
        print("  -", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
