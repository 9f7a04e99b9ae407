#!/bin/bash
# The bash completion of segctl: commands, options per command, zone names
# from the configuration given with -c. No namespaces needed.
set -u
cd "$(dirname "$0")/../.."
PATH="$PWD/build:$PATH"
pass=0 fail=0
ok()  { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
source completions/segctl.bash

# complete LINE: the candidates segctl's completion offers for the last word
complete_line() {
	read -r -a COMP_WORDS <<<"$1"
	[[ $1 == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_segctl
	printf '%s\n' "${COMPREPLY[@]}"
}
expect() { # expect DESCRIPTION LINE WORD...
	local what=$1 line=$2 got w; shift 2
	got=$(complete_line "$line")
	for w in "$@"; do
		if ! grep -qx -- "$w" <<<"$got"; then bad "$what: '$w' not offered for '$line' (got: $(echo $got))"; return; fi
	done
	ok "$what"
}

[ "$(complete -p segctl 2>/dev/null)" = "complete -F _segctl segctl" ] && ok "registered for segctl" || bad "not registered"
expect "commands" "segctl " check explain matrix status reload isolate release report trace incidents
expect "commands by prefix" "segctl re" reload release report revisions
expect "explain options" "segctl explain --" --in --out --to-gateway --from-gateway --json
expect "incidents options" "segctl incidents --" --since --zone --event --spool
expect "zones of the -c configuration for isolate" "segctl -c conf/lab.conf isolate " mynumber lgwan internet cloud
expect "zones for --zone" "segctl -c conf/lab.conf incidents --zone l" lgwan
expect "events for --event" "segctl incidents --event fl" flow-denied
expect "reload --confirm" "segctl reload --c" --confirm
expect "a file for check" "segctl check conf/lab" conf/lab.conf
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
