#!/usr/bin/env bats
# au net and au run --net, as the human meets them: the agent in a network namespace of
# its own, real clients (curl, npm) reaching real destinations through au's proxy or
# not, and the connection log. Every destination comes from this machine's configuration
# (net.bash): the npm registry from npm's, a Debian mirror from apt's sources.

load helpers
load net

setup() {
	require_world
	fresh_config
	local out
	out=$(as_human au new --yes 2>&1) || fail "au new failed: $out"
}

teardown() {
	stop_servers
	sed -i '/au-rebind\.test/d' /etc/hosts
	world_teardown
}

config_sum() {
	sha256sum "$(human_config)" | cut -d' ' -f1
}

# --- the commands -------------------------------------------------------------------

@test "a new agent, and an entry without the key, are in mode all, with nothing listed" {
	run --separate-stderr as_human au net list
	assert_success
	assert_line --index 0 "Network of agent agent: all (any public destination)"
	assert_line --index 1 "Nothing is listed."
	refute_regex "$(cat "$(human_config)")" "net_"
	run --separate-stderr as_human au net list --json
	assert_output '{"agent":"agent","mode":"all","allow":[]}'
}

@test "au net mode, allow, disallow and list, as the issue's table says" {
	run --separate-stderr as_human au net mode allow
	assert_success
	assert_output "Network mode of agent agent: allow (only what is listed)"
	assert_regex "$stderr" "hint: nothing is listed yet"
	run --separate-stderr as_human au net allow Registry.Example.ORG '*.example.com:443' localhost:5432 '[2001:db8::7]:22'
	assert_success
	assert_line "Allowed registry.example.org for agent agent"
	assert_line "Allowed *.example.com:443 for agent agent"
	run --separate-stderr as_human au net allow registry.example.org
	assert_success
	assert_output "registry.example.org was allowed already for agent agent"
	run --separate-stderr as_human au net list
	assert_output "Network of agent agent: allow (only what is listed)
  registry.example.org
  *.example.com:443
  localhost:5432
  [2001:db8::7]:22"
	run --separate-stderr as_human au net disallow 'localhost:5432' REGISTRY.example.org
	assert_success
	run --separate-stderr as_human au net list --json
	assert_output '{"agent":"agent","mode":"allow","allow":["*.example.com:443","[2001:db8::7]:22"]}'
	# Stored where the reference tool ignores it.
	run grep -E '^net_(mode|allow) = ' "$(human_config)"
	assert_output 'net_mode = "allow"
net_allow = ["*.example.com:443", "[2001:db8::7]:22"]'
	# Each mode is accepted.
	for mode in none host all; do
		run --separate-stderr as_human au net mode "$mode"
		assert_success
	done
}

@test "bad modes, patterns and ports are one clear line, and leave the config untouched" {
	as_human au net allow example.com >/dev/null
	local before
	before=$(config_sum)

	run --separate-stderr as_human au net mode full
	assert_failure 2
	assert_equal "${stderr_lines[0]}" "au: net mode: bad mode 'full': use none, allow, all or host"
	run --separate-stderr as_human au net allow good.example 'bad host.example'
	assert_failure 2
	assert_equal "${stderr_lines[0]}" "au: net allow: bad pattern 'bad host.example': invalid character in host name"
	run --separate-stderr as_human au net allow good.example example.com:0
	assert_failure 2
	assert_regex "${stderr_lines[0]}" "bad pattern 'example.com:0': the port must be a number from 1 to 65535"
	run --separate-stderr as_human au net allow example.com:65536
	assert_failure 2
	run --separate-stderr as_human au net allow '*'
	assert_failure 2
	assert_regex "${stderr_lines[0]}" "use 'au net mode all' for that"
	run --separate-stderr as_human au net allow localhost
	assert_failure 2
	assert_regex "${stderr_lines[0]}" "localhost needs a port"
	run --separate-stderr as_human au net allow $'evil\e[31m.example'
	assert_failure 2
	assert_regex "${stderr_lines[0]}" "'evil\\\\x1b\[31m.example'"
	run --separate-stderr as_human au net disallow never-listed.example
	assert_failure 1
	assert_equal "${stderr_lines[0]}" "au: never-listed.example is not allowed for agent agent"
	run --separate-stderr as_human au run --net sometimes true
	assert_failure 2
	assert_equal "${stderr_lines[0]}" "au: run: bad network mode 'sometimes': use none, allow, all or host"
	# More ports than the agent's namespace has capture listeners for: refused whole.
	local patterns=() i
	for ((i = 0; i < 60; i++)); do
		patterns+=("host$i.example:$((10000 + i))")
	done
	run --separate-stderr as_human au net allow "${patterns[@]}"
	assert_failure 1
	assert_regex "${stderr_lines[0]}" "^au: cannot allow that for agent 'agent': the allowed patterns name too many ports"
	assert_equal "$(config_sum)" "$before"
}

