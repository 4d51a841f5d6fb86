#!/usr/bin/env python3
"""A three-node cluster following SimChain through an HTTPS endpoint that looks like a
hosted provider's: TLS with a private CA (Python's ssl module, not ours, on the server
side), and a project key in the URL path without which it answers 401. Checks that every
node indexes the chain, that a follower's blocks equal SimChain's own answers byte for
byte (as JSON), and that the key never appears in a log line or in /status (neither the
detailed view, read with the admin token, nor the public summary).
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RUN = os.path.join(ROOT, "chaos/.run/https-upstream")
BASE = 31000
KEY = "proj-5f3c9d0e7a1b2c4d"
sys.path.insert(0, HERE)
import tls_upstream  # noqa: E402
import read_api_checks  # noqa: E402
from read_api_checks import get_json as get, rpc  # noqa: E402






def main():
    ca, cert, key = tls_upstream.test_certificates()

    sim, sim_url = read_api_checks.start_simchain(ROOT, BASE + 600)
    proxy, port = tls_upstream.start_proxy(sim_url, cert, key, path_key=KEY)
    upstream = f"https://localhost:{port}/v3/{KEY}"
    failures = 0
    subprocess.run([os.path.join(ROOT, "cluster/down"), "--run-dir", RUN, "--wipe"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = subprocess.run([os.path.join(ROOT, "cluster/up"), "--run-dir", RUN, "--base-port", str(BASE), "--tick-ms", "50",
                             "--upstream", upstream, "--upstream-ca", ca, "--adapter", "ethereum"], stdout=subprocess.DEVNULL)
        if up.returncode != 0:
            print("FAIL: cluster/up with an https upstream")
            return 1
        with open(os.path.join(RUN, "endpoints.json")) as f:
            ep = json.load(f)
        nodes = ep["nodes"]
        admin = {"Authorization": "Bearer " + ep["adminToken"]}   # the detailed /status: indexer, upstreams
        target = 12
        reached, heads = read_api_checks.wait_for_heads(nodes, target, 90)
        if not reached:
            s = get(nodes[0]["http"] + "/status", admin).get("indexer", {})
            print(f"FAIL: heads {heads} after 90 s; indexer state {s.get('state')}")
            return 1
        statuses = [get(n["http"] + "/status", admin) for n in nodes]
        follower = next(n for n, s in zip(nodes, statuses) if s["role"] != "leader")
        for b in range(target + 1):
            ours = get(f"{follower['rpc']}/v1/chain/blocks/{b}?full=true")
            theirs = rpc(sim_url, "eth_getBlockByNumber", [hex(b), True])
            if ours != theirs:
                failures += 1
                print(f"FAIL: block {b} on follower {follower['id']} differs from the upstream's")
        leader = next(s for s in statuses if s["role"] == "leader")
        shown = leader["indexer"]["upstream"]
        print(f"indexed {target + 1}+ blocks through {shown} on all three nodes; blocks 0..{target} equal on follower {follower['id']}")
        if shown != f"https://localhost:{port}/…":
            failures += 1
            print(f"FAIL: /status shows the upstream as {shown!r}, expected it redacted")
        for n in nodes:
            with open(n["log"], errors="replace") as f:
                log = f.read()
            if KEY in log:
                failures += 1
                print(f"FAIL: node {n['id']}'s log contains the project key")
            if KEY in json.dumps(get(n["http"] + "/status", admin)):
                failures += 1
                print(f"FAIL: node {n['id']}'s /status contains the project key")
            if KEY in json.dumps(get(n["http"] + "/status")):
                failures += 1
                print(f"FAIL: node {n['id']}'s public /status (no credential) contains the project key")
    finally:
        subprocess.run([os.path.join(ROOT, "cluster/down"), "--run-dir", RUN], stdout=subprocess.DEVNULL)
        proxy.kill()
        sim.kill()
    print("PASS" if failures == 0 else f"FAIL ({failures})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
