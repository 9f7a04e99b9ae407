# dates.sh - the dates of the suites, sourced by lib.sh and by the suites
# that do not use it.
#
# EXPIRES: an expiry for the configurations the suites write: a year ahead
# is within settings.max_validity (731 days) and never rots.
EXPIRES=$(date -u -d '+365 days' +%F)
# fake_date: the suites that pin a date (the expiry cases of the catalog must
# not rot). segd and segctl read no date from the environment, so the clock
# itself is faked with libfaketime.
FAKETIME_LIB=$(dpkg -L libfaketime 2>/dev/null | grep -m1 '/libfaketime.so.1$')
fake_date() {   # fake_date YYYY-MM-DD: this shell's children see that day (noon UTC)
	[ -n "$FAKETIME_LIB" ] || { echo "libfaketime is missing: run tools/install-deps.sh" >&2; exit 1; }
	# the monotonic clock stays real: segd's timers (timerfd) are not faked
	export LD_PRELOAD="$FAKETIME_LIB" FAKETIME="@$1 12:00:00" DONT_FAKE_MONOTONIC=1 TZ=UTC
}
