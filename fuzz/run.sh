#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build-fuzz/) and runs each for
# SECONDS (default 10), seeded from fuzz/seeds, the project's captures, the
# shipped scenarios and the field captures (corpus/field, split into
# single telegrams). New inputs the fuzzer finds stay in
# build-fuzz/corpus/NAME; a crash is written to fuzz/out/ and fails the run:
# copy it to fuzz/regressions/NAME/ and the test suite replays it for good.
#
#   fuzz/run.sh [SECONDS] [TARGET...]      e.g. fuzz/run.sh 600 p1 tic
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(p1 tic scenario config http modbus)

scripts/setup.sh
CC=clang cmake -S . -B build-fuzz -G Ninja -DSC_FUZZ=ON -DSC_WERROR=ON \
	-DSC_BUILD_TESTS=OFF -DSC_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

field="corpus/field"
split="build-fuzz/field-seeds"
if [ -d "$field" ] && [ ! -d "$split" ]; then
	# One file per telegram or frame of every field capture (at most 200 of
	# each capture): whole captures are longer than the fuzzer's inputs.
	/usr/bin/python3 - "$field" "$split" <<'EOF'
import os, re, sys
src, out = sys.argv[1], sys.argv[2]
for kind, rx in (("p1", rb"/[^!]*![0-9A-Fa-f]{0,4}\r?\n?"), ("tic", rb"\x02[^\x03]*\x03")):
    os.makedirs(os.path.join(out, kind), exist_ok=True)
    top = os.path.join(src, kind)
    for name in sorted(os.listdir(top)) if os.path.isdir(top) else []:
        with open(os.path.join(top, name), "rb") as f:
            data = f.read()
        for i, m in enumerate(re.finditer(rx, data, re.S)):
            if i >= 200:
                break
            with open(os.path.join(out, kind, "%s.%d" % (name, i)), "wb") as g:
                g.write(m.group(0))
EOF
fi

mkdir -p fuzz/out
rc=0
for t in "${targets[@]}"; do
	seeds=("fuzz/seeds/$t")
	case "$t" in
	p1) seeds+=(corpus/p1 "$split/p1") ;;
	tic) seeds+=(corpus/tic "$split/tic") ;;
	scenario) seeds=(scenarios) ;;
	esac
	[ -d "fuzz/regressions/$t" ] && seeds+=("fuzz/regressions/$t")
	have=()
	for s in "${seeds[@]}"; do [ -d "$s" ] && have+=("$s"); done
	work="build-fuzz/corpus/$t"
	mkdir -p "$work"
	echo "== fuzz_$t for ${seconds} s (seeds: ${have[*]})"
	if ! build-fuzz/fuzz/fuzz_"$t" -max_total_time="$seconds" -max_len=8192 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="fuzz/out/$t-" \
		"$work" "${have[@]}" 2>"build-fuzz/fuzz_$t.log"; then
		echo "fuzz_$t: FAILED, see build-fuzz/fuzz_$t.log and fuzz/out/$t-*"
		tail -n 40 "build-fuzz/fuzz_$t.log"
		rc=1
		continue
	fi
	# The figures: executions, speed, coverage (edges), corpus size.
	grep -E "stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb" \
		"build-fuzz/fuzz_$t.log" | sed 's/^/  /'
	grep -E "^#[0-9]+.*(DONE|pulse|REDUCE|NEW)" "build-fuzz/fuzz_$t.log" | tail -n 1 | sed 's/^/  last: /'
done
exit "$rc"
