#!/bin/bash
# test-report.sh - segctl report (issue 8, point 5): segd enforces lab.conf
# (incident_window 2 s, its own state directory) in the lab; allowed traffic
# through a conduit and forbidden traffic (default deny, model guard, to the
# gateway) are sent; then the report in text, JSON and HTML says: the live
# ruleset is in sync, the model is valid, every conduit with approval, expiry
# and kernel hits, the incidents per zone pair and event with their sources,
# the loss counters from segd, the revision segd stored, and for each part the
# policy clauses. The HTML page is checked for self-containment (no script,
# no outside URL) and rendered in headless Chromium to a PNG that must not be
# blank. Finally segd is stopped and its table changed: the report still
# works without the daemon and says the table differs (exit 1).
#
#   E2E_KEEP=1   keep RUN_DIR (report.html, report.png) for a look
#   E2E_CONFIG   another configuration than conf/lab.conf
source "$(dirname "$0")/lib.sh"
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}

heading "lab from $(basename "$CONFIG"), incident_window 2 s"
lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
# a short window, and a state_dir that lab.py localize moves into RUN_DIR
sed -e 's/incident_window *= *[0-9]*;/incident_window = 2;/' \
    -e 's/^\(settings *= *{\)/\1 state_dir = "\/var\/lib\/segd";/' "$CONFIG" >"$RUN_DIR/short.conf"
grep -q 'incident_window = 2;' "$RUN_DIR/short.conf" ||
	sed -i 's/^\(settings *= *{\)/\1 incident_window = 2;/' "$RUN_DIR/short.conf"
if start_segd "$RUN_DIR/short.conf"; then ok "segd installed table inet $LAB_TABLE"; else
	fail "segd installed table inet $LAB_TABLE"; summary; exit 1
fi
gw() { ip netns exec "$LAB_GW" "$@"; }
segctl() { gw "$SEGCTL" -c "$SEGD_CONF" "$@"; }

heading "traffic: one conduit, forbidden flows"
MY=$(lab_ns mynumber) LG=$(lab_ns lgwan)
# send_tcp NS SRC DST PORT: connect() from a given source and wait for its
# answer (an allowed flow: accepted or refused, up to 60 s).
# send_syn NS SRC DST PORT: exactly one SYN (a forbidden flow): connect()
# sends it before it returns EINPROGRESS, and the socket is closed at once, so
# that no retransmission (after 1 s) can add a packet to the exact counts
# below, however slow the machine.
send_tcp() {
	ip netns exec "$1" "$PY" - "$2" "$3" "$4" "${5:-wait}" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.bind((sys.argv[1], 0))
if sys.argv[4] == 'wait':
    s.settimeout(60)
    try: s.connect((sys.argv[2], int(sys.argv[3])))
    except OSError: pass
else:
    s.setblocking(False)
    r = s.connect_ex((sys.argv[2], int(sys.argv[3])))
    assert r in (0, 115), 'connect: %s' % r    # EINPROGRESS: the SYN is out
    s.close()
EOF
}
send_syn() { send_tcp "$1" "$2" "$3" "$4" once; }
for i in 1 2 3; do
	send_tcp "$MY" 10.10.0.5 10.20.0.50 443        # conduit intermediate-server
	send_syn "$MY" 10.10.0.2 10.30.0.2 80          # mynumber -> internet: model guard
	send_syn "$MY" 10.10.0.2 10.20.0.2 22          # mynumber -> lgwan, no conduit
	send_syn "$LG" 10.20.0.2 10.20.0.1 80          # lgwan -> gateway, port closed
done
send_syn "$MY" fd00:10::2 fd00:30::2 443           # IPv6, model guard
ok "sent 3 allowed and 10 forbidden connection attempts"
# incidents close after the 2 s window and reach the spool: wait for all 10
# denied packets (one SYN each) to be in closed incidents
spooled() {
	"$PY" -c 'import json,sys; print(sum(json.loads(l)["packets"] for l in open(sys.argv[1])))' \
		"$RUN_DIR/incidents.jsonl" 2>/dev/null || echo 0
}
spooled_all() { [ "$(spooled)" -ge 10 ]; }
wait_until 120 spooled_all   # the ceiling only bounds a failure
check "the 10 denied packets are in the spool's incidents (got $(spooled))" test "$(spooled)" -ge 10

