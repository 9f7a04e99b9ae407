#!/bin/bash
# test-control.sh - segd's control socket (issue 5, point 2): mode 0660 and
# the control group; root and group members (primary or supplementary) are
# served, anyone else is refused both by the socket's mode and, with the mode
# opened up, by segd's SO_PEERCRED check; malformed, oversized, idle and
# parallel clients get an error or a close and never crash or stall segd;
# `segctl status --json` parses; `segctl status` exits 1 while segd is
# degraded (its NFLOG group held by another listener) and 0 again after.
#
#   E2E_CONFIG: the configuration (default conf/lab.conf)
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"
require_root
daemon_reexec "$@"
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
GROUP="segdt$$"
OTHER_GID=""

cleanup_group() { getent group "$GROUP" >/dev/null && groupdel "$GROUP"; }
daemon_lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
trap 'cleanup_group; daemon_down' EXIT
trap 'cleanup_group; daemon_down; exit 130' INT
trap 'cleanup_group; daemon_down; exit 143' TERM
groupadd --system "$GROUP" || { fail "groupadd $GROUP"; summary; exit 1; }
GID=$(getent group "$GROUP" | cut -d: -f3)
OTHER_GID=$(getent group nogroup | cut -d: -f3)

# the configuration with control_group = GROUP
"$PY" - "$CONFIG" "$RUN_DIR/grouped.conf" "$GROUP" <<'PY'
import re, sys
src, out, group = sys.argv[1:]
t = open(src, encoding='utf-8').read()
t, n = re.subn(r'\bcontrol_group\s*[=:]\s*"[^"]*"\s*;?', 'control_group = "%s";' % group, t, count=1)
if not n:
    t, n = re.subn(r'(\bsettings\s*[=:]\s*\{)', r'\1 control_group = "%s";' % group, t, count=1)
if not n:
    t = 'settings = { control_group = "%s"; };\n' % group + t
open(out, 'w', encoding='utf-8').write(t)
PY

heading "degraded while another process holds NFLOG group"
group=$(sed -nE 's/.*\blog_group *[=:] *([0-9]+).*/\1/p' "$RUN_DIR/grouped.conf" | head -1)
ip netns exec "$LAB_GW" tcpdump -i "nflog:${group:-0}" -w /dev/null >"$RUN_DIR/tcpdump.out" 2>&1 &
tcpd=$!
# tcpdump says "listening on" once it has bound the group: before that segd
# could take the group itself and never be degraded
if wait_until 60 grep -q "listening on" "$RUN_DIR/tcpdump.out"; then ok "tcpdump holds NFLOG group ${group:-0}"; else
	fail "tcpdump holds NFLOG group ${group:-0}: $(cat "$RUN_DIR/tcpdump.out")"
fi
if start_segd "$RUN_DIR/grouped.conf"; then ok "segd installed table inet $LAB_TABLE"; else
	fail "segd installed table inet $LAB_TABLE"; summary; exit 1
fi
SOCK=$RUN_DIR/control.sock
chmod 0711 "$RUN_DIR"   # mktemp -d made it 0700: let the other users reach the socket
st() { "$SEGCTL" --socket "$SOCK" "$@"; }
out=$(st status 2>&1); rc=$?
check "segctl status exits 1 while degraded" test "$rc" = 1
check "... and says DEGRADED and why" grep -q "DEGRADED" <<<"$out"
kill "$tcpd"; wait "$tcpd" 2>/dev/null
check "segctl status exits 0 once segd watches the group again (it retries every 5 s)" wait_until 60 st status

heading "socket and permissions (control_group '$GROUP', gid $GID)"
check "socket mode is 0660" test "$(stat -c %a "$SOCK")" = 660
check "socket group is $GROUP" test "$(stat -c %G "$SOCK")" = "$GROUP"
check "root is served" st status
check "segctl status --json parses" bash -c '"$1" --socket "$2" status --json | "$3" -m json.tool >/dev/null' _ \
	"$SEGCTL" "$SOCK" "$PY"
as() { local g=$1; shift; setpriv --reuid=65534 --regid="$g" "$@"; }
check "a member by supplementary group is served" as "$OTHER_GID" --groups="$GID" "$SEGCTL" --socket "$SOCK" status
check "a member by primary group is served" as "$GID" --clear-groups "$SEGCTL" --socket "$SOCK" status
out=$(as "$OTHER_GID" --clear-groups "$SEGCTL" --socket "$SOCK" status 2>&1); rc=$?
check "a user outside the group is refused by the socket's mode (exit 2)" test "$rc" = 2
check "... with 'permission denied'" grep -q "permission denied" <<<"$out"
chmod 0666 "$SOCK"
out=$(as "$OTHER_GID" --clear-groups "$SEGCTL" --socket "$SOCK" status 2>&1); rc=$?
check "with the mode opened to all, segd itself (SO_PEERCRED) refuses the outsider (exit 2)" test "$rc" = 2
echo "     segctl said: $out"
check "... saying permission denied" grep -q "permission denied: segctl needs root" <<<"$out"
out=$(as "$OTHER_GID" --clear-groups "$SEGCTL" --socket "$SOCK" reload 2>&1); rc=$?
check "... also for reload" test "$rc" = 2
chmod 0660 "$SOCK"
check "reloads so far: 0 (the outsider's reload did not happen)" test "$(segctl_status reloads)" = 0

heading "malformed, oversized, idle and parallel clients"
tap "$PY" "$TOOLS/ctlclient.py" "$SOCK" malformed
check "segd alive after malformed requests" segd_alive
tap "$PY" "$TOOLS/ctlclient.py" "$SOCK" idle 10
tap "$PY" "$TOOLS/ctlclient.py" "$SOCK" parallel 20
check "segd alive and answering status afterwards" st status
check "segd wrote no error about the control socket" bash -c '! grep -i "control.*error\|sanitizer" "$1"' _ "$RUN_DIR/segd.log"
summary
