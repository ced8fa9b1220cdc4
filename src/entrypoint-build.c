/* entrypoint-build.c: compiling and installing an agent's setuid entrypoint (au new, au repair). */
#include "entrypoint-build.h"
#include "agent.h"
#include "au-config.h"
#include "entrypoint-hash.h"
#include "hash.h"
#include "path-check.h"
#include "sys.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

const char *entrypoint_source_sha256(void)
{
	return AU_ENTRYPOINT_SOURCE_SHA256;
}

void entrypoint_build_check_prerequisites(void)
{
	autofree char *cc = find_in_path("cc");
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *parent = xstrdup(AU_LIBEXECDIR);
	struct stat st;

	if (!cc) {
		error("no C compiler found ('cc'): au compiles each agent's entrypoint");
		hint("install it: sudo apt-get install gcc libc6-dev");
		exit(EXIT_FAIL);
	}
	/* The entrypoint goes below AU_LIBEXECDIR: what exists of it must be safe already. */
	while (stat(parent, &st) < 0) {
		char *slash = strrchr(parent, '/');
		if (!slash || slash == parent)
			break;
		*slash = '\0';
	}
	if (!safe_dir_chain(parent, &why)) {
		error("cannot install the entrypoint below '%s': %s", AU_LIBEXECDIR, why.buf);
		exit(EXIT_FAIL);
	}
	if (!entrypoint_build_can_bake(AU_NETPROXY_PATH) || !entrypoint_build_can_bake(AU_RESOLV_CONF_PATH))
		die("au's install prefix '%s' has characters au cannot compile in", AU_PREFIX);
}

void entrypoint_build_load_source(struct strbuf *src)
{
	autoclose int fd = open(AU_ENTRYPOINT_SOURCE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	char hex[SHA256_HEX_LEN + 1];

	if (fd < 0)
		die_errno("cannot read the entrypoint source '%s'", AU_ENTRYPOINT_SOURCE);
	if (read_fd_all(fd, 1 << 20, src) < 0)
		die_errno("cannot read '%s'", AU_ENTRYPOINT_SOURCE);
	sha256_buf(src->buf, src->len, hex);
	if (strcmp(hex, AU_ENTRYPOINT_SOURCE_SHA256) != 0) {
		error("'%s' is not the entrypoint source this au was built with (SHA-256 %s, expected %s)",
		      AU_ENTRYPOINT_SOURCE, hex, AU_ENTRYPOINT_SOURCE_SHA256);
		hint("reinstall au: make && sudo make install");
		exit(EXIT_FAIL);
	}
}

/*
 * Where the entrypoint is compiled before root installs it setuid: TMPDIR
 * only where no one but the human (or root) could move or replace what is
 * made there. A TMPDIR in a read-write share would let the agent swap the
 * compiled entrypoint, or the folder holding it, before "sudo install".
 */
char *entrypoint_build_tmpdir(const char *what)
{
	const char *tmp = getenv("TMPDIR");
	autostrbuf struct strbuf why = STRBUF_INIT;
	char template[PATH_MAX];

	if (tmp && tmp[0] == '/' && !path_owner_alone_writes(tmp, getuid(), &why)) {
		warn("not compiling in TMPDIR '%s': %s; using /tmp", tmp, why.buf);
		tmp = NULL;
	}
	snprintf(template, sizeof(template), "%s/au-%s-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp", what);
	if (!mkdtemp(template))
		die_errno("cannot create a temporary folder in '%s'", tmp ? tmp : "/tmp");
	return xstrdup(template);
}

void entrypoint_build_tmpdir_remove(const char *dir)
{
	if (run_command((const char *const[]){ "rm", "-rf", "--", dir, NULL }, 0) != 0)
		warn("could not remove the temporary folder '%s'", dir);
}

bool entrypoint_build_can_bake(const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	}
	return true;
}

/* musl's files for this machine (Debian's musl-tools), or NULL. */
static char *musl_dir(void)
{
	static const char *const needed[] = { "rcrt1.o", "crti.o", "crtn.o", "libc.a" };
	autofree char *musl_gcc = find_in_path("musl-gcc");
	autofree char *dir = NULL;
	struct utsname u;

	if (!musl_gcc || uname(&u) < 0)
		return NULL;
	dir = xasprintf("/usr/lib/%s-linux-musl", u.machine);
	for (size_t i = 0; i < ARRAY_SIZE(needed); i++) {
		autofree char *path = xasprintf("%s/%s", dir, needed[i]);
		if (access(path, R_OK) < 0)
			return NULL;
	}
	return steal_pointer(&dir);
}

/* gcc's own start and end files (crtbeginS.o...), by asking gcc. */
static char *gcc_file(const char *name)
{
	autostrbuf struct strbuf out = STRBUF_INIT;
	autofree char *arg = xasprintf("-print-file-name=%s", name);

	if (run_command_capture((const char *const[]){ "gcc", arg, NULL }, RUN_QUIET, &out) != 0 || !out.len)
		return NULL;
	while (out.len && out.buf[out.len - 1] == '\n')
		out.buf[--out.len] = '\0';
	return strbuf_detach(&out);
}

