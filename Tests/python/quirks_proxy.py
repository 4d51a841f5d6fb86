#!/usr/bin/env python3
"""A JSON-RPC proxy that behaves like a hosted provider at its most awkward, in front of
an HTTP upstream (SimChain): for testing how InfraStack's indexer copes.

  quirks_proxy.py --backend URL [--port P] [--path-key KEY] [--batch-limit N]
                  [--rate-limit P] [--retry-after S] [--drop P] [--seed N]
                  [--missing METHOD ...]

  --path-key KEY   requests must go to /v3/KEY (else 401, as providers answer a bad key)
  --batch-limit N  a batch of more than N calls is answered with one JSON-RPC error object
                   ("... exceeds the limit of N"), not an array
  --rate-limit P   probability that a request is refused as rate limited: mostly HTTP 429
                   with Retry-After in seconds, then as an HTTP-date, then HTTP 200 with
                   JSON-RPC error -32005 "request rate exceeded" for every call, in turn
  --drop P         probability that a connection is closed without any answer
  --missing M      a method answered with -32601 (repeatable)
  --seed N         seed of the random choices (printed decisions are reproducible per seed
                   up to thread interleaving)

Prints the port it listens on as its first line, then serves until killed. GET /__stats
(no key needed) answers counters of what it did, for tests to check the quirks happened.
"""
import argparse
import email.utils
import http.server
import json
import random
import socket
import sys
import threading
import time
import urllib.request


class Quirks:
    def __init__(self, a):
        self.a = a
        self.random = random.Random(a.seed)
        self.lock = threading.Lock()
        self.stats = {"requests": 0, "unauthorized": 0, "batchRefused": 0, "rateLimited429": 0, "rateLimitedRpc": 0,
                      "dropped": 0, "missingMethod": 0, "largestBatchServed": 0}

    def roll(self, p):
        with self.lock:
            return self.random.random() < p

    def count(self, key, n=1):
        with self.lock:
            self.stats[key] += n


def make_handler(q):
    a = q.a

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, code, body, headers=()):
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/__stats":
                with q.lock:
                    return self.reply(200, json.dumps(q.stats).encode())
            return self.reply(405, b'{"error":"POST JSON-RPC requests"}')

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            q.count("requests")
            if a.path_key and self.path != f"/v3/{a.path_key}":
                q.count("unauthorized")
                return self.reply(401, b'{"error":"missing or wrong project key in the path"}')
            if q.roll(a.drop):
                # Gone without a word, as a load balancer recycling a connection does.
                q.count("dropped")
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            try:
                req = json.loads(body)
            except ValueError:
                return self.reply(200, json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}).encode())
            calls = req if isinstance(req, list) else [req]
            if isinstance(req, list) and len(calls) > a.batch_limit:
                q.count("batchRefused")
                msg = f"batch of {len(calls)} requests exceeds the limit of {a.batch_limit}"
                return self.reply(200, json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": msg}}).encode())
            if q.roll(a.rate_limit):
                # In turn: 429 with Retry-After in seconds, 429 with an HTTP-date, JSON-RPC -32005.
                with q.lock:
                    kind = (q.stats["rateLimited429"] + q.stats["rateLimitedRpc"]) % 3
                if kind < 2:
                    q.count("rateLimited429")
                    after = str(a.retry_after) if kind == 0 else email.utils.formatdate(time.time() + a.retry_after, usegmt=True)
                    return self.reply(429, b'{"error":"too many requests"}', [("Retry-After", after)])
                q.count("rateLimitedRpc")
                errs = [{"jsonrpc": "2.0", "id": c.get("id"), "error": {"code": -32005, "message": "request rate exceeded"}} for c in calls]
                return self.reply(200, json.dumps(errs if isinstance(req, list) else errs[0]).encode())
            answers = {}
            forward = []
            for c in calls:
                if c.get("method") in a.missing:
                    q.count("missingMethod")
                    answers[json.dumps(c.get("id"))] = {"jsonrpc": "2.0", "id": c.get("id"),
                                                        "error": {"code": -32601, "message": f"the method {c.get('method')} does not exist/is not available"}}
                else:
                    forward.append(c)
            if forward:
                with q.lock:
                    q.stats["largestBatchServed"] = max(q.stats["largestBatchServed"], len(calls))
                r = urllib.request.Request(a.backend, data=json.dumps(forward).encode(), headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(r, timeout=30) as resp:
                        for item in json.loads(resp.read()):
                            answers[json.dumps(item.get("id"))] = item
                except Exception as e:
                    return self.reply(502, json.dumps({"error": str(e)}).encode())
            out = [answers[json.dumps(c.get("id"))] for c in calls if json.dumps(c.get("id")) in answers]
            return self.reply(200, json.dumps(out if isinstance(req, list) else out[0]).encode())

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that hangs up mid-answer (a node stopping, a timeout) is no news.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--path-key")
    ap.add_argument("--batch-limit", type=int, default=10)
    ap.add_argument("--rate-limit", type=float, default=0.0)
    ap.add_argument("--retry-after", type=int, default=1)
    ap.add_argument("--drop", type=float, default=0.0)
    ap.add_argument("--missing", action="append", default=[])
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    server = Server(("127.0.0.1", a.port), make_handler(Quirks(a)))
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
