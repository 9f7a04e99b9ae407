#!/bin/bash
# bench.sh - `make bench`: segd against the tools an administrator would
# otherwise use, in one run, on this machine (issue 6; docs/benchmarks.md).
#
# Everything runs in network namespaces that this script creates (prefix
# sb<pid>-) and removes from a trap, inside a private mount namespace that
# holds a throw-away systemd-journald (tests/e2e/journald.sh). The
# configurations come from tools/bench/gen.py with fixed seeds. Each figure is
# measured RUNS times (default 3); the table printed at the end gives the
# median with min and max, the baseline measured in the same run, their ratio
# and the goal of the issue.
#
#   BENCH_RUNS=N       runs per figure (>= 3 for the table of record)
#   BENCH_SECONDS=S    duration of one forwarding measurement (default 2)
#   BENCH_FWD_RUNS=N   forwarding rounds (default max(RUNS, 5): pps is noisy on 2 CPUs)
#   BENCH_SIZES="..."  install sizes (default "100 1000 10000 100000")
#   BENCH_KEEP=1       keep the run directory (configs, logs, rows.tsv)
#   BENCH_FLOOD=N      packets of one flood (default 250000)
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BT="$TOP/tools/bench"
PY=/usr/bin/python3
SEGD="${BENCH_SEGD:-$TOP/build/segd}"        # BENCH_SEGD/BENCH_SEGCTL/BENCH_OBJ: another build
SEGCTL="${BENCH_SEGCTL:-$TOP/build/segctl}"
OBJ="${BENCH_OBJ:-$TOP/build/o}"
source "$TOP/tests/e2e/journald.sh"

if [ "$(id -u)" != 0 ]; then
	echo "bench: needs root (network namespaces, nftables): run as root" >&2
	exit 2
fi
journal_reexec bash "$0" "$@"

RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-2}
FWD_RUNS=${BENCH_FWD_RUNS:-$((RUNS > 5 ? RUNS : 5))}
SIZES=${BENCH_SIZES:-"100 1000 10000 100000"}
SHAPES="z10 z10000 z100000 d10 d10000 d100000 q10 q10000 q100000"
P="sb$$-"
RUN=$(mktemp -d /tmp/segd-bench.XXXXXX)
BIN="$TOP/build/bench"
ROWS="$RUN/rows.tsv"
TABLE=segd_bench
LINEAR=bench_linear
GROUP=9
T_START=$(date +%s)

# ------------------------------------------------------------------ clean-up

