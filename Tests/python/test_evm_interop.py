#!/usr/bin/env python3
"""Interop with a real EVM: py-evm (eth-tester) behind evm_upstream.py, indexed by a
three-node InfraStack cluster. Checks that every block verified and was indexed, and that
for every indexed block the balance, nonce and code of every touched account, and the
contract's storage slot, read from a *follower* equal what the upstream returns for that
block, all over HTTPS and WSS (the nodes' TLS listener, TLS between the nodes too), with the
upstream itself behind HTTPS. The
upstream has no tracer, so this exercises the probing fallback (storage is
probed too here only to show it is NOT seen: see the expectation below).
"""
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import evm_upstream  # noqa: E402
import tls_upstream  # noqa: E402
import read_api_checks  # noqa: E402


def get(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
        return json.loads(r.read())


def served_certificate(url, ca):
    """The DER certificate a node's HTTPS listener presents now."""
    host, port = url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection((host, int(port)), timeout=5) as raw, ctx.wrap_socket(raw, server_hostname=host) as s:
        return s.getpeercert(binary_form=True)


def certificate_reload(run_dir, node, ca):
    """A renewed certificate (re-issued over the old files) is served after SIGHUP, without a restart."""
    with open(os.path.join(run_dir, "endpoints.json")) as f:
        binary = json.load(f)["binary"]
    before = served_certificate(node["http"], ca)
    subprocess.run([binary, "certs", "issue", "--dir", os.path.join(run_dir, "pki"), "--node-id", str(node["id"]),
                    "--hosts", "127.0.0.1,localhost", "--days", "30"], check=True, stdout=subprocess.DEVNULL)
    os.kill(node["pid"], signal.SIGHUP)
    deadline = time.time() + 10
    while time.time() < deadline and served_certificate(node["http"], ca) == before:
        time.sleep(0.1)
    renewed = served_certificate(node["http"], ca) != before
    print(f"SIGHUP on node {node['id']}: {'serves the renewed certificate' if renewed else 'still serves the old certificate'}")
    return 0 if renewed else 1


def main():
    blocks = int(os.environ.get("EVM_BLOCKS", "25"))
    up = evm_upstream.EVMUpstream()
    up.mine_workload(blocks)
    server = evm_upstream.serve(up, 0)
    # The cluster reaches py-evm through HTTPS (Python's ssl module in front, a private CA).
    up_ca, up_cert, up_key = tls_upstream.test_certificates()
    proxy, proxy_port = tls_upstream.start_proxy(f"http://127.0.0.1:{server.server_address[1]}", up_cert, up_key)
    url = f"https://localhost:{proxy_port}"
    run_dir = os.path.join(ROOT, "chaos/.run/evm-interop")
    subprocess.run([os.path.join(ROOT, "cluster/down"), "--run-dir", run_dir, "--wipe"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The nodes serve https:// and wss:// here (and TLS between them), so every read below —
    # the differential, web3.py over HTTPS and WebSocket — goes through our TLS server.
    subprocess.run([os.path.join(ROOT, "cluster/up"), "--run-dir", run_dir, "--base-port", "29000", "--tick-ms", "50",
                    "--upstream", url, "--upstream-ca", up_ca, "--batch-blocks", "4", "--https", "--peer-tls"], check=True)
    ca = os.path.join(run_dir, "pki/ca.pem")
    # Python's ssl (urllib, websockets) and requests (web3.py's HTTP provider) trust our test CA.
    os.environ["SSL_CERT_FILE"] = ca
    os.environ["REQUESTS_CA_BUNDLE"] = ca
    failures = 0
    try:
        with open(os.path.join(run_dir, "endpoints.json")) as f:
            ep = json.load(f)
        nodes = ep["nodes"]
        admin = {"Authorization": "Bearer " + ep["adminToken"]}   # the detailed /status: indexer, stateDigest
        head = up.head()
        reached, heads = read_api_checks.wait_for_heads(nodes, head, 120)
        if not reached:
            print(f"FAIL: nodes reached {heads}, upstream head {head}")
            return 1
        statuses = [get(n["http"] + "/status", admin) for n in nodes]
        leader = next(s for s in statuses if s["role"] == "leader")
        follower = next(n for n, s in zip(nodes, statuses) if s["role"] != "leader")
        ix = leader["indexer"]
        print(f"indexed {head + 1} blocks; refused {ix['refusedBlocks']}; state source {ix['stateSource']}; alert {ix['lastAlert']}")
        if ix["refusedBlocks"] != 0 or ix["lastAlert"]:
            failures += 1
            print("FAIL: a block was refused or an alert raised")
        if ix["stateSource"] != "probe":
            failures += 1
            print(f"FAIL: expected the probing fallback, got {ix['stateSource']}")
        digests = {s["stateDigest"] for s in [get(n["http"] + "/status", admin) for n in nodes]}
        if len(digests) != 1:
            failures += 1
            print(f"FAIL: replicas disagree: {digests}")

        touched = set()
        checks = 0
        for n in range(head + 1):
            ours = get(f"{follower['rpc']}/v1/chain/blocks/{n}?full=true")
            theirs = up.handle("eth_getBlockByNumber", [hex(n), True])
            if ours != json.loads(json.dumps(theirs)):
                failures += 1
                print(f"FAIL: block {n} differs from the upstream's")
            for t in theirs["transactions"]:
                touched.add(t["from"].lower())
                if t["to"]:
                    touched.add(t["to"].lower())
            for r in up.handle("eth_getBlockReceipts", [hex(n)]):
                if r["contractAddress"]:
                    touched.add(r["contractAddress"].lower())
            for a in sorted(touched):
                acct = get(f"{follower['rpc']}/v1/chain/accounts/{a}?block={n}")
                want = {"balance": up.handle("eth_getBalance", [a, hex(n)]), "nonce": up.handle("eth_getTransactionCount", [a, hex(n)]),
                        "code": up.handle("eth_getCode", [a, hex(n)])}
                for k, v in want.items():
                    checks += 1
                    if acct[k] != v:
                        failures += 1
                        if failures < 10:
                            print(f"FAIL: block {n} account {a} {k}: ours {acct[k]}, upstream {v}")
        print(f"compared {checks} account fields over {head + 1} blocks and {len(touched)} accounts on follower {follower['id']}")

        # The read API, answered by the same follower.
        seed = int(os.environ.get("INFRASTACK_SEED", str(int(time.time()))))
        failures += read_api_checks.differential(up, follower["rpc"], seed)
        ws = follower["rpc"].replace("https://", "wss://").replace("http://", "ws://") if os.environ.get("INFRASTACK_WS", "1") == "1" else None
        failures += read_api_checks.web3_client(up, follower["rpc"], ws)
        failures += certificate_reload(run_dir, follower, ca)
    finally:
        subprocess.run([os.path.join(ROOT, "cluster/down"), "--run-dir", run_dir], stdout=subprocess.DEVNULL)
        proxy.kill()
        server.shutdown()
    print("PASS" if failures == 0 else f"FAIL ({failures} mismatches)")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
