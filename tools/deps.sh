#!/usr/bin/env bash
# deps.sh install|check: the Debian packages in tools/debian-packages.txt.
#   install: apt-get install them when root, else print the exact command.
#   check:   say which are missing; when root (e.g. a fresh machine or CI) install
#            them, otherwise fail with the command to run.
# npm is wanted too (the tokenizer parity test runs npm's gpt-3-encoder); it comes with
# some nodejs builds and is a separate Debian package otherwise, so it is handled apart.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-check}
mapfile -t pkgs < <(grep -v -E '^\s*(#|$)' tools/debian-packages.txt)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ "$mode" = check ] && [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$mode" = install ] && [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} Debian packages are installed"; exit 0
fi

cmd="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
# MECHDRIFT_DEPS_NO_INSTALL=1 only reports (used by the tests, and by anyone who wants
# to see the command without running it).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -z "${MECHDRIFT_DEPS_NO_INSTALL:-}" ]; then
  echo "deps: installing missing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: install them with:  sudo sh -c '$cmd'" >&2
  exit 1
fi
