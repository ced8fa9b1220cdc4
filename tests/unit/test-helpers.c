/*
 * test-helpers.c: find_helper_in(), which picks the programs au runs (sudo,
 * cc, setfacl...) from folders that root alone can write, never from the
 * human's PATH. A tree in the build directory (or another trusted folder)
 * plays the trusted folders, with this test's own uid as "root".
 */
#include "sys.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

struct tree {
	char dir[PATH_MAX + 32];
};

static char *in_tree(struct tree *t, const char *rel)
{
	return xasprintf("%s/%s", t->dir, rel);
}

static void make_dir(struct tree *t, const char *rel, mode_t mode)
{
	autofree char *p = in_tree(t, rel);

	assert_int_equal(mkdir(p, 0755), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static void make_prog(struct tree *t, const char *rel, mode_t mode)
{
	autofree char *p = in_tree(t, rel);
	autoclose int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, "#!/bin/sh\n", 10), 0);
	assert_int_equal(fchmod(fd, mode), 0);
}

/*
 * Every folder above the tree must be trusted too, as find_helper_in() asks:
 * root's or ours, writable by nobody else, no symlink on the way.
 */
static bool trusted_all_the_way(const char *dir)
{
	char path[PATH_MAX];
	char *slash;

	if (strlen(dir) >= sizeof(path) || dir[0] != '/')
		return false;
	strcpy(path, dir);
	for (;;) {
		struct stat st;

		if (lstat(path[0] ? path : "/", &st) < 0 || !S_ISDIR(st.st_mode) ||
		    (st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & (S_IWGRP | S_IWOTH)))
			return false;
		if (!path[0])
			return true;
		slash = strrchr(path, '/');
		*slash = '\0';
	}
}

/*
 * The tree lives in the build directory when every folder above it is
 * trusted; a checkout under /tmp (sticky, writable by all) is not, so then
 * in the first of $HOME, /run and /root that is (CI runs as root).
 */
