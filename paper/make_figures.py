#!/usr/bin/python3
"""Runs every paper/fig_*.py (or the ones named on the command line). Each script reads
results/ and writes paper/figures/NAME.pdf and NAME.png through paper/style.py; a script
whose inputs are missing says so and exits 3, which is reported as waiting for results,
not as a failure. Any other non-zero exit fails the step.

When every script succeeded or waits, paper/figures/index.json records, per script, its
status and the figures it wrote (with their sha256), in a fixed order: this is the file
`make figures` and `make reproduce-all` keep up to date, and the report reads it to link
each experiment's figures. On a failure the index is not rewritten, so make retries."""
import glob
import hashlib
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIGURES = os.path.join(ROOT, os.environ.get("MECHDRIFT_FIGURES_DIR") or "paper/figures")
INDEX = os.path.join(FIGURES, "index.json")
MISSING_INPUTS = 3


def snapshot():
    out = {}
    for p in glob.glob(os.path.join(FIGURES, "*")):
        if os.path.isfile(p) and not os.path.basename(p).startswith(("index.json", ".")):
            st = os.stat(p)
            out[os.path.basename(p)] = (st.st_mtime_ns, st.st_size)
    return out


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def previous_index():
    try:
        with open(INDEX) as f:
            return {e["script"]: e for e in json.load(f).get("scripts", [])}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def main(argv):
    if argv:
        scripts = [os.path.join(HERE, os.path.basename(a)) for a in argv]
        for s in scripts:
            if not os.path.exists(s):
                print(f"figures: no script {os.path.relpath(s, ROOT)}", file=sys.stderr)
                return 2
    else:
        scripts = sorted(glob.glob(os.path.join(HERE, "fig_*.py")))
    os.makedirs(FIGURES, exist_ok=True)
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONHASHSEED="0", SOURCE_DATE_EPOCH="0",
               PYTHONPATH=HERE + os.pathsep + os.environ.get("PYTHONPATH", ""))
    old = previous_index()
    entries, failed, waiting = {}, [], []
    for s in scripts:
        name = os.path.basename(s)
        before = snapshot()
        r = subprocess.run([sys.executable, s], cwd=ROOT, env=env)
        after = snapshot()
        made = sorted(f for f, v in after.items() if before.get(f) != v)
        if r.returncode == MISSING_INPUTS:
            waiting.append(name)
            entries[name] = {"script": name, "status": "waiting for results", "figures": []}
        elif r.returncode != 0:
            failed.append(name)
        else:
            if not made and name in old:
                made = [f for f in old[name].get("figures", []) if f in after]
            if not made:
                print(f"figures: {name} exited 0 but wrote no file into "
                      f"{os.path.relpath(FIGURES, ROOT)}/", file=sys.stderr)
                failed.append(name)
                continue
            entries[name] = {"script": name, "status": "made", "figures": made,
                             "sha256": {f: sha256(os.path.join(FIGURES, f)) for f in made}}
    for m in waiting:
        print(f"figures: {m}: inputs not in results/ yet (run its experiment first)")
    for f in failed:
        print(f"figures: {f} FAILED", file=sys.stderr)
    print(f"figures: {len(entries) - len(waiting)} scripts made figures, {len(waiting)} waiting "
          f"for results, {len(failed)} failed" + ("" if scripts else " (no paper/fig_*.py yet)"))
    if failed:
        return 1
    if argv:  # a partial run keeps the other scripts' entries
        entries = {**{k: v for k, v in old.items()}, **entries}
    index = {"scripts": [entries[k] for k in sorted(entries)]}
    tmp = f"{INDEX}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, INDEX)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
