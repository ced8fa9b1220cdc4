/* scope.c: systemd-run --user --scope for the run, where systemd is init (scope.h). */
#include "scope.h"
#include "entrypoint.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

bool systemd_booted(void)
{
	struct stat st;

	return lstat("/run/systemd/system", &st) == 0 && S_ISDIR(st.st_mode);
}

/* The variables that lead systemd-run to the user manager's bus. */
static const char *const bus_vars[] = { "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS" };

void scope_check_ready(const char *agent)
{
	if (access(SYSTEMD_RUN, X_OK) < 0) {
		error("cannot run agent '%s' out of your login session: no %s", agent, SYSTEMD_RUN);
		hint("install systemd's systemd-run (Debian: the systemd package)");
		exit(EXIT_FAIL);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bus_vars); i++) {
		if (getenv(bus_vars[i]))
			return;
	}
	error("cannot run agent '%s' out of your login session: no systemd user manager to ask for a scope", agent);
	hint("log in through a session (ssh, a desktop, 'machinectl shell'); XDG_RUNTIME_DIR is not set");
	exit(EXIT_FAIL);
}

void scope_argv(const char *agent, const struct ep_request *req, int ep_fd, const struct strvec *ep_argv,
		struct strvec *out)
{
	unsigned long long bits = 0;

	if (getrandom(&bits, sizeof(bits), GRND_NONBLOCK) != (ssize_t)sizeof(bits))
		bits = (unsigned long long)time(NULL) ^ (unsigned long long)getpid() << 32;
	strvec_push(out, SYSTEMD_RUN);
	strvec_pushv(out, (const char *const[]){ "--user", "--scope", "--quiet", "--collect", NULL });
	/* The entrypoint checks this name: "au-AGENT-HEX.scope". */
	strvec_pushf(out, "--unit=au-%s-%016llx", agent, bits);
	if (req->memory_max) {
		strvec_pushf(out, "--property=MemoryMax=%llu", req->memory_max);
		strvec_push(out, "--property=MemorySwapMax=0");
	}
	if (req->cpu_percent)
		strvec_pushf(out, "--property=CPUQuota=%llu%%", req->cpu_percent);
	if (req->tasks_max)
		strvec_pushf(out, "--property=TasksMax=%llu", req->tasks_max);
	strvec_push(out, "--");
	/* The verified entrypoint itself, by its fd: the same file au checked. */
	strvec_pushf(out, "/proc/self/fd/%d", ep_fd);
	for (size_t i = 1; i < ep_argv->nr; i++)
		strvec_push(out, ep_argv->v[i]);
}

void scope_env(const struct strvec *env, struct strvec *out)
{
	for (size_t i = 0; i < env->nr; i++)
		strvec_push(out, env->v[i]);
	for (size_t i = 0; i < ARRAY_SIZE(bus_vars); i++) {
		const char *v = getenv(bus_vars[i]);

		if (v)
			strvec_pushf(out, "%s=%s", bus_vars[i], v);
	}
}
