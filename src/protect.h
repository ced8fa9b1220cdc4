/*
 * protect.h: the protected paths of read-write mounts. Through a shared repo
 * the agent could get code run later as the human: git hooks, .git/config
 * (core.fsmonitor, core.hooksPath, aliases), .envrc, editor settings. Where
 * they exist, the entrypoint mounts them read-only over themselves.
 */
#pragma once

struct mount_spec;
struct strvec;

/*
 * Finds the git repositories in the mount's source (the mount itself, and
 * every folder below it that has a .git folder), and for each protected path
 * that exists there, calls fn with its agent-side path (below the target) and
 * its human-side path.
 */
void protect_each(const struct mount_spec *m, const char *const *protected,
		  void (*fn)(const char *target_path, const char *source_path, void *data), void *data);

/* Appends "-p PATH" for each protected path of a read-write mount. */
void protect_collect(const struct mount_spec *m, const char *const *protected, struct strvec *argv);
