"""`infrastack export` against a running three-node cluster (cluster/up on SimChain, one
process per node), reading from a follower:

  1 arguments: each bad argument is refused (exit 2) naming the option; a range above the
    head, a wrong API key, a state export without or with a wrong token, a --to that is a
    file are refused (exit 1) saying why
  2 blocks, transactions and logs of a range, in chunks, to a directory: Python's gzip reads
    every chunk, every line equals the node's JSON-RPC answer (eth_getBlockByNumber with and
    without full transactions, eth_getLogs with and without an address and topic filter),
    and the manifest's sizes and SHA-256 are the files'
  3 interrupted: an export through a slow proxy is killed with SIGKILL after a few chunks;
    the rerun keeps them (asks the node for none of their blocks), finishes, and holds the
    same lines as an export made in one go; progress lines came at most once a second
  4 state at a block: every account and slot equals SimChain's own answer at that block,
    every code hash is keccak(code), every sender up to the block is there; a tag names the
    block to resume with
  5 S3: blocks to s3:// on a moto server, read back with boto3 and gunzipped by Python; a
    rerun finds every chunk complete

Prints the export rate (blocks/s and transactions/s) of the largest range.
"""
import collections
import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import check, http, until, with_cluster  # noqa: E402
from reference import k256  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BASE = int(os.environ.get("EXPORT_BASE_PORT", "20000"))
RUN = os.path.join(ROOT, "chaos/.run/export")
PROXY = BASE + 900
MOTO = BASE + 950
HEAD_WANTED = int(os.environ.get("EXPORT_BLOCKS", "45"))


class Cluster:
    def __init__(self):
        with open(os.path.join(RUN, "endpoints.json")) as f:
            self.ep = json.load(f)
        self.bin = self.ep["binary"]
        self.api_key = self.ep["apiKey"]
        self.token = self.ep["adminToken"]
        self.sim = self.ep["simchain"]["url"]
        self.nodes = {n["id"]: n for n in self.ep["nodes"]}

    def follower(self):
        for nid, n in self.nodes.items():
            code, raw, _ = http("GET", n["http"] + "/status", headers={"Authorization": "Bearer " + self.token}, timeout=2)
            if code == 200 and json.loads(raw).get("role") == "follower":
                return n["http"]
        return self.nodes[min(self.nodes)]["http"]

    def rpc_batch(self, url, calls, key=True):
        """Results of [(method, params)], in order; raises on any error object."""
        out = []
        for i in range(0, len(calls), 100):
            body = [{"jsonrpc": "2.0", "id": j, "method": m, "params": p} for j, (m, p) in enumerate(calls[i:i + 100])]
            code, raw, _ = http("POST", url, body, {"X-API-Key": self.api_key} if key else {}, timeout=30)
            assert code == 200, f"{url}: {code} {raw[:200]}"
            answers = sorted(json.loads(raw), key=lambda a: a["id"])
            for a in answers:
                assert "error" not in a, f"{url}: {a}"
                out.append(a["result"])
        return out

    def rpc(self, url, method, params, key=True):
        return self.rpc_batch(url, [(method, params)], key)[0]

    def export(self, args, env=None, timeout=600):
        e = dict(os.environ)
        e.pop("INFRASTACK_ADMIN_TOKEN", None)
        e["INFRASTACK_API_KEY"] = self.api_key or ""
        e.update(env or {})
        p = subprocess.run([self.bin, "export"] + args, capture_output=True, text=True, env=e, timeout=timeout)
        return p.returncode, p.stdout, p.stderr


def lines_of(directory, manifest_name):
    """Every line of the export's chunks in order (Python's gzip), and the manifest."""
    with open(os.path.join(directory, manifest_name)) as f:
        m = json.load(f)
    out = []
    for c in m["chunks"]:
        with gzip.open(os.path.join(directory, c["file"]), "rt") as g:
            out += g.read().splitlines()
    return out, m


def manifest_checks_out(directory, m):
    for c in m["chunks"]:
        raw = open(os.path.join(directory, c["file"]), "rb").read()
        if len(raw) != c["bytes"] or hashlib.sha256(raw).hexdigest() != c["sha256"]:
            return False
    return True


