# bash completion for au                                        -*- shell-script -*-
#
# Works on its own (source it from ~/.bashrc) and with the bash-completion package,
# which loads it from $PREFIX/share/bash-completion/completions when $PREFIX/share is
# in XDG_DATA_DIRS (it is for /usr and /usr/local).
#
# Names and paths come from au itself (au list --json, au mount list --json, au env
# list --json), and only those that are printable ASCII without quotes or backslashes
# are offered: whatever else a name holds never reaches the terminal through here.

# The commands, their subcommands and their options: the one place to extend when au
# grows. An option followed by "=" takes a value.
_au_commands="new run info list delete repair mount env limit net"
declare -gA _au_subcommands=(
	[mount]="add remove list"
	[env]="set unset list"
	[limit]="set unset list"
	[net]="mode allow disallow list log"
)
declare -gA _au_options=(
	[au]="-C= --config= --version -h --help"
	[new]="-a= --agent= -y --yes -h --help"
	[run]="-a= --agent= -e= --env= -d= --directory= --no-login --keep-running --limit= --stats -v --verbose --net= -h --help --"
	[info]="-a= --agent= --json -h --help"
	[list]="--json -h --help"
	[delete]="-a= --agent= -H --delete-home -y --yes -h --help"
	[repair]="-a= --agent= --all -y --yes -h --help"
	[mount]="-h --help"
	[mount add]="-a= --agent= --rw -h --help"
	[mount remove]="-a= --agent= -h --help"
	[mount list]="-a= --agent= --json -h --help"
	[env]="-h --help"
	[env set]="-a= --agent= -h --help"
	[env unset]="-a= --agent= -h --help"
	[env list]="-a= --agent= --show-values --json -h --help"
	[limit]="-h --help"
	[limit set]="-a= --agent= -h --help"
	[limit unset]="-a= --agent= -h --help"
	[limit list]="-a= --agent= --json -h --help"
	[net]="-h --help"
	[net mode]="-a= --agent= -h --help"
	[net allow]="-a= --agent= -h --help"
	[net disallow]="-a= --agent= -h --help"
	[net list]="-a= --agent= --json -h --help"
	[net log]="-a= --agent= -f --follow --json -h --help"
)
_au_limit_keys="memory= cpu= tasks="
_au_net_modes="none allow all host"
# The entrypoint sets these from the agent's account: au env and --env refuse them.
_au_agents_own_vars="HOME USER LOGNAME SHELL"

