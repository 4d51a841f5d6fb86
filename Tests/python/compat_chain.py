"""Rebuilds the execution-apis test chain (fixtures/execution-apis/tests) as the
geth-shaped JSON an upstream would serve, for the rpc-compat conformance test.

What can be rebuilt without executing the chain: every block and transaction, from
chain.rlp (senders recovered from their signatures with coincurve), and block 0 from the
recorded genesis answer. Receipts need an EVM: only those the fixture's own recorded
answers contain are known; the others are emitted as null (the test reports the cases
that need them as failures, it does not hide them). State: the genesis alloc, at block 0.

Prints one JSON document: {"blocks": [{"block", "receipts", "state"}...], "safe", "finalized",
"mismatches": [...]} where mismatches lists rebuilt objects that differ from a recorded one.
"""
import glob
import json
import os
import sys

import rlp
from coincurve import PublicKey
from Crypto.Hash import keccak as _keccak


def k256(b):
    return _keccak.new(digest_bits=256, data=b).digest()


def h(b):
    return "0x" + bytes(b).hex()


def q(b):
    v = int.from_bytes(b, "big") if isinstance(b, (bytes, bytearray)) else int(b)
    return hex(v)


def i(b):
    return int.from_bytes(b, "big")


def recover(sighash, y, r, s):
    sig = r.rjust(32, b"\0") + s.rjust(32, b"\0") + bytes([y])
    pub = PublicKey.from_signature_and_message(sig, sighash, hasher=None).format(compressed=False)
    return h(k256(pub[1:])[12:])


def access_list(al):
    return [{"address": h(a), "storageKeys": [h(k) for k in keys]} for a, keys in al]


def tx_json(raw, index, block_hash, number, timestamp, base_fee):
    o = {"blockHash": block_hash, "blockNumber": hex(number), "blockTimestamp": hex(timestamp)}
    if raw[0] >= 0xc0:
        f = rlp.decode(raw)
        nonce, gas_price, gas, to, value, data, v, r, s = f
        vv = i(v)
        if vv >= 35:
            chain_id = (vv - 35) // 2
            sighash = k256(rlp.encode([nonce, gas_price, gas, to, value, data, chain_id, 0, 0]))
            y = vv - 35 - 2 * chain_id
        else:
            chain_id = None
            sighash = k256(rlp.encode([nonce, gas_price, gas, to, value, data]))
            y = vv - 27
        o.update({"from": recover(sighash, y, r, s), "gas": q(gas), "gasPrice": q(gas_price), "hash": h(k256(raw)), "input": h(data),
                  "nonce": q(nonce), "to": h(to) if to else None, "transactionIndex": hex(index), "value": q(value), "type": "0x0"})
        if chain_id is not None:
            o["chainId"] = hex(chain_id)
        o.update({"v": q(v), "r": q(r), "s": q(s)})
        return o
    t = raw[0]
    f = rlp.decode(raw[1:])
    y, r, s = f[-3], f[-2], f[-1]
    sender = recover(k256(raw[:1] + rlp.encode(f[:-3])), i(y), r, s)
    if t == 1:
        chain_id, nonce, gas_price, gas, to, value, data, al = f[:8]
        price = i(gas_price)
        extra = {}
    else:
        chain_id, nonce, tip, max_fee, gas, to, value, data, al = f[:9]
        price = min(i(max_fee), base_fee + i(tip))
        extra = {"maxFeePerGas": q(max_fee), "maxPriorityFeePerGas": q(tip)}
        if t == 3:
            extra["maxFeePerBlobGas"] = q(f[9])
    o.update({"from": sender, "gas": q(gas), "gasPrice": hex(price)})
    o.update(extra)
    o.update({"hash": h(k256(raw)), "input": h(data), "nonce": q(nonce), "to": h(to) if to else None, "transactionIndex": hex(index),
              "value": q(value), "type": hex(t), "accessList": access_list(al), "chainId": q(chain_id)})
    if t == 3:
        o["blobVersionedHashes"] = [h(x) for x in f[10]]
    if t == 4:
        o["authorizationList"] = [{"chainId": q(c), "address": h(a), "nonce": q(n), "yParity": q(yy), "r": q(rr), "s": q(ss)}
                                  for c, a, n, yy, rr, ss in f[9]]
    o.update({"v": q(y), "r": q(r), "s": q(s), "yParity": q(y)})
    return o


HEADER_FIELDS = ["parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom", "difficulty",
                 "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce", "baseFeePerGas", "withdrawalsRoot",
                 "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot", "requestsHash"]