class SlowProxy:
    """Forwards JSON-RPC to a node, 0.15 s late, noting every block number asked for."""

    def __init__(self, target):
        self.target = target
        self.asked = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    calls = json.loads(body)
                    calls = calls if isinstance(calls, list) else [calls]
                    with proxy.lock:
                        proxy.asked += [int(c["params"][0], 16) for c in calls if c.get("method") == "eth_getBlockByNumber"]
                except Exception:
                    pass
                time.sleep(0.15)
                req = urllib.request.Request(proxy.target + self.path, data=body, method="POST",
                                             headers={k: v for k, v in self.headers.items() if k.lower() in ("content-type", "x-api-key")})
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        code, answer = r.status, r.read()
                except urllib.error.HTTPError as e:
                    code, answer = e.code, e.read()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except (BrokenPipeError, ConnectionResetError):
                    pass   # the exporter this test kills mid-request

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", PROXY), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def arguments(c, ep, out):
    print("1 arguments")
    common = ["--endpoint", ep]
    rng = ["--from-block", "1", "--to-block", "5"]
    to = ["--to", os.path.join(out, "refused")]
    for args, code, says in [
        (["blocks"] + common + rng, 2, "missing required option --to"),
        (["pictures"] + common + rng + to, 2, "cannot export 'pictures'"),
        (common + rng + to, 2, "missing what to export"),
        (["blocks"] + common + ["--from-block", "abc", "--to-block", "5"] + to, 2, "--from-block must be a block number"),
        (["blocks"] + common + ["--from-block", "9", "--to-block", "3"] + to, 2, "--from-block 9 is after --to-block 3"),
        (["blocks"] + common + ["--from-block", "1", "--to-block", "latest"] + to, 2, "--to-block must be a block number"),
        (["blocks"] + common + rng + to + ["--chunk-blocks", "0"], 2, "--chunk-blocks must be a whole number from 1"),
        (["blocks"] + common + rng + to + ["--address", "0x" + "11" * 20], 2, "--address filters logs"),
        (["blocks"] + common + rng + to + ["--block", "5"], 2, "--block is for state exports"),
        (["logs"] + common + rng + to + ["--address", "0x1234"], 2, "--address 0x1234"),
        (["logs"] + common + rng + to + ["--topic", "0xzz"], 2, "--topic 0xzz"),
        (["state"] + common + ["--block", "soon"] + to, 2, "--block must be a block number, or latest"),
        (["state"] + common + ["--block", "3", "--from-block", "1"] + to, 2, "--from-block is for block ranges"),
        (["blocks"] + common + rng + ["--to", "s3://A_B/x"], 1, "not s3://bucket/prefix"),
        (["blocks"] + common + rng + ["--to", "ftp://x/y"], 1, "a directory or s3://bucket/prefix"),
        (["blocks"] + common + ["--from-block", "1", "--to-block", "99999999"] + to, 1, "above the head"),
    ]:
        rc, _, err = c.export(args)
        check(rc == code and says in err, f"{' '.join(args[:1] + [a for a in args[1:] if not a.startswith('http')])[:90]} → exit {rc}, says {says!r}: {err.strip().splitlines()[0] if err.strip() else ''}")
    rc, _, err = c.export(["blocks"] + common + rng + to, env={"INFRASTACK_API_KEY": "not-the-key-0123456789"})
    check(rc == 1 and "401" in err and "--api-key-file" in err, f"a wrong API key is refused naming the credential: {err.strip()[:160]}")
    rc, _, err = c.export(["state"] + common + ["--block", "3"] + to)
    check(rc == 2 and "a token is required" in err, f"state without a token: {err.strip().splitlines()[0]}")
    rc, _, err = c.export(["state"] + common + ["--block", "3"] + to, env={"INFRASTACK_ADMIN_TOKEN": "wrong"})
    check(rc == 1 and "401" in err and "INFRASTACK_ADMIN_TOKEN" in err, f"state with a wrong token: {err.strip()[:160]}")
    rc, _, err = c.export(["state"] + common + ["--block", "99999999"] + to, env={"INFRASTACK_ADMIN_TOKEN": c.token})
    check(rc == 1 and "99999999" in err, f"state above the head: {err.strip()[:160]}")
    afile = os.path.join(out, "a-file")
    open(afile, "w").close()
    rc, _, err = c.export(["blocks"] + common + rng + ["--to", afile])
    check(rc == 1 and "exists and is not a directory" in err, f"--to a file: {err.strip()[:120]}")