heading "segctl report (text)"
OUT="$RUN_DIR/report.txt"
segctl report >"$OUT" 2>"$RUN_DIR/report.err"
rc=$?
if [ "$rc" = 0 ]; then ok "exit status 0 (in sync)"; else fail "exit status $rc"; cat "$RUN_DIR/report.err"; fi
check "says IN SYNC" grep -q "IN SYNC: table inet $LAB_TABLE" "$OUT"
check "model valid" grep -q "VALID: " "$OUT"
check "clauses named per section (7(3), 7(6), 8, 9)" \
	bash -c "grep -c 'policy clauses:' '$OUT' | grep -qx 8 && grep -q '7(6), 8, 9' '$OUT' && grep -q '7(3)' '$OUT'"
check "every conduit listed with its approval" \
	bash -c "for a in R8-DX-014 R8-DX-015 R8-DX-016 R8-DX-017 R8-DX-018; do grep -q \$a '$OUT' || exit 1; done"
check "the guard incident mynumber -> internet with its source" \
	grep -qE "flow-denied +mynumber -> internet .*10\.10\.0\.2 \(" "$OUT"
check "to-gateway incident from lgwan" grep -qE "to-gateway +lgwan -> gateway" "$OUT"
check "loss counters from segd" grep -q "packets in incidents" "$OUT"
check "the revision segd stored at start" grep -qE "#1 .* start " "$OUT"
sed -n '/^\[3\]/,/^\[5\]/p' "$OUT" | head -24

heading "segctl report --json"
segctl --json report >"$RUN_DIR/report.json" 2>>"$RUN_DIR/report.err"
# (tap runs its driver in the background, where stdin is /dev/null: scripts go to files)
cat >"$RUN_DIR/check_json.py" <<'EOF'
import json, sys
def say(ok, msg): print(("ok - " if ok else "not ok - ") + msg)
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    say(False, "parses as JSON: %s" % e); sys.exit(0)
say(True, "parses as JSON")
s = r["sections"]
say(list(s) == ["sync", "model", "matrix", "conduits", "expiry", "incidents", "loss", "changes"],
    "eight sections in order: %s" % ",".join(s))
say(all(v.get("clauses") for v in s.values()), "every section names its policy clauses")
say(s["sync"]["in_sync"] is True, "sync.in_sync is true")
say(s["model"]["valid"] is True and s["model"]["errors"] == 0, "model valid, 0 errors")
c = {x["name"]: x for x in s["conduits"]["conduits"]}
hits = c.get("intermediate-server", {}).get("hits_packets")
say(isinstance(hits, int) and hits >= 3, "intermediate-server hits from the kernel: %s packets (>= 3 SYNs)" % hits)
say(all(isinstance(x["days_left"], int) and x["approval"] for x in c.values()), "days_left and approval for every conduit")
cells = {(x["from"], x["to"]): x["state"] for x in s["matrix"]["cells"]}
say(cells.get(("mynumber", "internet")) == "guard" and cells.get(("mynumber", "lgwan")) == "open"
    and cells.get(("lgwan", "lgwan")) == "intra", "matrix: guard, open, intra where expected")
pairs = {(p["event"], p["from"], p["to"]): p for p in s["incidents"]["pairs"]}
g = pairs.get(("flow-denied", "mynumber", "internet"))
say(g is not None and g["incidents"] >= 2 and g["packets"] == 4 and any(t["address"] == "10.10.0.2" for t in g["top_sources"]),
    "flow-denied mynumber -> internet: %s incidents (v4 and v6), 4 packets, top %s" % (g and g["incidents"], g and [t["address"] for t in g["top_sources"]]))
say(g is not None and g["kernel_packets"] is not None and g["kernel_packets"] >= g["packets"],
    "kernel drop counter of the pair (%s) >= packets in its incidents (%s)" % (g and g["kernel_packets"], g and g["packets"]))