QUANTITIES = {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed", "excessBlobGas"}


def block_json(item, encoded_size):
    header, txs, uncles = item[0], item[1], item[2]
    withdrawals = item[3] if len(item) > 3 else None
    fields = {}
    for name, v in zip(HEADER_FIELDS, header):
        fields[name] = q(v) if name in QUANTITIES else h(v)
    block_hash = h(k256(rlp.encode(header)))
    number, timestamp = i(header[8]), i(header[11])
    base_fee = i(header[15]) if len(header) > 15 else 0
    raws = [tx if isinstance(tx, bytes) else rlp.encode(tx) for tx in txs]
    fields["hash"] = block_hash
    fields["size"] = hex(encoded_size)
    fields["transactions"] = [tx_json(raw, n, block_hash, number, timestamp, base_fee) for n, raw in enumerate(raws)]
    fields["uncles"] = [h(k256(rlp.encode(u))) for u in uncles]
    if withdrawals is not None:
        fields["withdrawals"] = [{"index": q(a), "validatorIndex": q(b), "address": h(c), "amount": q(d)} for a, b, c, d in withdrawals]
    return {k: fields[k] for k in sorted(fields)}


def recorded(tests):
    """Every (method, params, result) pair the fixture recorded."""
    out = []
    for path in sorted(glob.glob(os.path.join(tests, "*", "*.io"))):
        req = None
        for line in open(path):
            if line.startswith(">> "):
                req = json.loads(line[3:])
            elif line.startswith("<< ") and req is not None:
                try:
                    resp = json.loads(line[3:])
                except ValueError:
                    continue
                out.append((req.get("method"), req.get("params", []), resp.get("result")))
    return out


def main():
    tests = sys.argv[1]
    data = open(os.path.join(tests, "chain.rlp"), "rb").read()
    items, pos = [], 0
    while pos < len(data):
        item, _, end = rlp.codec.consume_item(data, pos)
        items.append((item, end - pos))
        pos = end
    answers = recorded(tests)
    genesis = next(r for m, p, r in answers if m == "eth_getBlockByNumber" and p[0] == "0x0")
    blocks = [genesis] + [block_json(item, size) for item, size in items]
    receipts = {}
    for m, p, r in answers:
        if m == "eth_getBlockReceipts" and isinstance(r, list):
            for x in r:
                receipts[x["transactionHash"]] = x
        elif m == "eth_getTransactionReceipt" and isinstance(r, dict):
            receipts[r["transactionHash"]] = r
    mismatches = []
    by_hash = {b["hash"]: b for b in blocks}
    txs = {t["hash"]: t for b in blocks for t in b["transactions"] if isinstance(t, dict)}
    for m, p, r in answers:
        if m in ("eth_getBlockByNumber", "eth_getBlockByHash") and isinstance(r, dict) and p and p[1] is True:
            mine = by_hash.get(r["hash"])
            if mine != r:
                mismatches.append({"what": f"block {r['number']}", "keys": sorted(k for k in set(r) | set(mine or {}) if (mine or {}).get(k) != r.get(k))})
        if m == "eth_getTransactionByHash" and isinstance(r, dict):
            mine = txs.get(r["hash"])
            if mine != r:
                mismatches.append({"what": f"tx {r['hash']}", "keys": sorted(k for k in set(r) | set(mine or {}) if (mine or {}).get(k) != r.get(k))})
    genesis_alloc = json.load(open(os.path.join(tests, "genesis.json")))["alloc"]
    state = [{"address": "0x" + a.lower().removeprefix("0x"), "balance": hex(int(v.get("balance", "0x0"), 0)), "nonce": hex(int(v.get("nonce", "0x0"), 0)),
              "code": v.get("code", "0x"), "storage": v.get("storage", {})} for a, v in genesis_alloc.items()]
    head_fcu = json.load(open(os.path.join(tests, "headfcu.json")))["params"][0]
    number_of = {b["hash"]: int(b["number"], 16) for b in blocks}
    out = {"blocks": [], "safe": number_of.get(head_fcu["safeBlockHash"]), "finalized": number_of.get(head_fcu["finalizedBlockHash"]),
           "mismatches": mismatches}
    for n, b in enumerate(blocks):
        rs = [receipts.get(t["hash"]) for t in b["transactions"]]
        out["blocks"].append({"block": b, "receipts": rs, "state": state if n == 0 else None})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
