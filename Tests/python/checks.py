"""What the multi-process Python suites share: a check that prints ok/FAIL and collects
failures, and one HTTP call that never raises."""
import json
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
