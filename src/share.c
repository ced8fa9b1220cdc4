/* share.c: a share's source, as the human meant it, and as it was when it was shared. */
#include "share.h"
#include "acl.h"
#include "agent.h"
#include "config.h"
#include "paths.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

void share_source_release(struct share_source *s)
{
	free(s->path);
	if (s->fd >= 0)
		close(s->fd);
	s->path = NULL;
	s->fd = -1;
}

struct source_check {
	uid_t human;
	const struct share_agent *agents;
	size_t nr;
	struct strbuf why;
};

/* The first of c's agents that may write the folder open at fd, or NULL. */
static const struct share_agent *writer_of(const struct source_check *c, int fd)
{
	static const struct share_agent anyone = { (uid_t)-1, (gid_t)-1 };
	struct stat st;

	if (fstat(fd, &st) < 0)
		return &anyone;
	for (size_t i = 0; i < c->nr; i++) {
		if (acl_may_write(fd, &st, c->agents[i].uid, c->agents[i].gid))
			return &c->agents[i];
	}
	return NULL;
}

static bool is_agent(const struct source_check *c, uid_t uid)
{
	for (size_t i = 0; i < c->nr; i++) {
		if (c->agents[i].uid == uid)
			return true;
	}
	return false;
}

/*
 * path_resolve()'s visitor for a source. A symlink can only lead where its
 * maker chose: it must be the human's (or root's), and sit in a folder the
 * agent cannot write, or the agent may have moved one of the human's own
 * symlinks there (from inside a read-write share) to make a path lead
 * elsewhere. Folders passed through, those a symlink leads through
 * included, must be the human's or root's: in a folder of the agent's,
 * every name is the agent's to choose. What the path names is checked by
 * the caller, on the fd.
 */
static int visit_source(const struct path_step *step, void *data)
{
	struct source_check *c = data;
	uid_t owner = step->st->st_uid;

	if (step->kind == PATH_STEP_SYMLINK) {
		if (owner != c->human && owner != 0) {
			strbuf_addf(&c->why, "'%s' is a symlink made by uid %u, not by you: refusing to follow it",
				    step->path, (unsigned)owner);
			errno = EPERM;
			return -1;
		}
		if (writer_of(c, step->dir_fd)) {
			strbuf_addf(&c->why, "'%s' is a symlink in a folder the agent can write (it may have put "
				    "it there): give the path it leads to instead", step->path);
			errno = EPERM;
			return -1;
		}
		return 0;
	}
	if (step->kind == PATH_STEP_DIR && owner != c->human && owner != 0) {
		strbuf_addf(&c->why, "'%s' is a folder of uid %u%s, not yours: refusing to go through it",
			    step->path, (unsigned)owner, is_agent(c, owner) ? " (the agent)" : "");
		errno = EPERM;
		return -1;
	}
	return 0;
}

void share_source_resolve(const char *arg, const struct human *h, const struct share_agent *agents,
			  size_t nr, struct share_source *out)
{
	struct source_check check = { h->uid, agents, nr, STRBUF_INIT };
	autofree char *given = NULL;
	char cwd[PATH_MAX];

	out->fd = -1;
	out->path = NULL;
	if (arg[0] == '/') {
		given = xstrdup(arg);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			die_errno("cannot get the current directory");
		given = xasprintf("%s/%s", cwd, arg);
	}
	/* ".." is resolved as the kernel does it, after the symlinks before it. */
	out->fd = path_resolve(given, visit_source, &check, &out->path, NULL);
	if (out->fd < 0) {
		if (check.why.len)
			die("%s", check.why.buf);
		die_errno("cannot use '%s'", arg);
	}
	strbuf_release(&check.why);
	if (fstat(out->fd, &out->st) < 0)
		die_errno("cannot stat '%s'", out->path);
	if (!strcmp(out->path, h->home_real))
		die("'%s' is your home itself: share a folder inside it", out->path);
	if (!path_below(out->path, h->home_real))
		die("'%s' is not inside your home '%s'", out->path, h->home_real);
	if (out->st.st_uid != h->uid)
		die("'%s' is not owned by you (uid %u)", out->path, (unsigned)out->st.st_uid);
	if (!S_ISDIR(out->st.st_mode) && !S_ISREG(out->st.st_mode))
		die("'%s' is not a folder or a file", out->path);
}