def ranges(c, ep, out, last):
    print(f"2 blocks, transactions, logs of blocks 1-{last}")
    d = os.path.join(out, "dir")
    started = time.time()
    rc, so, err = c.export(["blocks", "--endpoint", ep, "--from-block", "1", "--to-block", str(last), "--chunk-blocks", "8", "--to", d])
    blocks_seconds = time.time() - started
    check(rc == 0, f"blocks exported: {so.strip() or err.strip()[-300:]}")
    lines, m = lines_of(d, f"blocks-1-{last}.manifest.json")
    want_files = [f"blocks-{a}-{b}.jsonl.gz" for a, b in [(1, 7)] + [(s, min(s + 7, last)) for s in range(8, last + 1, 8)]]
    check([ch["file"] for ch in m["chunks"]] == want_files and m["complete"], f"chunks named by range, aligned to 8: {[ch['file'] for ch in m['chunks']][:4]}…")
    check(manifest_checks_out(d, m), "every chunk's size and SHA-256 are the manifest's")
    node_blocks = c.rpc_batch(ep + "/", [("eth_getBlockByNumber", [hex(n), False]) for n in range(1, last + 1)])
    check([json.loads(x) for x in lines] == node_blocks, f"{len(lines)} block lines equal eth_getBlockByNumber(n, false)")

    started = time.time()
    rc, so, err = c.export(["transactions", "--endpoint", ep, "--from-block", "1", "--to-block", str(last), "--chunk-blocks", "8", "--to", d])
    tx_seconds = time.time() - started
    check(rc == 0, f"transactions exported: {so.strip() or err.strip()[-300:]}")
    txs, _ = lines_of(d, f"transactions-1-{last}.manifest.json")
    full = c.rpc_batch(ep + "/", [("eth_getBlockByNumber", [hex(n), True]) for n in range(1, last + 1)])
    want = [t for b in full for t in b["transactions"]]
    check(len(txs) > 0 and [json.loads(x) for x in txs] == want, f"{len(txs)} transaction lines equal the full blocks' transactions, in order")

    rc, so, err = c.export(["logs", "--endpoint", ep, "--from-block", "1", "--to-block", str(last), "--chunk-blocks", "16", "--to", d])
    check(rc == 0, f"logs exported: {so.strip() or err.strip()[-300:]}")
    logs, _ = lines_of(d, f"logs-1-{last}.manifest.json")
    node_logs = c.rpc(ep + "/", "eth_getLogs", [{"fromBlock": "0x1", "toBlock": hex(last)}])
    check(len(logs) > 0 and [json.loads(x) for x in logs] == node_logs, f"{len(logs)} log lines equal eth_getLogs over the range")

    by_address = collections.Counter(l["address"] for l in node_logs)
    address = by_address.most_common(1)[0][0]
    topic = next(l["topics"][0] for l in node_logs if l["address"] == address and l["topics"])
    fd = os.path.join(out, "filtered")
    rc, so, err = c.export(["logs", "--endpoint", ep, "--from-block", "1", "--to-block", str(last), "--chunk-blocks", "16", "--to", fd,
                            "--address", address, "--topic", topic])
    check(rc == 0, f"filtered logs exported: {so.strip() or err.strip()[-300:]}")
    flogs, fm = lines_of(fd, f"logs-1-{last}.manifest.json")
    want = c.rpc(ep + "/", "eth_getLogs", [{"fromBlock": "0x1", "toBlock": hex(last), "address": address, "topics": [topic]}])
    check(0 < len(flogs) < len(logs) and [json.loads(x) for x in flogs] == want,
          f"{len(flogs)} logs of {address} with topic0 {topic[:10]}… equal eth_getLogs with that filter")
    check(fm["parameters"]["addresses"] == [address.lower()] and fm["parameters"]["topics"] == [[topic.lower()]], "the manifest records the filter")
    rc, _, err = c.export(["logs", "--endpoint", ep, "--from-block", "1", "--to-block", str(last), "--chunk-blocks", "16", "--to", fd])
    check(rc == 1 and "different --address, --topic" in err, f"a rerun with another filter into the same directory is refused: {err.strip()[:150]}")
    ntx = len(txs)
    print(f"  rate: blocks {last / blocks_seconds:.0f} blocks/s; transactions {last / tx_seconds:.0f} blocks/s, {ntx / tx_seconds:.0f} tx/s (debug build, whole command)")
    return txs


