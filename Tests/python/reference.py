"""Reference answers from independent Python implementations (pycryptodome, rlp, trie).

Reads one JSON request on stdin, writes one JSON answer on stdout. Used by the Swift
cross-check tests; never by the product.
"""
import json
import sys

from Crypto.Hash import keccak as _keccak
import rlp
from trie import HexaryTrie


def h2b(s):
    return bytes.fromhex(s[2:] if s.startswith("0x") else s)


def b2h(b):
    return "0x" + b.hex()


def k256(b):
    return _keccak.new(digest_bits=256, data=b).digest()


def to_item(x):
    # JSON nested lists of hex strings <-> rlp's nested lists of bytes
    if isinstance(x, list):
        return [to_item(e) for e in x]
    return h2b(x)


def from_item(x):
    if isinstance(x, list):
        return [from_item(e) for e in x]
    return b2h(x)


def main():
    req = json.load(sys.stdin)
    op = req["op"]
    if op == "keccak":
        out = [b2h(k256(h2b(x))) for x in req["inputs"]]
    elif op == "rlp_encode":
        out = [b2h(rlp.encode(to_item(x))) for x in req["items"]]
    elif op == "rlp_decode":
        out = []
        for x in req["inputs"]:
            try:
                out.append({"ok": from_item(rlp.decode(h2b(x), strict=True))})
            except Exception as e:  # the reference's verdict is what we compare
                out.append({"error": type(e).__name__})
    elif op == "trie":
        out = []
        for case in req["cases"]:
            t = HexaryTrie({})
            for k, v in case["pairs"]:
                key = k256(h2b(k)) if case.get("secure") else h2b(k)
                t[key] = h2b(v)
            proofs = []
            for check in case.get("proofs", []):
                key = h2b(check["key"])
                nodes = tuple(rlp.decode(h2b(n)) for n in check["nodes"])
                try:
                    got = HexaryTrie.get_from_proof(t.root_hash, key, nodes)
                    proofs.append({"value": b2h(got)})
                except Exception as e:
                    proofs.append({"error": type(e).__name__})
            out.append({"root": b2h(t.root_hash), "proofs": proofs})
    elif op == "inclusion":
        # An infra_get*Proof answer checked from scratch: header hash, root in the
        # header, then the Merkle-Patricia proof walked by py-trie.
        out = []
        for p in req["proofs"]:
            header = h2b(p["header"])
            fields = rlp.decode(header)
            root = fields[4 if p["rootField"] == "transactionsRoot" else 5]
            nodes = tuple(rlp.decode(h2b(n)) for n in p["proof"])
            try:
                value = HexaryTrie.get_from_proof(root, h2b(p["key"]), nodes)
            except Exception as e:
                out.append({"error": type(e).__name__})
                continue
            out.append({"headerHash": b2h(k256(header)), "root": b2h(root), "value": b2h(value), "valueHash": b2h(k256(value))})
    else:
        raise SystemExit("unknown op " + op)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