days = s["incidents"]["per_day"]
tot = sum(d["flow-denied"] + d["spoofed-source"] + d["to-gateway"] + d["other"] for d in days)
say(len(days) >= 30 and tot == s["incidents"]["incidents"], "per-day counts (%d days) add up to %d incidents" % (len(days), tot))
say(s["loss"]["available"] is True and s["loss"]["not_sampled"] == 0, "loss counters from segd, nothing lost")
say(len(s["changes"]["revisions"]) >= 1, "revisions in the period: %d" % len(s["changes"]["revisions"]))
EOF
tap "$PY" "$RUN_DIR/check_json.py" "$RUN_DIR/report.json"

heading "segctl report --html"
HTML="$RUN_DIR/report.html"
segctl report --html "$HTML" >/dev/null 2>>"$RUN_DIR/report.err"
check "report.html written" test -s "$HTML"
check "no <script>" bash -c "! grep -qi '<script' '$HTML'"
check "no outside asset (src/href/url() to http(s)://, no <link>)" \
	bash -c "! grep -qiE '(src|href)=\"?https?://|url\\(|<link|@import' '$HTML'"
check "inline SVG: zone matrix and incidents per day" \
	bash -c "[ \$(grep -o '<svg ' '$HTML' | wc -l) -ge 2 ] && grep -q 'aria-label=\"zone matrix\"' '$HTML' && grep -q 'incidents per day' '$HTML'"
check "printable: @media print" grep -q '@media print' "$HTML"
check "Japanese terms alongside English" grep -q '自己点検' "$HTML"
check "the guarded cell and the conduit names are on the page" \
	bash -c "grep -q 'guarded: model rule 1' '$HTML' && grep -q 'intermediate-server' '$HTML'"

heading "rendered in headless Chromium"
PNG="$RUN_DIR/report.png"
if [ -z "$CHROMIUM" ]; then
	fail "chromium is not installed (tools/install-deps.sh)"
else
	timeout 90 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--user-data-dir="$(mktemp -d "$RUN_DIR/chromium.XXXXXX")" --hide-scrollbars \
		--screenshot="$PNG" --window-size=1200,2000 "file://$HTML" >"$RUN_DIR/chromium.log" 2>&1
	check "chromium wrote a PNG" test -s "$PNG"
	cat >"$RUN_DIR/check_png.py" <<'EOF'
import struct, sys, zlib
def say(ok, msg): print(("ok - " if ok else "not ok - ") + msg)
def pixels(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), "8-bit RGB(A) expected"
            bpp = 4 if ctype == 6 else 3
        elif typ == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, rows = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line)); prev = line
    return w, h, bpp, rows
w, h, bpp, rows = pixels(sys.argv[1])
colours, nonwhite, total = set(), 0, 0
for r in rows[::2]:
    for x in range(0, w * bpp, bpp * 2):
        px = r[x:x + 3]; colours.add(px); total += 1
        nonwhite += px != b"\xff\xff\xff"
say(w >= 1000 and h >= 1500, "PNG %dx%d" % (w, h))
say(len(colours) >= 50, "%d distinct colours (>= 50)" % len(colours))
say(nonwhite / total >= 0.2, "%.0f%% of pixels not white (>= 20%%)" % (100 * nonwhite / total))
# the matrix' colours: guard red, conduit green must appear
say(b"\x8e\x1b\x1b" in colours and b"\x2e\x7d\x32" in colours, "guard red and conduit green drawn")
EOF
	tap "$PY" "$RUN_DIR/check_png.py" "$PNG"
fi

heading "without the daemon, with a changed table"
stop_segd
if gw nft list table inet "$LAB_TABLE" >/dev/null 2>&1; then
	gw nft add rule inet "$LAB_TABLE" forward ip saddr 192.0.2.1 accept
	what="a rule added to forward"
else
	what="the table gone with segd"
fi
segctl report >"$OUT" 2>/dev/null
rc=$?
check "exit status 1 when the live ruleset differs ($what): got $rc" test "$rc" = 1
check "says DIFFERS and what" bash -c "grep -q 'DIFFERS' '$OUT'"
check "loss counters: segd not running, said so" grep -q "not available: segd did not answer" "$OUT"
check "incidents still read from the spool" grep -qE "flow-denied +mynumber -> internet" "$OUT"
grep -A4 'DIFFERS' "$OUT" | head -6
summary