# --- the modes ----------------------------------------------------------------------

@test "none: only loopback, no name resolves, nothing is reached, with or without a proxy" {
	require_destinations
	as_human au net mode none >/dev/null

	run --separate-stderr as_human au run --no-login cat /proc/net/dev
	assert_success
	assert_equal "$(grep -c ':' <<<"$output")" 1
	assert_line --regexp '^ *lo:'
	run --separate-stderr as_human au run --no-login printenv HTTPS_PROXY
	assert_failure 1
	run --separate-stderr as_human au run --no-login getent hosts "$REGISTRY_HOST"
	assert_failure
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 "$REGISTRY/"
	assert_failure
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 -x http://127.0.0.1:3128 "$REGISTRY/"
	assert_failure 7
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 "$MIRROR_FILE"
	assert_failure
	# Nobody to log anything.
	run --separate-stderr as_human au net log
	assert_output "No connections logged for agent agent yet."
}

@test "allow, with only the npm registry: npm install works, curl to the Debian mirror does not, and both are logged" {
	require_destinations
	as_human au net mode allow >/dev/null
	as_human au net allow "$REGISTRY_HOST" >/dev/null

	run --separate-stderr as_human au run -- bash -c \
		'mkdir -p ~/project && cd ~/project && npm install --no-audit --no-fund --no-update-notifier ms && node -e "console.log(require(\"ms\")(60000))"'
	echo "$stderr"
	assert_success
	assert_line "1m"
	run --separate-stderr as_human au run --no-login curl -sS --max-time 20 -o /dev/null -w '%{http_code}' "$MIRROR_FILE"
	assert_output --partial 403
	run --separate-stderr as_human au run --no-login curl -sS --max-time 20 --noproxy '*' "$MIRROR_FILE"
	assert_failure

	assert_logged ".dest == \"$REGISTRY_HOST:443\" and .decision == \"allow\" and .down > 0"
	assert_logged "(.dest | startswith(\"$MIRROR_HOST\")) and .decision == \"deny\" and .reason == \"not in allow list\""
	# And readably, one line a record.
	run --separate-stderr as_human au net log
	assert_success
	assert_line --regexp "^[0-9-]+ [0-9:.]+  run [0-9a-f]{16}  allow  connect  $REGISTRY_HOST:443 -> [^ ]+  up [0-9.]+ k?B, down [0-9.]+ [kM]?B, [0-9]+ ms"
	assert_line --regexp "  deny   http     $MIRROR_HOST:80  \(not in allow list\)\$"
}

