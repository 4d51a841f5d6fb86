"""A linearizability checker for key-value histories, one register per key (Wing & Gong's
search with Lowe's memoization, as Knossos does it).

An operation is a dict:
  {"process": p, "key": k, "f": "write" | "read", "value": v (written, or read; None: absent),
   "invoke": t0, "complete": t1 or None, "ok": True | False | None}
- ok True: it took effect and (a read) returned `value`, at some point between invoke and
  complete.
- ok False: it surely did not take effect (refused before it reached the log); dropped.
- ok None: indeterminate (a timeout, a connection lost): a write may have taken effect at any
  time after its invoke, or never; an indeterminate read tells nothing and is dropped.

A history is linearizable when, for every key, some order of its operations respects real
time (an operation that completed before another was invoked comes first) and makes every
read return the latest write before it (or the initial value). `check` answers per key.
"""
import sys

INITIAL = None


def _per_key(history):
    keys = {}
    for op in history:
        if op["ok"] is False:
            continue
        if op["f"] == "read" and op["ok"] is None:
            continue
        keys.setdefault(op["key"], []).append(op)
    return keys


def check_key(ops, initial=INITIAL, limit=5_000_000):
    """(True, None) when linearizable; (False, why) when not; (None, why) when the search
    gave up after `limit` states (reported, never counted as a pass).

    A search state is the set of operations linearized so far and the register's value. The
    set is kept as `lo` (every operation before it in invoke order is linearized) and the few
    beyond it that are, so states stay small however long the history is."""
    inf = float("inf")
    # An indeterminate write nobody read can be left out: taking effect could only make a
    # later read harder to explain (values are unique per write).
    read_values = {o["value"] for o in ops if o["f"] == "read"}
    ops = sorted((o for o in ops if o["ok"] is True or (o["f"] == "write" and o["value"] in read_values)), key=lambda o: o["invoke"])
    n = len(ops)
    invoke = [o["invoke"] for o in ops]
    complete = [o["complete"] if o["ok"] is True and o["complete"] is not None else inf for o in ops]
    required = [o["ok"] is True for o in ops]
    writes = [o["f"] == "write" for o in ops]
    values = [o["value"] for o in ops]
    # The last required operation: once everything up to it is placed, the rest is optional.
    last_required = max((i for i in range(n) if required[i]), default=-1)

    def normal(lo, extra):
        while lo in extra:
            extra = extra - {lo}
            lo += 1
        return lo, extra

    seen = set()
    stack = [(0, frozenset(), initial)]
    deepest = 0
    while stack:
        lo, extra, value = stack.pop()
        if lo > last_required:
            return True, None
        if (lo, extra, value) in seen:
            continue
        seen.add((lo, extra, value))
        if len(seen) > limit:
            return None, f"gave up after {limit} states ({n} operations)"
        deepest = max(deepest, lo)
        # Candidates: not yet placed, invoked before every unplaced operation's completion.
        horizon, candidates, i = inf, [], lo
        while i < n and invoke[i] <= horizon:
            if i not in extra:
                horizon = min(horizon, complete[i])
                candidates.append(i)
            i += 1
        for i in candidates:
            if invoke[i] > horizon:
                continue
            if writes[i]:
                stack.append((*normal(lo, extra | {i}), values[i]))
            elif values[i] == value:
                stack.append((*normal(lo, extra | {i}), value))
    stuck = ops[deepest] if deepest < n else None
    return False, f"no order explains the history past operation {deepest} of {n}: {stuck}"


def check(history, initial=INITIAL):
    """{"ok": bool, "keys": n, "operations": n, "failures": [(key, why)], "unknown": [(key, why)]}"""
    failures, unknown = [], []
    per = _per_key(history)
    for key, ops in sorted(per.items(), key=lambda kv: str(kv[0])):
        ok, why = check_key(ops, initial)
        if ok is False:
            failures.append((key, why))
        elif ok is None:
            unknown.append((key, why))
    return {"ok": not failures and not unknown, "keys": len(per), "operations": sum(len(v) for v in per.values()),
            "failures": failures, "unknown": unknown}


def _op(p, k, f, v, t0, t1, ok=True):
    return {"process": p, "key": k, "f": f, "value": v, "invoke": t0, "complete": t1, "ok": ok}


def self_test():
    """Known histories: each must be judged as written here, or the checker is wrong."""
    good = [
        # Concurrent writes, reads that see either.
        [_op(1, "a", "write", 1, 0, 10), _op(2, "a", "write", 2, 1, 11), _op(3, "a", "read", 2, 12, 13), _op(3, "a", "read", 2, 14, 15)],
        # A read overlapping a write may see the old value or the new one.
        [_op(1, "a", "write", 1, 0, 10), _op(2, "a", "read", None, 1, 2), _op(3, "a", "read", 1, 5, 6)],
        # An indeterminate write that did take effect.
        [_op(1, "a", "write", 1, 0, None, None), _op(2, "a", "read", 1, 50, 51)],
        # An indeterminate write that did not.
        [_op(1, "a", "write", 1, 0, None, None), _op(2, "a", "read", None, 50, 51)],
        # A refused write is no write.
        [_op(1, "a", "write", 9, 0, 1, False), _op(2, "a", "read", None, 5, 6)],
    ]
    bad = [
        # A stale read: the write completed before the read began, the read saw the old value.
        [_op(1, "a", "write", 1, 0, 10), _op(2, "a", "read", None, 11, 12)],
        # Values going back: 2 then 1 though the write of 1 finished before the write of 2 began.
        [_op(1, "a", "write", 1, 0, 1), _op(1, "a", "write", 2, 2, 3), _op(2, "a", "read", 2, 4, 5), _op(3, "a", "read", 1, 6, 7)],
        # A value nobody wrote.
        [_op(1, "a", "write", 1, 0, 1), _op(2, "a", "read", 7, 2, 3)],
        # Two readers disagreeing in real-time order after one write.
        [_op(1, "a", "write", 1, 0, 100), _op(2, "a", "read", 1, 10, 20), _op(3, "a", "read", None, 30, 40)],
    ]
    problems = []
    # Random histories made linearizable by construction (each operation takes effect at a
    # moment inside its interval, on a real register) must all pass.
    import random
    rng = random.Random(20261207)
    for trial in range(200):
        events, register, t = [], INITIAL, 0.0
        for n in range(rng.randint(1, 14)):
            t += rng.uniform(0, 3)
            point = t
            invoke, complete = point - rng.uniform(0, 5), point + rng.uniform(0, 5)
            if rng.random() < 0.5:
                register = f"v{trial}.{n}"
                ok = True if rng.random() < 0.8 else None
                events.append(_op(n % 4, "k", "write", register, invoke, complete if ok else None, ok))
            else:
                events.append(_op(n % 4, "k", "read", register, invoke, complete))
        if not check(events)["ok"]:
            problems.append(f"random linearizable history {trial} rejected: {events}")
    for i, h in enumerate(good):
        if not check(h)["ok"]:
            problems.append(f"linearizable history {i} rejected")
    for i, h in enumerate(bad):
        r = check(h)
        if r["ok"] or not r["failures"]:
            problems.append(f"non-linearizable history {i} accepted")
    return problems


if __name__ == "__main__":
    problems = self_test()
    for p in problems:
        print("FAIL:", p)
    print("lincheck self-test:", "ok" if not problems else f"{len(problems)} wrong")
    sys.exit(1 if problems else 0)
