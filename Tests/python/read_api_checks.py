"""Read-API checks against a follower of a cluster indexing the py-evm upstream:

* differential: for every block, transaction and receipt, many log filters and account
  fields at past blocks, the follower's JSON-RPC answer equals the upstream's (or, for
  methods the upstream shim does not serve, a brute-force answer computed from it);
* web3.py as a real client: get_block, get_transaction, get_transaction_receipt,
  get_logs, get_balance at a past block, a block filter across newly mined blocks, and
  (when a WebSocket URL is given) a contract event subscription.

Each function returns the number of failures and prints what it compared.
"""
import asyncio
import json
import os
import random
import subprocess
import time
import urllib.request


def rpc(url, method, params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        answer = json.loads(r.read())
    if "error" in answer:
        raise RuntimeError(f"{method} {params}: {answer['error']}")
    return answer["result"]


def get_json(url, headers=None):
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as r:
        return json.loads(r.read())


def start_simchain(root, port, txs_per_block=10, block_time_ms=300):
    """Builds infrastack, starts its SimChain on `port` and waits until it answers; returns (process, url)."""
    bin_dir = subprocess.run(["swift", "build", "--show-bin-path"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["swift", "build", "--product", "infrastack"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    sim = subprocess.Popen([os.path.join(bin_dir, "infrastack"), "simchain", "--listen", f"127.0.0.1:{port}",
                            "--txs-per-block", str(txs_per_block), "--block-time-ms", str(block_time_ms)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            rpc(url, "eth_blockNumber", [])
            break
        except Exception:
            time.sleep(0.1)
    return sim, url


def norm(v):
    return json.loads(json.dumps(v))


def matches(log, addresses, topics):
    if addresses and log["address"].lower() not in addresses:
        return False
    for i, options in enumerate(topics):
        if options is None:
            continue
        if i >= len(log["topics"]) or log["topics"][i] not in options:
            return False
    return True


def differential(up, url, seed):
    rng = random.Random(seed)
    failures = 0
    counts = {}

    def same(method, params, want):
        nonlocal failures
        counts[method] = counts.get(method, 0) + 1
        got = rpc(url, method, params)
        if got != norm(want):
            failures += 1
            if failures < 10:
                print(f"FAIL: {method} {params}: ours {json.dumps(got)[:300]} upstream {json.dumps(norm(want))[:300]}")

    head = up.head()
    all_logs, txs, receipts, touched = [], [], [], set()
    for n in range(head + 1):
        full = up.handle("eth_getBlockByNumber", [hex(n), True])
        same("eth_getBlockByNumber", [hex(n), True], full)
        same("eth_getBlockByNumber", [hex(n), False], up.handle("eth_getBlockByNumber", [hex(n), False]))
        same("eth_getBlockByHash", [full["hash"], False], up.handle("eth_getBlockByHash", [full["hash"], False]))
        same("eth_getBlockTransactionCountByNumber", [hex(n)], hex(len(full["transactions"])))
        rs = up.handle("eth_getBlockReceipts", [hex(n)])
        same("eth_getBlockReceipts", [hex(n)], rs)
        for t in full["transactions"]:
            txs.append(t)
            touched.add(t["from"].lower())
            if t["to"]:
                touched.add(t["to"].lower())
        for r in rs:
            receipts.append(r)
            all_logs.extend(r["logs"])
            if r["contractAddress"]:
                touched.add(r["contractAddress"].lower())
    for t in txs:
        same("eth_getTransactionByHash", [t["hash"]], t)
        same("eth_getTransactionByBlockNumberAndIndex", [t["blockNumber"], t["transactionIndex"]], t)
    for r in receipts:
        same("eth_getTransactionReceipt", [r["transactionHash"]], r)
    addresses = sorted({l["address"].lower() for l in all_logs})
    topics = sorted({t for l in all_logs for t in l["topics"]})
    for _ in range(60):
        a, b = sorted(rng.randint(0, head) for _ in range(2))
        flt = {"fromBlock": hex(a), "toBlock": hex(b)}
        addr_filter, topic_filter = [], []
        if addresses and rng.random() < 0.5:
            addr_filter = [rng.choice(addresses)]
            flt["address"] = addr_filter[0]
        if topics and rng.random() < 0.5:
            topic_filter = [[rng.choice(topics)]]
            flt["topics"] = topic_filter
        want = [l for l in all_logs if a <= int(l["blockNumber"], 16) <= b and matches(l, addr_filter, topic_filter)]
        same("eth_getLogs", [flt], want)
    for _ in range(200):
        a = rng.choice(sorted(touched))
        n = hex(rng.randint(0, head))
        method = rng.choice(["eth_getBalance", "eth_getTransactionCount", "eth_getCode"])
        same(method, [a, n], up.handle(method, [a, n]))
    # eth_getProof is forwarded and checked against the state root of our verified header.
    proofs = 0
    for a in sorted(touched)[:6]:
        for n in sorted({1, head // 2, head}):
            params = [a, ["0x0", "0x1"], hex(n)]
            same("eth_getProof", params, up.handle("eth_getProof", params))
            proofs += 1
    up.tamper_proofs = True
    try:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getProof", "params": [up.contract, ["0x0"], hex(head)]}).encode()
        req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            answer = json.loads(r.read())
        if "does not match the state root" not in json.dumps(answer.get("error", {})):
            failures += 1
            print(f"FAIL: a tampered eth_getProof was not refused: {json.dumps(answer)[:300]}")
    finally:
        up.tamper_proofs = False
    print(f"read differential vs py-evm (seed {seed}): " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
          + f"; {proofs} forwarded proofs verified, a tampered one refused")
    return failures


def wait_head(url, n, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if int(rpc(url, "eth_blockNumber", []), 16) >= n:
            return True
        time.sleep(0.1)
    return False


def web3_client(up, url, ws_url=None):
    from web3 import Web3
    failures = 0

    def check(ok, what):
        nonlocal failures
        if not ok:
            failures += 1
            print(f"FAIL (web3.py): {what}")

    w3 = Web3(Web3.HTTPProvider(url))
    head = up.head()
    check(w3.eth.chain_id == up.chain_id, "chain_id")
    check(w3.eth.block_number == head, "block_number")
    n = head - 1
    theirs = up.handle("eth_getBlockByNumber", [hex(n), True])
    b = w3.eth.get_block(n, full_transactions=True)
    check(b["hash"].to_0x_hex() == theirs["hash"] and b["number"] == n, "get_block hash/number")
    check([t["hash"].to_0x_hex() for t in b["transactions"]] == [t["hash"] for t in theirs["transactions"]], "get_block transactions")
    t0 = theirs["transactions"][0]
    tx = w3.eth.get_transaction(t0["hash"])
    check(tx["from"].lower() == t0["from"].lower() and tx["value"] == int(t0["value"], 16), "get_transaction")
    rc = w3.eth.get_transaction_receipt(t0["hash"])
    check(rc["blockNumber"] == n and rc["status"] == 1, "get_transaction_receipt")
    contract = Web3.to_checksum_address(up.contract)
    logs = w3.eth.get_logs({"address": contract, "fromBlock": 0, "toBlock": head})
    want = sum(1 for m in range(head + 1) for r in up.handle("eth_getBlockReceipts", [hex(m)]) for l in r["logs"] if l["address"].lower() == up.contract.lower())
    check(len(logs) == want and want > 0, f"get_logs: {len(logs)} logs, upstream has {want}")
    acct = up.accounts[1]
    past = w3.eth.get_balance(acct, block_identifier=2)
    check(past == int(up.handle("eth_getBalance", [acct, hex(2)]), 16), "get_balance at block 2")
    check(w3.eth.get_balance(acct) == int(up.handle("eth_getBalance", [acct, hex(head)]), 16), "get_balance at latest")

    flt = w3.eth.filter("latest")
    up.mine_workload(3, rng_seed=99)
    new_head = up.head()
    check(wait_head(url, new_head), "follower reached the new head")
    seen = []
    deadline = time.time() + 30
    while len(seen) < 3 and time.time() < deadline:
        seen += [h.to_0x_hex() for h in flt.get_new_entries()]
        time.sleep(0.1)
    want = [up.handle("eth_getBlockByNumber", [hex(m), False])["hash"] for m in range(head + 1, new_head + 1)]
    check(seen == want, f"block filter: {seen} vs {want}")
    print(f"web3.py against the follower: block, transaction, receipt, {len(logs)} logs, balances, block filter over {len(want)} new blocks")

    if ws_url:
        failures += asyncio.run(subscribe_events(up, url, ws_url))
    return failures


async def subscribe_events(up, url, ws_url):
    from web3 import AsyncWeb3, WebSocketProvider
    failures = 0
    async with AsyncWeb3(WebSocketProvider(ws_url)) as w3:
        contract = AsyncWeb3.to_checksum_address(up.contract)
        sub_logs = await w3.eth.subscribe("logs", {"address": contract})
        sub_heads = await w3.eth.subscribe("newHeads")
        before = up.head()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: up.mine_workload(4, rng_seed=7))
        after = up.head()
        want_logs = [l for m in range(before + 1, after + 1) for r in up.handle("eth_getBlockReceipts", [hex(m)]) for l in r["logs"]
                     if l["address"].lower() == up.contract.lower()]
        got_logs, got_heads = [], []

        async def collect():
            async for msg in w3.socket.process_subscriptions():
                if msg["subscription"] == sub_logs:
                    got_logs.append(msg["result"])
                elif msg["subscription"] == sub_heads:
                    got_heads.append(msg["result"]["number"])
                if len(got_heads) >= after - before and len(got_logs) >= len(want_logs):
                    return
        try:
            await asyncio.wait_for(collect(), timeout=60)
        except asyncio.TimeoutError:
            pass
        if got_heads != list(range(before + 1, after + 1)):
            failures += 1
            print(f"FAIL (web3.py ws): newHeads {got_heads}, wanted {list(range(before + 1, after + 1))}")
        if [l["transactionHash"].to_0x_hex() for l in got_logs] != [l["transactionHash"] for l in want_logs]:
            failures += 1
            print(f"FAIL (web3.py ws): {len(got_logs)} contract events, wanted {len(want_logs)}")
        await w3.eth.unsubscribe(sub_logs)
        await w3.eth.unsubscribe(sub_heads)
        print(f"web3.py WebSocket: {len(got_heads)} newHeads and {len(got_logs)} contract events from the follower")
    return failures


def node_heads(nodes):
    """Each node's latest indexed block from its REST head (-1 when it does not answer)."""
    heads = []
    for n in nodes:
        try:
            with urllib.request.urlopen(n["rpc"] + "/v1/chain/head", timeout=5) as r:
                heads.append(json.loads(r.read())["latest"]["number"])
        except Exception:
            heads.append(-1)
    return heads


def wait_for_heads(nodes, target, seconds):
    """Polls until every node has indexed `target`; returns (reached, the last heads seen)."""
    deadline = time.time() + seconds
    while True:
        heads = node_heads(nodes)
        if min(heads) >= target:
            return True, heads
        if time.time() > deadline:
            return False, heads
        time.sleep(0.3)
