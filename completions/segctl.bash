# bash completion for segctl(8). Installed as
# $(PREFIX)/share/bash-completion/completions/segctl by `make install`.
# Zone names come from the configuration itself (segctl --json matrix), so
# they follow -c FILE when it is given.

_segctl_zones()
{
	local cfg=$1
	segctl ${cfg:+-c "$cfg"} --json matrix 2>/dev/null |
		grep -o '"zones":\[[^]]*\]' | grep -o '"name":"[^"]*"' | cut -d'"' -f4
}

_segctl()
{
	local cur prev cmd="" cfg="" i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	local commands="check rules explain matrix incidents report trace status reload confirm
		stats revisions diff rollback isolate release"

	# the configuration and the command, wherever they stand on the line
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		-c|--config) cfg=${COMP_WORDS[i+1]}; ((i++)) ;;
		--config=*) cfg=${COMP_WORDS[i]#--config=} ;;
		-*) ;;
		*) [ -z "$cmd" ] && cmd=${COMP_WORDS[i]} ;;
		esac
	done

	case $prev in
	-c|--config|--html|--spool|--socket)
		COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--zone)
		COMPREPLY=($(compgen -W "$(_segctl_zones "$cfg")" -- "$cur")); return ;;
	--event)
		COMPREPLY=($(compgen -W "flow-denied spoofed-source to-gateway tamper conduit-expired reload reload-failed" -- "$cur")); return ;;
	--in|--out)
		COMPREPLY=($(compgen -W "$(ls /sys/class/net 2>/dev/null)" -- "$cur")); return ;;
	--since|--until|--seconds|--count|--confirm|--reason|--soon)
		return ;;
	esac

	if [ -z "$cmd" ]; then
		COMPREPLY=($(compgen -W "$commands -c --config --json --socket --help" -- "$cur"))
		return
	fi
	local opts="--json -c --help"
	case $cmd in
	check|rules) COMPREPLY=($(compgen -f -- "$cur")) ;;
	explain)     opts+=" --in --out --to-gateway --from-gateway" ;;
	incidents)   opts+=" --since --until --zone --event --spool" ;;
	report)      opts+=" --since --until --html --spool --soon --no-kernel" ;;
	trace)       opts+=" --seconds --count" ;;
	reload)      opts+=" --confirm" ;;
	isolate)     opts+=" --reason" ;;
	esac
	case $cmd in
	isolate|release)
		[[ $cur != -* ]] && COMPREPLY=($(compgen -W "$(_segctl_zones "$cfg")" -- "$cur")) ;;
	esac
	[[ $cur == -* || ${#COMPREPLY[@]} -eq 0 ]] && COMPREPLY+=($(compgen -W "$opts" -- "$cur"))
	return 0
}
complete -F _segctl segctl