cleanup() {
	local ns pid
	trap "" INT TERM
	trap - EXIT
	for ns in $(ip netns list 2>/dev/null | awk -v p="$P" 'index($1, p) == 1 { print $1 }'); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	journal_stop
	if [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$RUN"; else echo "bench: kept $RUN"; fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

say() { printf '[%4ds] %s\n' $(($(date +%s) - T_START)) "$*" >&2; }
die() { say "error: $*"; exit 1; }

# row LABEL UNIT "FIGURES" BASELABEL "BASELINES" GOAL: one line of the table.
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"; }

# jget FILE KEY: a value of a JSON object (lists: space-separated).
jget() {
	"$PY" -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]
print(" ".join(map(str, v)) if isinstance(v, list) else v)' "$1" "$2"
}

nsx() { local ns=$1; shift; ip netns exec "$P$ns" "$@"; }

# ------------------------------------------------------------------ preparation

prepare() {
	local n
	"$TOP/tools/install-deps.sh" || die "tools/install-deps.sh failed (iperf3, tcpdump, ...)"
	say "building the helpers; generating configurations (seed 1)"
	mkdir -p "$BIN"
	cc -O2 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -o "$BIN/udpsend" "$BT/udpsend.c" ||
		die "udpsend does not build"
	cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$TOP/lib" -o "$BIN/decide_bench" "$BT/decide_bench.c" \
		"$OBJ"/lib/[a-z]*.o $(pkg-config --libs libnftnl libmnl libpcap libconfig libsystemd) ||
		die "decide_bench does not build"
	for n in 10 100 1000 10000 100000; do
		"$PY" "$BT/gen.py" --entries "$n" --seed 1 --dir "$RUN" --name "e$n" --group $GROUP \
			--table $TABLE --linear-table $LINEAR || die "gen.py $n"
	done
	"$PY" "$BT/gen.py" --entries 10000 --seed 2 --dir "$RUN" --name r10000 --ranges --group $GROUP \
		--table $TABLE --linear-table $LINEAR || die "gen.py ranges"
	# the shapes of issue 14, each at 10, 10,000 and 100,000 entries in the
	# probe's own pair: z (whole-zone sources), d (destination prefixes), q
	# (port ranges); r100000 completes the mixed ranges/prefixes shape
	"$PY" "$BT/gen.py" --entries 100000 --seed 2 --dir "$RUN" --name r100000 --ranges --group $GROUP \
		--table $TABLE --linear-table $LINEAR || die "gen.py ranges 100000"
	local sh
	for sh in z:zone d:prefix q:portrange; do
		for n in 10 10000 100000; do
			"$PY" "$BT/gen.py" --entries "$n" --seed 3 --dir "$RUN" --name "${sh%%:*}$n" --shape "${sh#*:}" \
				--group $GROUP --table $TABLE --linear-table $LINEAR || die "gen.py --shape ${sh#*:} $n"
		done
	done
	for n in e10 e100 e1000 e10000 e100000 r10000 r100000 $SHAPES; do
		"$SEGD" -n -c "$RUN/$n.conf" 2>"$RUN/$n.check" || die "$n.conf is invalid: $(head -3 "$RUN/$n.check")"
		"$SEGCTL" rules "$RUN/$n.conf" >"$RUN/$n.nft" || die "segctl rules $n"
	done
	journal_start || die "journald does not start"
}

# ------------------------------------------------------------------ install

# One size: RUNS x (segd start + one SIGHUP re-apply in a fresh namespace;
# nft -f fresh, nft -f again over the loaded table). SHAPE: the configuration
# prefix (e: exact hosts over every pair; r, z, d, q: the other shapes, at
# 100,000 only install, re-apply and memory).
bench_install() {
	local n=$1 shape=${2:-e} i j out="$RUN/inst$1" goal_t="" goal_m=""
	local inst=() ms=() ready=() restores=() re=() rems=() hwm=() hwmf=() steady=() nft=() nftre=() nftkb=() nftrekb=()
	local extra=() chs=() chms=() tas=() tams=() chcm=() tacm=() tasn=()
	local what="$n entries"
	[ "$shape" = e ] || what="$n entries, shape $(shape_name "$shape")"
	say "install: $what ($RUNS runs)"
	if [ "$n" = 100000 ] && [ "$shape" = e ]; then
		# the same file with its first conduit dropped: a re-apply of one changed conduit
		local first
		first=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import libconf
print(libconf.loads(open(sys.argv[2], encoding="utf-8").read())["conduits"][0]["name"])' \
			"$TOP/tests/e2e/tools" "$RUN/e$n.conf")
		"$PY" "$TOP/tests/e2e/tools/lab.py" drop-conduit "$RUN/e$n.conf" "$RUN/e$n.b.conf" "$first" ||
			die "one conduit changed"
		extra=(--change "$RUN/e$n.run.conf" --tamper "$TABLE")
	fi
	for ((i = 0; i < RUNS; i++)); do
		ip netns add "${P}inst"
		# segdrun copies --change over the file it runs: give it copies
		cp "$RUN/$shape$n.conf" "$RUN/$shape$n.run.conf"
		[ ${#extra[@]} -gt 0 ] && cp "$RUN/e$n.b.conf" "$RUN/e$n.run.conf.b" && extra[1]="$RUN/e$n.run.conf.b"
		"$PY" "$BT/segdrun.py" "${P}inst" "$SEGD" "$RUN/$shape$n.run.conf" --reapply 1 --cpu 1 "${extra[@]}" \
			>"$out.json" || die "segd run, $what"
		if [ ${#extra[@]} -gt 0 ]; then
			chs+=("$(jget "$out.json" change_s)") chms+=("$(jget "$out.json" change_ms)")
			tas+=("$(jget "$out.json" tamper_s)") tams+=("$(jget "$out.json" tamper_ms)")
			tasn+=("$(jget "$out.json" tamper_seen_ms)")
			chcm+=("$(jget "$out.json" change_commit_ms)") tacm+=("$(jget "$out.json" tamper_commit_ms)")
		fi
		ip netns del "${P}inst"
		inst+=("$(jget "$out.json" installed_s)") ms+=("$(jget "$out.json" apply_ms)")
		ready+=("$(jget "$out.json" ready_s)") re+=("$(jget "$out.json" reapply_s)")
		restores+=("$(jget "$out.json" restores)")
		rems+=("$(jget "$out.json" reapply_ms)") hwm+=("$(jget "$out.json" hwm_kb)")
		hwmf+=("$(jget "$out.json" hwm_final_kb)") steady+=("$(jget "$out.json" steady_kb)")
		ip netns add "${P}inst"
		read -r t kb rc < <("$PY" "$BT/timed.py" taskset -c 1 ip netns exec "${P}inst" nft -f "$RUN/$shape$n.nft")
		[ "$rc" = 0 ] || die "nft -f $shape$n.nft failed"
		nft+=("$t") nftkb+=("$kb")
		read -r t kb rc < <("$PY" "$BT/timed.py" taskset -c 1 ip netns exec "${P}inst" nft -f "$RUN/$shape$n.nft")
		nftre+=("$t") nftrekb+=("$kb")
		ip netns del "${P}inst"
	done
	if [ "$n" = 100000 ]; then goal_t="ratio<=0.3" goal_m="ratio<=0.25"; fi
	say "  segd's own tamper restores after its install, per run: ${restores[*]}"
	local lab="$n"
	[ "$shape" = e ] || lab="$n ($(shape_name "$shape"))"
	row "install $lab: segd exec->table installed" s "${inst[*]}" "nft -f (fresh)" "${nft[*]}" "$goal_t"
	row "install $lab: segd netlink transaction (logged)" s "$(ms_to_s "${ms[*]}")" "nft -f (fresh)" "${nft[*]}" ""
	row "re-apply $lab: segd SIGHUP->READY" s "${re[*]}" "nft -f (replace)" "${nftre[*]}" "$goal_t"
	row "re-apply $lab: segd transaction (logged)" s "$(ms_to_s "${rems[*]}")" "nft -f (replace)" "${nftre[*]}" ""
	if [ ${#chs[@]} -gt 0 ]; then
		row "re-apply $n, one conduit changed: SIGHUP->READY" s "${chs[*]}" "nft -f (replace)" "${nftre[*]}" "fig<=0.05"
		row "re-apply $n, one conduit changed: apply (read, compare, send)" s "$(ms_to_s "${chms[*]}")" "nft -f (replace)" "${nftre[*]}" ""
		row "re-apply $n, one conduit changed: transaction (commit)" s "$(ms_to_s "${chcm[*]}")" "nft -f (replace)" "${nftre[*]}" "fig<=0.01"
		row "tamper restore $n, one element deleted: change seen->restored (segd)" s "$(ms_to_s "${tasn[*]}")" "nft -f (replace)" "${nftre[*]}" "fig<=0.01"
		row "tamper restore $n, one element deleted: nft started->restore logged" s "${tas[*]}" "nft -f (replace)" "${nftre[*]}" ""
		row "tamper restore $n, one element deleted: transaction (commit)" s "$(ms_to_s "${tacm[*]}")" "nft -f (replace)" "${nftre[*]}" "fig<=0.01"
	fi
	row "peak RSS $lab: segd VmHWM after install" KiB "${hwm[*]}" "nft -f (fresh) maxrss" "${nftkb[*]}" "$goal_m"
	row "peak RSS $lab: segd VmHWM after re-apply" KiB "${hwmf[*]}" "nft -f (replace) maxrss" "${nftrekb[*]}" "$goal_m"
	if [ "$n" = 100000 ] && [ "$shape" = e ]; then
		row "start $n: segd exec->READY=1" s "${ready[*]}" "nft -f (fresh)" "${nft[*]}" ""
		row "steady RSS $n: segd VmRSS 1 s after READY" KiB "${steady[*]}" "nft -f (fresh) maxrss" "${nftkb[*]}" ""
	fi
}

shape_name() {
	case $1 in
	e) echo "exact hosts over every pair" ;; r) echo "ranges and prefixes mixed" ;;
	z) echo "whole-zone sources" ;; d) echo "destination prefixes" ;; q) echo "port ranges" ;;
	esac
}

# The compiler's growth per shape: segd -n (load, validate, compile) at
# 100,000 entries against 10,000 (issue 14: at most 12 times, O(n log n)).
bench_compile() {
	local sh i t10 t100
	say "compile: segd -n at 10,000 and 100,000 entries, every shape ($RUNS runs)"
	for sh in e r z d q; do
		t10=() t100=()
		for ((i = 0; i < RUNS; i++)); do
			read -r t _ _ < <("$PY" "$BT/timed.py" taskset -c 1 "$SEGD" -n -c "$RUN/${sh}10000.conf")
			t10+=("$t")
			read -r t _ _ < <("$PY" "$BT/timed.py" taskset -c 1 "$SEGD" -n -c "$RUN/${sh}100000.conf")
			t100+=("$t")
		done
		row "compile 100,000 vs 10,000 entries ($(shape_name $sh)): segd -n" s "${t100[*]}" "segd -n, 10,000" \
			"${t10[*]}" "ratio<=12"
	done
}

ms_to_s() { local v out=(); for v in $1; do out+=("$(awk -v m="$v" 'BEGIN { printf "%.6f", m / 1000 }')"); done; echo "${out[*]}"; }

# ------------------------------------------------------------------ decisions

bench_decide() {
	local i v=()
	say "decisions: decide_bench 10000 conduits x 1,000,000 flows ($RUNS runs)"
	for ((i = 0; i < RUNS; i++)); do
		v+=("$("$BIN/decide_bench" 10000 1000000 1 | awk '/^decide:/ { print $2 }')")
	done
	row "decisions: flows/s, 10,000-conduit config" flows/s "${v[*]}" "goal" "1000000 1000000 1000000" "fig>=1000000"
}

# ------------------------------------------------------------------ the forwarding lab

# src (lg1 host 10.11.255.1) -- b-lg1 [gw] b-lg2 -- dst (lg2 host 10.12.255.1)
lab_up() {
	local h
	for h in src gw dst; do ip netns add "$P$h" || die "netns $P$h"; done
	ip link add b-lg1 netns "${P}gw" type veth peer name eth0 netns "${P}src" || die "veth"
	ip link add b-lg2 netns "${P}gw" type veth peer name eth0 netns "${P}dst" || die "veth"
	nsx gw ip addr add 10.11.255.254/16 dev b-lg1
	nsx gw ip addr add 10.12.255.254/16 dev b-lg2
	nsx src ip addr add 10.11.255.1/16 dev eth0
	nsx dst ip addr add 10.12.255.1/16 dev eth0
	for h in src gw dst; do nsx $h ip link set lo up; done
	nsx gw ip link set b-lg1 up
	nsx gw ip link set b-lg2 up
	nsx src ip link set eth0 up
	nsx dst ip link set eth0 up
	nsx src ip route add default via 10.11.255.254
	nsx dst ip route add default via 10.12.255.254
	nsx gw sysctl -qw net.ipv4.ip_forward=1
	nsx dst taskset -c 1 iperf3 -s -D -p 5201 >/dev/null || die "iperf3 -s"
	sleep 0.3
}

SEGD_PID=""
# segd_bg CONF LOG: segd in the gateway (CPU 1) until its table is installed.
segd_bg() {
	local i
	ip netns exec "${P}gw" taskset -c 1 "$SEGD" -c "$1" >"$2" 2>&1 &
	SEGD_PID=$!
	for ((i = 0; i < 600; i++)); do
		grep -q "installed table" "$2" 2>/dev/null && break
		kill -0 "$SEGD_PID" 2>/dev/null || die "segd did not install $1: $(tail -3 "$2")"
		sleep 0.05
	done
	log_quiet "$2"
}

# log_quiet LOG: waits (up to 15 s) until LOG has not grown for 1.5 s: a
# large install can be followed by segd's own tamper restore (its monitor
# socket overflows with the install's events), which must not fall into a
# measurement.
log_quiet() {
	local i size last=-1 still=0
	for ((i = 0; i < 150 && still < 15; i++)); do
		size=$(stat -c %s "$1")
		if [ "$size" = "$last" ]; then still=$((still + 1)); else still=0; fi
		last=$size
		sleep 0.1
	done
}

segd_stop() {
	kill -TERM "$SEGD_PID" 2>/dev/null
	wait "$SEGD_PID" 2>/dev/null
	nsx gw nft delete table inet $TABLE 2>/dev/null
}

rx() { nsx dst cat /sys/class/net/eth0/statistics/rx_packets; }

# udp_pps: 64-byte frames, one flow, sender pinned to CPU 0 for SECS seconds;
# the rate is what reached the destination's interface.
udp_pps() {
	local before after secs
	before=$(rx)
	secs=$(nsx src taskset -c 0 "$BIN/udpsend" 10.12.255.1 9000 -t "$SECS" | awk '{ print $5 }')
	after=$(rx)
	awk -v a="$after" -v b="$before" -v s="$secs" 'BEGIN { printf "%.0f", (a - b) / s }'
}

tcp_gbps() {
	local secs=${SECS%.*}     # iperf3 -t takes whole seconds (0: forever)
	nsx src taskset -c 0 iperf3 -c 10.12.255.1 -p 5201 -t "$((${secs:-0} < 1 ? 1 : secs))" -J 2>/dev/null |
		"$PY" -c 'import json,sys; print("%.3f" % (json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9))'
}

declare -A UDP TCP
# The floor of any stateful ruleset: connection tracking and one rule, nothing else.
CTONLY="table inet $LINEAR {
	chain forward { type filter hook forward priority filter; policy accept; ct state established,related accept; }
}"

# measure_variant NAME: install the ruleset, one UDP and one TCP measurement, remove it.
measure_variant() {
	local v=$1 kind=${1%%:*} cfg=${1#*:} u t
	case $kind in
	segd) segd_bg "$RUN/$cfg.conf" "$RUN/fw-$cfg.log" ;;
	linear) nsx gw nft -f "$RUN/$cfg.linear.nft" || die "nft -f $cfg.linear.nft" ;;
	ctonly) nsx gw nft -f - <<<"$CTONLY" || die "nft -f ct-only" ;;
	esac
	nsx src taskset -c 0 "$BIN/udpsend" 10.12.255.1 9000 -t 0.3 >/dev/null   # neighbours, conntrack
	u=$(udp_pps)
	t=$(tcp_gbps)
	UDP[$v]="${UDP[$v]:-} $u" TCP[$v]="${TCP[$v]:-} $t"
	case $kind in
	segd) segd_stop ;;
	linear | ctonly) nsx gw nft delete table inet $LINEAR ;;
	esac
}