def interrupted(c, ep, out, last, reference):
    print("3 an interrupted export resumes")
    proxy = SlowProxy(ep)
    d = os.path.join(out, "interrupted")
    args = ["transactions", "--endpoint", f"http://127.0.0.1:{PROXY}", "--from-block", "1", "--to-block", str(last), "--chunk-blocks", "4", "--batch", "2", "--to", d]
    e = dict(os.environ)
    e["INFRASTACK_API_KEY"] = c.api_key or ""
    p = subprocess.Popen([c.bin, "export"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    manifest = os.path.join(d, f"transactions-1-{last}.manifest.json")

    def chunks():
        try:
            with open(manifest) as f:
                return len(json.load(f)["chunks"])
        except Exception:
            return 0
    got = until(lambda: chunks() >= 3, 60, step=0.02)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    with open(manifest) as f:
        m = json.load(f)
    kept = m["chunks"]
    total = last // 4 + 1
    check(got and not m["complete"] and 3 <= len(kept) < total, f"killed with {len(kept)} chunks complete of {total}")
    done_through = kept[-1]["lastBlock"]
    with proxy.lock:
        proxy.asked = []
    rc, so, err = c.export(args)
    check(rc == 0 and f"{len(kept)} chunk(s) already complete and verified" in err, f"the rerun resumes: {[l for l in err.splitlines() if 'resuming' in l]}")
    with proxy.lock:
        asked = list(proxy.asked)
    check(asked and min(asked) > done_through, f"the rerun asked for blocks {min(asked) if asked else '-'}…{max(asked) if asked else '-'}, none of the {done_through} already exported")
    lines, m2 = lines_of(d, f"transactions-1-{last}.manifest.json")
    check(m2["complete"] and lines == reference, f"{len(lines)} lines, the same as the export made in one go")
    check(not [f for f in os.listdir(d) if f.endswith(".partial")], "no partial chunk file is left")
    progress = [l for l in err.splitlines() if l.startswith("export transactions")]
    check(len(progress) >= 2 and all(" of " in l and "blocks/s" in l for l in progress), f"progress lines: {progress[-1] if progress else None}")
    proxy.server.shutdown()


def state(c, ep, out, n):
    print(f"4 state at block {n}")
    d = os.path.join(out, "state")
    env = {"INFRASTACK_ADMIN_TOKEN": c.token}
    rc, so, err = c.export(["state", "--endpoint", ep, "--block", str(n), "--chunk-entries", "100", "--to", d], env=env)
    check(rc == 0, f"state exported: {so.strip() or err.strip()[-300:]}")
    lines, m = lines_of(d, f"state-{n}.manifest.json")
    entries = [json.loads(x) for x in lines]
    accounts = [e for e in entries if e["type"] == "account"]
    slots = [e for e in entries if e["type"] == "storage"]
    check(len(accounts) > 0 and len(slots) > 0 and len(m["chunks"]) >= 2, f"{len(accounts)} accounts, {len(slots)} slots in {len(m['chunks'])} chunks")
    keys = [(e["address"], e.get("slot", "")) for e in entries]
    check(keys == sorted(keys) and len(set(keys)) == len(keys), "in (address, slot) order, each once")
    calls = []
    for a in accounts:
        calls += [("eth_getBalance", [a["address"], hex(n)]), ("eth_getTransactionCount", [a["address"], hex(n)]), ("eth_getCode", [a["address"], hex(n)])]
    calls += [("eth_getStorageAt", [s["address"], s["slot"], hex(n)]) for s in slots]
    sim = c.rpc_batch(c.sim, calls, key=False)
    bad = []
    for i, a in enumerate(accounts):
        bal, nonce, code = sim[3 * i: 3 * i + 3]
        if int(bal, 16) != int(a["balance"], 16) or int(nonce, 16) != int(a["nonce"], 16) or code.lower() != a["code"].lower():
            bad.append(a["address"])
        if "0x" + k256(bytes.fromhex(a["code"][2:])).hex() != a["codeHash"]:
            bad.append(a["address"] + " codeHash")
    for j, s in enumerate(slots):
        if int(sim[3 * len(accounts) + j], 16) != int(s["value"], 16):
            bad.append(f"{s['address']} {s['slot']}")
    check(not bad, f"every account and slot equals SimChain's at block {n} ({len(bad)} differ: {bad[:3]})")
    senders = {t["from"].lower() for b in c.rpc_batch(ep + "/", [("eth_getBlockByNumber", [hex(k), True]) for k in range(1, n + 1)]) for t in b["transactions"]}
    have = {a["address"].lower() for a in accounts}
    check(senders and senders <= have, f"all {len(senders)} senders of blocks 1-{n} are there ({len(senders - have)} missing)")
    check(manifest_checks_out(d, m) and m["blockHash"] == c.rpc(ep + "/", "eth_getBlockByNumber", [hex(n), False])["hash"], "checksums and the block hash recorded")
    rc, so, err = c.export(["state", "--endpoint", ep, "--block", str(n), "--chunk-entries", "100", "--to", d], env=env)
    check(rc == 0 and f"{len(m['chunks'])} already complete, 0 made" in so, f"a rerun finds it complete: {so.strip()[:160]}")
    rc, so, err = c.export(["state", "--endpoint", ep, "--block", "latest", "--to", os.path.join(out, "state-latest")], env=env)
    check(rc == 0 and "rerun with --block" in err, f"a tag names the block to resume with: {[l for l in err.splitlines() if 'rerun' in l]}")


def s3(c, ep, out, last, reference_dir):
    print("5 S3 (moto)")
    py = sys.executable
    moto = subprocess.Popen([py, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(MOTO)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not check(until(lambda: http("GET", f"http://127.0.0.1:{MOTO}/")[0] is not None, 30), "moto serves S3"):
            return
        import boto3
        s3c = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{MOTO}", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing-secret")
        s3c.create_bucket(Bucket="exports")
        env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{MOTO}", "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret"}
        top = min(last, 20)
        args = ["blocks", "--endpoint", ep, "--from-block", "1", "--to-block", str(top), "--chunk-blocks", "8", "--to", "s3://exports/chain/run1"]
        rc, so, err = c.export(args, env=env)
        check(rc == 0, f"blocks to s3://: {so.strip() or err.strip()[-300:]}")
        keys = sorted(o["Key"] for o in s3c.list_objects_v2(Bucket="exports", Prefix="chain/run1/").get("Contents", []))
        check(keys == sorted(["chain/run1/blocks-1-7.jsonl.gz", "chain/run1/blocks-8-15.jsonl.gz", f"chain/run1/blocks-16-{top}.jsonl.gz", f"chain/run1/blocks-1-{top}.manifest.json"]), f"objects: {keys}")
        m = json.loads(s3c.get_object(Bucket="exports", Key=f"chain/run1/blocks-1-{top}.manifest.json")["Body"].read())
        got = []
        for ch in m["chunks"]:
            raw = s3c.get_object(Bucket="exports", Key="chain/run1/" + ch["file"])["Body"].read()
            check(hashlib.sha256(raw).hexdigest() == ch["sha256"], f"{ch['file']}: boto3 reads the bytes the manifest records")
            got += gzip.decompress(raw).decode().splitlines()
        want, _ = lines_of(reference_dir, f"blocks-1-{last}.manifest.json")
        check(got == want[:top], f"{len(got)} lines, the same as the directory export's")
        rc, so, err = c.export(args, env=env)
        check(rc == 0 and "3 already complete, 0 made" in so, f"a rerun finds every chunk on S3: {so.strip()[:140]}")
    finally:
        moto.kill()
        moto.wait()


def run(c):
    ep = c.follower()
    out = os.path.join(RUN, "exports")
    # cluster/down --wipe keeps other files of the run directory: an earlier run's exports
    # would be found complete and resumed, which is not what these checks are about.
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    arguments(c, ep, out)
    head = until(lambda: (lambda h: h if h >= HEAD_WANTED else None)(int(c.rpc(ep + "/", "eth_blockNumber", []), 16)), HEAD_WANTED * 3 + 60, step=1)
    if not check(head, f"the follower has indexed {HEAD_WANTED} blocks"):
        return
    last = HEAD_WANTED - 2
    reference = ranges(c, ep, out, last)
    interrupted(c, ep, out, last, reference)
    state(c, ep, out, last - 10)
    s3(c, ep, out, last, os.path.join(out, "dir"))


def main():
    return with_cluster(RUN, ["--base-port", str(BASE), "--tick-ms", "50", "--sim-txs", "30"], lambda _: run(Cluster()), "export")


if __name__ == "__main__":
    sys.exit(main())
