/*
 * protect.h: read-write shares as a boundary. Through a shared folder the
 * agent could get code run later as the human: git hooks and configs
 * (wherever git finds a repository, and wherever core.hooksPath or an
 * include sends it), .envrc, editor settings.
 *
 * Before a run: from the share's record (share-record.h), each of the
 * human's git directories is bound over itself (a mount point cannot be
 * renamed or replaced), and its hooks, config, linked-worktree files,
 * core.hooksPath folders and included configs inside the share, its .git
 * files and the protected entries (.envrc, .vscode, .idea at any depth) are
 * made read-only. The entrypoint watches the shares' file systems (-W).
 *
 * After the run: au looks where something changed (the entrypoint's report)
 * or, when changes were lost, everywhere, and applies git's own rules for a
 * repository there: whatever git would now take for a repository of the
 * human's that was not one before, and whatever changed in what git would
 * run (config, hooks, commondir, hooksPath folders, included configs), is
 * moved aside into a folder that only the human can enter; changed
 * .envrc/.vscode/.idea are reported.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct agent;
struct config;
struct ep_request;
struct mount_spec;
struct report_reader;
struct share;

struct protect_run {
	struct share *shares; /* the read-write ones */
	size_t nr_shares;
	struct git_env *git;  /* what the human's global git config says */
	const char *const *protected;
	const struct config *cfg;
	uid_t uid;
	char *home;
	int record_dir; /* -1: no record can be kept (it says why) */
	struct timespec started; /* before the agent could change anything */
	const char *lost_reason; /* why the entrypoint's report of changes is not whole */
};

/*
 * For each read-write mount of a: loads (or makes) its record, adds the
 * pins and read-only protections to req, and asks the entrypoint to watch
 * (req->watch) when the kernel and file systems can.
 */
void protect_prepare(struct protect_run *pr, const struct agent *a, gid_t agent_gid, const struct config *cfg,
		     struct ep_request *req);

/* After the run: the checks above, from what the entrypoint reported (reader). */
void protect_audit(struct protect_run *pr, const struct report_reader *reader);

void protect_run_release(struct protect_run *pr);

/*
 * "au mount add --rw" of m just succeeded: the first full scan, kept as the
 * share's record, and the advice on safe.bareRepository.
 */
void protect_share_added(const struct agent *a, gid_t agent_gid, const struct config *cfg,
			 const struct mount_spec *m);
