#!/usr/bin/env bash
# Rewrites the generated captures in corpus/ from corpus/MANIFEST, with
# the readings sc-telegram parse gives for them (.expected.jsonl). Run after
# an intended change of the generator or of the output format, and review
# the diff before committing it.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=build/sim/sc-telegram
[ -x "$tool" ] || scripts/build.sh build
while IFS=$'\t' read -r file args; do
  case "$file" in ''|'#'*) continue ;; esac
  # shellcheck disable=SC2086
  "$tool" gen $args > "corpus/$file"
  "$tool" parse "corpus/$file" > "corpus/${file%.*}.expected.jsonl" 2>/dev/null || true
  echo "corpus/$file"
done < corpus/MANIFEST