# _au_json_strings KEY: each string value of "KEY" in the JSON on standard input that
# needs no escape there and is printable ASCII, one a line.
_au_json_strings() {
	local LC_ALL=C json re="\"$1\":\"([^\"\\\\]*)\""
	json=$(cat)
	while [[ $json =~ $re ]]; do
		json=${json#*"${BASH_REMATCH[0]}"}
		[[ ${BASH_REMATCH[1]} == *[![:print:]]* ]] || printf '%s\n' "${BASH_REMATCH[1]}"
	done
}

# _au_reply WORD...: the words that start with $cur, as they are.
_au_reply() {
	local w
	for w in "$@"; do
		[[ $w == "$cur"* ]] && COMPREPLY+=("$w")
	done
}

# _au_reply_paths PATH...: the paths that start with $cur, quoted for the shell; in the
# ~/ form when $cur uses it.
_au_reply_paths() {
	local p shown
	for p in "$@"; do
		shown=$p
		if [[ $cur == "~/"* && $p == "$HOME"/* ]]; then
			shown="~/${p#"$HOME"/}"
		fi
		[[ $shown == "$cur"* ]] || continue
		if [[ $shown == "~/"* ]]; then
			COMPREPLY+=("~/$(printf '%q' "${shown#"~/"}")")
		else
			COMPREPLY+=("$(printf '%q' "$shown")")
		fi
	done
}

# _au_files [dirs]: file (or folder) names, as bash completes them.
_au_files() {
	local f
	compopt -o filenames 2>/dev/null
	while IFS= read -r f; do
		COMPREPLY+=("$f")
	done < <(compgen -f ${1:+-d} -- "$cur")
}

# Names of the human's environment variables, less those au refuses.
_au_env_names() {
	local name
	for name in $(compgen -e -- "$cur"); do
		[[ " $_au_agents_own_vars " == *" $name "* ]] || COMPREPLY+=("$name")
	done
}

# _au_query ARGS... KEY: the safe strings of KEY in "au [-C PATH] ARGS --json".
_au_query() {
	local key=${!#}
	au "${config[@]}" "${@:1:$#-1}" --json 2>/dev/null </dev/null | _au_json_strings "$key"
}

_au() {
	local cur prev cword i key cmd="" sub="" operands=0 command_at=-1
	local -a words=() at=() config=() agent=() found=()

	# The words before the cursor's. bash splits "KEY=VALUE" at "=" (COMP_WORDBREAKS):
	# a lone "=" joins its neighbours again, here, with or without bash-completion.
	# at[] keeps where each word starts in COMP_WORDS.
	for ((i = 0; i < COMP_CWORD; i++)); do
		if ((i > 0)) && [[ ${COMP_WORDS[i]} == "=" || ${COMP_WORDS[i - 1]} == "=" ]]; then
			words[${#words[@]} - 1]+=${COMP_WORDS[i]}
		else
			words+=("${COMP_WORDS[i]}")
			at+=("$i")
		fi
	done
	cur=${COMP_WORDS[COMP_CWORD]}
	cword=${#words[@]}
	prev=${words[cword - 1]}
	COMPREPLY=()
	# Right after "=": a value (KEY=VALUE, --limit=memory=16G), which au does not complete.
	[[ $cur == "=" || ${COMP_WORDS[COMP_CWORD - 1]} == "=" ]] && return

	# What the line says so far: the command, its subcommand, -C and -a, how many operands,
	# and for au run where COMMAND starts. An option that takes a value skips it.
	for ((i = 1; i < cword; i++)); do
		local w=${words[i]}
		key=${sub:+$cmd $sub}
		key=${key:-${cmd:-au}}
		case $w in
		--)
			if [[ $cmd == run ]]; then
				command_at=$((i + 1))
				break
			fi
			;;
		-*=*) ;;
		-?*)
			if [[ " ${_au_options[$key]:-} " == *" $w= "* ]]; then
				case $w in
				-C | --config) config=(-C "${words[i + 1]}") ;;
				-a | --agent) agent=(-a "${words[i + 1]}") ;;
				esac
				((i++))
			fi
			;;
		*)
			if [[ -z $cmd ]]; then
				cmd=$w
			elif [[ -z $sub && -n ${_au_subcommands[$cmd]:-} ]]; then
				sub=$w
			elif [[ $cmd == run ]]; then
				# au run: options stop at COMMAND.
				command_at=$i
				break
			else
				((operands++))
			fi
			;;
		esac
	done

	# COMMAND's own arguments, as bash would complete them without au in front.
	if ((command_at >= 0)); then
		if ((command_at >= cword)); then
			COMPREPLY=($(compgen -c -- "$cur"))
		elif declare -F _command_offset >/dev/null; then
			_command_offset "${at[command_at]}"
		else
			_au_files
		fi
		return
	fi

	# The value of an option.
	case $prev in
	-C | --config) _au_files; return ;;
	-d | --directory) _au_files dirs; return ;;
	-e | --env) _au_env_names; return ;;
	--limit) compopt -o nospace 2>/dev/null; _au_reply $_au_limit_keys; return ;;
	--net) _au_reply $_au_net_modes; return ;;
	-a | --agent)
		[[ $cmd == new ]] && return # a new name
		mapfile -t found < <(_au_query list name)
		_au_reply "${found[@]}"
		return
		;;
	esac

	key=${sub:+$cmd $sub}
	key=${key:-${cmd:-au}}
	if [[ $cur == -* ]]; then
		local opts=${_au_options[$key]:-}
		_au_reply ${opts//=/}
		return
	fi
	if [[ -z $cmd ]]; then
		_au_reply $_au_commands
		return
	fi
	if [[ -n ${_au_subcommands[$cmd]:-} && -z $sub ]]; then
		_au_reply ${_au_subcommands[$cmd]}
		return
	fi

	# Operands.
	case $key in
	"mount add") ((operands == 0)) && _au_files ;;
	"mount remove")
		if ((operands == 0)); then
			mapfile -t found < <(_au_query mount list "${agent[@]}" source)
			_au_reply_paths "${found[@]}"
		fi
		;;
	"env set") ((operands == 0)) && _au_env_names ;;
	"env unset")
		if ((operands == 0)); then
			mapfile -t found < <(_au_query env list "${agent[@]}" name)
			_au_reply "${found[@]}"
		fi
		;;
	"limit set") compopt -o nospace 2>/dev/null; _au_reply $_au_limit_keys ;;
	"limit unset") _au_reply ${_au_limit_keys//=/} ;;
	"net mode") ((operands == 0)) && _au_reply $_au_net_modes ;;
	run) COMPREPLY=($(compgen -c -- "$cur")) ;;
	esac
}
complete -F _au au
