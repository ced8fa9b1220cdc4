# terminal.bash: the human at a real terminal (tmux), for the tests that need one.
# Needs TMUX_SOCKET (a tmux -L name) set by the test file, and helpers.bash loaded.

tmux_as_human() {
	runuser -u "$AU_HUMAN" -- tmux -L "$TMUX_SOCKET" "$@"
}

# A terminal window of 100x30 with the human's login shell in it, at a known prompt.
term_start() {
	su - "$AU_HUMAN" -c "tmux -L $TMUX_SOCKET -f /dev/null new-session -d -s s -x 100 -y 30" </dev/null
	term_type 'PS1="alice\$ "; echo "ready-$((6 * 7))"'
	term_wait 'ready-42'
}

# term_type TEXT: the human types TEXT and presses Enter.
term_type() {
	tmux_as_human send-keys -t s -l "$1"
	tmux_as_human send-keys -t s Enter
}

# term_keys KEY...: the human presses keys (tmux names: C-c, C-d, Enter).
term_keys() {
	tmux_as_human send-keys -t s "$@"
}

# What the window shows, with its scrollback, wrapped lines joined.
term_screen() {
	tmux_as_human capture-pane -p -J -t s -S -
}

# term_wait REGEX [SECONDS]: wait until the window shows REGEX (extended), 10 s at most.
term_wait() {
	local regex=$1 tries=$((${2:-10} * 10))

	while ((tries-- > 0)); do
		term_screen | grep -Eq -e "$regex" && return 0
		sleep 0.1
	done
	echo "# the terminal never showed /$regex/; it shows:"
	term_screen | sed -e '/^$/d' -e 's/^/#   /'
	return 1
}

# term_run CMD [SECONDS]: type CMD at the shell's prompt, wait until it is done and set
# term_status to its exit status. The marker is typed as $((N + 0)), so that what is
# typed never matches what is printed.
term_run() {
	term_n=$((term_n + 1))
	term_type "$1; echo \"<\$? done-\$(($term_n + 0))>\""
	term_wait "<[0-9]+ done-$term_n>" "${2:-10}" || return 1
	term_status=$(term_screen | grep -Eo "<[0-9]+ done-$term_n>" | tail -n 1 | sed -E 's/^<([0-9]+) .*/\1/')
}

# wait_for CMD...: run CMD every 0.1 s until it succeeds, 10 s at most.
wait_for() {
	local tries=100

	while ((tries-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	echo "# gave up waiting for: $*"
	return 1
}
