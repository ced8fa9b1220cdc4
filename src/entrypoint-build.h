/*
 * entrypoint-build.h: compiling an agent's entrypoint and installing it, for
 * au new (a new agent) and au repair (an adopted or imported agent, or one
 * whose entrypoint is out of date after an upgrade of au).
 *
 * The source is the copy installed with au, checked against the SHA-256 au
 * was built with; the binary is installed root-owned, group su-as-NAME, mode
 * 4750, as entrypoint_install_path(NAME), in a root-owned folder of its own.
 */
#pragma once

#include "hash.h"

#include <stdbool.h>
#include <sys/types.h>

struct strbuf;

/* What gets baked into one agent's entrypoint. */
struct entrypoint_build {
	const char *name;       /* the agent's user name */
	const char *group;      /* su-as-NAME */
	uid_t uid;              /* the agent's */
	gid_t gid;              /* of su-as-NAME */
	const char *home;       /* the agent's home, /home/NAME */
	const char *shell;      /* the agent's login shell */
	uid_t caller_uid;       /* the human, the only one who may use it */
	const char *caller_home; /* canonical */
	const char *tmpdir;     /* private, the human's: where it is compiled */
};

/*
 * What building needs, checked before anything changes: a C compiler, and a
 * folder for the entrypoint whose existing part is root's alone. Dies with a
 * hint otherwise.
 */
void entrypoint_build_check_prerequisites(void);

/* Text that goes into a C string literal through -D must not end the literal. */
bool entrypoint_build_can_bake(const char *text);

/* Reads the installed entrypoint source, and checks it is the one au was built with; dies otherwise. */
void entrypoint_build_load_source(struct strbuf *src);

/*
 * Compiles src for b in b->tmpdir (each command printed), and installs the
 * result. Returns 0 with the SHA-256 of the installed binary in hex, or -1
 * with *step set to the step that failed and why filled in.
 */
int entrypoint_build_install(const struct entrypoint_build *b, const struct strbuf *src,
			     char hex[SHA256_HEX_LEN + 1], const char **step, struct strbuf *why);

/* A private temporary folder of the human's for the build ($TMPDIR or /tmp). Caller frees. */
char *entrypoint_build_tmpdir(const char *what);
/* Removes it, printed ("$ rm -rf -- DIR"), so that the printed commands stay true to the end. */
void entrypoint_build_tmpdir_remove(const char *dir);

/* The SHA-256 of the entrypoint source this au was built with. */
const char *entrypoint_source_sha256(void);
