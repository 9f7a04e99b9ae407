# Sourced by end-to-end tests that need a real journald without systemd as
# PID 1 (testing-recipes.md). Must run inside a private mount namespace:
#   exec unshare -m --propagation private "$0" "$@"   (see journal_reexec)
# after which `journal_start` hides the host's journal directories under
# tmpfs and starts /lib/systemd/systemd-journald, and `journal_read` prints
# segd's entries as JSON lines.

JOURNAL_DIR=/run/log/journal

# Re-executes the calling script in a private mount namespace once.
journal_reexec() {
	if [ -z "${SEGD_TEST_MNTNS:-}" ]; then
		export SEGD_TEST_MNTNS=1
		exec unshare -m --propagation private "$@"
	fi
}

journal_start() {
	local conf
	mount -t tmpfs tmpfs /run/systemd
	mount -t tmpfs tmpfs /run/log
	mkdir -p /var/log/journal && mount -t tmpfs tmpfs /var/log/journal
	conf=$(mktemp /run/systemd/journald.XXXXXX.conf)
	cat > "$conf" <<CONF
[Journal]
Storage=volatile
ReadKMsg=no
Audit=no
ForwardToSyslog=no
ForwardToKMsg=no
ForwardToConsole=no
ForwardToWall=no
RateLimitIntervalSec=${JOURNAL_RATELIMIT_INTERVAL:-0}
RateLimitBurst=${JOURNAL_RATELIMIT_BURST:-10000}
CONF
	mount --bind "$conf" /etc/systemd/journald.conf
	/lib/systemd/systemd-journald >/dev/null 2>&1 &
	JOURNALD_PID=$!
	for _ in $(seq 100); do
		[ -S /run/systemd/journal/socket ] && return 0
		sleep 0.05
	done
	echo "journald did not start" >&2
	return 1
}

# journal_read [MATCH...]: segd's entries as JSON lines.
journal_read() {
	journalctl --sync >/dev/null 2>&1 || true
	journalctl -D "$JOURNAL_DIR" -o json --no-pager SYSLOG_IDENTIFIER=segd "$@" 2>/dev/null
}

journal_stop() {
	[ -n "${JOURNALD_PID:-}" ] && kill "$JOURNALD_PID" 2>/dev/null
	wait "${JOURNALD_PID:-}" 2>/dev/null || true
}
