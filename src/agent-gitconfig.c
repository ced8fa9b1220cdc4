/* agent-gitconfig.c: the agent's safe.directory, written by au, bound read-only by the entrypoint. */
#include "agent-gitconfig.h"
#include "agent.h"
#include "config.h"
#include "entrypoint.h"
#include "paths.h"
#include "share.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#define GITCONFIG_MAX 65536

/* A git config value in double quotes: backslash, quote and the escapes git knows. */
static void add_value(struct strbuf *sb, const char *value)
{
	strbuf_addch(sb, '"');
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_addf(sb, "\\%c", *p);
		else if (*p == '\n')
			strbuf_addstr(sb, "\\n");
		else if (*p == '\t')
			strbuf_addstr(sb, "\\t");
		else
			strbuf_addch(sb, *p);
	}
	strbuf_addch(sb, '"');
}

static void gitconfig_text(struct strbuf *sb, const struct agent *a)
{
	strbuf_addstr(sb, "# Written by au at each 'au run' of this agent: its shares, for git's safe.directory.\n"
			  "# The agent sees it read-only as ~/.config/git/config; its own settings stay in\n"
			  "# ~/.gitconfig.\n[safe]\n");
	for (size_t i = 0; i < a->nr_mounts; i++) {
		autofree char *below = xasprintf("%s/*", a->mounts[i].target);

		strbuf_addstr(sb, "\tdirectory = ");
		add_value(sb, a->mounts[i].target);
		strbuf_addstr(sb, "\n\tdirectory = ");
		add_value(sb, below);
		strbuf_addch(sb, '\n');
	}
}

/* Opens (and makes, 0700, as the human) DIR/name, a folder of the human's. */
static int open_own_dir(int dir_fd, const char *name, mode_t mode, uid_t owner)
{
	struct stat st;
	int fd;

	if (mkdirat(dir_fd, name, mode) < 0 && errno != EEXIST)
		return -1;
	fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_uid != owner) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* ~/.local/state/au/NAME, by fd from the home, every folder the human's own. */
static int open_agent_state_dir(const struct human *h, const char *name)
{
	static const struct {
		const char *name;
		mode_t mode;
	} steps[] = { { ".local", 0755 }, { "state", 0755 }, { "au", 0700 } };
	int fd = open_nofollow(h->home_real, O_RDONLY | O_DIRECTORY);

	for (size_t i = 0; i <= ARRAY_SIZE(steps) && fd >= 0; i++) {
		int next = open_own_dir(fd, i < ARRAY_SIZE(steps) ? steps[i].name : name,
					i < ARRAY_SIZE(steps) ? steps[i].mode : 0700, h->uid);
		int saved = errno;

		close(fd);
		fd = next;
		errno = saved;
	}
	return fd;
}

/* The file as it is (empty when missing); false when it is not a regular file of ours. */
static bool read_current(int dir_fd, struct strbuf *out)
{
	autoclose int fd = openat(dir_fd, "gitconfig", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return errno == ENOENT;
	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read_fd_all(fd, GITCONFIG_MAX, out) == 0;
}

/* Replaces the file with text, atomically (a concurrent au run may read it). */
static int write_new(int dir_fd, const struct strbuf *text)
{
	char tmp[64];
	autoclose int fd = -1;

	snprintf(tmp, sizeof(tmp), "gitconfig.%d.tmp", (int)getpid());
	unlinkat(dir_fd, tmp, 0);
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0644) < 0 || write_all(fd, text->buf, text->len) < 0 ||
	    renameat(dir_fd, tmp, dir_fd, "gitconfig") < 0) {
		int saved = errno;

		unlinkat(dir_fd, tmp, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

void agent_gitconfig_add_mount(struct ep_request *req, const struct agent *a, const struct agent_user *u)
{
	autostrbuf struct strbuf text = STRBUF_INIT;
	autostrbuf struct strbuf current = STRBUF_INIT;
	autohuman struct human h = { 0 };
	autofree char *dir = NULL;
	autofree char *source = NULL;
	autofree char *target = NULL;
	autoclose int dir_fd = -1;
	autoclose int fd = -1;
	char home[PATH_MAX];
	struct stat st;

	if (!a->nr_mounts)
		return;
	human_load(&h);
	dir = share_state_dir(&h);
	source = xasprintf("%s/%s/gitconfig", dir, a->user_name);
	target = xasprintf("%s/.config/git/config", realpath(u->home, home) ? home : u->home);
	gitconfig_text(&text, a);
	dir_fd = open_agent_state_dir(&h, a->user_name);
	if (dir_fd < 0 || !read_current(dir_fd, &current) ||
	    ((!current.len || strcmp(strbuf_str(&current), text.buf)) && write_new(dir_fd, &text) < 0)) {
		warn_errno("cannot write '%s'", source);
		hint("the agent's git may refuse your repositories in its shares (safe.directory)");
		return;
	}
	fd = openat(dir_fd, "gitconfig", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		warn_errno("cannot open '%s'", source);
		return;
	}
	ep_request_add_mount(req, source, st.st_dev, st.st_ino, target, true);
}
