#!/usr/bin/env python3
"""Runs every paper/fig_*.py (each reads results/ and writes paper/figures/NAME.pdf and
NAME.png). A script whose inputs are missing says so and exits 3; that is reported and
skipped, any other failure fails the whole step."""
import glob
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    scripts = sorted(glob.glob(os.path.join(HERE, "fig_*.py")))
    os.makedirs(os.path.join(HERE, "figures"), exist_ok=True)
    if not scripts:
        print("figures: no figure scripts yet (paper/fig_*.py)")
        return 0
    failed, missing = [], []
    for s in scripts:
        name = os.path.basename(s)
        r = subprocess.run([sys.executable, s], cwd=ROOT)
        if r.returncode == 3:
            missing.append(name)
        elif r.returncode != 0:
            failed.append(name)
    for m in missing:
        print(f"figures: {m}: inputs not in results/ yet (run its experiment first)")
    for f in failed:
        print(f"figures: {f} FAILED", file=sys.stderr)
    print(f"figures: {len(scripts) - len(failed) - len(missing)} made, "
          f"{len(missing)} waiting for results, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
