#!/usr/bin/env bash
# gemm-avx512-emu.sh: runs tests/test_gemm on the AVX-512 and AVX512_BF16 GEMM kernels on a
# CPU without AVX-512, by compiling every *_avx512*.c against SIMDe's portable emulation
# (Debian package libsimde-dev; tools/simde-shim/immintrin.h maps the intrinsics) in a
# copy of the tree whose tensor/isa.c is patched to report AVX-512 (+ BF16). It checks
# layouts, indices, masks and edges, not speed, and SIMDe rounds vdpbf16ps differently
# from hardware (the test bounds cover both). Nothing in the working tree is modified.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ ! -f /usr/include/simde/x86/avx512.h ]; then
  echo "gemm-avx512-emu: needs SIMDe headers: apt-get install libsimde-dev" >&2
  exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/gemm-emu.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$root" && tar --exclude='./build*' --exclude=./bin --exclude=./.git --exclude=./results -cf - .) | tar -xf - -C "$work"
# Report AVX-512 (MD_FAKE_AVX512=1: with BF16, =nobf16: without) in the copy only.
sed -i 's|^\(\s*\)caps = detect();|\1caps = detect();\n\1if (getenv("MD_FAKE_AVX512")) caps.avx512 = true, caps.bf16 = strcmp(getenv("MD_FAKE_AVX512"), "nobf16") != 0;|' "$work/tensor/isa.c"
grep -q MD_FAKE_AVX512 "$work/tensor/isa.c" || { echo "gemm-avx512-emu: could not patch tensor/isa.c" >&2; exit 1; }
emu="-I$root/tools/simde-shim -Wno-unused-function -Wno-psabi"
make -C "$work" -j2 BUILD=b BIN=b/bin "FLAGS_avx512=$emu" "FLAGS_avx512bf16=$emu" b/tests/test_gemm >/dev/null
status=0
for fake in 1 nobf16; do
  echo "== emulated AVX-512 ($([ $fake = 1 ] && echo with || echo without) AVX512_BF16)"
  MD_FAKE_AVX512=$fake MECHDRIFT_ISA=avx512 "$work/b/tests/test_gemm" || status=1
done
exit $status
