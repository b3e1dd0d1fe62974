#!/usr/bin/env bash
# Rewrites the generated captures in corpus/p1 from corpus/p1/MANIFEST, with
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
  "$tool" gen $args > "corpus/p1/$file"
  "$tool" parse "corpus/p1/$file" > "corpus/p1/${file%.p1}.expected.jsonl" 2>/dev/null
  echo "corpus/p1/$file"
done < corpus/p1/MANIFEST
