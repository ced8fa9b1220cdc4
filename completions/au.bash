# bash completion for au
_au() {
	local cur prev words cword
	_init_completion || return
	local commands="new run info list delete mount env"
	local i cmd= sub=
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-C | --config) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
			elif [[ -z $sub ]]; then
				sub=${words[i]}
			fi
			;;
		esac
	done
	case $prev in
	-a | --agent)
		COMPREPLY=($(compgen -W "$(au list 2>/dev/null | sed 's/ (default)//')" -- "$cur"))
		return
		;;
	-C | --config)
		_filedir
		return
		;;
	-d | --directory)
		_filedir -d
		return
		;;
	esac
	case $cmd in
	"") COMPREPLY=($(compgen -W "$commands -C --config --version -h --help" -- "$cur")) ;;
	new) COMPREPLY=($(compgen -W "-a --agent -y --yes -h --help" -- "$cur")) ;;
	run)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-a --agent -e --env -d --directory --no-login --keep-running -h --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -c -- "$cur"))
		fi
		;;
	info | list) COMPREPLY=($(compgen -W "-a --agent -h --help" -- "$cur")) ;;
	delete) COMPREPLY=($(compgen -W "-a --agent -H --delete-home -y --yes -h --help" -- "$cur")) ;;
	mount)
		case $sub in
		"") COMPREPLY=($(compgen -W "add remove list" -- "$cur")) ;;
		add)
			[[ $cur == -* ]] && COMPREPLY=($(compgen -W "-a --agent --rw -h --help" -- "$cur")) || _filedir -d
			;;
		remove) _filedir -d ;;
		esac
		;;
	env)
		case $sub in
		"") COMPREPLY=($(compgen -W "set unset list" -- "$cur")) ;;
		list) COMPREPLY=($(compgen -W "-a --agent --show-values" -- "$cur")) ;;
		*) COMPREPLY=($(compgen -W "-a --agent" -- "$cur")) ;;
		esac
		;;
	esac
}
complete -F _au au
