"""What the multi-process Python suites share: a check that prints ok/FAIL and collects
failures, one HTTP call that never raises, polling, and a cluster around a suite."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

failures = []


def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)
    return ok


def http(method, url, body=None, headers=None, timeout=5):
    """(status, body, headers) — headers look up without regard to case; status None when
    no answer came. A dict or list body is sent as JSON."""
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers
    except Exception as e:
        return None, str(e).encode(), {}


def until(cond, seconds, step=0.2):
    """cond()'s first truthy value within `seconds`, polled every `step`; None if none came."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


def with_cluster(run_dir, up_args, body, name):
    """cluster/up into run_dir (wiped first) with up_args, body(the up output), cluster/down;
    prints the outcome of every check and returns the exit code."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    down = [os.path.join(root, "cluster/down"), "--run-dir", run_dir]
    subprocess.run(down + ["--wipe"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    up = subprocess.run([os.path.join(root, "cluster/up"), "--run-dir", run_dir] + up_args, capture_output=True, text=True)
    print(up.stdout, flush=True)
    if up.returncode != 0:
        print("FAIL: cluster/up\n" + up.stderr)
        return 1
    try:
        body(up.stdout)
    finally:
        subprocess.run(down, stdout=subprocess.DEVNULL)
    if failures:
        print(f"{len(failures)} failed:\n  " + "\n  ".join(failures))
        return 1
    print(f"{name}: all checks passed")
    return 0
