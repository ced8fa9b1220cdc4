#!/usr/bin/env bats
# Completion, as the human meets it at a real terminal (tmux), pressing Tab in each
# shell: bash with au's file sourced and no bash-completion, bash with bash-completion
# finding it under au's PREFIX, zsh and fish. Commands (those of every issue: repair,
# limit, net), agent names from the config, the current shares for mount remove, and
# never HOME, USER, LOGNAME or SHELL for env set.

load helpers
load terminal

TMUX_SOCKET=au-test-completion

setup() {
	require_world
	fresh_config
	local home
	home=$(human_home)
	as_human mkdir alpha alps "with space" $'esc\e[31m'
	# Shares recorded by hand: completion reads the config, the agents need not exist.
	write_config <<-EOF
		disable_home_access_check = true

		[[agents]]
		user_name = "agent"
		su_as_agent_group = "su-as-agent"
		entrypoint = "/nonexistent/su_as_agent"
		entrypoint_sha256 = "<unknown>"
		bootstrapped = false
		env = ["STORED_ONE=1"]
		[[agents.mounts]]
		source = "$home/alpha"
		target = "/home/agent/alpha"
		read_only = true
		[[agents.mounts]]
		source = "$home/with space"
		target = "/home/agent/with space"
		read_only = true
		[[agents.mounts]]
		source = "$home/esc\u001b[31m"
		target = "/home/agent/esc"
		read_only = true

		[[agents]]
		user_name = "bob"
		su_as_agent_group = "su-as-bob"
		entrypoint = "/nonexistent/su_as_agent"
		entrypoint_sha256 = "<unknown>"
		bootstrapped = false
	EOF
}

teardown() {
	runuser -u "$AU_HUMAN" -- tmux -L "$TMUX_SOCKET" kill-server 2>/dev/null || true
	world_teardown
}

# shell_start SHELL: the human's terminal running SHELL, set up as its README section
# says, with AU_TEST_VAR_XYZ exported, at a known prompt.
shell_start() {
	local data=$AU_PREFIX/share:/usr/local/share:/usr/share start setup
	case $1 in
	bash)
		start="env AU_TEST_VAR_XYZ=1 bash --norc --noprofile"
		setup="source $AU_PREFIX/share/bash-completion/completions/au; PS1='ready> '"
		;;
	bash-completion)
		start="env AU_TEST_VAR_XYZ=1 XDG_DATA_DIRS=$data bash --norc --noprofile"
		setup="source /usr/share/bash-completion/bash_completion; PS1='ready> '"
		;;
	zsh)
		start="env AU_TEST_VAR_XYZ=1 zsh -f"
		setup="fpath=($AU_PREFIX/share/zsh/site-functions \$fpath); autoload -Uz compinit; compinit -u; PS1='ready> '"
		;;
	fish)
		start="env AU_TEST_VAR_XYZ=1 XDG_DATA_DIRS=$data fish"
		setup="set -g fish_autosuggestion_enabled 0; function fish_prompt; echo -n 'ready> '; end"
		;;
	esac
	su - "$AU_HUMAN" -c "tmux -L $TMUX_SOCKET -f /dev/null new-session -d -s s -x 150 -y 20 '$start'" </dev/null
	term_type "$setup; clear"
	term_wait '^ready> $'
}

# tab_line TEXT: the human types TEXT and Tab, then "@" to mark where the cursor was;
# prints the line, then clears it.
tab_line() {
	local text=$1 line
	tmux_as_human send-keys -t s -l "$text"
	tmux_as_human send-keys -t s Tab
	tmux_as_human send-keys -t s -l "@"
	if ! term_wait '@'; then
		fail "typing '$text' and Tab: no line came back"
	fi
	line=$(tmux_as_human capture-pane -p -t s | grep -F '@' | tail -n 1)
	# Not Ctrl-C: the terminal would drop the keys typed after it.
	tmux_as_human send-keys -t s C-e C-u
	wait_for sh -c "! runuser -u $AU_HUMAN -- tmux -L $TMUX_SOCKET capture-pane -p -t s | grep -qF '@'" >&2
	tmux_as_human send-keys -t s C-l
	printf '%s\n' "$line"
}

# completes TEXT EXPECTED: after TEXT and Tab, the line reads EXPECTED.
completes() {
	local line
	line=$(tab_line "$1") || fail "$line"
	assert_equal "$line" "ready> $2@"
}

# never_completes TEXT UNWANTED: after TEXT and Tab, the line does not read UNWANTED (fish
# may complete another match: it also matches inside words).
never_completes() {
	local line
	line=$(tab_line "$1") || fail "$line"
	[[ $line == "ready> "*@ ]] || fail "typing '$1' and Tab: unexpected line '$line'"
	[[ $line != "ready> $2@" ]] || fail "typing '$1' and Tab completed '$2'"
}

check_shell() {
	local home var
	home=$(human_home)
	shell_start "$1"

	# Commands and subcommands, today's and those of the issues in progress.
	completes "au mo" "au mount "
	completes "au mount r" "au mount remove "
	completes "au rep" "au repair "
	completes "au lim" "au limit "
	completes "au net disa" "au net disallow "
	completes "au run --no-l" "au run --no-login "
	completes "au run --net h" "au run --net host "
	completes "au info --js" "au info --json "
	# Agent names come from the config: no file of that name exists.
	completes "au info -a b" "au info -a bob "
	completes "au -C $(human_config) delete --agent b" "au -C $(human_config) delete --agent bob "
	# The current shares: alps is a folder too, but not shared.
	completes "au mount remove ~/al" "au mount remove ~/alpha "
	completes "au mount remove $home/al" "au mount remove $home/alpha "
	completes "au mount remove ~/wi" "au mount remove ~/with\\ space "
	# A name with an escape sequence is never offered.
	completes "au mount remove ~/es" "au mount remove ~/es"
	completes "au env unset STORED_" "au env unset STORED_ONE "
	# The human's variables for env set, but never those that are the agent's own.
	completes "au env set AU_TEST_VAR_" "au env set AU_TEST_VAR_XYZ "
	for var in HOME USER LOGNAME SHELL; do
		never_completes "au env set $var" "au env set $var "
		never_completes "au run -e $var" "au run -e $var "
	done
}

@test "bash without bash-completion: the file sourced from ~/.bashrc completes au" {
	check_shell bash
}

@test "bash-completion finds au's completion under PREFIX through XDG_DATA_DIRS" {
	check_shell bash-completion
}

@test "zsh completes au with _au from PREFIX/share/zsh/site-functions" {
	check_shell zsh
}

@test "fish completes au from PREFIX/share/fish/vendor_completions.d through XDG_DATA_DIRS" {
	check_shell fish
}