@test "all: the registry and the mirror, but never the human's 127.0.0.1 server or abstract socket" {
	require_destinations
	local port
	port=$(free_port)
	human_server "$port"
	human_abstract_socket "au-test-$port"
	# Without au's namespace, the agent's uid reaches both.
	run su agent -s /bin/sh -c "curl -sS --max-time 5 http://127.0.0.1:$port/" </dev/null
	assert_output "the human's server"
	run su agent -s /bin/sh -c "/usr/bin/python3 -c \"$(abstract_client "au-test-$port")\"" </dev/null
	assert_output "the human's socket"

	run --separate-stderr as_human au run --no-login curl -sS --max-time 20 -o /dev/null -w '%{http_code}' "$REGISTRY/"
	assert_output 200
	run --separate-stderr as_human au run --no-login curl -sS --max-time 20 -o /dev/null -w '%{http_code}' "$MIRROR_FILE"
	assert_output 200
	# The human's loopback, directly (the agent's own loopback has nothing there) and through the proxy.
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 "http://127.0.0.1:$port/"
	assert_failure 7
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 --noproxy '' -x http://127.0.0.1:3128 "http://127.0.0.1:$port/"
	assert_output "au: the agent's network policy does not allow this destination: localhost port not listed"
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 --noproxy '' -x http://127.0.0.1:3128 "http://localhost:$port/"
	assert_output "au: the agent's network policy does not allow this destination: localhost port not listed"
	run --separate-stderr as_human au run --no-login /usr/bin/python3 -c "$(abstract_client "au-test-$port")"
	assert_failure
	assert_regex "$stderr" "ConnectionRefusedError"
	assert_logged ".kind == \"http\" and .dest == \"localhost:$port\" and .decision == \"deny\" and .reason == \"localhost port not listed\""
}

@test "all: a name that resolves to 127.0.0.1 is refused after resolution" {
	local port
	port=$(free_port)
	human_server "$port"
	echo "127.0.0.1 au-rebind.test" >>/etc/hosts
	# Outside au, the name is the human's server.
	run curl -sS --max-time 5 "http://au-rebind.test:$port/"
	assert_output "the human's server"

	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "http://au-rebind.test:$port/"
	assert_output 403
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 -p -x http://127.0.0.1:3128 "http://au-rebind.test:$port/"
	refute_output --partial "the human's server"
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 --socks5-hostname 127.0.0.1:1080 "http://au-rebind.test:$port/"
	refute_output --partial "the human's server"
	assert_logged ".dest == \"au-rebind.test:$port\" and .decision == \"deny\" and .reason == \"loopback address\""
	assert_logged ".kind == \"socks\" and .dest == \"au-rebind.test:$port\" and .reason == \"loopback address\""
}

@test "localhost:PORT, listed, reaches the human's server on that port, through capture and the proxy" {
	local port
	port=$(free_port)
	human_server "$port"
	as_human au net allow "localhost:$port" >/dev/null

	# NO_PROXY sends 127.0.0.1 straight to the agent's own loopback, where the capture listener is.
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 "http://127.0.0.1:$port/"
	assert_output "the human's server"
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 --noproxy '' -x http://127.0.0.1:3128 "http://localhost:$port/"
	assert_output "the human's server"
	assert_logged ".kind == \"capture\" and .dest == \"localhost:$port\" and .decision == \"allow\""
}

