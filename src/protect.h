/*
 * protect.h: the protected paths of read-write mounts. Through a shared repo
 * the agent could get code run later as the human: git hooks, .git/config
 * (core.fsmonitor, core.hooksPath, aliases), .envrc, editor settings. Where
 * they exist, the entrypoint mounts them read-only over themselves. Each of
 * the human's git directories is also bound over itself (read-write), which
 * makes it a mount point: the agent can then neither rename it away nor swap
 * another folder in its place, while commits still work.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct mount_spec;
struct ep_request;

/* What a scan of the read-write mounts found: the human's git directories. */
struct protect_scan {
	char **gitdirs; /* human-side paths */
	bool *commondirs; /* whether each had a commondir file */
	size_t nr_gitdirs, alloc_gitdirs;
	char **entries; /* protected entries at working tree tops (.envrc, .vscode...) */
	size_t nr_entries, alloc_entries;
	struct protect_gitfile {
		char *path; /* a ".git" that is not a folder: "gitdir: PATH" */
		struct stat st;
	} *gitfiles;
	size_t nr_gitfiles, alloc_gitfiles;
};

/*
 * Scans a read-write mount and adds to req a pin (bind over itself) for each
 * git directory of the human's (".git" folders and the submodule git
 * directories inside them), and a read-only protection for each protected
 * path that exists: entries of the list that
 * start with ".git/" are taken inside each git directory, the others at each
 * working tree's top and at the mount's top. A missing .git/hooks is created
 * first (as the human, by fd), so that it is protected too. scan, when not
 * NULL, records the git directories for protect_audit().
 */
void protect_collect(const struct mount_spec *m, const char *const *protected, uid_t owner,
		     struct ep_request *req, struct protect_scan *scan);

/*
 * After the agent ran: moves aside what it could have set up to run code as
 * the human later (in a read-write share it can write in the human's own
 * folders, so ownership proves nothing): every git directory that was not
 * there before (a .git folder, or a bare-looking folder, which loses its
 * HEAD), new or changed .git files, new commondir files; and warns about new
 * protected entries (.envrc, .vscode...).
 */
void protect_audit(const struct mount_spec *m, const char *const *protected, uid_t owner,
		   const struct protect_scan *before);

void protect_scan_release(struct protect_scan *scan);
