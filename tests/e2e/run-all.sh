#!/bin/bash
# run-all.sh - runs every tests/e2e/test-*.sh (each builds its own lab with a
# unique namespace prefix and tears it down), prints each suite's result and
# the total. Exit status 0 only when every suite passed.
#
#   run-all.sh [PATTERN]   only the suites whose name contains PATTERN; a
#                          whole suite name (test-reapply) is that suite only
#   E2E_VERBOSE=1          show every suite's output, not only failing ones
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "run-all.sh: the end-to-end tests need root (network namespaces, nftables): run as root" >&2
	exit 2
fi
# Each suite runs in a private mount namespace with tmpfs on /var/lib/segd
# and /run/segd, so that a segd started on a configuration with the default
# state_dir, spool or control socket never writes the host's. Suites that
# start their own journald see SEGD_TEST_MNTNS and do not re-exec.
run_suite() {
	SEGD_TEST_MNTNS=1 unshare -m --propagation private bash -c '
		for d in /var/lib/segd /run/segd; do
			mkdir -p "$d" && mount -t tmpfs -o mode=0750 segd-test "$d" || exit 97
		done
		exec bash "$0"' "$1"
}

total_pass=0 total_fail=0 bad_suites=() log=$(mktemp /tmp/segd-e2e-log.XXXXXX)
trap 'rm -f "$log"' EXIT
printf '%-28s %8s %8s %8s\n' suite passed failed seconds
for t in "$DIR"/test-*.sh; do
	name=$(basename "$t" .sh)
	if [ -f "$DIR/${1:-}.sh" ]; then [ "$name" = "$1" ] || continue
	else case $name in *"${1:-}"*) ;; *) continue ;; esac; fi
	start=$(date +%s.%N)
	NO_COLOR=1 run_suite "$t" >"$log" 2>&1
	rc=$?
	secs=$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { printf "%.1f", a - b }')
	# the suite's own count: the last "N passed, N failed" line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	p=$(echo "$line" | awk '{ print $1 }') f=$(echo "$line" | awk '{ print $3 }')
	if [ -z "$line" ]; then p=0 f=1; fi
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi   # died without counting its failure
	total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
	printf '%-28s %8s %8s %8s%s\n' "$name" "$p" "$f" "$secs" "$([ "$rc" = 0 ] || echo "   FAILED (exit $rc)")"
	if [ "$rc" != 0 ] || [ -n "${E2E_VERBOSE:-}" ]; then
		[ "$rc" != 0 ] && bad_suites+=("$name")
		sed 's/^/    | /' "$log"
	fi
done
echo
[ ${#bad_suites[@]} -gt 0 ] && echo "failed suites: ${bad_suites[*]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ] && [ ${#bad_suites[@]} = 0 ]
