/*
 * agent.h: what several commands need to know about an agent and the human:
 * passwd and group entries, group membership, the entrypoint's place and its
 * verification.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct config;
struct agent;
struct strbuf;

struct human {
	uid_t uid;
	gid_t gid;
	char *name;
	char *home;      /* as in the passwd entry */
	char *home_real; /* canonical (realpath), what mounts are checked against */
};

struct agent_user {
	bool user_exists;
	bool group_exists;
	uid_t uid;
	gid_t gid;   /* of the group su-as-NAME */
	char *home;  /* passwd home, or /home/NAME when the user is gone */
	char *shell;
};

/* The human running au (dies when there is no passwd entry). */
void human_load(struct human *h);
void human_release(struct human *h);
#define autohuman __attribute__((cleanup(human_release)))

/* Looks the agent's user and group up; missing pieces are flagged, not fatal. */
void agent_user_load(struct agent_user *u, const char *name, const char *group);
void agent_user_release(struct agent_user *u);
#define autoagentuser __attribute__((cleanup(agent_user_release)))

/* The agent named name (NULL: "agent"), or die with a hint. */
struct agent *agent_select(struct config *cfg, const char *name);
#define DEFAULT_AGENT "agent"

/* [a-z_][a-z0-9_-]{0,30}: a name every useradd accepts. */
bool valid_agent_name(const char *name);

/* [A-Za-z_][A-Za-z0-9_]*: a name the environment can hold and every shell can use. */
bool valid_env_key(const char *s, size_t len);
/* HOME, USER, LOGNAME, SHELL: the entrypoint sets them from the agent's account. */
bool env_key_is_agents(const char *key);

/* Group membership: in the group database, and in this process's groups. */
bool human_in_group_db(const struct human *h, const char *group);
bool process_has_gid(gid_t gid);

/* Any process of uid still running (userdel refuses then, and a mount stays in its view)? */
bool agent_has_processes(uid_t uid);

/* Where au new installs the agent's entrypoint. Caller frees. */
char *entrypoint_install_path(const char *name);

/*
 * Every directory from "/" down to (and including) dir is a real directory
 * (no symlink), owned by root and not writable by group or others. On
 * failure, describes the first bad one in why.
 */
bool safe_dir_chain(const char *dir, struct strbuf *why);

/*
 * Opens the agent's entrypoint once and checks, on that open file: a regular
 * file owned by root and the agent's group, mode exactly 04750, in a safe
 * folder, with the SHA-256 the config recorded. Returns the fd (O_CLOEXEC,
 * ready for execveat) or -1 with why set (expected and actual values).
 * *unreadable is set when the only problem is that this process lacks the
 * group (just after au new), so that the caller can go through sg.
 */
int entrypoint_open_verified(const struct agent *a, gid_t gid, struct strbuf *why, bool *unreadable);

/*
 * Records a freshly compiled entrypoint in the agent's config entry: its
 * SHA-256, the SHA-256 of the source it was compiled from (this au's), and
 * that the agent is bootstrapped. The caller saves the config.
 */
void agent_record_entrypoint(struct agent *a, const char *sha256);
/* The entrypoint was compiled from this au's su_as_agent.c, as far as the config says. */
bool agent_entrypoint_source_current(const struct agent *a);

/* Start-up warnings, as the reference tool gives them (never fatal). */
void startup_warnings(const struct config *cfg);
