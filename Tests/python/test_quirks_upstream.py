#!/usr/bin/env python3
"""A three-node cluster following SimChain through quirks_proxy.py, a stand-in for a hosted
provider at its most awkward: batches over 10 calls refused with an error object, seeded
random rate limits (HTTP 429 with Retry-After, JSON-RPC -32005), no eth_getBlockReceipts, no
debug_traceBlockByNumber, 2% of connections dropped unanswered, and a key required in the
path. Checks that every node indexes to block 15; that a follower's blocks and every
transaction's receipt equal SimChain's own answers; that /status shows what the indexer
learned (receipts per transaction, state by probing, a batch limit of at most 10, rate
limits counted); and that the key appears in no log line and no /status (detailed or public).
"""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import read_api_checks  # noqa: E402
from read_api_checks import get_json as get, rpc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUN = os.path.join(ROOT, "chaos/.run/quirks")
BASE = 32000
KEY = "quirk-9a7e3c1d5b2f4e60"
TARGET = 15






def main():
    sim, sim_url = read_api_checks.start_simchain(ROOT, BASE + 600)
    proxy = subprocess.Popen([sys.executable, os.path.join(HERE, "quirks_proxy.py"), "--backend", sim_url, "--path-key", KEY,
                              "--batch-limit", "10", "--rate-limit", "0.03", "--retry-after", "1", "--drop", "0.02", "--seed", "12",
                              "--missing", "eth_getBlockReceipts", "--missing", "debug_traceBlockByNumber"], stdout=subprocess.PIPE, text=True)
    port = int(proxy.stdout.readline())
    proxy_url = f"http://127.0.0.1:{port}"
    upstream = f"{proxy_url}/v3/{KEY}"
    failures = 0

    def fail(msg):
        nonlocal failures
        failures += 1
        print(f"FAIL: {msg}")

    subprocess.run([os.path.join(ROOT, "cluster/down"), "--run-dir", RUN, "--wipe"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.time()
    try:
        up = subprocess.run([os.path.join(ROOT, "cluster/up"), "--run-dir", RUN, "--base-port", str(BASE), "--tick-ms", "50",
                             "--upstream", upstream, "--adapter", "ethereum"], stdout=subprocess.DEVNULL)
        if up.returncode != 0:
            print("FAIL: cluster/up with the quirks proxy as upstream")
            return 1
        with open(os.path.join(RUN, "endpoints.json")) as f:
            ep = json.load(f)
        nodes = ep["nodes"]
        admin = {"Authorization": "Bearer " + ep["adminToken"]}   # the detailed /status: indexer, upstreams
        reached, heads = read_api_checks.wait_for_heads(nodes, TARGET, 60)
        if not reached:
            s = get(nodes[0]["http"] + "/status", admin).get("indexer", {})
            print(f"FAIL: heads {heads} after 60 s; indexer state {s.get('state')}, upstreams {s.get('upstreams')}")
            return 1
        statuses = [get(n["http"] + "/status", admin) for n in nodes]
        follower = next(n for n, s in zip(nodes, statuses) if s["role"] != "leader")
        receipts = 0
        for b in range(TARGET + 1):
            ours = get(f"{follower['rpc']}/v1/chain/blocks/{b}?full=true")
            theirs = rpc(sim_url, "eth_getBlockByNumber", [hex(b), True])
            if ours != theirs:
                fail(f"block {b} on follower {follower['id']} differs from the upstream's")
                continue
            for tx in theirs["transactions"]:
                mine = get(f"{follower['rpc']}/v1/chain/receipts/{tx['hash']}")
                if mine != rpc(sim_url, "eth_getTransactionReceipt", [tx["hash"]]):
                    fail(f"receipt of {tx['hash']} (block {b}) differs from the upstream's")
                receipts += 1
        if receipts == 0:
            fail("no transactions to compare receipts of")
        leader = next(s for s in statuses if s["role"] == "leader")["indexer"]
        ups = leader.get("upstreams") or []
        if len(ups) != 1:
            fail(f"/status lists {len(ups)} upstreams, expected 1: {ups}")
        else:
            u = ups[0]
            print(f"leader learned: {json.dumps(u)}")
            if u.get("url") != f"http://127.0.0.1:{port}/…":
                fail(f"/status shows the upstream as {u.get('url')!r}, expected it redacted")
            if u.get("receipts") != "perTransaction":
                fail(f"receipts method {u.get('receipts')!r}, expected perTransaction")
            if u.get("stateSource") != "probe":
                fail(f"state source {u.get('stateSource')!r}, expected probe")
            if not isinstance(u.get("maxBatch"), int) or u["maxBatch"] > 10:
                fail(f"learned max batch {u.get('maxBatch')!r}, expected at most 10")
            for m in ("eth_getBlockReceipts", "debug_traceBlockByNumber"):
                if m not in u.get("missingMethods", []):
                    fail(f"{m} not among the missing methods {u.get('missingMethods')}")
        stats = get(proxy_url + "/__stats")
        print(f"proxy: {json.dumps(stats)}")
        if stats["batchRefused"] < 1:
            fail("the proxy never refused a batch: the limit was not exercised")
        if stats["largestBatchServed"] > 10:
            fail(f"the proxy served a batch of {stats['largestBatchServed']} calls, over its limit")
        limited = stats["rateLimited429"] + stats["rateLimitedRpc"]
        # The leader keeps polling while we compare, so the proxy's count and the nodes' are read
        # around each other: proxy before ≤ nodes + answers still in flight, nodes ≤ proxy after.
        # Only the leader's indexer talks to the proxy, through at most two clients at once.
        in_flight = 2
        counted = sum(u.get("rateLimited", 0) for n in nodes for u in get(n["http"] + "/status", admin).get("indexer", {}).get("upstreams", []))
        after = get(proxy_url + "/__stats")
        limited_after = after["rateLimited429"] + after["rateLimitedRpc"]
        if stats["rateLimited429"] < 1 or stats["rateLimitedRpc"] < 1 or stats["dropped"] < 1:
            fail(f"the proxy rate-limited {limited} and dropped {stats['dropped']} requests: the quirks were not exercised")
        elif not (limited - in_flight <= counted <= limited_after):
            # Each rate-limited answer is counted once, by the node that received it.
            fail(f"the proxy rate-limited {limited}..{limited_after} requests but /status counts {counted}")
        if stats["unauthorized"]:
            fail(f"{stats['unauthorized']} requests arrived without the key in the path")
        for n in nodes:
            with open(n["log"], errors="replace") as f:
                log = f.read()
            if KEY in log:
                fail(f"node {n['id']}'s log contains the project key")
            if KEY in json.dumps(get(n["http"] + "/status", admin)):
                fail(f"node {n['id']}'s /status contains the project key")
            if KEY in json.dumps(get(n["http"] + "/status")):
                fail(f"node {n['id']}'s public /status (no credential) contains the project key")
        print(f"three nodes indexed {TARGET}+ blocks through the quirks proxy in {time.time() - started:.0f} s; "
              f"blocks 0..{TARGET} and {receipts} receipts equal on follower {follower['id']}")
    finally:
        subprocess.run([os.path.join(ROOT, "cluster/down"), "--run-dir", RUN], stdout=subprocess.DEVNULL)
        proxy.kill()
        sim.kill()
    print("PASS" if failures == 0 else f"FAIL ({failures})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
