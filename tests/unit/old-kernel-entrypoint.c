/*
 * old-kernel-entrypoint.c: the entrypoint's own code, compiled whole (its
 * main renamed) with the ids au new would bake in, so that
 * test-old-kernel.c can call its fallbacks. Its die() and cmocka's fail()
 * would clash in one file, hence this one of its own.
 */
#include <stdbool.h>

#define TARGET_UID 64000
#define TARGET_GID 64000
#define CALLER_UID 64001
#define AGENT_NAME "agent"
#define AGENT_HOME "/home/agent"
#define AGENT_SHELL "/bin/bash"
#define CALLER_HOME "/home/alice"
#define NETPROXY_PATH "/usr/libexec/agent-as-unix-user/au-netproxy"
#define RESOLV_CONF_PATH "/usr/share/agent-as-unix-user/resolv.conf"

int su_entrypoint_main(int argc, char **argv, char **envp);
#define main su_entrypoint_main
#include "../../entrypoint/su_as_agent.c"
#undef main

void ep_bind_by_fd(int src_fd, int dst_fd, int dst_parent, const char *dst_name, bool read_only);
void ep_close_inherited_fds(void);
int ep_watch_statx(int fd, unsigned int *nlink, unsigned int *mode, bool *has_btime);
void ep_wait_for_proxy(pid_t pid);

void ep_bind_by_fd(int src_fd, int dst_fd, int dst_parent, const char *dst_name, bool read_only)
{
	bind_by_fd(src_fd, dst_fd, dst_parent, dst_name, read_only, dst_name);
}

void ep_close_inherited_fds(void)
{
	close_inherited_fds();
}

int ep_watch_statx(int fd, unsigned int *nlink, unsigned int *mode, bool *has_btime)
{
	struct su_statx sx;

	if (watch_statx(fd, &sx) < 0)
		return -1;
	*nlink = sx.nlink;
	*mode = sx.mode;
	*has_btime = sx.mask & SU_STATX_BTIME;
	return 0;
}

void ep_wait_for_proxy(pid_t pid)
{
	struct su_request req = { 0 };

	proxy_pid = pid;
	wait_for_proxy(&req);
}
