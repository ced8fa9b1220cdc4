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
/*
 * The longest name au new takes: its group "su-as-NAME" must fit groupadd's
 * limit of 32 characters (shadow's GROUP_NAME_MAX_LENGTH) too.
 */
#define AGENT_GROUP_PREFIX "su-as-"
#define GROUP_NAME_MAX 32
#define AGENT_NAME_MAX (GROUP_NAME_MAX - (int)sizeof(AGENT_GROUP_PREFIX) + 1)

/* [A-Za-z_][A-Za-z0-9_]*: a name the environment can hold and every shell can use. */
bool valid_env_key(const char *s, size_t len);
/* HOME, USER, LOGNAME, SHELL: the entrypoint sets them from the agent's account. */
bool env_key_is_agents(const char *key);

/* Group membership: in the group database, and in this process's groups. */
bool human_in_group_db(const struct human *h, const char *group);
bool process_has_gid(gid_t gid);

/* Any process of uid still running (userdel refuses then, and a mount stays in its view)? */
bool agent_has_processes(uid_t uid);
/*
 * Kills every process of uid (sudo pkill), and again while any is left: one
 * that forks as fast as a pass kills can outlive it. Returns 0 when none is
 * left, -1 (said) otherwise.
 */
int agent_stop_processes(uid_t uid);
/*
 * Calls fn for each process of uid in /proc (proc_fd is /proc's, pid its
 * entry there) until fn returns non-zero, which is returned; else 0.
 */
int for_each_process_of(uid_t uid, int (*fn)(int proc_fd, const char *pid, void *data), void *data);

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
 * For an entry made before au recorded ids (or by the reference tool): takes
 * the uid and gid from the system while it still has the user and the
 * group. Returns true when something was filled in (for the caller to save).
 */
bool agent_record_ids(struct agent *a);

/*
 * The recorded ids against the system: false, with why, when the user or
 * group of that name now has another id (it was removed and made again by
 * someone else: it is not the agent's any more).
 */
bool agent_user_is_the_agents(const struct agent *a, const struct agent_user *u, struct strbuf *why);
bool agent_group_is_the_agents(const struct agent *a, const struct agent_user *u, struct strbuf *why);

/*
 * Where the reference tool (agent-as-unix-user) put an agent's entrypoint:
 * in the agent's own home, setuid root and without a caller check, so the
 * agent itself can run it. True when path is such a place for home.
 */
bool entrypoint_is_in_home(const char *path, const char *home);
/*
 * Removes such an entrypoint as the human, by fd: every folder from "/" down
 * to its own opened without following a symlink, then unlinked by name in
 * that folder's fd, so that nothing the agent renames or links can point
 * the removal elsewhere. Returns 1 when it was removed, 0 when it was not
 * there, -1 with why (EACCES: this session lacks the agent's group).
 */
int entrypoint_remove_from_home(const char *path, struct strbuf *why);

/*
 * The agent's entrypoint is where au installs it, built from the entrypoint
 * source of this au. False, with why, for one the reference tool made in the
 * agent's home, or one built by another version of au (after an upgrade):
 * "au repair" builds it again.
 */
bool entrypoint_up_to_date(const struct agent *a, struct strbuf *why);

/* Start-up warnings, as the reference tool gives them (never fatal). */
void startup_warnings(const struct config *cfg);
