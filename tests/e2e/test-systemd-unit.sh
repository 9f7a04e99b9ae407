#!/bin/bash
# The systemd unit: hardening score (systemd-analyze security, offline) at or
# below 1.5, and the unit, tmpfiles and sysusers files parse. No systemd as
# PID 1 is needed; restart and watchdog behaviour cannot run here (segd(8)).
set -u
cd "$(dirname "$0")/../.."
pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

out=$(systemd-analyze security --offline=true systemd/segd.service 2>&1)
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for segd.service: \([0-9.]*\).*/\1/p')
if [ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 1.5) }'; then ok "exposure $score <= 1.5"; else bad "exposure '$score' above 1.5"; printf '%s\n' "$out" | grep '✗'; fi

for key in 'Type=notify' 'WatchdogSec=' 'Before=network-pre.target' 'CapabilityBoundingSet=CAP_NET_ADMIN' 'ExecReload='; do
	if grep -q "^$key" systemd/segd.service; then ok "unit has $key"; else bad "unit lacks $key"; fi
done

# Unknown directives would be reported by verify; a missing binary is expected here.
v=$(systemd-analyze verify systemd/segd.service 2>&1 | grep -v -e 'is not executable' -e "Command 'man" -e 'Failed to prepare filename')
if [ -z "$v" ]; then ok "systemd-analyze verify: no complaints"; else bad "verify: $v"; fi

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/etc"
if systemd-sysusers --root="$tmp" "$PWD/systemd/segd.sysusers" >/dev/null 2>&1 && grep -q '^segctl:' "$tmp/etc/group" && grep -q '^segd:' "$tmp/etc/passwd"; then
	ok "sysusers creates segd and segctl"; else bad "sysusers"; fi
if systemd-tmpfiles --root="$tmp" --create "$PWD/systemd/segd.tmpfiles" >/dev/null 2>&1 && [ -d "$tmp/var/lib/segd" ]; then
	ok "tmpfiles creates /var/lib/segd"; else bad "tmpfiles"; fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