/* What the human keeps in their home that no agent should ever see. */
static const struct secret {
	const char *rel; /* below the home */
	const char *what;
} secrets[] = {
	{ ".ssh", "your SSH keys" },
	{ ".gnupg", "your GnuPG keys" },
	{ ".password-store", "your passwords (pass)" },
	{ ".local/share/keyrings", "your keyrings" },
	{ ".pki", "your certificates and keys (NSS)" },
	{ ".netrc", "your .netrc passwords" },
	{ ".git-credentials", "your git credentials" },
	{ ".pgpass", "your PostgreSQL passwords" },
	{ ".aws", "your AWS credentials" },
	{ ".azure", "your Azure credentials" },
	{ ".config/gcloud", "your Google Cloud credentials" },
	{ ".kube", "your Kubernetes credentials" },
	{ ".docker", "your Docker credentials" },
	{ ".config/gh", "your GitHub CLI token" },
	{ ".mozilla", "your Firefox profile" },
	{ ".config/google-chrome", "your Chrome profile" },
	{ ".config/chromium", "your Chromium profile" },
	{ ".local/state/au", "au's own state (the agent could change what it may reach)" },
};

/* Refuses source against one secret at path (canonical), with what it is. */
static void refuse_one(const char *source, const char *path, const char *what)
{
	struct stat st;

	if (!strcmp(source, path))
		die("refusing to share '%s': it holds %s", source, what);
	if (path_below(source, path))
		die("refusing to share '%s': it is inside '%s', which holds %s", source, path, what);
	/* What would only be there one day is not named: what is there is. */
	if (path_below(path, source) && !lstat(path, &st))
		die("refusing to share '%s': '%s' inside it holds %s", source, path, what);
}

/* The secret at lexical path, and where it really is when it is a symlink (dotfile managers). */
static void refuse_at(const char *source, const char *lexical, const char *what)
{
	char real[PATH_MAX];

	refuse_one(source, lexical, what);
	if (realpath(lexical, real) && strcmp(real, lexical))
		refuse_one(source, real, what);
}

void share_refuse_secrets(const char *source, const struct human *h, const char *config_given)
{
	autofree char *config_path = NULL;
	autofree char *lock = NULL;
	char cwd[PATH_MAX];

	/* -C may have named it relative to here. */
	if (config_given[0] == '/') {
		config_path = path_normalize(config_given);
	} else {
		autofree char *joined = NULL;

		if (!getcwd(cwd, sizeof(cwd)))
			die_errno("cannot get the current directory");
		joined = xasprintf("%s/%s", cwd, config_given);
		config_path = path_normalize(joined);
	}
	lock = xasprintf("%s.lock", config_path);

	refuse_at(source, config_path, "au's config (the agent could change what it may reach)");
	refuse_at(source, lock, "au's config lock");
	for (size_t i = 0; i < ARRAY_SIZE(secrets); i++) {
		autofree char *lexical = path_join(h->home_real, secrets[i].rel);

		refuse_at(source, lexical, secrets[i].what);
	}
}

int share_open_recorded(const struct mount_spec *m, struct strbuf *why, bool *gone)
{
	int fd = open_nofollow(m->source, O_RDONLY | O_DIRECTORY);
	struct stat st;

	*gone = fd < 0 && errno == ENOENT;
	if (fd < 0) {
		if (errno == ENOENT)
			strbuf_addf(why, "'%s' is gone", m->source);
		else if (errno == ELOOP)
			strbuf_addf(why, "'%s' has a symlink on the way now", m->source);
		else
			strbuf_addf(why, "cannot open '%s': %s", m->source, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		strbuf_addf(why, "cannot stat '%s': %s", m->source, strerror(errno));
		close(fd);
		return -1;
	}
	if (m->has_identity && ((unsigned long long)st.st_dev != m->source_device ||
				(unsigned long long)st.st_ino != m->source_inode)) {
		strbuf_addf(why, "'%s' is no longer the folder that was shared (it was moved or replaced)",
			    m->source);
		close(fd);
		return -1;
	}
	return fd;
}

char *share_state_dir(const struct human *h)
{
	return path_join(h->home_real, ".local/state/au");
}
