# bash completion for au
_au() {
	local cur prev words cword
	_init_completion || return
	local commands="new run info list delete mount env net"
	local i cmd= sub= config=()
	# The global options come before the command; each command's options after it.
	# Options that take an argument skip it, so that it is not taken for a word.
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-C | --config)
			config=(-C "${words[i + 1]}")
			((i++))
			;;
		-a | --agent | -e | --env | -d | --directory | --net) ((i++)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
			elif [[ -z $sub ]]; then
				sub=${words[i]}
				# au run: options stop at COMMAND; complete COMMAND's own arguments.
				if [[ $cmd == run ]]; then
					_command_offset "$i"
					return
				fi
			fi
			;;
		esac
	done
	case $prev in
	-a | --agent)
		[[ $cmd == new ]] && return # a new name
		COMPREPLY=($(compgen -W "$(au "${config[@]}" list 2>/dev/null |
			sed -n 's/ (default)$//; /^No agents configured\.$/d; p')" -- "$cur"))
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
	-e | --env)
		COMPREPLY=($(compgen -e -- "$cur"))
		return
		;;
	--net)
		COMPREPLY=($(compgen -W "none allow all host" -- "$cur"))
		return
		;;
	esac
	case $cmd in
	"") COMPREPLY=($(compgen -W "$commands -C --config --version -h --help" -- "$cur")) ;;
	new) COMPREPLY=($(compgen -W "-a --agent -y --yes -h --help" -- "$cur")) ;;
	run)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-a --agent -e --env -d --directory --net --no-login --keep-running -h --help --" -- "$cur"))
		else
			COMPREPLY=($(compgen -c -- "$cur"))
		fi
		;;
	info) COMPREPLY=($(compgen -W "-a --agent -h --help" -- "$cur")) ;;
	list) COMPREPLY=($(compgen -W "-h --help" -- "$cur")) ;;
	delete) COMPREPLY=($(compgen -W "-a --agent -H --delete-home -y --yes -h --help" -- "$cur")) ;;
	mount)
		case $sub in
		"") COMPREPLY=($(compgen -W "add remove list -h --help" -- "$cur")) ;;
		add)
			# SOURCE: a folder, or a file (read-only shares only).
			[[ $cur == -* ]] && COMPREPLY=($(compgen -W "-a --agent --rw -h --help" -- "$cur")) || _filedir
			;;
		remove)
			[[ $cur == -* ]] && COMPREPLY=($(compgen -W "-a --agent -h --help" -- "$cur")) || _filedir
			;;
		list) COMPREPLY=($(compgen -W "-a --agent -h --help" -- "$cur")) ;;
		esac
		;;
	net)
		case $sub in
		"") COMPREPLY=($(compgen -W "mode allow disallow list log -h --help" -- "$cur")) ;;
		mode)
			[[ $cur == -* ]] && COMPREPLY=($(compgen -W "-a --agent -h --help" -- "$cur")) ||
				COMPREPLY=($(compgen -W "none allow all host" -- "$cur"))
			;;
		allow) COMPREPLY=($(compgen -W "-a --agent -h --help" -- "$cur")) ;;
		disallow)
			# The patterns listed now.
			[[ $cur == -* ]] && COMPREPLY=($(compgen -W "-a --agent -h --help" -- "$cur")) ||
				COMPREPLY=($(compgen -W "$(au "${config[@]}" net list 2>/dev/null | sed -n 's/^  //p')" -- "$cur"))
			;;
		list) COMPREPLY=($(compgen -W "-a --agent --json -h --help" -- "$cur")) ;;
		log) COMPREPLY=($(compgen -W "-a --agent -f --follow --json -h --help" -- "$cur")) ;;
		esac
		;;
	env)
		case $sub in
		"") COMPREPLY=($(compgen -W "set unset list -h --help" -- "$cur")) ;;
		list) COMPREPLY=($(compgen -W "-a --agent --show-values -h --help" -- "$cur")) ;;
		set | unset)
			if [[ $cur == -* ]]; then
				COMPREPLY=($(compgen -W "-a --agent -h --help" -- "$cur"))
			else
				# A bare KEY passes your own value: offer your variables' names.
				COMPREPLY=($(compgen -e -- "$cur"))
			fi
			;;
		esac
		;;
	esac
}
complete -F _au au
