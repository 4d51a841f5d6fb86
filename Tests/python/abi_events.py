"""Random Solidity events encoded by eth_abi (the reference ABI codec web3 uses), for the
Swift event decoder to decode: reads {"seed", "count"} on stdin, prints a JSON list of
{signature, topics, data, args} where args are the values as the decoder must show them
(integers as decimal strings, addresses and bytes as lower-case 0x hex, an indexed dynamic
value as its keccak topic)."""
import json
import random
import sys

from eth_abi import encode
from eth_utils import keccak

TYPES = ["address", "bool", "uint8", "uint256", "int8", "int64", "int256", "bytes1", "bytes32", "string", "bytes",
         "uint256[]", "address[]", "int16[3]", "bool[2]"]


def value(rng, t):
    if t.endswith("]"):
        base, n = t[:t.rindex("[")], t[t.rindex("[") + 1:-1]
        return [value(rng, base) for _ in range(int(n) if n else rng.randrange(0, 4))]
    if t == "address":
        return "0x" + bytes(rng.randrange(256) for _ in range(20)).hex()
    if t == "bool":
        return rng.random() < 0.5
    if t.startswith("uint"):
        return rng.randrange(0, 1 << int(t[4:]))
    if t.startswith("int"):
        bits = int(t[3:])
        return rng.randrange(-(1 << (bits - 1)), 1 << (bits - 1))
    if t == "string":
        return "".join(rng.choice("abc xyzé€") for _ in range(rng.randrange(0, 40)))
    if t == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 70)))
    if t.startswith("bytes"):
        return bytes(rng.randrange(256) for _ in range(int(t[5:])))
    raise ValueError(t)


def shown(t, v):
    if t.endswith("]"):
        return [shown(t[:t.rindex("[")], x) for x in v]
    if t == "bool":
        return v
    if t.startswith("uint") or t.startswith("int"):
        return str(v)
    if t == "string":
        return v
    if isinstance(v, bytes):
        return "0x" + v.hex()
    return v.lower()


def main():
    req = json.load(sys.stdin)
    rng = random.Random(req["seed"])
    out = []
    for k in range(req["count"]):
        params = []
        for i in range(rng.randrange(0, 6)):
            t = rng.choice(TYPES)
            indexed = len([p for p in params if p[1]]) < 3 and rng.random() < 0.3 and not t.endswith("]")
            params.append((t, indexed, f"p{i}" if rng.random() < 0.8 else ""))
        name = f"Ev{k}"
        canonical = f"{name}({','.join(t for t, _, _ in params)})"
        signature = f"{name}(" + ", ".join(" ".join(w for w in (t, "indexed" if ix else "", n) if w) for t, ix, n in params) + ")"
        values = [value(rng, t) for t, _, _ in params]
        topics = ["0x" + keccak(text=canonical).hex()]
        args = {}
        for i, ((t, ix, n), v) in enumerate(zip(params, values)):
            key = n or f"arg{i}"
            if ix:
                if t in ("string", "bytes"):
                    raw = v.encode() if isinstance(v, str) else v
                    topic = "0x" + keccak(raw).hex()
                    args[key] = topic
                else:
                    topic = "0x" + encode([t], [v]).hex()
                    args[key] = shown(t, v)
                topics.append(topic)
            else:
                args[key] = shown(t, v)
        plain = [(t, v) for (t, ix, _), v in zip(params, values) if not ix]
        data = encode([t for t, _ in plain], [v for _, v in plain])
        out.append({"signature": signature, "canonical": canonical, "topics": topics, "data": "0x" + data.hex(), "args": args})
    json.dump(out, sys.stdout)


main()
