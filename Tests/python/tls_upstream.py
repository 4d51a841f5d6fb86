#!/usr/bin/env python3
"""An HTTPS endpoint built on Python's ssl module (an independent TLS implementation),
for testing InfraStack's client side: either a reverse proxy in front of an HTTP
upstream (SimChain, py-evm) that requires a provider-style key in the path, or an echo
server that answers every request with what it received (method, path, headers, body).

  tls_upstream.py --cert C --key K [--port P] [--backend URL] [--path-key KEY]

Prints the port it listens on as its first line, then serves until killed.
"""
import argparse
import http.server
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.request


def test_certificates(host="localhost"):
    """A private CA and a certificate for `host`, made with the openssl command in a temporary
    directory: returns (ca.pem, cert.pem, key.pem)."""
    d = tempfile.mkdtemp(prefix="infrastack-tls-")
    run = lambda *a: subprocess.run(["openssl", *a], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ca, ca_key, key, csr, cert, ext = (os.path.join(d, n) for n in ("ca.pem", "ca.key", "s.key", "s.csr", "s.pem", "s.ext"))
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=InfraStack test CA")
    run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={host}")
    with open(ext, "w") as f:
        f.write(f"subjectAltName=DNS:{host}\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


def start_proxy(backend, cert, key, path_key=None):
    """Runs this script as an HTTPS reverse proxy in front of `backend`; returns (process, port)."""
    args = [sys.executable, os.path.abspath(__file__), "--cert", cert, "--key", key, "--backend", backend]
    if path_key:
        args += ["--path-key", path_key]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    return p, int(p.stdout.readline())


def make_handler(backend, path_key):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, code, body, ctype="application/json"):
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else b""
            if backend is None:
                info = {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body.decode(errors="replace")}
                return self.reply(200, json.dumps(info).encode())
            if path_key and self.path != f"/v3/{path_key}":
                return self.reply(401, b'{"error":"missing or wrong project key in the path"}')
            req = urllib.request.Request(backend, data=body, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=30) as r:
                    return self.reply(r.status, r.read())
            except Exception as e:
                return self.reply(502, json.dumps({"error": str(e)}).encode())

        do_GET = do_POST = do_PUT = handle_any

    return Handler


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--backend")
    ap.add_argument("--path-key")
    a = ap.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), make_handler(a.backend, a.path_key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(a.cert, a.key)
    ctx.set_alpn_protocols(["http/1.1"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
