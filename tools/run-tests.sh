#!/usr/bin/env bash
# run-tests.sh TEST_BIN...: runs every cmocka test binary once per ISA path this CPU
# supports (generic, avx2, avx512 as available), so the portable fallbacks are proven on
# every run. Each binary prints cmocka's own summary; the last line counts binaries.
set -u
BIN=${BIN:-bin}
isas=$("$BIN/mechdrift" isa --list) || { echo "run-tests: $BIN/mechdrift isa --list failed"; exit 1; }
passed=0; failed=0; failures=()
start=$(date +%s)
for isa in $isas; do
  echo "=================== ISA path: $isa"
  for t in "$@"; do
    name=$(basename "$t")
    # ISA-independent tests (no kernels inside) only need one pass: they say so by name.
    case "$name" in test_noisa_*) [ "$isa" = "$(echo "$isas" | tail -n1)" ] || continue;; esac
    t0=$(date +%s.%N)
    if MECHDRIFT_ISA=$isa CMOCKA_MESSAGE_OUTPUT=stdout "$t"; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1)); failures+=("$name [$isa]")
    fi
    awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$name" -v i="$isa" 'BEGIN{printf "  (%s on %s: %.1f s)\n", n, i, b-a}'
  done
done
echo
echo "test binaries x ISA paths, $(( $(date +%s) - start )) s:"
for f in "${failures[@]+"${failures[@]}"}"; do echo "  FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
