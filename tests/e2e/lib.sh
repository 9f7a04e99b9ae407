# lib.sh - sourced by tests/e2e/test-*.sh and tools/demo.sh.
#
# A lab of network namespaces built from a segd configuration, segd running in
# its gateway, and TAP-like assertion helpers. Every namespace of a run carries
# the prefix "sg<pid>-"; lab_down (installed as a trap by lab_up) kills what
# runs inside them and deletes them. The host's own network namespace is never
# configured: links are created directly inside the lab's namespaces.
#
#   lab_up CONFIG [EXTRA_ADDRS SEED]   build the lab (sets LAB_GW, LAB_TABLE, RUN_DIR)
#   lab_ns ZONE                         the host namespace of a zone
#   start_segd CONFIG                   segd -c <copy of CONFIG> in the gateway (SEGD_PID, SEGD_CONF)
#   reload_segd                         SIGHUP, and wait for the table to change
#   ok MSG / fail MSG / check MSG CMD... / tap CMD...   assertions; summary at the end
#   wait_until SECONDS CMD...           polls CMD every 10 ms until it succeeds (1 when SECONDS pass)
#   wait_listen NS PORT [tcp|udp] [N]   until N (1) sockets in namespace NS listen on PORT
#   pair_drops FROM TO                  packets the table's drop rules counted from zone FROM to TO

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$E2E_DIR/../.." && pwd)
TOOLS="$E2E_DIR/tools"
PY=/usr/bin/python3
SEGCTL="${E2E_SEGCTL:-$TOP/build/segctl}" # E2E_SEGCTL: another segctl (development)
SEGD="${E2E_SEGD:-$TOP/build/segd}"   # E2E_SEGD: another daemon (development)
LAB_PREFIX="sg$$-"
source "$E2E_DIR/tools/dates.sh"   # EXPIRES, fake_date
RUN_DIR=""
LAB_GW=""
LAB_TABLE=""
SEGD_PID=""
SEGD_CONF=""
E2E_PASSED=0
E2E_FAILED=0

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	C_OK=$'\e[32m' C_BAD=$'\e[31;1m' C_HEAD=$'\e[1m' C_DIM=$'\e[2m' C_OFF=$'\e[0m'
else
	C_OK="" C_BAD="" C_HEAD="" C_DIM="" C_OFF=""
fi

require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "$(basename "$0"): needs root (network namespaces, nftables); run as root" >&2
		exit 2
	fi
}

# ------------------------------------------------------------------ assertions

ok()   { E2E_PASSED=$((E2E_PASSED + 1)); echo "${C_OK}ok${C_OFF}   $*"; }
fail() { E2E_FAILED=$((E2E_FAILED + 1)); echo "${C_BAD}FAIL${C_OFF} $*"; }
heading() { echo; echo "${C_HEAD}== $* ==${C_OFF}"; }

# check MSG CMD...: ok when CMD succeeds.
check() {
	local msg=$1 out; shift
	out=$(mktemp /tmp/segd-e2e-check.XXXXXX)
	if "$@" >"$out" 2>&1; then ok "$msg"; else
		fail "$msg"; sed 's/^/       /' "$out" | head -20
	fi
	rm -f "$out"
}

# tap CMD...: runs a driver that prints "ok - MSG" / "not ok - MSG" lines and
# counts them; other lines are shown as they are. A driver that dies counts
# as a failure. It runs in the background so that a signal reaches our trap
# at once, and lab_down stops it (TAP_PID).
TAP_PID=""
tap() {
	local line rc out
	out=$(mktemp /tmp/segd-e2e-tap.XXXXXX)
	"$@" >"$out" 2>&1 &
	TAP_PID=$!
	wait "$TAP_PID"
	rc=$?
	TAP_PID=""
	while IFS= read -r line; do
		case $line in
		"ok - "*)     ok "${line#ok - }" ;;
		"not ok - "*) fail "${line#not ok - }" ;;
		*)            echo "     $line" ;;
		esac
	done <"$out"
	rm -f "$out"
	if [ "$rc" != 0 ]; then fail "driver '$*' exited with status $rc"; fi
}

summary() {
	echo
	echo "$E2E_PASSED passed, $E2E_FAILED failed"
	[ "$E2E_FAILED" = 0 ]
}

# ------------------------------------------------------------------ waiting

# wait_until SECONDS CMD...: polls CMD every 10 ms until it succeeds; returns 1
# once SECONDS (may have a fraction) have passed. The ceiling only bounds a
# failure: a test waits for what the product exposes, never for a fixed time.
wait_until() {
	local end secs=$1
	end=$(awk -v s="$secs" -v n="$(date +%s%N)" 'BEGIN { printf "%.0f", n + s * 1e9 }'); shift
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.01
	done
}

# wait_listen NS PORT [tcp|udp]: until a socket in network namespace NS is
# bound (TCP: listening) on PORT, up to 30 s.
listening() { [ "$(ip netns exec "$1" ss "$3" "sport = :$2" 2>/dev/null | wc -l)" -ge "${4:-1}" ]; }
wait_listen() {
	local opt=-Hltn
	[ "${3:-tcp}" = udp ] && opt=-Hlun
	wait_until 30 listening "$1" "$2" "$opt" "${4:-1}"
}