static int write_new_file(const char *path, const char *text, size_t len, mode_t mode, struct strbuf *why)
{
	autoclose int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	if (fd < 0 || write_all(fd, text, len) < 0) {
		strbuf_addf(why, "cannot write '%s': %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The compiler's argv: static and position-independent, hardened, with b's ids baked in. */
static int compile_argv(const struct entrypoint_build *b, const char *src, const char *bin, const char *home_real,
			struct strvec *argv, struct strbuf *why)
{
	autofree char *musl = musl_dir();

	if (musl) {
		/*
		 * Static and position-independent against musl: about 50 KB,
		 * where glibc's static libc alone is 700 KB that au run would
		 * hash at every start. musl-gcc has no -static-pie of its own,
		 * so the start files are named here.
		 */
		autofree char *crtbegin = gcc_file("crtbeginS.o");
		autofree char *crtend = gcc_file("crtendS.o");

		if (!crtbegin || !crtend) {
			strbuf_addstr(why, "cannot find gcc's crtbeginS.o and crtendS.o");
			return -1;
		}
		strvec_pushv(argv, (const char *const[]){
			"musl-gcc", "-std=gnu11", "-O2", "-fPIE", "-static-pie", "-nostartfiles",
			"-Wl,--no-dynamic-linker", "-Wl,-Bstatic", "-s", NULL });
		strvec_pushf(argv, "%s/rcrt1.o", musl);
		strvec_pushf(argv, "%s/crti.o", musl);
		strvec_push(argv, crtbegin);
		strvec_push(argv, src);
		strvec_push(argv, crtend);
		strvec_pushf(argv, "%s/crtn.o", musl);
	} else {
		strvec_pushv(argv, (const char *const[]){ "cc", "-std=gnu11", "-O2", "-static-pie", "-s",
							  "-D_FORTIFY_SOURCE=3", src, NULL });
	}
	strvec_pushv(argv, (const char *const[]){
		"-Wall", "-Wextra", "-Werror",
		"-fstack-protector-strong", "-fstack-clash-protection", "-fcf-protection",
		"-Wl,-z,relro,-z,now,-z,noexecstack", NULL });
	strvec_pushf(argv, "-DTARGET_UID=%u", (unsigned)b->uid);
	strvec_pushf(argv, "-DTARGET_GID=%u", (unsigned)b->gid);
	strvec_pushf(argv, "-DCALLER_UID=%u", (unsigned)b->caller_uid);
	strvec_pushf(argv, "-DAGENT_NAME=\"%s\"", b->name);
	strvec_pushf(argv, "-DAGENT_HOME=\"%s\"", home_real);
	strvec_pushf(argv, "-DAGENT_SHELL=\"%s\"", b->shell);
	strvec_pushf(argv, "-DCALLER_HOME=\"%s\"", b->caller_home);
	strvec_pushf(argv, "-DNETPROXY_PATH=\"%s\"", AU_NETPROXY_PATH);
	strvec_pushf(argv, "-DRESOLV_CONF_PATH=\"%s\"", AU_RESOLV_CONF_PATH);
	strvec_push(argv, "-o");
	strvec_push(argv, bin);
	return 0;
}

/* Root-owned, group su-as-NAME, mode 4750, in a root-owned folder of its own. */
static int install(const struct entrypoint_build *b, const char *bin, const char **step, struct strbuf *why)
{
	autofree char *target = entrypoint_install_path(b->name);
	autofree char *install_dir = xstrdup(target);
	int rc;

	*strrchr(install_dir, '/') = '\0';
	*step = "install";
	rc = run_command((const char *const[]){ "install", "-d", "-o", "root", "-g", "root", "-m", "0755",
						install_dir, NULL }, RUN_SUDO);
	if (rc != 0) {
		strbuf_addf(why, "exit status %d", rc);
		return -1;
	}
	if (!safe_dir_chain(install_dir, why))
		return -1;
	/*
	 * install(1) unlinks the old file and writes a new one: an au run that
	 * opened the old one keeps it, one that opens the new file before it
	 * is complete finds the wrong SHA-256 and refuses.
	 */
	rc = run_command((const char *const[]){ "install", "-o", "root", "-g", b->group, "-m", "4750", bin,
						target, NULL }, RUN_SUDO);
	if (rc != 0) {
		strbuf_addf(why, "exit status %d", rc);
		return -1;
	}
	return 0;
}

int entrypoint_build_install(const struct entrypoint_build *b, const struct strbuf *source,
			     char hex[SHA256_HEX_LEN + 1], const char **step, struct strbuf *why)
{
	autofree char *src = xasprintf("%s/su_as_agent.c", b->tmpdir);
	autofree char *bin = xasprintf("%s/su_as_agent", b->tmpdir);
	autostrvec struct strvec argv = STRVEC_INIT;
	autoclose int fd = -1;
	char home_real[PATH_MAX];
	int rc;

	*step = "compile";
	if (!realpath(b->home, home_real) || !entrypoint_build_can_bake(home_real) || !entrypoint_build_can_bake(b->shell) ||
	    !entrypoint_build_can_bake(b->caller_home) || !entrypoint_build_can_bake(b->name)) {
		strbuf_addf(why, "the agent's home '%s', its shell, or your home has characters au cannot "
			    "compile in", b->home);
		return -1;
	}
	if (write_new_file(src, source->buf, source->len, 0600, why) < 0 ||
	    compile_argv(b, src, bin, home_real, &argv, why) < 0)
		return -1;
	rc = run_command(strvec_argv(&argv), 0);
	if (rc != 0) {
		strbuf_addf(why, "exit status %d", rc);
		return -1;
	}
	fd = open(bin, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || sha256_fd(fd, hex) < 0) {
		strbuf_addf(why, "cannot read '%s': %s", bin, strerror(errno));
		return -1;
	}
	return install(b, bin, step, why);
}
