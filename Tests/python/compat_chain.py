"""Rebuilds the execution-apis test chain (fixtures/execution-apis/tests) as the
geth-shaped JSON an upstream would serve, for the rpc-compat conformance test.

Blocks and transactions come from chain.rlp (senders recovered from their signatures with
coincurve), block 0 from the recorded genesis answer. Receipts and per-block account state
come from re-executing the whole chain in an independent EVM, py-evm, from the genesis
alloc: every block imports with its state root, receipts root and gas checked by py-evm
(py-evm has no Osaka VM; the last blocks run under Prague rules and still reproduce their
state roots, so nothing they do depends on Osaka). State is taken for every account the
chain mentions, at every block, over the genesis storage slots, slots 0–15 and access-list
keys.

Prints one JSON document: {"blocks": [{"block", "receipts", "state"}...], "safe", "finalized",
"mismatches": [...]} where mismatches lists rebuilt objects (blocks, transactions,
receipts) that differ from one the fixture recorded.
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


FORKS = [(0, "HomesteadVM"), (3, "TangerineWhistleVM"), (6, "SpuriousDragonVM"), (9, "ByzantiumVM"), (12, "ConstantinopleVM"),
         (15, "PetersburgVM"), (18, "IstanbulVM"), (21, "MuirGlacierVM"), (24, "BerlinVM"), (27, "LondonVM"), (30, "ArrowGlacierVM"),
         (33, "GrayGlacierVM"), (36, "ParisVM")]
TIME_FORKS = [("shanghaiTime", "ShanghaiVM"), ("cancunTime", "CancunVM"), ("pragueTime", "PragueVM")]


def execute(tests, genesis, raw_blocks):
    """Imports every block into py-evm; returns (chain, headers by number)."""
    import eth.vm.forks as forks
    from eth.chains.base import Chain
    from eth.db.atomic import AtomicDB
    config = genesis["config"]
    schedule = list(FORKS)
    stamps = [(i + 1, int.from_bytes(rlp.decode(raw)[0][11], "big")) for i, raw in enumerate(raw_blocks)]
    for key, vm in TIME_FORKS:
        first = next(n for n, t in stamps if t >= config[key])
        schedule.append((first, vm))
    vms = []
    for n, name in sorted(schedule):
        base = getattr(forks, name)
        # Pre-merge seals are the test generator's fake ethash: the state is what we check.
        attrs = {"validate_seal": classmethod(lambda cls, header: None)}
        if name == "HomesteadVM":
            attrs["support_dao_fork"] = False
        vms.append((n, type("Compat" + name, (base,), attrs)))
    chain_class = Chain.configure(vm_configuration=tuple(vms), chain_id=config["chainId"])
    state = {}
    for a, v in genesis["alloc"].items():
        state[bytes.fromhex(a.lower().removeprefix("0x"))] = {
            "balance": int(v.get("balance", "0x0"), 0), "nonce": int(v.get("nonce", "0x0"), 0), "code": hexbytes(v.get("code", "0x")),
            "storage": {int(k, 16): int(x, 16) for k, x in v.get("storage", {}).items()}}
    params = {"difficulty": int(genesis["difficulty"], 0), "gas_limit": int(genesis["gasLimit"], 0), "extra_data": hexbytes(genesis["extraData"]),
              "timestamp": int(genesis["timestamp"], 0), "nonce": hexbytes(genesis["nonce"]).rjust(8, b"\0"),
              "mix_hash": hexbytes(genesis["mixHash"]), "coinbase": hexbytes(genesis["coinbase"])}
    chain = chain_class.from_genesis(AtomicDB(), params, state)
    for raw in raw_blocks:
        n = i_(rlp.decode(raw)[0][8])
        block = rlp.decode(raw, sedes=chain.get_vm_class_for_block_number(n).get_block_class())
        chain.import_block(block)
    return chain


def i_(b):
    return int.from_bytes(b, "big")


def hexbytes(s):
    s = s[2:] if s.startswith("0x") else s
    return bytes.fromhex("0" + s if len(s) % 2 else s)


def fake_exponential(factor, numerator, denominator):
    i, output, acc = 1, 0, factor * denominator
    while acc > 0:
        output += acc
        acc = acc * numerator // (denominator * i)
        i += 1
    return output // denominator


def blob_fraction(config, timestamp):
    fraction = None
    for fork in ["cancun", "prague", "osaka", "bpo1", "bpo2"]:
        if timestamp >= config.get(fork + "Time", 1 << 62):
            fraction = config["blobSchedule"][fork]["baseFeeUpdateFraction"]
    return fraction


def receipts_json(chain, block, config):
    header = chain.get_canonical_block_header_by_number(int(block["number"], 16))
    receipts = chain.chaindb.get_receipts(header, chain.get_vm_class(header).get_receipt_builder())
    out, log_index, previous = [], 0, 0
    for tx, r in zip(block["transactions"], receipts):
        o = {}
        if tx["type"] == "0x3":
            fraction = blob_fraction(config, int(block["timestamp"], 16))
            o["blobGasPrice"] = hex(fake_exponential(1, int(block["excessBlobGas"], 16), fraction))
            o["blobGasUsed"] = hex(131072 * len(tx["blobVersionedHashes"]))
        created = None
        if tx["to"] is None:
            created = h(k256(rlp.encode([hexbytes(tx["from"]), int(tx["nonce"], 16)]))[12:])
        logs = []
        for lg in r.logs:
            logs.append({"address": h(lg.address), "topics": ["0x%064x" % t for t in lg.topics], "data": h(lg.data),
                         "blockNumber": block["number"], "transactionHash": tx["hash"], "transactionIndex": tx["transactionIndex"],
                         "blockHash": block["hash"], "blockTimestamp": block["timestamp"], "logIndex": hex(log_index), "removed": False})
            log_index += 1
        o.update({"blockHash": block["hash"], "blockNumber": block["number"], "contractAddress": created,
                  "cumulativeGasUsed": hex(r.gas_used), "effectiveGasPrice": tx["gasPrice"], "from": tx["from"],
                  "gasUsed": hex(r.gas_used - previous), "logs": logs, "logsBloom": "0x%0512x" % r.bloom})
        if len(r.state_root) == 32:
            o["root"] = h(r.state_root)
        else:
            o["status"] = "0x1" if r.state_root == b"\x01" else "0x0"
        o.update({"to": tx["to"], "transactionHash": tx["hash"], "transactionIndex": tx["transactionIndex"], "type": tx["type"]})
        previous = r.gas_used
        out.append(o)
    return out


def state_json(chain, number, addresses, slots):
    header = chain.get_canonical_block_header_by_number(number)
    st = chain.get_vm(header).state
    out = []
    for a in sorted(addresses):
        ab = bytes.fromhex(a[2:])
        code = st.get_code(ab)
        storage = {}
        # Zeros included: a slot cleared later must read zero again, not its old value.
        for s in sorted(slots.get(a, set()) | (set(range(16)) if code else set())):
            storage["0x%064x" % s] = "0x%064x" % st.get_storage(ab, s)
        out.append({"address": a, "balance": hex(st.get_balance(ab)), "nonce": hex(st.get_nonce(ab)), "code": h(code),
                    "storage": storage})
    return out


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
    items, starts, pos = [], [], 0
    while pos < len(data):
        item, _, end = rlp.codec.consume_item(data, pos)
        items.append((item, end - pos))
        starts.append((pos, end - pos))
        pos = end
    answers = recorded(tests)
    genesis_block = next(r for m, p, r in answers if m == "eth_getBlockByNumber" and p[0] == "0x0")
    blocks = [genesis_block] + [block_json(item, size) for item, size in items]
    genesis = json.load(open(os.path.join(tests, "genesis.json")))
    chain = execute(tests, genesis, [data[start:start + size] for start, size in starts])
    receipts = [[] for _ in blocks]
    for n, b in enumerate(blocks[1:], start=1):
        receipts[n] = receipts_json(chain, b, genesis["config"])

    mismatches = []
    def differ(what, mine, theirs):
        if mine != theirs:
            mismatches.append({"what": what, "keys": sorted(k for k in set(theirs) | set(mine or {}) if (mine or {}).get(k) != theirs.get(k))})
    by_hash = {b["hash"]: b for b in blocks}
    txs = {t["hash"]: t for b in blocks for t in b["transactions"] if isinstance(t, dict)}
    receipt_by_tx = {r["transactionHash"]: r for rs in receipts for r in rs}
    recorded_receipts = 0
    for m, p, r in answers:
        if m in ("eth_getBlockByNumber", "eth_getBlockByHash") and isinstance(r, dict) and p and p[1] is True:
            differ(f"block {r['number']}", by_hash.get(r["hash"]), r)
        if m == "eth_getTransactionByHash" and isinstance(r, dict):
            differ(f"tx {r['hash']}", txs.get(r["hash"]), r)
        for rc in (r if m == "eth_getBlockReceipts" and isinstance(r, list) else [r] if m == "eth_getTransactionReceipt" and isinstance(r, dict) else []):
            recorded_receipts += 1
            differ(f"receipt {rc['transactionHash']}", receipt_by_tx.get(rc["transactionHash"]), rc)

    # Every account the chain mentions, and the storage slots worth reading.
    addresses, slots = set(), {}
    for a, v in genesis["alloc"].items():
        a = "0x" + a.lower().removeprefix("0x")
        addresses.add(a)
        slots.setdefault(a, set()).update(int(k, 16) for k in v.get("storage", {}))
    for b in blocks:
        addresses.add(b["miner"])
        for w in b.get("withdrawals", []):
            addresses.add(w["address"])
        for t in b["transactions"]:
            addresses.update(x for x in [t["from"], t["to"]] if x)
            for entry in t.get("accessList", []):
                addresses.add(entry["address"])
                slots.setdefault(entry["address"], set()).update(int(k, 16) for k in entry["storageKeys"])
            for auth in t.get("authorizationList", []):
                addresses.add(auth["address"])
    for rs in receipts:
        for r in rs:
            addresses.update(x for x in [r["contractAddress"]] if x)
            addresses.update(lg["address"] for lg in r["logs"])
    head_fcu = json.load(open(os.path.join(tests, "headfcu.json")))["params"][0]
    number_of = {b["hash"]: int(b["number"], 16) for b in blocks}
    out = {"blocks": [], "safe": number_of.get(head_fcu["safeBlockHash"]), "finalized": number_of.get(head_fcu["finalizedBlockHash"]),
           "mismatches": mismatches, "recordedReceiptsChecked": recorded_receipts, "accounts": len(addresses)}
    for n, b in enumerate(blocks):
        out["blocks"].append({"block": b, "receipts": receipts[n], "state": state_json(chain, n, addresses, slots)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
