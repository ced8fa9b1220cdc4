/*
 * config.h: the agent-as-unix-user config file (~/.config/agent-as-unix-user.toml).
 *
 * The schema is the reference tool's (agent-as-unix-user 2.x), so that a file
 * written by either tool loads in the other. Keys we add ("env",
 * "protected_paths", "limits", "net_mode", "net_allow", "uid", "gid",
 * "entrypoint_source_sha256", a mount's "source_device" and "source_inode")
 * are optional and ignored by the
 * reference tool. Keys we do not know are kept and written back.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct toml_table; /* keys we do not know, kept for the rewrite (toml.h) */
struct toml_comments;

struct mount_spec {
	char *source;
	char *target;
	bool read_only; /* default true */
	/*
	 * Our extension "source_device" and "source_inode": what source was
	 * when it was shared. au run passes them on and the entrypoint refuses
	 * a source that is another inode now. Absent in a mount written by the
	 * reference tool or an older au (has_identity false).
	 */
	bool has_identity;
	unsigned long long source_device, source_inode;
	struct toml_table *unknown;
};

struct agent {
	char *user_name;
	char *group;             /* su_as_agent_group */
	char *entrypoint;        /* absolute path of the setuid entrypoint */
	char *entrypoint_sha256; /* 64 lowercase hex digits, or "<unknown>" */
	bool bootstrapped;
	/* Our extensions "uid", "gid", "entrypoint_source_sha256": what au new made it with. */
	uid_t uid;
	gid_t gid;
	bool has_uid, has_gid;
	char *entrypoint_source_sha256; /* NULL: unknown (the reference tool, or an older au) */
	struct mount_spec *mounts;
	size_t nr_mounts;
	/* Our extension "env": "KEY=VALUE", or "KEY" (pass the human's value). */
	char **env;
	size_t nr_env;
	/* Our extension "limits": "KEY=VALUE" (limit.h), each valid, one per key. */
	char **limits;
	size_t nr_limits;
	/* Our extension "net_mode": none, allow, all or host (net.h); NULL when not set: all. */
	char *net_mode;
	/* Our extension "net_allow": patterns (netproxy/pattern.h), NULL-terminated. */
	char **net_allow;
	size_t nr_net_allow;
	struct toml_table *unknown;
};

struct config {
	char *path;
	bool disable_home_access_check;
	/* It was in the loaded file: written back even when false. */
	bool has_disable_home_access_check;
	/* Our extension "protected_paths": NULL when not set (defaults apply). */
	char **protected_paths;
	size_t nr_protected_paths;
	bool has_protected_paths;
	struct agent *agents;
	size_t nr_agents;
	struct toml_table *unknown;
	/* The file's comments, put back at their keys when it is written (toml.h). */
	struct toml_comments *comments;
};

#define ENTRYPOINT_SHA256_UNKNOWN "<unknown>"

/* $HOME/.config/agent-as-unix-user.toml; the home comes from the passwd entry. */
char *config_default_path(void);

/*
 * Loads path into cfg. A missing file (or folder) gives an empty config and
 * creates nothing. A file that is not valid TOML, or that does not fit the
 * schema, is reported as "PATH:LINE:COL: message" and the process exits 1.
 */
void config_load(struct config *cfg, const char *path);
/* Parses text as if read from path; returns -1 with *err set ("PATH:L:C: msg"). */
int config_parse(struct config *cfg, const char *path, const char *text, size_t len, char **err);

/*
 * Writes cfg back to cfg->path, crash-safe: temp file in the same folder,
 * fsync, rename, fsync of the folder, mode 0600. Creates the folder (0700) if
 * missing. Dies with a clear message on failure, leaving the old file intact.
 */
void config_save(struct config *cfg);
/* Serializes to TOML text (what config_save writes). Caller frees. */
char *config_format(const struct config *cfg);
void config_release(struct config *cfg);
/* A struct config (zero-initialized) released when it goes out of scope. */
#define autoconfig __attribute__((cleanup(config_release)))

enum config_lock_mode {
	CONFIG_LOCK_SHARED,    /* readers: no writer in between */
	CONFIG_LOCK_EXCLUSIVE, /* the command writes the config */
};

/*
 * Takes the lock for a whole command, on "<path>.lock" (never renamed, unlike
 * the config itself). Exclusive: creates the folder and lock file if needed.
 * Shared: takes no lock when the lock file does not exist (nothing can be
 * writing). Prints "waiting for ..." when another au holds it. Returns the fd
 * (O_CLOEXEC) or -1 when no lock was needed; dies on error.
 */
int config_lock(const char *path, enum config_lock_mode mode);

struct agent *config_find_agent(struct config *cfg, const char *name);
/* Appends a new agent named name, with group "su-as-NAME", not bootstrapped. */
struct agent *config_add_agent(struct config *cfg, const char *name);
void config_remove_agent(struct config *cfg, const char *name);
struct mount_spec *agent_add_mount(struct agent *a, const char *source, const char *target, bool read_only);
void agent_remove_mount(struct agent *a, size_t index);
/* Sets KEY (entry "KEY" or "KEY=VALUE"), replacing an entry with the same key. */
void agent_env_set(struct agent *a, const char *entry);
/* Returns false when KEY was not set. */
bool agent_env_unset(struct agent *a, const char *key);
/* Sets a valid "KEY=VALUE" limit (limit_parse()), replacing the key's. */
void agent_limit_set(struct agent *a, const char *entry);
/* Returns false when the limit named key was not set. */
bool agent_limit_unset(struct agent *a, const char *key);
/* Sets "net_mode" (a name net.h knows). */
void agent_net_set_mode(struct agent *a, const char *mode);
/* Adds a pattern (canonical) to "net_allow"; false when it was there already. */
bool agent_net_allow(struct agent *a, const char *pattern);
/* Removes a pattern (canonical) from "net_allow"; false when it was not there. */
bool agent_net_disallow(struct agent *a, const char *pattern);

/* The configured protected paths, or the defaults: NULL-terminated. */
const char *const *config_protected_paths(const struct config *cfg);
extern const char *const default_protected_paths[];
