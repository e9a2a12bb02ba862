#!/usr/bin/python3
"""verify_arrays.py STORED RERUN [--all-files] [--exact] [--ignore GLOB ...]

The comparison behind `make verify`: every .npy array a cheap rerun wrote under RERUN
must be bit-identical to the array of the same relative path under STORED (the results
the pipeline keeps in results/). Bytes are compared first; when they differ the arrays
are loaded to say how (dtype, shape, or how many elements and by how much), so a failure
names the file and the nature of the drift.

  --all-files  compare every file, not only .npy (byte for byte); manifest.json is
               skipped by default since it records times and paths (see --ignore)
  --exact      the rerun must also have produced every file STORED has (a full rerun)
  --ignore G   skip files whose relative path or base name matches glob G (repeatable)

Exit status 0 when all compared files are identical, 1 when any differs or is missing,
2 on usage errors (including a rerun that produced nothing to compare)."""
import argparse
import fnmatch
import os
import sys

import numpy as np


def walk(root, all_files, ignore):
    out = set()
    for d, _, files in os.walk(root):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), root)
            if not all_files and not f.endswith(".npy"):
                continue
            if any(fnmatch.fnmatch(rel, g) or fnmatch.fnmatch(f, g) for g in ignore):
                continue
            if ".tmp" in f:
                continue  # an atomic writer's temporary, not a result
            out.add(rel)
    return out


def describe_npy_difference(a_path, b_path):
    try:
        a = np.load(a_path, allow_pickle=False)
        b = np.load(b_path, allow_pickle=False)
    except Exception as e:  # unreadable arrays still differ; say why
        return f"cannot load as numpy arrays ({e})"
    if a.dtype != b.dtype:
        return f"dtype {a.dtype} stored vs {b.dtype} rerun"
    if a.shape != b.shape:
        return f"shape {a.shape} stored vs {b.shape} rerun"
    if np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
        return "same values, different bytes (header or NaN payload)"
    diff = a != b
    if a.dtype.kind in "fc":
        diff &= ~(np.isnan(a) & np.isnan(b))
    n = int(np.count_nonzero(diff))
    msg = f"{n} of {a.size} elements differ"
    if a.dtype.kind in "fciu" and n:
        d = np.abs(a.astype(np.float64)[diff] - b.astype(np.float64)[diff])
        first = tuple(int(i) for i in np.argwhere(diff)[0])
        msg += f", max |diff| {d.max():.6g}, first at index {first}"
    return msg


def same_bytes(p, q):
    if os.path.getsize(p) != os.path.getsize(q):
        return False
    with open(p, "rb") as f, open(q, "rb") as g:
        while True:
            a, b = f.read(1 << 20), g.read(1 << 20)
            if a != b:
                return False
            if not a:
                return True


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stored")
    ap.add_argument("rerun")
    ap.add_argument("--all-files", action="store_true")
    ap.add_argument("--exact", action="store_true")
    ap.add_argument("--ignore", action="append", default=None)
    args = ap.parse_args(argv)
    ignore = args.ignore if args.ignore is not None else ["manifest.json"]
    for d, what in ((args.stored, "stored results"), (args.rerun, "rerun")):
        if not os.path.isdir(d):
            print(f"verify: {what} directory {d} does not exist", file=sys.stderr)
            return 1 if what == "stored results" else 2
    rerun = walk(args.rerun, args.all_files, ignore)
    stored = walk(args.stored, args.all_files, ignore)
    if not rerun:
        print(f"verify: the rerun in {args.rerun} produced nothing to compare", file=sys.stderr)
        return 2
    problems = []
    for rel in sorted(rerun):
        s, r = os.path.join(args.stored, rel), os.path.join(args.rerun, rel)
        if rel not in stored:
            problems.append(f"{rel}: not in the stored results {args.stored}")
        elif not same_bytes(s, r):
            why = describe_npy_difference(s, r) if rel.endswith(".npy") else "bytes differ"
            problems.append(f"{rel}: {why}")
    if args.exact:
        for rel in sorted(stored - rerun):
            problems.append(f"{rel}: stored but not produced by the rerun")
    kind = "files" if args.all_files else "arrays"
    if problems:
        print(f"verify: {args.rerun} vs {args.stored}: {len(problems)} of "
              f"{len(rerun | (stored if args.exact else set()))} {kind} differ:", file=sys.stderr)
        for p in problems:
            print(f"  DIFFERS {p}", file=sys.stderr)
        return 1
    print(f"verify: {len(rerun)} {kind} bit-identical ({args.rerun} vs {args.stored})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
