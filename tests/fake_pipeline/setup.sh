#!/usr/bin/env bash
# setup.sh DEST: a scratch copy of the reproduction machinery (the real GNUmakefile,
# mk/organism.mk, tools/ and paper/ scripts) around fake stages, for the tests of
# make reproduce-all / verify / slurm (tests/test_noisa_reproduce.c, test_noisa_slurm.c).
# The fake bin/mechdrift writes tiny deterministic outputs in milliseconds, so the whole
# pipeline runs for real without building or training anything.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
fix=$src/tests/fake_pipeline
dest=$1
mkdir -p "$dest"/{tools,paper,mk,configs,bin,build}
cp "$src/GNUmakefile" "$dest/"
cp "$src"/tools/{timed.sh,deps.sh,debian-packages.txt,verify_arrays.py,slurm.sh} "$dest/tools/"
cp "$src"/paper/{make_figures.py,make_report.py,style.py} "$dest/paper/"
cp "$src/mk/organism.mk" "$dest/mk/"
cp "$fix"/mk/*.mk "$dest/mk/"
cp "$fix"/paper/fig_*.py "$dest/paper/"
cp "$src"/configs/{world.cfg,train-organism.cfg,train-organism-late.cfg} "$dest/configs/"
cp "$fix"/configs/*.cfg "$dest/configs/"
cp "$fix/bin/mechdrift" "$dest/bin/mechdrift"
chmod +x "$dest/bin/mechdrift"
# A library older than the CLI, with no sources: the makefile's build rules see the fake
# CLI as up to date (there is nothing under cli/ or tensor/ in the scratch tree).
mkdir -p "$dest/fakebin" && cp "$fix/bin/sbatch" "$dest/fakebin/sbatch"
touch -d '2 hours ago' "$dest/build/libmechdrift.a"
touch -d '1 hour ago' "$dest/bin/mechdrift"
# A stand-in Hugging Face folder for MODEL=...
mkdir -p "$dest/hf-model" && echo '{}' > "$dest/hf-model/config.json" && echo weights > "$dest/hf-model/model.safetensors"