bench_forwarding() {
	local v n label
	local r variants="none ctonly:- segd:e10 segd:e10000 segd:e100000 segd:r10000 segd:r100000 linear:e10 linear:e10000 linear:e100000"
	for v in $SHAPES; do variants="$variants segd:$v"; done
	say "forwarding: UDP 64-byte pps and TCP Gbit/s, ${SECS} s per measurement, $FWD_RUNS rounds over every ruleset"
	# Rounds, not one ruleset after the other: a slow moment of the machine
	# then touches every ruleset alike instead of one of them.
	for ((r = 0; r < FWD_RUNS; r++)); do
		for v in $variants; do measure_variant "$v"; done
		say "  round $r: udp pps $(for v in $variants; do printf '%s=%s ' "$v" "${UDP[$v]##* }"; done)"
	done
	row "forward UDP 64B: conntrack + 1 rule (any stateful ruleset)" pps "${UDP[ctonly:-]}" "no ruleset" "${UDP[none]}" ""
	row "forward TCP: conntrack + 1 rule (any stateful ruleset)" Gbit/s "${TCP[ctonly:-]}" "no ruleset" "${TCP[none]}" ""
	for v in ${variants#none ctonly:- }; do
		n=$(. "$RUN/${v#*:}.env"; echo "$ENTRIES")
		local c=${v#*:}
		label="segd $n entries, $(shape_name "${c:0:1}")"
		case $v in linear:*) label="linear nft, $n rules" ;; esac
		# segd against the floor of any stateful ruleset (issue 14: >= 0.95),
		# and against no ruleset at all (>= 0.85)
		if [ "${v%%:*}" = segd ]; then
			row "forward UDP 64B: $label" pps "${UDP[$v]}" "conntrack + 1 rule" "${UDP[ctonly:-]}" "ratio>=0.95"
			row "forward UDP 64B: $label" pps "${UDP[$v]}" "no ruleset" "${UDP[none]}" "ratio>=0.85"
			row "forward TCP: $label" Gbit/s "${TCP[$v]}" "conntrack + 1 rule" "${TCP[ctonly:-]}" "ratio>=0.95"
		else
			row "forward UDP 64B: $label" pps "${UDP[$v]}" "no ruleset" "${UDP[none]}" ""
			row "forward TCP: $label" Gbit/s "${TCP[$v]}" "no ruleset" "${TCP[none]}" ""
		fi
	done
}

# ------------------------------------------------------------------ incidents

FLOOD_N=${BENCH_FLOOD:-250000}
FLOOD_SPREAD=20000

# Sum of the kernel's counters of every rule that logs (denied packets).
kernel_denied() {
	nsx gw nft list table inet "$1" 2>/dev/null |
		awk '/counter packets [0-9]+ bytes [0-9]+ log/ { for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) }
		     END { print s + 0 }'
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

flood() {
	nsx src taskset -c 0 "$BIN/udpsend" 10.12.255.1 20000 -n "$FLOOD_N" -p $FLOOD_SPREAD -S "$1" | awk '{ print $5 }'
}

bench_incidents() {
	local i k0 k1 c0 c1 secs st pid hz n_j
	local kps=() share=() acct=() cpu=() hwm=() jn=() tkps=() tshare=() tcpu=() flows=()
	hz=$(getconf CLK_TCK)
	say "incident pipeline: flood of $FLOOD_N forbidden packets ($FLOOD_SPREAD destination ports), $RUNS runs each"
	for ((i = 0; i < RUNS; i++)); do
		rm -f "$RUN/e100.spool.jsonl"*
		segd_bg "$RUN/e100.conf" "$RUN/inc$i.log"
		pid=$SEGD_PID
		sleep 0.5
		k0=$(kernel_denied $TABLE) c0=$(cpu_ticks "$pid")
		secs=$(flood $((i + 1)))
		sleep 2.5      # NFLOG's 1 s batching, then segd's queue
		k1=$(kernel_denied $TABLE) c1=$(cpu_ticks "$pid")
		"$SEGCTL" -c "$RUN/e100.conf" --json status >"$RUN/status$i.json" || die "segctl status"
		st="$RUN/status$i.json"
		hwm+=("$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")")
		segd_stop
		n_j=$(journal_read "_PID=$pid" SEGD_EVENT=flow-denied | wc -l)
		jn+=("$n_j")
		kps+=("$(awk -v k=$((k1 - k0)) -v s="$secs" 'BEGIN { printf "%.0f", k / s }')")
		share+=("$(awk -v p="$(jget "$st" packets_in_incidents)" -v k=$((k1 - k0)) 'BEGIN { printf "%.4f", p / k }')")
		acct+=("$(awk -v p="$(jget "$st" packets_in_incidents)" -v g="$(jget "$st" not_sampled)" -v k="$k1" \
			'BEGIN { printf "%.4f", (p + g) / k }')")
		cpu+=("$(awk -v c=$((c1 - c0)) -v h="$hz" 'BEGIN { printf "%.2f", c / h }')")
		flows+=("$(wc -l <"$RUN/e100.spool.jsonl" 2>/dev/null || echo 0)")
		say "  segd run $i: kernel $((k1 - k0)) denied in ${secs}s; in incidents $(jget "$st" packets_in_incidents)," \
			"not sampled $(jget "$st" not_sampled), socket drops $(jget "$st" socket_drops); journal entries $n_j"
	done
	for ((i = 0; i < RUNS; i++)); do
		nsx gw nft -f "$RUN/e100.nft" || die "nft -f e100.nft"
		# exec'd directly (ip and taskset exec): $! is tcpdump; SIGTERM, as an
		# asynchronous command of a script ignores SIGINT
		ip netns exec "${P}gw" taskset -c 1 tcpdump -i nflog:$GROUP -w /dev/null >/dev/null 2>"$RUN/tcpdump$i.err" &
		pid=$!
		sleep 1
		k0=$(kernel_denied $TABLE) c0=$(cpu_ticks "$pid")
		secs=$(flood $((i + 1)))
		sleep 2.5
		k1=$(kernel_denied $TABLE) c1=$(cpu_ticks "$pid")
		kill -TERM "$pid"
		wait "$pid"
		local got
		got=$(awk '/packets captured/ { print $1 }' "$RUN/tcpdump$i.err")
		tkps+=("$(awk -v k=$((k1 - k0)) -v s="$secs" 'BEGIN { printf "%.0f", k / s }')")
		tshare+=("$(awk -v p="$got" -v k=$((k1 - k0)) 'BEGIN { printf "%.4f", p / k }')")
		tcpu+=("$(awk -v c=$((c1 - c0)) -v h="$hz" 'BEGIN { printf "%.2f", c / h }')")
		say "  tcpdump run $i: kernel $((k1 - k0)) denied in ${secs}s; $(tr '\n' ';' <"$RUN/tcpdump$i.err")"
		nsx gw nft delete table inet $TABLE
	done
	row "flood: denied packets/s counted by the kernel (segd listening)" pps "${kps[*]}" "tcpdump listening" "${tkps[*]}" ""
	row "flood: share of denied packets in segd's incidents" share "${share[*]}" "tcpdump delivered/kernel" "${tshare[*]}" "ratio>=1"
	row "flood: (in incidents + not sampled) / kernel count" share "${acct[*]}" "exact" "1 1 1" "fig==1"
	row "flood: CPU seconds during the flood" s "${cpu[*]}" "tcpdump" "${tcpu[*]}" ""
	row "flood: segd peak RSS (VmHWM)" KiB "${hwm[*]}" "goal 16 MiB" "16384 16384 16384" "fig<=16384"
	row "flood: journal entries (flow-denied), one window" entries "${jn[*]}" "bound: max open + overflow" \
		"4352 4352 4352" "fig<=4352"
	row "flood: spool lines, one window" lines "${flows[*]}" "bound: max open + overflow" "4352 4352 4352" "fig<=4352"
}

# ------------------------------------------------------------------ main

prepare
: >"$ROWS"
for n in $SIZES; do bench_install "$n"; done
for sh in r z d q; do bench_install 100000 "$sh"; done
bench_compile
bench_decide
lab_up
bench_forwarding
bench_incidents
say "done in $(($(date +%s) - T_START)) s"
{
	echo "segd benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), kernel $(uname -r), $RUNS runs per figure, $(($(date +%s) - T_START)) s in all"
	"$PY" "$BT/report.py" "$ROWS"
} | tee "$TOP/build/bench/last-table.txt"
