"""A real EVM (py-evm through eth-tester) behind a small spec JSON-RPC shim.

Serves the methods the indexer uses, translating eth-tester's Python objects into the
shapes the execution-apis specify: camelCase keys, QUANTITY hex, the 256-byte bloom,
`to: null` for creations, per-block logIndex, receipts with logsBloom, and the raw header
extraData (eth-tester pads it to 32 bytes in its own block view, which breaks the hash).
It has no tracer: debug_traceBlockByNumber answers -32601, so the indexer probes.

Usage as a module (tests) or `python evm_upstream.py --port P --blocks N`.
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import rlp
from Crypto.Hash import keccak as _keccak
from eth_tester import EthereumTester, PyEVMBackend


def k256(b):
    return _keccak.new(digest_bits=256, data=b).digest()


def q(n):
    return hex(int(n))


def d(b):
    if isinstance(b, str):
        return b if b.startswith("0x") else "0x" + b
    return "0x" + bytes(b).hex()


def addr(a):
    if a is None or a == b"" or a == "":
        return None
    if isinstance(a, (bytes, bytearray)):
        return "0x" + bytes(a).hex()
    return a.lower()


def bloom_of(logs):
    bloom = bytearray(256)
    for log in logs:
        items = [bytes.fromhex(log["address"][2:])] + [bytes.fromhex(t[2:]) for t in log["topics"]]
        for item in items:
            h = k256(item)
            for i in range(3):
                bit = ((h[2 * i] << 8) | h[2 * i + 1]) & 2047
                bloom[255 - bit // 8] |= 1 << (bit % 8)
    return "0x" + bytes(bloom).hex()


# Runtime: store calldata word 0 at slot 0 and emit LOG1(topic 0xaa) with it.
RUNTIME = bytes.fromhex("6000358060005560005260aa60206000a100")
INIT = bytes.fromhex("6012600c60003960126000f3") + RUNTIME


class EVMUpstream:
    def __init__(self):
        self.tester = EthereumTester(PyEVMBackend())
        # One block per mine_workload round, holding that round's transactions.
        self.tester.disable_auto_mine_transactions()
        self.chain = self.tester.backend.chain
        self.accounts = self.tester.get_accounts()
        self.lock = threading.Lock()
        self.contract = None
        self.chain_id = self.chain.chain_id
        self._cache = {}

    # --- workload -------------------------------------------------------
    def mine_workload(self, blocks, rng_seed=1):
        import random
        rng = random.Random(rng_seed)
        with self.lock:
            for b in range(blocks):
                if self.contract is None and b == 1:
                    h = self.tester.send_transaction({"from": self.accounts[0], "gas": 200000, "data": "0x" + INIT.hex(), "value": 0})
                    self.tester.mine_blocks(1)
                    self.contract = self.tester.get_transaction_receipt(h)["contract_address"]
                    continue
                for _ in range(rng.randint(1, 4)):
                    kind = rng.random()
                    src = self.accounts[rng.randint(0, 4)]
                    if kind < 0.5 or self.contract is None:
                        dst = self.accounts[rng.randint(0, 9)]
                        self.tester.send_transaction({"from": src, "to": dst, "value": rng.randint(1, 10**15), "gas": 21000})
                    else:
                        word = rng.randint(1, 2**200).to_bytes(32, "big")
                        self.tester.send_transaction({"from": src, "to": self.contract, "gas": 100000, "data": "0x" + word.hex(), "value": 0})
                self.tester.mine_blocks(1)
            self._cache.clear()

    # --- views ----------------------------------------------------------
    def head(self):
        return self.chain.get_canonical_head().block_number

    def resolve(self, tag):
        if isinstance(tag, str) and tag.startswith("0x"):
            return int(tag, 16)
        head = self.head()
        return {"latest": head, "pending": head, "safe": max(0, head - 2), "finalized": max(0, head - 4), "earliest": 0}.get(tag)

    def block_json(self, n, full):
        key = (n, full)
        if key in self._cache:
            return self._cache[key]
        block = self.chain.get_canonical_block_by_number(n)
        h = block.header
        out = {
            "number": q(h.block_number), "hash": d(h.hash), "parentHash": d(h.parent_hash), "nonce": d(h.nonce),
            "sha3Uncles": d(h.uncles_hash), "logsBloom": d(h.bloom.to_bytes(256, "big")), "transactionsRoot": d(h.transaction_root),
            "stateRoot": d(h.state_root), "receiptsRoot": d(h.receipt_root), "miner": addr(h.coinbase), "difficulty": q(h.difficulty),
            "extraData": d(h.extra_data), "size": q(len(rlp.encode(block))), "gasLimit": q(h.gas_limit), "gasUsed": q(h.gas_used),
            "timestamp": q(h.timestamp), "mixHash": d(h.mix_hash),
        }
        for attr, key2 in (("base_fee_per_gas", "baseFeePerGas"), ("withdrawals_root", "withdrawalsRoot"), ("blob_gas_used", "blobGasUsed"),
                           ("excess_blob_gas", "excessBlobGas"), ("parent_beacon_block_root", "parentBeaconBlockRoot"), ("requests_hash", "requestsHash")):
            if hasattr(h, attr):
                v = getattr(h, attr)
                out[key2] = q(v) if isinstance(v, int) else d(v)
        txs = []
        for i, tx in enumerate(block.transactions):
            txs.append(self.tx_json(tx, h, i) if full else d(tx.hash))
        out["transactions"] = txs
        out["uncles"] = []
        if hasattr(block, "withdrawals"):
            out["withdrawals"] = [{"index": q(w.index), "validatorIndex": q(w.validator_index), "address": addr(w.address), "amount": q(w.amount)} for w in block.withdrawals]
        self._cache[key] = out
        return out

    def tx_json(self, tx, header, index):
        t = {"blockHash": d(header.hash), "blockNumber": q(header.block_number), "from": addr(tx.sender), "gas": q(tx.gas),
             "hash": d(tx.hash), "input": d(tx.data), "nonce": q(tx.nonce), "to": addr(tx.to), "transactionIndex": q(index), "value": q(tx.value)}
        type_id = getattr(tx, "type_id", None)
        if type_id is None:
            t.update({"type": "0x0", "gasPrice": q(tx.gas_price), "v": q(tx.v), "r": q(tx.r), "s": q(tx.s)})
            if tx.v >= 35:
                t["chainId"] = q((tx.v - 35) // 2)
        else:
            t["type"] = q(type_id)
            t["chainId"] = q(tx.chain_id)
            t["accessList"] = [{"address": addr(a), "storageKeys": ["0x" + int(k).to_bytes(32, "big").hex() if isinstance(k, int) else d(k) for k in keys]} for a, keys in tx.access_list]
            if type_id == 1:
                t["gasPrice"] = q(tx.gas_price)
            else:
                t["maxFeePerGas"] = q(tx.max_fee_per_gas)
                t["maxPriorityFeePerGas"] = q(tx.max_priority_fee_per_gas)
                base = header.base_fee_per_gas
                t["gasPrice"] = q(min(tx.max_fee_per_gas, base + tx.max_priority_fee_per_gas))
            t["v"] = q(tx.y_parity)
            t["yParity"] = q(tx.y_parity)
            t["r"] = q(tx.r)
            t["s"] = q(tx.s)
        return t

    def receipts_json(self, n):
        key = ("receipts", n)
        if key in self._cache:
            return self._cache[key]
        block = self.chain.get_canonical_block_by_number(n)
        h = block.header
        receipts = block.get_receipts(self.chain.chaindb)
        out = []
        log_index = 0
        prev_cum = 0
        for i, (tx, r) in enumerate(zip(block.transactions, receipts)):
            logs = []
            for lg in r.logs:
                logs.append({"address": addr(lg.address), "topics": ["0x" + t.to_bytes(32, "big").hex() if isinstance(t, int) else d(t) for t in lg.topics],
                             "data": d(lg.data), "blockNumber": q(n), "transactionHash": d(tx.hash), "transactionIndex": q(i),
                             "blockHash": d(h.hash), "logIndex": q(log_index), "removed": False})
                log_index += 1
            contract = None
            if tx.to in (b"", None):
                contract = "0x" + k256(rlp.encode([tx.sender, tx.nonce]))[12:].hex()
            type_id = getattr(tx, "type_id", None)
            base = h.base_fee_per_gas
            price = tx.gas_price if type_id in (None, 1) else min(tx.max_fee_per_gas, base + tx.max_priority_fee_per_gas)
            status = r.state_root
            out.append({"blockHash": d(h.hash), "blockNumber": q(n), "contractAddress": contract, "cumulativeGasUsed": q(r.gas_used),
                        "effectiveGasPrice": q(price), "from": addr(tx.sender), "gasUsed": q(r.gas_used - prev_cum), "logs": logs,
                        "logsBloom": bloom_of(logs), "status": "0x1" if status == b"\x01" else "0x0", "to": addr(tx.to),
                        "transactionHash": d(tx.hash), "transactionIndex": q(i), "type": q(type_id or 0)})
            prev_cum = r.gas_used
        self._cache[key] = out
        return out

    # --- JSON-RPC -------------------------------------------------------
    def handle(self, method, params):
        with self.lock:
            if method == "eth_chainId":
                return q(self.chain_id)
            if method == "net_version":
                return str(self.chain_id)
            if method == "eth_blockNumber":
                return q(self.head())
            if method == "eth_getBlockByNumber":
                n = self.resolve(params[0])
                if n is None or n > self.head():
                    return None
                return self.block_json(n, bool(params[1]))
            if method == "eth_getBlockByHash":
                try:
                    hdr = self.chain.chaindb.get_block_header_by_hash(bytes.fromhex(params[0][2:]))
                except Exception:
                    return None
                return self.block_json(hdr.block_number, bool(params[1]))
            if method == "eth_getBlockReceipts":
                n = self.resolve(params[0])
                if n is None or n > self.head():
                    return None
                return self.receipts_json(n)
            if method in ("eth_getBalance", "eth_getTransactionCount", "eth_getCode", "eth_getStorageAt"):
                a = params[0]
                n = self.resolve(params[-1])
                if method == "eth_getBalance":
                    return q(self.tester.get_balance(a, block_number=n))
                if method == "eth_getTransactionCount":
                    return q(self.tester.get_nonce(a, block_number=n))
                if method == "eth_getCode":
                    return d(self.tester.get_code(a, block_number=n))
                slot = int(params[1], 16)
                state = self.chain.get_vm(self.chain.get_canonical_block_header_by_number(n)).state
                return "0x" + state.get_storage(bytes.fromhex(a[2:]), slot).to_bytes(32, "big").hex()
            if method == "eth_getProof":
                return self.proof(params[0], params[1], self.resolve(params[2]))
            if method == "eth_gasPrice":
                return q(1)
            raise KeyError(method)

    def proof(self, address, keys, n):
        """EIP-1186 from py-evm's own state trie at block n. `tamper_proofs` makes it lie
        (a different balance), so a test can see a client refuse it."""
        from trie import HexaryTrie
        db = self.chain.chaindb.db
        header = self.chain.get_canonical_block_header_by_number(n)
        account_key = k256(bytes.fromhex(address[2:]))
        accounts = HexaryTrie(db, header.state_root)
        leaf = accounts.get(account_key)
        if leaf:
            nonce, balance, storage_root, code_hash = rlp.decode(leaf)
            nonce, balance = int.from_bytes(nonce, "big"), int.from_bytes(balance, "big")
        else:
            nonce, balance, storage_root, code_hash = 0, 0, HexaryTrie.BLANK_NODE_HASH, k256(b"")
        storage = HexaryTrie(db, storage_root)
        storage_proofs = []
        for key in keys:
            slot = int(key, 16).to_bytes(32, "big")
            value = storage.get(k256(slot))
            storage_proofs.append({"key": key, "value": q(int.from_bytes(rlp.decode(value), "big") if value else 0),
                                   "proof": [d(rlp.encode(node)) for node in storage.get_proof(k256(slot))]})
        if getattr(self, "tamper_proofs", False):
            balance += 1
        return {"address": address.lower(), "accountProof": [d(rlp.encode(node)) for node in accounts.get_proof(account_key)],
                "balance": q(balance), "codeHash": d(code_hash), "nonce": q(nonce), "storageHash": d(storage_root),
                "storageProof": storage_proofs}


def serve(upstream, port=0):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                req = json.loads(body)
            except ValueError:
                return self.reply({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}})
            batch = isinstance(req, list)
            out = [self.one(r) for r in (req if batch else [req])]
            self.reply(out if batch else out[0])

        def one(self, r):
            try:
                return {"jsonrpc": "2.0", "id": r.get("id"), "result": upstream.handle(r["method"], r.get("params", []))}
            except KeyError:
                return {"jsonrpc": "2.0", "id": r.get("id"), "error": {"code": -32601, "message": "the method %s does not exist/is not available" % r.get("method")}}
            except Exception as e:
                return {"jsonrpc": "2.0", "id": r.get("id"), "error": {"code": -32000, "message": str(e)}}

        def reply(self, obj):
            data = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8545)
    ap.add_argument("--blocks", type=int, default=20)
    a = ap.parse_args()
    up = EVMUpstream()
    up.mine_workload(a.blocks)
    s = serve(up, a.port)
    print(f"py-evm upstream on http://127.0.0.1:{s.server_address[1]} chain id {up.chain_id}, {up.head()} blocks", flush=True)
    threading.Event().wait()
