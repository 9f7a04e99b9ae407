#!/bin/bash
# Conduit expiry while segd runs (issue 5 point 4): 30 and 7 days before a
# conduit's date segd warns in the journal (conduit-expiring); when the date
# has passed it logs conduit-expired, re-installs the ruleset without the
# conduit, and traffic through it stops while other conduits keep working.
# The clock is moved with libfaketime (a timestamp file re-read on every
# call); segd's monotonic timers are left alone.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/journald.sh"
require_root
journal_reexec bash "$0" "$@"

FAKELIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1
CONFIG=$TOP/conf/lab.conf     # mail-sanitizer and intermediate-server expire 2027-03-31, cloud-proxy 2028-03-31
MAIL=10.20.0.25 PROXY=203.0.113.10

cleanup() { stop_segd; lab_down; journal_stop; }

if [ ! -e "$FAKELIB" ]; then fail "libfaketime is missing (tools/install-deps.sh installs faketime)"; summary; exit 1; fi
heading "a private systemd-journald"
if journal_start; then ok "journald runs"; else fail "journald starts"; journal_stop; summary; exit 1; fi
lab_up "$CONFIG" || { fail "lab_up"; cleanup; summary; exit 1; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

CLOCK="$RUN_DIR/clock"
set_clock() { echo "@$1" >"$CLOCK"; }
set_clock "2027-03-01 12:00:00"
cat >"$RUN_DIR/segd-faketime" <<SH
#!/bin/sh
export TZ=UTC LD_PRELOAD=$FAKELIB FAKETIME_TIMESTAMP_FILE=$CLOCK FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1
exec $SEGD "\$@"
SH
chmod +x "$RUN_DIR/segd-faketime"
SEGD="$RUN_DIR/segd-faketime"

heading "segd starts on 2027-03-01 (mail-sanitizer has 30 days left)"
start_segd "$CONFIG" || { fail "segd starts"; summary; exit 1; }
ok "segd installed table inet $LAB_TABLE"
NS_IN=$(lab_ns internet) NS_LG=$(lab_ns lgwan) NS_CL=$(lab_ns cloud)
ctl() { "$SEGCTL" -c "$SEGD_CONF" "$@"; }
status_field() { ctl --json status | jq -r ".$1"; }

cat >"$RUN_DIR/listen.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
while True:
    c, _ = s.accept(); c.close()
PY
ip netns exec "$NS_LG" "$PY" "$RUN_DIR/listen.py" "$MAIL" 25 &
ip netns exec "$NS_CL" "$PY" "$RUN_DIR/listen.py" "$PROXY" 8080 &
wait_listen "$NS_LG" 25 || fail "the listener on $MAIL tcp/25 is up"
wait_listen "$NS_CL" 8080 || fail "the listener on $PROXY tcp/8080 is up"
# connects NS ADDR PORT [TIMEOUT]: a TCP connection opens (within 10 s)
connects() {
	ip netns exec "$1" "$PY" -c 'import socket, sys
socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()' "$2" "$3" "${4:-10}" 2>/dev/null
}
check "mail to the sanitizing relay passes before its date" connects "$NS_IN" "$MAIL" 25
check "the proxy passes" connects "$NS_IN" "$PROXY" 8080
check "status: no conduit expired yet" test "$(status_field conduits_expired)" = 0

# segd looks at the date once a second: wait for its journal entry (the
# ceiling only bounds a failure)
has_event() { journal_read SEGD_EVENT="$1" | grep -q "$2"; }
wait_event() { wait_until 60 has_event "$@"; }

heading "2027-03-24: 7 days left"
set_clock "2027-03-24 12:00:00"
check "journal: conduit-expiring for mail-sanitizer, 7 days" wait_event conduit-expiring "mail-sanitizer.*in 7 days"
check "mail still passes" connects "$NS_IN" "$MAIL" 25

# The approvals are dated in JST (UTC+9): 2027-03-31 ends at 15:00 UTC that
# day, and five seconds later the conduits have expired. Counted in UTC days
# they stayed open until 09:00 JST on April 1: the waits below then fail.
heading "2027-04-01 00:00:05 JST (2027-03-31 15:00:05 UTC): the date has passed"
set_clock "2027-03-31 15:00:05"
check "journal: conduit-expired for mail-sanitizer" wait_event conduit-expired "mail-sanitizer"
check "journal: conduit-expired for intermediate-server (same date)" wait_event conduit-expired "intermediate-server"
expired_conduits() { journal_read SEGD_EVENT=conduit-expired | jq -r .SEGD_CONDUIT; }
# blocked: the connection does not open, and the table's drop rules counted
# its SYN (internet -> lgwan): dropped, not merely slow
mail_blocked() {
	local d0=$(pair_drops internet lgwan)
	! connects "$NS_IN" "$MAIL" 25 2 && wait_until 30 eval '[ "$(pair_drops internet lgwan)" -gt '"$d0"' ]'
}
relay_gone() { ! table_listing | grep -q "$MAIL"; }
names_mail() { expired_conduits | grep -qx mail-sanitizer; }
# segd logs the entries and re-installs in one pass of its loop: a status
# answered after the entries were seen comes after the re-install
expired3() { [ "$(status_field conduits_expired)" = 3 ]; }
wait_until 60 expired3
check "journal: the entry names it in SEGD_CONDUIT" names_mail
check "mail to the relay is now blocked" mail_blocked
check "the proxy (expires 2028) still passes" connects "$NS_IN" "$PROXY" 8080
check "status: 3 conduits expired (mail-sanitizer, intermediate-server, -v6)" test "$(status_field conduits_expired)" = 3
check "status: the live table is the (new) approved one" test "$(status_field in_sync)" = yes
check "the expired conduit's elements are gone from the kernel" relay_gone
check "not a tamper event: segd's own re-install" test "$(status_field tampers)" = 0

summary
