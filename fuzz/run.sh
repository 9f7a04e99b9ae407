#!/bin/bash
# run.sh - runs each libFuzzer target for SECONDS over its committed seed
# corpus (fuzz/corpus/<target>, read only) and a working corpus under
# build/fuzz/corpus/<target> (kept between runs, not committed), then prints
# one line per target: execs, libFuzzer's cov: (edges) and ft: (features),
# corpus size, and the verdict. Called by `make fuzz` and `make fuzz-ci`.
#
#   fuzz/run.sh SECONDS TARGET...
#
# The seeds: fuzz/corpus/<target> plus the test inputs kept elsewhere in the
# tree (configurations of conf/ and tests/configs/, NFLOG captures of
# tests/nflog/), read where they are so that the two never drift apart.
#
# A crash, leak, timeout or out-of-memory leaves build/fuzz/artifacts/
# <target>-crash-* (or leak-, timeout-, oom-): turn it into a regression
# input with `cp ARTIFACT tests/regress/<target>/<what-it-was>` once fixed
# (tests/unit/test_regress.c replays that directory). Exit 1 if any target
# found something.
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
B="$TOP/build/fuzz"
secs=${1:?usage: run.sh SECONDS TARGET...}
shift
mkdir -p "$B/artifacts" "$B/logs"
bad=()
seeds() {
	echo "$TOP/fuzz/corpus/$1"
	case $1 in
	config) echo "$TOP/conf" "$TOP/tests/configs/good" "$TOP/tests/configs/bad" ;;
	nflog)  echo "$TOP/tests/nflog" ;;
	esac
}
printf '%-10s %10s %8s %8s %8s %8s  %s\n' target execs exec/s cov ft corpus result
for t in "$@"; do
	mkdir -p "$B/corpus/$t"
	log="$B/logs/$t.log"
	# -timeout: an input that takes 10 s is a finding (a hang in segd);
	# -rss_limit_mb: the default 2 GiB; -use_value_profile: compare operands
	# guide the search (prefix letters, magic numbers)
	LSAN_OPTIONS="suppressions=$TOP/fuzz/lsan.supp:print_suppressions=0" "$B/bin/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -use_value_profile=1 \
		-print_final_stats=1 -artifact_prefix="$B/artifacts/$t-" \
		"$B/corpus/$t" $(seeds "$t") >"$log" 2>&1
	rc=$?
	execs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$log")
	rate=$(awk '/stat::average_exec_per_sec:/ { print $2 }' "$log")
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p')
	result=ok
	if [ "$rc" != 0 ]; then
		result="FOUND SOMETHING (exit $rc): $(grep -m1 -E 'ERROR: |SUMMARY: ' "$log")"
		bad+=("$t")
	fi
	printf '%-10s %10s %8s %8s %8s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
		"${corp:-?}" "$result"
done
if [ ${#bad[@]} -gt 0 ]; then
	echo "fuzz: findings in ${bad[*]}: see build/fuzz/logs/ and build/fuzz/artifacts/" >&2
	exit 1
fi
