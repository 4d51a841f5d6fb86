"""wrk's text report as numbers, shared by the benches that drive wrk."""
import re

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
SIZES = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3, "TB": 1024 ** 4}


def parse_wrk(out):
    def ms(text):
        m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
        return float(m.group(1)) * UNITS[m.group(2)]
    r = {"raw": out, "non2xx": 0, "socket_errors": "", "p50": None, "p99": None, "max": None}
    m = re.search(r"^\s*Latency\s+\S+\s+\S+\s+(\S+)", out, re.M)
    if m:
        try:
            r["max"] = ms(m.group(1))
        except AttributeError:
            pass
    lat = re.search(r"Latency Distribution(.*?)\n\s*\d+ requests", out, re.S)
    if lat:
        for pct, value in re.findall(r"\s(\d+)%\s+([\d.]+\w+)", lat.group(1)):
            if pct in ("50", "99"):
                r["p" + pct] = ms(value)
    m = re.search(r"(\d+) requests in ([\d.]+\w+), ([\d.]+)(\w?B) read", out)
    r["requests"] = int(m.group(1)) if m else 0
    r["read_bytes"] = float(m.group(3)) * SIZES[m.group(4)] if m else 0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: (.*)", out)
    r["socket_errors"] = m.group(1).strip() if m else ""
    return r