static int tree_setup(void **state)
{
	struct tree *t = xcalloc(1, sizeof(*t));
	char cwd[PATH_MAX];
	const char *bases[] = { cwd, getenv("HOME"), "/run", "/root" };
	const char *base = NULL;

	umask(022);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	for (size_t i = 0; i < ARRAY_SIZE(bases) && !base; i++) {
		if (bases[i] && trusted_all_the_way(bases[i]) && access(bases[i], W_OK) == 0)
			base = bases[i];
	}
	if (!base)
		fail_msg("no folder to build the test's tree in: '%s', $HOME, /run and /root are not trusted all the way up",
			 cwd);
	snprintf(t->dir, sizeof(t->dir), "%s/au-test-helpers-XXXXXX", base);
	assert_non_null(mkdtemp(t->dir));
	assert_int_equal(chmod(t->dir, 0755), 0);
	make_dir(t, "a", 0755);
	make_dir(t, "b", 0755);
	make_dir(t, "open", 0777);
	*state = t;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;

	nftw(t->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(t);
	return 0;
}

/* find_helper_in(dirs, prog): the path relative to the tree, or NULL with why. */
static char *find(struct tree *t, const char *rel_dirs, const char *prog, struct strbuf *why)
{
	autostrbuf struct strbuf dirs = STRBUF_INIT;
	autofree char *copy = xstrdup(rel_dirs);
	autofree char *found = NULL;
	char *save = NULL;

	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
		strbuf_addf(&dirs, "%s%s/%s", dirs.len ? ":" : "", t->dir, d);
	found = find_helper_in(dirs.buf, prog, geteuid(), why);
	if (!found)
		return NULL;
	assert_true(!strncmp(found, t->dir, strlen(t->dir)));
	return xstrdup(found + strlen(t->dir) + 1);
}

static void test_first_folder_that_has_it(void **state)
{
	struct tree *t = *state;
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *got = NULL;

	make_prog(t, "b/tool", 0755);
	got = find(t, "a:b", "tool", &why);
	assert_non_null(got);
	assert_string_equal(got, "b/tool");
}

/* A folder others can write is where the agent's copy would be: refused, and said. */
static void test_folder_writable_by_others_refused(void **state)
{
	struct tree *t = *state;
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *got = NULL;

	make_prog(t, "open/tool", 0755);
	make_prog(t, "b/tool", 0755);
	got = find(t, "open:b", "tool", &why);
	assert_null(got);
	assert_non_null(strstr(why.buf, "/open' is writable by others"));
	assert_non_null(strstr(why.buf, "au runs no 'tool' from there"));
}

/* A link in a trusted folder to a program in an open one is no better. */
static void test_symlink_into_an_open_folder_refused(void **state)
{
	struct tree *t = *state;
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *target = in_tree(t, "open/real");
	autofree char *link = in_tree(t, "a/tool");
	autofree char *got = NULL;

	make_prog(t, "open/real", 0755);
	assert_int_equal(symlink(target, link), 0);
	got = find(t, "a", "tool", &why);
	assert_null(got);
	assert_non_null(strstr(why.buf, "/open' is writable by others"));
}

/* A link between trusted folders is followed, as /usr/bin/cc -> /etc/alternatives/cc is. */
static void test_symlink_between_trusted_folders(void **state)
{
	struct tree *t = *state;
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *link = in_tree(t, "a/cc");
	autofree char *got = NULL;

	make_prog(t, "b/gcc", 0755);
	assert_int_equal(symlink("../b/gcc", link), 0);
	got = find(t, "a", "cc", &why);
	assert_non_null(got);
	assert_string_equal(got, "a/cc");
}

static void test_program_itself_must_be_safe(void **state)
{
	struct tree *t = *state;
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *got = NULL, *got2 = NULL;

	make_prog(t, "a/writable", 0777);
	make_prog(t, "a/data", 0644);
	got = find(t, "a", "writable", &why);
	assert_null(got);
	assert_non_null(strstr(why.buf, "/a/writable' is writable by others"));
	strbuf_reset(&why);
	got2 = find(t, "a", "data", &why);
	assert_null(got2);
	assert_non_null(strstr(why.buf, "is not an executable file"));
}

static void test_missing_and_odd_names(void **state)
{
	struct tree *t = *state;
	autostrbuf struct strbuf why = STRBUF_INIT;
	autofree char *got = NULL;

	got = find(t, "a:b", "nothing", &why);
	assert_null(got);
	assert_non_null(strstr(why.buf, "'nothing' is not in any of the folders"));
	assert_null(find_helper_in("/usr/bin", "../bin/sh", 0, &why));
	assert_null(find_helper_in("/usr/bin", "", 0, &why));
}

/* The real list: sh is there on every system au supports. */
static void test_the_real_helper_path(void **state)
{
	autofree char *sh = find_in_path("sh");

	assert_non_null(sh);
	assert_true(!strncmp(sh, "/usr/", 5) || !strncmp(sh, "/bin/", 5) || !strncmp(sh, "/sbin/", 6));
}

static void test_helper_environment(void **state)
{
	autostrvec struct strvec env = STRVEC_INIT;
	bool has_path = false, has_lang = false;

	setenv("TMPDIR", "/home/alice/project/tmp", 1);
	setenv("GCC_EXEC_PREFIX", "/home/alice/project/x", 1);
	setenv("LANG", "C.UTF-8", 1);
	setenv("LC_ALL", "C.UTF-8", 1);
	setenv("PATH", "/home/alice/project/.venv/bin:/usr/bin", 1);
	helper_environment(&env);
	for (size_t i = 0; i < env.nr; i++) {
		assert_null(strstr(env.v[i], "/home/alice"));
		has_path |= !strcmp(env.v[i], "PATH=" HELPER_PATH);
		has_lang |= !strcmp(env.v[i], "LANG=C.UTF-8");
	}
	assert_true(has_path);
	assert_true(has_lang);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_folder_that_has_it, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_folder_writable_by_others_refused, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_symlink_into_an_open_folder_refused, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_symlink_between_trusted_folders, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_program_itself_must_be_safe, tree_setup, tree_teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_odd_names, tree_setup, tree_teardown),
		cmocka_unit_test(test_the_real_helper_path),
		cmocka_unit_test(test_helper_environment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
