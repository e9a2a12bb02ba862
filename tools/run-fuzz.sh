#!/usr/bin/env bash
# run-fuzz.sh FUZZ_SRC...: builds each libFuzzer target (tests/fuzz/fuzz_NAME.c) with
# Debian's clang and ASan+UBSan into build-fuzz/, runs it for FUZZ_SECONDS (default 60)
# on a copy of its seed corpus tests/fuzz/corpus/NAME/, and exits non-zero if any target
# finds a crash, leak, UB, timeout or out-of-memory, naming the target and the input.
#
# The targets exercise the file parsers only, so only the sources they need are compiled
# (no OpenMP, no SIMD kernels): a half-finished file elsewhere in the tree cannot break
# the fuzz build, and clang's missing libomp does not matter.
set -u
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
OUT=build-fuzz
SOURCES="tensor/error.c tensor/fileio.c tensor/json.c tensor/json_write.c tensor/tensor.c
         tensor/npy.c tensor/safetensors.c"
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -fno-omit-frame-pointer -ffp-contract=off -I."

[ $# -gt 0 ] || set -- tests/fuzz/fuzz_*.c
command -v "$CLANG" >/dev/null || { echo "run-fuzz: $CLANG not found (apt-get install clang libclang-rt-14-dev)"; exit 1; }
mkdir -p "$OUT/artifacts"
failed=(); summary=()
for src in "$@"; do
  name=$(basename "$src" .c)      # fuzz_json
  target=${name#fuzz_}            # json
  echo "=================== $name: build"
  # shellcheck disable=SC2086
  if ! $CLANG $FLAGS "$src" $SOURCES -lm -o "$OUT/$name"; then
    failed+=("$name: build failed"); continue
  fi
  corpus="$OUT/corpus/$name"
  rm -rf "$corpus"; mkdir -p "$corpus"
  [ -d "tests/fuzz/corpus/$target" ] && cp -r "tests/fuzz/corpus/$target/." "$corpus/"
  dict=(); [ -f "tests/fuzz/$target.dict" ] && dict=(-dict="tests/fuzz/$target.dict")
  log="$OUT/$name.log"
  echo "=================== $name: ${FUZZ_SECONDS} s on $(ls "$corpus" | wc -l) seeds"
  "$OUT/$name" "$corpus" "${dict[@]}" -max_total_time="$FUZZ_SECONDS" -timeout=10 \
      -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
      -artifact_prefix="$OUT/artifacts/$name-" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1)
  summary+=("$(printf '%-20s %12s executions  %-10s exit %d' "$name" "${execs:-?}" "$cov" "$rc")")
  if [ "$rc" -ne 0 ]; then
    art=$(grep -o "$OUT/artifacts/$name-[^ ]*" "$log" | tail -n1)
    what=$(grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|deadly signal' "$log")
    failed+=("$name: ${what:-exit $rc} (input: ${art:-see $log})")
    tail -n 40 "$log"
  fi
done
echo
echo "fuzzing summary (${FUZZ_SECONDS} s per target; logs in $OUT/*.log):"
for s in "${summary[@]}"; do echo "  $s"; done
for f in "${failed[@]+"${failed[@]}"}"; do echo "  FINDING: $f"; done
[ "${#failed[@]}" -eq 0 ]
