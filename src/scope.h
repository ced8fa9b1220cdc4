/*
 * scope.h: a systemd scope for the run, where systemd is init.
 *
 * The setuid switch moves no process to another cgroup: started from a
 * login, the agent would stay in the human's session-N.scope, which logind
 * and polkit treat as the human at the console, and limits set on the
 * agent's user-UID.slice would never apply to it. systemd owns the cgroup
 * tree, and nobody else may create cgroups in it (its CGROUP_DELEGATION.md),
 * so au, unprivileged and as the human, asks the human's user manager for a
 * transient scope with the limits (systemd-run --user --scope, named by its
 * absolute path) and starts the entrypoint in it. The entrypoint verifies
 * the placement and the limits, and refuses to run otherwise; no D-Bus
 * client ever runs as root.
 */
#pragma once

#include <stdbool.h>

struct ep_request;
struct strvec;

#define SYSTEMD_RUN "/usr/bin/systemd-run"

/* systemd is init (what sd_booted() checks, and the entrypoint too). */
bool systemd_booted(void);

/*
 * Before the run: systemd-run is there and the human's user manager can be
 * reached (XDG_RUNTIME_DIR or DBUS_SESSION_BUS_ADDRESS). Dies with a hint
 * otherwise.
 */
void scope_check_ready(const char *agent);

/*
 * argv for execve(SYSTEMD_RUN): a scope "au-AGENT-HEX" of the user manager,
 * with req's limits, running the entrypoint open at ep_fd (which must stay
 * open across the exec) with ep_argv's words after its argv[0].
 */
void scope_argv(const char *agent, const struct ep_request *req, int ep_fd, const struct strvec *ep_argv,
		struct strvec *out);

/* env, plus what systemd-run needs to find the user manager. */
void scope_env(const struct strvec *env, struct strvec *out);