@test "a connection still open when the agent leaves is cut, and logged" {
	local port i
	port=$(free_port)
	# A server of the human's that takes one connection and then says nothing for a minute:
	# the proxy's relay of it would wait as long.
	su "$AU_HUMAN" -s /bin/sh -c "exec /usr/bin/python3 -c '
import socket, time
s = socket.socket()
s.bind((\"127.0.0.1\", $port))
s.listen()
c, _ = s.accept()
time.sleep(60)
'" </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/server.pid"
	for ((i = 0; i < 100; i++)); do
		grep -qi ":$(printf '%04X' "$port") 00000000:0000 0A" /proc/net/tcp && break
		sleep 0.1
	done
	as_human au net allow "localhost:$port" >/dev/null

	run --separate-stderr as_human au run --no-login python3 -c \
		"import socket, time; s = socket.create_connection(('127.0.0.1', $port)); s.sendall(b'hello'); time.sleep(2)"
	assert_success
	assert_logged ".kind == \"capture\" and .dest == \"localhost:$port\" and .decision == \"allow\" and .up == 5 and .reason == \"the agent is gone\""
}

@test "host: the host's network as before, said once on stderr, and nothing logged" {
	require_destinations
	local port
	port=$(free_port)
	human_server "$port"
	as_human au net mode host >/dev/null

	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 "http://127.0.0.1:$port/"
	assert_output "the human's server"
	assert_equal "$(grep -c "network mode host" <<<"$stderr")" 1
	assert_equal "${stderr_lines[0]}" "au: agent 'agent' runs on the host's network (network mode host): no namespace, no proxy, no log"
	run --separate-stderr as_human au run --no-login curl -sS --max-time 20 -o /dev/null -w '%{http_code}' "$MIRROR_FILE"
	assert_output 200
	run --separate-stderr as_human au run --no-login printenv HTTPS_PROXY
	assert_failure 1
	run --separate-stderr as_human au net log
	assert_output "No connections logged for agent agent yet."
	# --net overrides the mode for one run, and says nothing more.
	run --separate-stderr as_human au run --net none --no-login curl -sS --max-time 10 "http://127.0.0.1:$port/"
	assert_failure 7
	refute_regex "$stderr" "network mode host"
}

@test "a client that ignores proxy variables reaches an allowed host through DNS and capture" {
	require_destinations
	as_human au net mode allow >/dev/null
	as_human au net allow "$REGISTRY_HOST" >/dev/null

	# The stub gives the allowed name an address of the agent's loopback...
	run --separate-stderr as_human au run --no-login getent ahostsv4 "$REGISTRY_HOST"
	assert_success
	assert_line --index 0 --regexp '^127\.1\.[0-9]+\.[0-9]+ '
	# ...and the capture listener there carries TLS to it, without any proxy.
	run --separate-stderr as_human au run --no-login env -u HTTPS_PROXY -u https_proxy -u ALL_PROXY -u all_proxy \
		curl -sS --max-time 20 -o /dev/null -w '%{http_code}' "$REGISTRY/"
	assert_output 200
	# Node's https ignores the proxy variables, and resolves with AI_ADDRCONFIG.
	# (The system's CA bundle: this network may re-sign TLS with a CA of its own.)
	run --separate-stderr as_human au run --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --no-login node -e \
		"require('https').get('$REGISTRY/', { timeout: 20000 }, r => { console.log(r.statusCode); process.exit(0); })
			.on('timeout', function () { console.log('timeout'); this.destroy(); }).on('error', e => console.log(e.code))"
	assert_output 200
	# A name that is not listed does not resolve at all.
	run --separate-stderr as_human au run --no-login getent hosts "$MIRROR_HOST"
	assert_failure
	assert_logged ".kind == \"capture\" and .dest == \"$REGISTRY_HOST:443\" and .decision == \"allow\" and .down > 0"
	assert_logged ".kind == \"dns\" and .dest == \"$MIRROR_HOST\" and .decision == \"deny\""
}

@test "the agent's own loopback is its own: its test server answers, directly, with the proxy variables set" {
	run --separate-stderr as_human au run --no-login bash -c '
		printenv NO_PROXY
		/usr/bin/python3 -m http.server --bind 127.0.0.1 8000 >/dev/null 2>&1 &
		for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:8000/ && break; sleep 0.1; done
		curl -sS -o /dev/null -w "%{http_code}\n" http://localhost:8000/
		curl -sS -o /dev/null -w "%{http_code}\n" "http://[::1]:8000/" || true'
	assert_line --index 0 "localhost,127.0.0.1,::1"
	assert_line --index 1 "200"
}

@test "au net log: one readable line a record, --json as stored, -f follows" {
	require_destinations
	as_human au net mode allow >/dev/null
	run --separate-stderr as_human au run --no-login curl -sS --max-time 10 "$MIRROR_FILE"
	run --separate-stderr as_human au net log
	assert_success
	assert_line --regexp "^[0-9-]+ [0-9:.]+  run [0-9a-f]{16}  allow  proxy    \(started: mode allow, 0 patterns, listeners: .*\)\$"
	assert_line --regexp "  deny   http     $MIRROR_HOST:80  \(not in allow list\)\$"
	assert_line --regexp "  allow  proxy    \(stopped: the agent is gone\)\$"
	local readable=$output
	run --separate-stderr as_human au net log --json
	assert_success
	# As stored: byte for byte the file's lines, one record each.
	assert_equal "$output" "$(cat "$(human_home)/.local/state/au/net/agent.log")"
	assert_equal "${#lines[@]}" "$(wc -l <<<"$readable")"
	run jq -e -s 'all(.[]; (keys | length) == 11 and .agent == "agent")' <<<"$output"
	assert_success

	# -f: a record that comes later shows up.
	su - "$AU_HUMAN" -c 'exec au net log -f' >"$BATS_TEST_TMPDIR/follow" 2>&1 </dev/null 3>&- &
	local follower=$! i
	as_human au run --no-login curl -sS --max-time 10 -o /dev/null "$REGISTRY/" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		grep -q "$REGISTRY_HOST:443" "$BATS_TEST_TMPDIR/follow" && break
		sleep 0.1
	done
	kill "$follower"
	run grep -c "deny   connect  $REGISTRY_HOST:443" "$BATS_TEST_TMPDIR/follow"
	assert_output 1
}

@test "with --keep-running, a process left behind gets no new connection once au run has returned" {
	require_destinations
	run --separate-stderr as_human au run --keep-running --no-login sh -c \
		"(sleep 3; curl -sS --max-time 10 -o /dev/null -w '%{http_code}' '$REGISTRY/' >/home/agent/late 2>&1; touch /home/agent/late.done) >/dev/null 2>&1 &
		 curl -sS --max-time 20 -o /dev/null -w '%{http_code}' '$REGISTRY/'"
	assert_output 200
	local i
	for ((i = 0; i < 200; i++)); do
		[[ -e /home/agent/late.done ]] && break
		sleep 0.1
	done
	run cat /home/agent/late
	refute_output 200
}

@test "a kernel without network namespaces gets one clear line" {
	# A stand-in for such a kernel: unshare(CLONE_NEWNET) fails with EINVAL, as there.
	cat >"$BATS_TEST_TMPDIR/no-netns.c" <<-'EOF'
		#define _GNU_SOURCE
		#include <errno.h>
		#include <linux/filter.h>
		#include <linux/seccomp.h>
		#include <sched.h>
		#include <stddef.h>
		#include <sys/prctl.h>
		#include <sys/syscall.h>
		#include <unistd.h>
		int main(int argc, char **argv)
		{
			struct sock_filter f[] = {
				BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
				BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 3),
				BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
				BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWNET, 0, 1),
				BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EINVAL),
				BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
			};
			struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };
			/* As root, without no_new_privs: su and the setuid entrypoint still work under it. */
			if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
				return 125;
			execv(argv[1], argv + 1);
			return 127;
		}
	EOF
	cc -o "$BATS_TEST_TMPDIR/no-netns" "$BATS_TEST_TMPDIR/no-netns.c"
	run "$BATS_TEST_TMPDIR/no-netns" /usr/bin/unshare --net true
	assert_failure

	run --separate-stderr "$BATS_TEST_TMPDIR/no-netns" /bin/su - "$AU_HUMAN" -c 'au run --no-login touch /home/agent/ran' </dev/null
	assert_failure 125
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "${stderr_lines[0]}" "^au: entrypoint: cannot create a network namespace: Invalid argument \(does this kernel have them\? 'au net mode host' runs the agent on the host's network\)\$"
	assert [ ! -e /home/agent/ran ]
	# Mode host does not need them.
	run --separate-stderr "$BATS_TEST_TMPDIR/no-netns" /bin/su - "$AU_HUMAN" -c 'au run --net host --no-login true' </dev/null
	assert_success
}