# pair_drops FROM TO: the packets the drop rules of the lab's table counted
# from zone FROM to zone TO (any event): the positive proof that a packet
# which did not arrive was dropped by the table, not merely slow
pair_drops() {
	"$PY" -c 'import json, os, sys
sys.path.insert(0, sys.argv[1]); import netlab
p = json.load(open(os.path.join(sys.argv[2], "lab.json")))
c = netlab.drop_counters(p["gw_ns"], p["table"])
print(sum(v for (ev, f, t), v in c.items() if f == sys.argv[3] and t == sys.argv[4]))' "$TOOLS" "$RUN_DIR" "$1" "$2"
}

# ------------------------------------------------------------------ the lab

lab_namespaces() {
	ip netns list 2>/dev/null | awk -v p="$LAB_PREFIX" 'index($1, p) == 1 { print $1 }'
}

lab_down() {
	local ns pid IFS=$' \t\n'   # a trap may fire inside "IFS= read"
	trap "" INT TERM   # finish the clean-up even when interrupted again
	trap - EXIT
	if [ -n "$TAP_PID" ]; then kill "$TAP_PID" 2>/dev/null; wait "$TAP_PID" 2>/dev/null; fi
	for ns in $(lab_namespaces); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
	done
	for ns in $(lab_namespaces); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	if [ -n "$RUN_DIR" ] && [ -d "$RUN_DIR" ] && [ -z "${E2E_KEEP:-}" ]; then rm -rf "$RUN_DIR"; fi
}

lab_trap() {
	trap 'lab_down' EXIT
	trap 'lab_down; exit 130' INT
	trap 'lab_down; exit 143' TERM
}

# lab_up CONFIG [EXTRA SEED]: EXTRA random addresses per family on each zone's host.
lab_up() {
	local config=$1 extra=${2:-0} seed=${3:-0}
	lab_trap
	RUN_DIR=$(mktemp -d /tmp/segd-e2e.XXXXXX)
	if ! "$PY" "$TOOLS/lab.py" up "$config" "$LAB_PREFIX" "$RUN_DIR" --extra "$extra" --seed "$seed"; then
		echo "lab_up: could not build the lab from $config" >&2
		return 1
	fi
	LAB_GW=$("$PY" "$TOOLS/lab.py" get "$RUN_DIR" gw_ns)
	LAB_TABLE=$("$PY" "$TOOLS/lab.py" get "$RUN_DIR" table)
}

lab_show() { "$PY" "$TOOLS/lab.py" show "$RUN_DIR"; }

lab_ns() { "$PY" "$TOOLS/lab.py" get "$RUN_DIR" zones | awk -v z="$1" '$1 == z { print $2 }'; }

# ------------------------------------------------------------------ segd

table_listing() { ip netns exec "$LAB_GW" nft list table inet "$LAB_TABLE" 2>/dev/null; }

segd_alive() { [ -n "$SEGD_PID" ] && kill -0 "$SEGD_PID" 2>/dev/null; }

# start_segd CONFIG: runs build/segd on a copy of CONFIG (its spool and
# control socket moved into RUN_DIR) in the gateway; waits (up to 120 s: an
# ASan build on a loaded machine is slow, and the ceiling only bounds a
# failure) for the table and the control socket. SEGD_CONF is the copy: edit it and call reload_segd.
start_segd() {
	local i
	SEGD_CONF="$RUN_DIR/segd.conf"
	"$PY" "$TOOLS/lab.py" localize "$1" "$SEGD_CONF" "$RUN_DIR" || return 1
	if [ ! -x "$SEGD" ]; then
		echo "start_segd: $SEGD is missing (make)" >&2
		return 1
	fi
	# A socket file that nobody listens on is what a killed segd left: remove
	# it, so that its presence means this segd opened it (after its first
	# apply). The table alone proves nothing: an owned table outlives its segd.
	# Readiness is not asked over the socket: a test may freeze segd.
	local sock="$RUN_DIR/control.sock"
	if [ -S "$sock" ] && ! "$PY" -c 'import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).connect(sys.argv[1])' "$sock" 2>/dev/null; then
		rm -f "$sock"
	fi
	ip netns exec "$LAB_GW" "$SEGD" -c "$SEGD_CONF" >"$RUN_DIR/segd.log" 2>&1 &
	SEGD_PID=$!
	for i in $(seq 1200); do
		segd_alive || break
		if table_listing >/dev/null && [ -S "$sock" ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "start_segd: segd did not install table inet $LAB_TABLE and answer on its control socket; its output:" >&2
	sed 's/^/  /' "$RUN_DIR/segd.log" >&2
	return 1
}

# reload_segd: SIGHUP, then wait (up to 60 s) until the kernel's table differs
# from before (counters aside: traffic moves them without any reload). Prints the seconds the re-apply took.
table_rules() { table_listing | sed -E 's/packets [0-9]+ bytes [0-9]+//'; }
reload_segd() {
	local before t0 i
	before=$(table_rules | md5sum)
	t0=$(date +%s.%N)
	kill -HUP "$SEGD_PID" || return 1
	for i in $(seq 6000); do
		if [ "$(table_rules | md5sum)" != "$before" ]; then
			awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.3f\n", a - b }'
			return 0
		fi
		sleep 0.01
	done
	return 1
}

stop_segd() {
	if segd_alive; then
		kill "$SEGD_PID" 2>/dev/null
		wait "$SEGD_PID" 2>/dev/null
	fi
	SEGD_PID=""
}

# Without segd (while it is being written): load `segctl rules` with nft.
load_rules_with_nft() {
	"$SEGCTL" rules "$1" | ip netns exec "$LAB_GW" nft -f -
}
