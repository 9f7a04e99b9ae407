# daemon-lib.sh - shared by the daemon's end-to-end tests (test-daemon.sh,
# test-control.sh, test-tamper.sh, test-failclosed.sh); sourced after lib.sh.
#
#   daemon_reexec "$@"          first line of a test: re-run in a private mount
#                               namespace, where journald.sh runs a real journald
#   daemon_lab_up CONFIG        lab_up, the journald, and a trap that stops all
#   notify_start [--freeze-on A] a NOTIFY_SOCKET reader (tools/notify.py); notify_stop
#   notify_count ASSIGNMENT [SINCE]   datagrams carrying it (after line SINCE)
#   notify_sync                 until the reader has logged everything sent so far
#   gen_now                     the gateway's current nftables generation
#   gens_caught_up FILE GEN0    genmon.py's FILE (started at generation GEN0) shows every commit so far
#   (wait_until SECONDS CMD... is lib.sh's)
#   journal_event EVENT         segd's journal entries of SEGD_EVENT=EVENT (JSON lines)
#   jget FIELD                  the field of each JSON line on stdin
#   segctl_status KEY           one key of `segctl status --json`
source "$E2E_DIR/journald.sh"

NOTIFY_PID=""
NOTIFY_LOG=""

daemon_reexec() { journal_reexec /bin/bash "$0" "$@"; }

daemon_down() {
	trap "" INT TERM
	if [ -n "$NOTIFY_PID" ]; then kill "$NOTIFY_PID" 2>/dev/null; wait "$NOTIFY_PID" 2>/dev/null; fi
	NOTIFY_PID=""
	lab_down
	journal_stop
}

daemon_trap() {
	trap 'daemon_down' EXIT
	trap 'daemon_down; exit 130' INT
	trap 'daemon_down; exit 143' TERM
}

daemon_lab_up() {
	lab_up "$1" || return 1
	daemon_trap
	journal_start
}

notify_start() {
	notify_stop
	NOTIFY_LOG=$RUN_DIR/notify.log
	: >"$NOTIFY_LOG"
	rm -f "$RUN_DIR/notify.sock"
	"$PY" "$TOOLS/notify.py" "$RUN_DIR/notify.sock" "$NOTIFY_LOG" "$@" &
	NOTIFY_PID=$!
	wait_until 5 test -S "$RUN_DIR/notify.sock" || return 1
	export NOTIFY_SOCKET=$RUN_DIR/notify.sock
}

notify_stop() {
	if [ -n "$NOTIFY_PID" ]; then kill "$NOTIFY_PID" 2>/dev/null; wait "$NOTIFY_PID" 2>/dev/null; fi
	NOTIFY_PID=""
}

notify_count() {
	tail -n +"$((${2:-0} + 1))" "$NOTIFY_LOG" | awk -v a="$1" '$3 == a' | wc -l
}

notify_mark() { wc -l <"$NOTIFY_LOG"; }

# notify_sync: sends a datagram of our own to the notification socket and
# waits until the reader has logged it. Datagrams are read in the order they
# arrived, so whatever a process sent before it exited is in the log by then:
# a check that something was NOT sent needs this first, not a sleep.
NOTIFY_SYNCS=0
notify_sync() {
	NOTIFY_SYNCS=$((NOTIFY_SYNCS + 1))
	"$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(sys.argv[2].encode(), sys.argv[1])' \
		"$NOTIFY_SOCKET" "E2E_SYNC=$$.$NOTIFY_SYNCS" || return 1
	wait_until 60 grep -q " E2E_SYNC=$$.$NOTIFY_SYNCS\$" "$NOTIFY_LOG"
}


journal_event() { journal_read SEGD_EVENT="$1"; }

jget() { "$PY" -c 'import json,sys
for l in sys.stdin:
    v = json.loads(l).get(sys.argv[1])
    if v is not None: print(v if isinstance(v, str) else bytes(v).decode())' "$1"; }

segctl_status() {
	"$SEGCTL" -c "$SEGD_CONF" status --json 2>/dev/null |
		"$PY" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"
}

gen_now() { ip netns exec "$LAB_GW" "$PY" "$TOOLS/genmon.py" --now; }
# events arrive in order: once the monitor printed the current generation, it
# has printed every commit before it (and with none since GEN0, nothing is due)
gens_caught_up() {
	local cur
	cur=$(gen_now) || return 1
	[ "$cur" -le "$2" ] || awk -v g="$cur" '$1 == "#" && $3 == "generation" && $4 >= g { f = 1 } END { exit !f }' "$1"
}

# kernel's listing with handles: byte-identical means nothing was re-applied
table_handles() { ip netns exec "$LAB_GW" nft -a list table inet "$LAB_TABLE" 2>/dev/null; }

# fault_gateway ENTRIES: the set-up of the transaction fault suites (no
# hosts, no traffic): RUN_DIR/nlfault.so built, the gateway namespace
# LAB_GW, two generated configurations of ENTRIES entries (seeds 1 and 2)
# localized into RUN_DIR as c1.conf and c2.conf, LAB_TABLE their table.
# Exits the suite (with its summary) when any of it fails.
fault_gateway() {
	local s
	cc -shared -fPIC -o "$RUN_DIR/nlfault.so" "$TOOLS/nlfault.c" -ldl || { fail "nlfault.c builds"; summary; exit 1; }
	LAB_GW=${LAB_PREFIX}gw
	ip netns add "$LAB_GW" || { fail "ip netns add $LAB_GW"; summary; exit 1; }
	for s in 1 2; do
		"$PY" "$TOP/tools/bench/gen.py" --entries "$1" --seed "$s" --dir "$RUN_DIR" --name "g$s" >/dev/null &&
			"$PY" "$TOOLS/lab.py" localize "$RUN_DIR/g$s.conf" "$RUN_DIR/c$s.conf" "$RUN_DIR" ||
			{ fail "configuration $s generated"; summary; exit 1; }
	done
	LAB_TABLE=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import libconf
print(libconf.loads(open(sys.argv[2], encoding="utf-8").read())["settings"]["table"])' "$TOOLS" "$RUN_DIR/c1.conf")
}
