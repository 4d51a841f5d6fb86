#!/usr/bin/env python3
"""Checks that the module map stays true: README's table equals Package.swift, every
target declares exactly the package targets its sources import, and no target imports
one of a higher layer. Run by Tests/run; prints every mismatch and exits 1."""
import json, os, re, subprocess, sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAYERS = ["core", "io", "replication", "domain", "edge", "tools", "app"]

def package():
    out = subprocess.run(["swift", "package", "dump-package"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    targets = {}
    for t in json.loads(out)["targets"]:
        if t["type"] == "test" or t.get("path", "").startswith("Tests/"):
            continue
        deps = [v[0] for d in t.get("dependencies", []) for v in d.values()]
        layer = t["path"].split("/")[1]
        targets[t["name"]] = {"path": t["path"], "deps": set(deps), "layer": layer, "type": t["type"]}
    return targets

def imports(path, names):
    found = set()
    for dirpath, _, files in os.walk(os.path.join(ROOT, path)):
        for f in files:
            if f.endswith(".swift"):
                for m in re.finditer(r"^\s*(?:@testable\s+)?import\s+(\w+)", open(os.path.join(dirpath, f)).read(), re.M):
                    if m.group(1) in names:
                        found.add(m.group(1))
    return found

def readme_rows():
    text = open(os.path.join(ROOT, "README.md")).read()
    m = re.search(r"<!-- module-map -->(.*?)<!-- /module-map -->", text, re.S)
    if not m:
        return None
    rows = {}
    for line in m.group(1).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("layer", "") or set(cells[0]) <= set("-: "):
            continue
        layer, name, _, deps = cells
        name = name.strip("`")
        rows[name] = {"layer": layer, "deps": set() if deps in ("—", "-", "") else {d.strip().strip("`") for d in deps.split(",")}}
    return rows

def main():
    targets = package()
    names = set(targets)
    problems = []
    for name, t in sorted(targets.items()):
        if t["layer"] not in LAYERS:
            problems.append(f"{name}: {t['path']} is not under Sources/<layer>/ (layers: {', '.join(LAYERS)})")
            continue
        if t["type"] != "system":
            used = imports(t["path"], names - {name})
            for d in sorted(used - t["deps"]):
                problems.append(f"{name} imports {d} but Package.swift does not declare it")
            for d in sorted(t["deps"] - used):
                if targets.get(d, {}).get("type") != "system":
                    problems.append(f"{name} declares {d} in Package.swift but never imports it")
        for d in sorted(t["deps"]):
            if d in targets and LAYERS.index(targets[d]["layer"]) > LAYERS.index(t["layer"]):
                problems.append(f"{name} ({t['layer']}) depends on {d} ({targets[d]['layer']}), a higher layer")
    rows = readme_rows()
    if rows is None:
        problems.append("README.md has no <!-- module-map --> table")
    else:
        for name in sorted(names - set(rows)):
            problems.append(f"README module map lacks {name}")
        for name in sorted(set(rows) - names):
            problems.append(f"README module map lists {name}, which Package.swift does not have")
        for name in sorted(names & set(rows)):
            t, r = targets[name], rows[name]
            if r["layer"] != t["layer"]:
                problems.append(f"README puts {name} in layer {r['layer']}, Package.swift in {t['layer']}")
            if r["deps"] != t["deps"]:
                problems.append(f"README says {name} imports {sorted(r['deps'])}, Package.swift says {sorted(t['deps'])}")
    for p in problems:
        print("module map:", p)
    print(f"module map: {len(targets)} targets checked, {len(problems)} problem(s)")
    return 1 if problems else 0

if __name__ == "__main__":
    sys.exit(main())
