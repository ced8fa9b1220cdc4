/*
 * test-acl.c: the read-write sharing walk, on real files in a temporary
 * directory. ACLs are checked through libacl (acl_get_file, getxattr), not
 * through acl.c's own encoder.
 */
#include "acl.h"
#include "util.h"

#include <acl/libacl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#define TEST_GID 4242
#define OTHER_UID 4343
#define WALKER_UID 4545 /* who walks, when the test runs as root */

#define FILE_ACL "user::rw-,group::r--,group:4242:rwx,mask::rwx,other::r--"
#define DIR_ACL "user::rwx,group::r-x,group:4242:rwx,mask::rwx,other::r-x"

struct fixture {
	char dir[64];
	int fd;
};

static char *path_of(struct fixture *fx, const char *rel)
{
	return xasprintf("%s/%s", fx->dir, rel);
}

static void make_dir(struct fixture *fx, const char *rel, mode_t mode)
{
	autofree char *p = path_of(fx, rel);

	assert_int_equal(mkdir(p, mode), 0);
	assert_int_equal(chmod(p, mode), 0);
}

static void make_file(struct fixture *fx, const char *rel, mode_t mode)
{
	autofree char *p = path_of(fx, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "data\n", 5), 5);
	close(fd);
	assert_int_equal(chmod(p, mode), 0);
}

/* The ACL as text with numeric ids, "" when the kind asked for is absent. */
static char *acl_text(struct fixture *fx, const char *rel, acl_type_t type)
{
	autofree char *p = path_of(fx, rel);
	acl_t acl = acl_get_file(p, type);
	char *text, *copy;

	if (!acl && errno == EACCES && type == ACL_TYPE_DEFAULT)
		return xstrdup(""); /* not a directory */
	assert_non_null(acl);
	if (type == ACL_TYPE_DEFAULT && acl_entries(acl) == 0) {
		acl_free(acl);
		return xstrdup("");
	}
	text = acl_to_any_text(acl, NULL, ',', TEXT_NUMERIC_IDS);
	assert_non_null(text);
	copy = xstrdup(text);
	acl_free(text);
	acl_free(acl);
	return copy;
}

static int assert_true_fd(int fd)
{
	assert_true(fd >= 0);
	return fd;
}

/* getxattr of name in dir_fd without a path (the deep tree is deeper than PATH_MAX). */
static ssize_t getxattrat_compat(int dir_fd, const char *name, char *buf, size_t size)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = fgetxattr(fd, "system.posix_acl_access", buf, size);
	close(fd);
	return n;
}

static bool has_acl_xattr(const char *path)
{
	return lgetxattr(path, "system.posix_acl_access", NULL, 0) >= 0 ||
	       lgetxattr(path, "system.posix_acl_default", NULL, 0) >= 0;
}

static mode_t mode_of(struct fixture *fx, const char *rel)
{
	autofree char *p = path_of(fx, rel);
	struct stat st;

	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode;
}

static int walk(struct fixture *fx, const char *rel, enum acl_walk_mode mode,
		struct acl_walk_stats *stats)
{
	autofree char *p = path_of(fx, rel);
	autoclose int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	return acl_walk(fd, p, TEST_GID, geteuid(), mode, false, stats);
}

static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));

	umask(022);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/au-test-acl.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	fx->fd = open(fx->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*state = fx;
	return fx->fd < 0 ? -1 : 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	close(fx->fd);
	nftw(fx->dir, remove_entry, 64, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static struct fixture *fixture_or_skip(void **state)
{
	struct fixture *fx = *state;

	if (!acl_supported(fx->fd)) {
		print_message("# no POSIX ACLs on %s: skipped\n", fx->dir);
		skip();
	}
	return fx;
}

/* d/ (0755), d/f (0644), d/sub/ (0755), d/sub/g (0600) */
static void make_small_tree(struct fixture *fx)
{
	make_dir(fx, "d", 0755);
	make_file(fx, "d/f", 0644);
	make_dir(fx, "d/sub", 0755);
	make_file(fx, "d/sub/g", 0600);
}

static void test_grant_small_tree(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	struct acl_walk_stats stats;

	make_small_tree(fx);
	assert_int_equal(walk(fx, "d", ACL_WALK_GRANT, &stats), 0);

	assert_int_equal(stats.changed, 4);
	assert_int_equal(stats.errors, 0);
	for (const char *const *d = (const char *const[]){ "d", "d/sub", NULL }; *d; d++) {
		autofree char *access = acl_text(fx, *d, ACL_TYPE_ACCESS);
		autofree char *def = acl_text(fx, *d, ACL_TYPE_DEFAULT);

		assert_string_equal(access, DIR_ACL);
		assert_string_equal(def, DIR_ACL);
		assert_true(mode_of(fx, *d) & S_ISGID);
	}
	autofree char *f = acl_text(fx, "d/f", ACL_TYPE_ACCESS);
	autofree char *g = acl_text(fx, "d/sub/g", ACL_TYPE_ACCESS);
	autofree char *fdef = acl_text(fx, "d/f", ACL_TYPE_DEFAULT);
	assert_string_equal(f, FILE_ACL);
	assert_string_equal(g, "user::rw-,group::---,group:4242:rwx,mask::rwx,other::---");
	assert_string_equal(fdef, "");
}

/* A new file in a granted directory is the group's too: the point of it all. */
static void test_new_files_inherit(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	struct acl_walk_stats stats;

	make_small_tree(fx);
	assert_int_equal(walk(fx, "d", ACL_WALK_GRANT, &stats), 0);
	autofree char *newdir = path_of(fx, "d/sub/newdir");
	make_file(fx, "d/sub/new", 0644);
	assert_int_equal(mkdir(newdir, 0755), 0);

	autofree char *f = acl_text(fx, "d/sub/new", ACL_TYPE_ACCESS);
	autofree char *def = acl_text(fx, "d/sub/newdir", ACL_TYPE_DEFAULT);
	assert_non_null(strstr(f, "group:4242:rwx"));
	assert_string_equal(def, DIR_ACL);
	assert_true(mode_of(fx, "d/sub/newdir") & S_ISGID);
}

static void test_revoke_restores_modes(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	const char *names[] = { "d", "d/f", "d/sub", "d/sub/g", "d/x" };
	mode_t before[ARRAY_SIZE(names)];
	struct acl_walk_stats stats;

	make_small_tree(fx);
	make_file(fx, "d/x", 0751);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		before[i] = mode_of(fx, names[i]);

	assert_int_equal(walk(fx, "d", ACL_WALK_GRANT, &stats), 0);
	assert_int_equal(walk(fx, "d", ACL_WALK_REVOKE, &stats), 0);

	assert_int_equal(stats.changed, 5);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		autofree char *p = path_of(fx, names[i]);
		mode_t after = mode_of(fx, names[i]);

		/* setgid stays on directories, on purpose (see revoke_node()). */
		if (S_ISDIR(after))
			after &= ~(mode_t)S_ISGID;
		assert_int_equal(after, before[i]);
		assert_false(has_acl_xattr(p));
	}
}

/* Someone else's named entries survive a revoke, with the mask they need. */
static void test_revoke_keeps_other_entries(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	struct acl_walk_stats stats;
	autofree char *p = NULL;
	autofree char *before = NULL, *after = NULL, *dbefore = NULL, *dafter = NULL;
	acl_t acl;

	make_small_tree(fx);
	p = path_of(fx, "d/f");
	acl = acl_from_text("u::rw,u:1234:r,g::r,m::r,o::-");
	assert_int_equal(acl_set_file(p, ACL_TYPE_ACCESS, acl), 0);
	acl_free(acl);
	free(p);
	p = path_of(fx, "d/sub");
	acl = acl_from_text("u::rwx,u:99:rx,g::rx,m::rx,o::-");
	assert_int_equal(acl_set_file(p, ACL_TYPE_DEFAULT, acl), 0);
	acl_free(acl);
	before = acl_text(fx, "d/f", ACL_TYPE_ACCESS);
	dbefore = acl_text(fx, "d/sub", ACL_TYPE_DEFAULT);

	assert_int_equal(walk(fx, "d", ACL_WALK_GRANT, &stats), 0);
	assert_int_equal(walk(fx, "d", ACL_WALK_REVOKE, &stats), 0);

	after = acl_text(fx, "d/f", ACL_TYPE_ACCESS);
	dafter = acl_text(fx, "d/sub", ACL_TYPE_DEFAULT);
	assert_string_equal(after, before);
	assert_string_equal(dafter, dbefore);
}

static void test_second_run_changes_nothing(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	struct acl_walk_stats stats;

	make_small_tree(fx);
	assert_int_equal(walk(fx, "d", ACL_WALK_GRANT, &stats), 0);
	assert_int_equal(walk(fx, "d", ACL_WALK_GRANT, &stats), 0);
	assert_int_equal(stats.changed, 0);
	assert_int_equal(stats.unchanged, 4);

	assert_int_equal(walk(fx, "d", ACL_WALK_REVOKE, &stats), 0);
	assert_int_equal(walk(fx, "d", ACL_WALK_REVOKE, &stats), 0);
	assert_int_equal(stats.changed, 0);
	assert_int_equal(stats.unchanged, 4);
}

static void test_not_owned_left_alone(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	struct acl_walk_stats stats;
	autofree char *theirs = NULL, *their_dir = NULL;

	if (geteuid() != 0) {
		print_message("# needs root to chown: skipped\n");
		skip();
	}
	make_small_tree(fx);
	make_file(fx, "d/theirs", 0644);
	make_file(fx, "d/sub/mine", 0644);
	theirs = path_of(fx, "d/theirs");
	their_dir = path_of(fx, "d/sub");
	assert_int_equal(chown(theirs, OTHER_UID, OTHER_UID), 0);
	assert_int_equal(chown(their_dir, OTHER_UID, OTHER_UID), 0);

	assert_int_equal(walk(fx, "d", ACL_WALK_GRANT, &stats), 0);

	assert_int_equal(stats.not_owned, 2);
	assert_false(has_acl_xattr(theirs));
	assert_false(has_acl_xattr(their_dir));
	assert_int_equal(mode_of(fx, "d/sub") & S_ISGID, 0);
	/* The human's files inside the agent's directory are still shared. */
	autofree char *mine = acl_text(fx, "d/sub/mine", ACL_TYPE_ACCESS);
	assert_string_equal(mine, FILE_ACL);
}

static void test_symlinks_not_followed(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	struct acl_walk_stats stats;
	autofree char *outside = NULL, *outside_file = NULL;
	autofree char *link1 = NULL, *link2 = NULL;

	make_small_tree(fx);
	make_dir(fx, "outside", 0700);
	make_file(fx, "outside/secret", 0600);
	outside = path_of(fx, "outside");
	outside_file = path_of(fx, "outside/secret");
	link1 = path_of(fx, "d/to-dir");
	link2 = path_of(fx, "d/sub/to-file");
	assert_int_equal(symlink(outside, link1), 0);
	assert_int_equal(symlink(outside_file, link2), 0);

	assert_int_equal(walk(fx, "d", ACL_WALK_GRANT, &stats), 0);

	assert_int_equal(stats.skipped, 2);
	assert_false(has_acl_xattr(outside));
	assert_false(has_acl_xattr(outside_file));
	assert_int_equal(mode_of(fx, "outside"), S_IFDIR | 0700);
	assert_int_equal(mode_of(fx, "outside/secret"), S_IFREG | 0600);
}

static void test_special_files(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct acl_walk_stats stats;
	autofree char *fifo = NULL, *sock = NULL;
	int sfd;

	make_small_tree(fx);
	make_file(fx, "d/unreadable", 0200);
	fifo = path_of(fx, "d/fifo");
	sock = path_of(fx, "d/sock");
	assert_int_equal(mkfifo(fifo, 0644), 0);
	sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(sfd >= 0);
	assert_true(strlen(sock) < sizeof(addr.sun_path));
	strcpy(addr.sun_path, sock);
	assert_int_equal(bind(sfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(sfd);

	alarm(20); /* a walk that opened the fifo for real would hang here */
	assert_int_equal(walk(fx, "d", ACL_WALK_GRANT, &stats), 0);
	alarm(0);

	assert_int_equal(stats.errors, 0);
	assert_int_equal(stats.changed, 7);
	autofree char *f = acl_text(fx, "d/fifo", ACL_TYPE_ACCESS);
	autofree char *s = acl_text(fx, "d/sock", ACL_TYPE_ACCESS);
	autofree char *u = acl_text(fx, "d/unreadable", ACL_TYPE_ACCESS);
	assert_string_equal(f, FILE_ACL);
	assert_non_null(strstr(s, "group:4242:rwx"));
	assert_string_equal(u, "user::-w-,group::---,group:4242:rwx,mask::rwx,other::---");
}

/*
 * The agent's attack: while the human's walk runs, swap a directory of the
 * tree for a symlink to a directory of the human's that the agent must not
 * get (~/.ssh), over and over. First shown to work against a walk that
 * follows path strings, then to fail against acl_walk().
 */
static pid_t start_swapper(struct fixture *fx)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int tree = openat(fx->fd, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		for (;;)
			renameat2(tree, "victim", tree, "link", RENAME_EXCHANGE);
	}
	return pid;
}

static void stop_swapper(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static bool secret_touched(struct fixture *fx)
{
	autofree char *secret = path_of(fx, "secret");
	autofree char *key = path_of(fx, "secret/key");

	return has_acl_xattr(secret) || has_acl_xattr(key) ||
	       mode_of(fx, "secret") != (S_IFDIR | 0700) ||
	       mode_of(fx, "secret/key") != (S_IFREG | 0600);
}

static void test_race_swap_to_symlink(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	autofree char *secret = path_of(fx, "secret");
	autofree char *victim_path = path_of(fx, "tree/victim/key");
	autofree char *link = path_of(fx, "tree/link");
	struct acl_walk_stats stats;
	bool attack_worked = false;
	acl_t acl;
	pid_t pid;

	make_dir(fx, "secret", 0700);
	make_file(fx, "secret/key", 0600);
	make_dir(fx, "tree", 0755);
	for (int d = 0; d < 10; d++) {
		autofree char *dir = xasprintf("tree/d%d", d);

		make_dir(fx, dir, 0755);
		for (int f = 0; f < 300; f++) {
			autofree char *file = xasprintf("tree/d%d/f%d", d, f);

			make_file(fx, file, 0644);
		}
	}
	make_dir(fx, "tree/victim", 0755);
	make_file(fx, "tree/victim/key", 0644);
	assert_int_equal(symlink(secret, link), 0);

	/* Without the defence: a path-following setfacl on tree/victim/key. */
	acl = acl_from_text("u::rw,g::r,g:4242:rwx,m::rwx,o::-");
	pid = start_swapper(fx);
	for (int i = 0; i < 100000 && !attack_worked; i++) {
		acl_set_file(victim_path, ACL_TYPE_ACCESS, acl);
		attack_worked = secret_touched(fx);
	}
	stop_swapper(pid);
	acl_free(acl);
	assert_true(attack_worked);
	/* Put the secret back as it was. */
	autofree char *key = path_of(fx, "secret/key");
	removexattr(key, "system.posix_acl_access");
	assert_int_equal(chmod(key, 0600), 0);
	assert_false(secret_touched(fx));

	/* With it: many walks, each racing the swapper. */
	pid = start_swapper(fx);
	for (int i = 0; i < 40; i++) {
		walk(fx, "tree", i % 2 ? ACL_WALK_REVOKE : ACL_WALK_GRANT, &stats);
		if (secret_touched(fx))
			break;
	}
	stop_swapper(pid);
	assert_false(secret_touched(fx));
}

/*
 * A big tree, so that the second thread starts: every entry is counted once,
 * in exactly one of the stats, and every file got (and lost) the entry.
 */
static void test_threaded_walk_large_tree(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	struct acl_walk_stats stats;
	size_t entries = 1, owned = 1, links = 0, theirs = 0;
	bool root = geteuid() == 0;

	make_dir(fx, "big", 0755);
	for (int d = 0; d < 30; d++) {
		autofree char *dir = xasprintf("big/d%d", d);

		make_dir(fx, dir, 0755);
		entries++, owned++;
		for (int f = 0; f < 100; f++) {
			autofree char *file = xasprintf("big/d%d/f%d", d, f);

			make_file(fx, file, 0644);
			entries++, owned++;
		}
		autofree char *link_rel = xasprintf("big/d%d/link", d);
		autofree char *link = path_of(fx, link_rel);

		assert_int_equal(symlink("f0", link), 0);
		entries++, links++;
		if (root) {
			autofree char *their = xasprintf("big/d%d/theirs", d);
			autofree char *their_path = path_of(fx, their);

			make_file(fx, their, 0644);
			assert_int_equal(chown(their_path, OTHER_UID, OTHER_UID), 0);
			entries++, theirs++;
		}
	}

	assert_int_equal(walk(fx, "big", ACL_WALK_GRANT, &stats), 0);
	assert_int_equal(stats.changed, owned);
	assert_int_equal(stats.not_owned, theirs);
	assert_int_equal(stats.skipped, links);
	assert_int_equal(stats.changed + stats.unchanged + stats.not_owned + stats.skipped, entries);
	for (int d = 0; d < 30; d++) {
		for (int f = 0; f < 100; f += 7) {
			autofree char *file = xasprintf("big/d%d/f%d", d, f);
			autofree char *acl = acl_text(fx, file, ACL_TYPE_ACCESS);

			assert_string_equal(acl, FILE_ACL);
		}
		if (root) {
			autofree char *rel = xasprintf("big/d%d/theirs", d);
			autofree char *their = path_of(fx, rel);

			assert_false(has_acl_xattr(their));
		}
	}

	assert_int_equal(walk(fx, "big", ACL_WALK_GRANT, &stats), 0);
	assert_int_equal(stats.changed, 0);
	assert_int_equal(stats.changed + stats.unchanged + stats.not_owned + stats.skipped, entries);

	assert_int_equal(walk(fx, "big", ACL_WALK_REVOKE, &stats), 0);
	assert_int_equal(stats.changed, owned);
	assert_int_equal(stats.changed + stats.unchanged + stats.not_owned + stats.skipped, entries);
	for (int d = 0; d < 30; d++) {
		autofree char *rel = xasprintf("big/d%d/f%d", d, d);
		autofree char *file = path_of(fx, rel);

		assert_false(has_acl_xattr(file));
	}
}

/*
 * Regular files are changed by name (getxattrat/setxattrat) when the walk
 * runs as the files' owner without CAP_FOWNER, so these tests walk as an
 * ordinary uid: as WALKER_UID in a child when the test runs as root.
 */
static uid_t chown_to;

static int chown_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, chown_to, chown_to);
}

static void chown_tree(struct fixture *fx, uid_t uid)
{
	chown_to = uid;
	assert_int_equal(nftw(fx->dir, chown_entry, 64, FTW_PHYS), 0);
}

/* Runs fn as an ordinary uid; returns what it returned (0 is success). */
static int as_walker(struct fixture *fx, int (*fn)(struct fixture *fx))
{
	int status;
	pid_t pid;

	if (geteuid() != 0)
		return fn(fx);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(WALKER_UID, WALKER_UID, WALKER_UID) ||
		    setresuid(WALKER_UID, WALKER_UID, WALKER_UID))
			_exit(99);
		_exit(fn(fx));
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static pid_t start_exchanger(struct fixture *fx, const char *a, const char *b)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int tree = openat(fx->fd, "tree", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		for (;;)
			renameat2(tree, a, tree, b, RENAME_EXCHANGE);
	}
	return pid;
}

static bool key_touched(struct fixture *fx)
{
	autofree char *key = path_of(fx, "secret/key");

	return has_acl_xattr(key) || mode_of(fx, "secret/key") != (S_IFREG | 0600);
}

/* Many walks racing the exchanger; 1 when secret/key was ever touched. */
static int walks_against_file_link_swap(struct fixture *fx)
{
	struct acl_walk_stats stats;

	for (int i = 0; i < 3000; i++) {
		walk(fx, "tree", i % 2 ? ACL_WALK_REVOKE : ACL_WALK_GRANT, &stats);
		if (key_touched(fx))
			return 1;
		if (stats.changed + stats.unchanged + stats.not_owned + stats.skipped +
			    stats.errors != 3)
			return 2;
	}
	return 0;
}

/*
 * The agent swaps a regular file of the tree for a symlink to a file of the
 * human's outside it (of the same owner: only the walk's own care stops this)
 * between getdents and the write. The ACL must never land outside.
 */
static void test_name_route_file_swapped_for_symlink(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	autofree char *key = path_of(fx, "secret/key");
	autofree char *file = path_of(fx, "tree/file");
	autofree char *link = path_of(fx, "tree/link");
	bool attack_worked = false;
	acl_t acl;
	pid_t pid;

	make_dir(fx, "secret", 0700);
	make_file(fx, "secret/key", 0600);
	make_dir(fx, "tree", 0755);
	make_file(fx, "tree/file", 0644);
	assert_int_equal(symlink(key, link), 0);

	/* Without the defence: a path-following setfacl on tree/file. */
	acl = acl_from_text("u::rw,g::r,g:4242:rwx,m::rwx,o::-");
	pid = start_exchanger(fx, "file", "link");
	for (int i = 0; i < 100000 && !attack_worked; i++) {
		acl_set_file(file, ACL_TYPE_ACCESS, acl);
		attack_worked = key_touched(fx);
	}
	stop_swapper(pid);
	acl_free(acl);
	assert_true(attack_worked);
	removexattr(key, "system.posix_acl_access");
	assert_int_equal(chmod(key, 0600), 0);
	assert_false(key_touched(fx));

	/* With it. */
	if (geteuid() == 0)
		chown_tree(fx, WALKER_UID);
	pid = start_exchanger(fx, "file", "link");
	int rc = as_walker(fx, walks_against_file_link_swap);
	stop_swapper(pid);
	assert_int_equal(rc, 0);
	assert_false(key_touched(fx));
}

/* Many walks racing the exchanger of mine and theirs, as WALKER_UID. */
static int walks_against_owner_swap(struct fixture *fx)
{
	autofree char *theirs = path_of(fx, "tree/theirs");
	autofree char *mine = path_of(fx, "tree/mine");
	autoclose int their_fd = -1;
	struct acl_walk_stats stats;
	struct stat st;
	char buf[256];

	/*
	 * The exchanger runs already: either name may hold their file, and may
	 * change between our open and fstat. Try until we hold theirs.
	 */
	for (int i = 0; i < 10000 && their_fd < 0; i++) {
		their_fd = open(i % 2 ? mine : theirs, O_RDONLY | O_CLOEXEC);
		if (their_fd >= 0 && (fstat(their_fd, &st) || st.st_uid != OTHER_UID)) {
			close(their_fd);
			their_fd = -1;
		}
	}
	if (their_fd < 0)
		return 3;
	for (int i = 0; i < 3000; i++) {
		if (walk(fx, "tree", i % 2 ? ACL_WALK_REVOKE : ACL_WALK_GRANT, &stats) < 0)
			return 1; /* an EPERM reported as an error */
		if (stats.changed + stats.unchanged + stats.not_owned + stats.skipped != 3)
			return 2;
		if (fgetxattr(their_fd, "system.posix_acl_access", buf, sizeof(buf)) >= 0)
			return 4;
	}
	return 0;
}

/*
 * The agent swaps someone else's file in for one of the human's between the
 * stat and the write: the kernel refuses the write (EPERM), which is neither
 * an error nor a change, and the other file keeps no ACL.
 */
static void test_name_route_not_owned_swapped_in(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	autofree char *theirs = NULL;
	pid_t pid;
	int rc;

	if (geteuid() != 0) {
		print_message("# needs root to chown: skipped\n");
		skip();
	}
	theirs = path_of(fx, "tree/theirs");
	make_dir(fx, "tree", 0755);
	make_file(fx, "tree/mine", 0644);
	make_file(fx, "tree/theirs", 0644);
	chown_tree(fx, WALKER_UID);
	assert_int_equal(chown(theirs, OTHER_UID, OTHER_UID), 0);

	pid = start_exchanger(fx, "mine", "theirs");
	rc = as_walker(fx, walks_against_owner_swap);
	stop_swapper(pid);
	assert_int_equal(rc, 0);
}

/* What big_tree_walks() expects: set by the test before it forks. */
static size_t big_entries, big_owned, big_their_plain, big_their_acl;

static int check_stats(const struct acl_walk_stats *st, size_t changed, size_t unchanged,
		       size_t not_owned, int code)
{
	if (st->errors || st->changed != changed || st->unchanged != unchanged ||
	    st->not_owned != not_owned ||
	    st->changed + st->unchanged + st->not_owned + st->skipped != big_entries) {
		fprintf(stderr, "# changed %zu unchanged %zu not_owned %zu skipped %zu errors %zu\n",
			st->changed, st->unchanged, st->not_owned, st->skipped, st->errors);
		return code;
	}
	return 0;
}

/* As WALKER_UID: a grant, then a revoke, of a tree with others' files in it. */
static int big_tree_walks(struct fixture *fx)
{
	struct acl_walk_stats stats;
	int rc;

	/* A grant stats each file first (its links decide): theirs are not owned, entry or not. */
	walk(fx, "big", ACL_WALK_GRANT, &stats);
	rc = check_stats(&stats, big_owned, 0, big_their_plain + big_their_acl, 10);
	if (rc)
		return rc;
	/* Their files with the entry: the kernel refuses the write (EPERM). */
	walk(fx, "big", ACL_WALK_REVOKE, &stats);
	return check_stats(&stats, big_owned, big_their_plain, big_their_acl, 20);
}

/*
 * The name route and the second thread together, on someone else's files
 * with and without the entry: each counted as not owned or unchanged, none
 * an error, none changed.
 */
static void test_name_route_threaded_not_owned(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	const char *their_acl = "user::rw-,group::r--,group:4242:rwx,mask::rwx,other::r--";

	if (geteuid() != 0) {
		print_message("# needs root to chown: skipped\n");
		skip();
	}
	make_dir(fx, "big", 0755);
	big_entries = big_owned = 1;
	big_their_plain = big_their_acl = 0;
	for (int d = 0; d < 20; d++) {
		autofree char *dir = xasprintf("big/d%d", d);

		make_dir(fx, dir, 0755);
		big_entries++, big_owned++;
		for (int f = 0; f < 100; f++) {
			autofree char *file = xasprintf("big/d%d/f%d", d, f);

			make_file(fx, file, 0644);
			big_entries++, big_owned++;
		}
	}
	chown_tree(fx, WALKER_UID);
	for (int d = 0; d < 20; d++) {
		for (int i = 0; i < 10; i++) {
			autofree char *rel = xasprintf("big/d%d/theirs%d", d, i);
			autofree char *path = path_of(fx, rel);

			make_file(fx, rel, 0644);
			assert_int_equal(chown(path, OTHER_UID, OTHER_UID), 0);
			if (i % 2) {
				acl_t acl = acl_from_text(their_acl);

				assert_int_equal(acl_set_file(path, ACL_TYPE_ACCESS, acl), 0);
				acl_free(acl);
				big_their_acl++;
			} else {
				big_their_plain++;
			}
			big_entries++;
		}
	}

	assert_int_equal(as_walker(fx, big_tree_walks), 0);
	for (int d = 0; d < 20; d++) {
		autofree char *with = xasprintf("big/d%d/theirs1", d);
		autofree char *without = xasprintf("big/d%d/theirs0", d);
		autofree char *without_path = path_of(fx, without);
		autofree char *acl = acl_text(fx, with, ACL_TYPE_ACCESS);

		assert_string_equal(acl, their_acl);
		assert_false(has_acl_xattr(without_path));
	}
}

/* Makes getxattrat (464) and setxattrat (463) fail with ENOSYS, as before Linux 6.13. */
static int without_xattrat(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 463, 1, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 464, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { ARRAY_SIZE(filter), filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

/* In a child without *xattrat: a grant and a revoke of a tree of 1,500 files. */
static int walks_without_xattrat(struct fixture *fx)
{
	struct acl_walk_stats stats;

	if (without_xattrat())
		return 30;
	if (syscall(464, fx->fd, ".", 0, "system.posix_acl_access", NULL, 0) != -1 || errno != ENOSYS)
		return 34; /* the filter did not take */
	if (walk(fx, "old", ACL_WALK_GRANT, &stats) || stats.changed != 1 + 15 + 1500)
		return 31;
	if (walk(fx, "old", ACL_WALK_REVOKE, &stats) || stats.changed != 1 + 15 + 1500)
		return 32;
	return walk(fx, "old", ACL_WALK_GRANT, &stats) || stats.changed != 1 + 15 + 1500 ? 33 : 0;
}

/* A kernel before 6.13: every file goes the fd route, with the same result. */
static void test_kernel_without_xattrat(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	int status;
	pid_t pid;

	make_dir(fx, "old", 0755);
	for (int d = 0; d < 15; d++) {
		autofree char *dir = xasprintf("old/d%d", d);

		make_dir(fx, dir, 0755);
		for (int f = 0; f < 100; f++) {
			autofree char *file = xasprintf("old/d%d/f%d", d, f);

			make_file(fx, file, 0644);
		}
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(walks_without_xattrat(fx));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	for (int d = 0; d < 15; d++) {
		autofree char *file = xasprintf("old/d%d/f%d", d, d * 6);
		autofree char *acl = acl_text(fx, file, ACL_TYPE_ACCESS);

		assert_string_equal(acl, FILE_ACL);
	}
}

/* --- hard links ------------------------------------------------------------ */

/*
 * outside/cache.py (0644) and outside/tool (0755), as in uv's cache, hard-linked
 * into the shared tree as d/cache.py and d/tool; d/own is the share's own.
 */
static void make_linked_tree(struct fixture *fx)
{
	autofree char *cache = path_of(fx, "outside/cache.py");
	autofree char *tool = path_of(fx, "outside/tool");
	autofree char *cache_link = path_of(fx, "d/cache.py");
	autofree char *tool_link = path_of(fx, "d/tool");

	make_dir(fx, "outside", 0755);
	make_file(fx, "outside/cache.py", 0644);
	make_file(fx, "outside/tool", 0755);
	make_dir(fx, "d", 0755);
	make_file(fx, "d/own", 0644);
	assert_int_equal(link(cache, cache_link), 0);
	assert_int_equal(link(tool, tool_link), 0);
}

/* Any entry of the group at all: a grant must change nothing of a linked file. */
static bool group_writes(struct fixture *fx, const char *rel)
{
	autofree char *acl = acl_text(fx, rel, ACL_TYPE_ACCESS);

	return strstr(acl, "group:4242:") != NULL;
}

static bool noted(const struct strvec *list, struct fixture *fx, const char *rel)
{
	autofree char *p = path_of(fx, rel);

	for (size_t i = 0; i < list->nr; i++) {
		if (!strcmp(list->v[i], p))
			return true;
	}
	return false;
}

/* A grant, a later link, a grant again, then a revoke; 0 when all is as it must be. */
static int linked_walks(struct fixture *fx)
{
	struct acl_walk_notes notes = ACL_WALK_NOTES_INIT;
	autofree char *p = path_of(fx, "d");
	autofree char *own = path_of(fx, "d/own");
	autofree char *own_link = path_of(fx, "outside/own");
	struct acl_walk_stats stats;
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
	autofree char *cache = NULL, *tool = NULL, *mine = NULL, *mine_after = NULL;

	if (fd < 0)
		return 40;
	if (acl_walk_noting(fd, p, TEST_GID, geteuid(), ACL_WALK_GRANT, false, &stats, &notes) ||
	    stats.linked != 2)
		rc = 41;
	cache = acl_text(fx, "outside/cache.py", ACL_TYPE_ACCESS);
	tool = acl_text(fx, "outside/tool", ACL_TYPE_ACCESS);
	mine = acl_text(fx, "d/own", ACL_TYPE_ACCESS);
	/* The linked files are left as they were: nothing outside the share changes. */
	if (!rc && (strcmp(cache, "user::rw-,group::r--,other::r--") ||
		    strcmp(tool, "user::rwx,group::r-x,other::r-x") || strcmp(mine, FILE_ACL)))
		rc = 42;
	if (!rc && (notes.linked.nr != 2 || !noted(&notes.linked, fx, "d/cache.py") ||
		    !noted(&notes.linked, fx, "d/tool")))
		rc = 43;
	acl_walk_notes_release(&notes);

	/* Linked elsewhere after the grant: the next grant takes the entry back. */
	if (!rc && link(own, own_link))
		rc = 44;
	if (!rc && (acl_walk(fd, p, TEST_GID, geteuid(), ACL_WALK_GRANT, false, &stats) || stats.linked != 3))
		rc = 45;
	mine_after = acl_text(fx, "d/own", ACL_TYPE_ACCESS);
	if (!rc && (strcmp(mine_after, "user::rw-,group::r--,other::r--") || has_acl_xattr(own_link)))
		rc = 46;

	if (!rc && acl_walk(fd, p, TEST_GID, geteuid(), ACL_WALK_REVOKE, false, &stats))
		rc = 47;
	if (!rc && (has_acl_xattr(own_link) || group_writes(fx, "outside/tool")))
		rc = 48;
	close(fd);
	return rc;
}

/*
 * uv and pnpm hard-link files of their cache into projects: write on such a
 * file in the share is write on the cache, outside it. First shown with a
 * plain ACL change on the file in the share, then against the walk, by fd
 * (as root) and by name (as an ordinary owner): the linked files keep their
 * ACL as it was.
 */
static void test_hard_links_left_read_only(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	autofree char *cache = NULL, *cache_link = NULL;
	acl_t acl;

	make_linked_tree(fx);
	cache = path_of(fx, "outside/cache.py");
	cache_link = path_of(fx, "d/cache.py");

	/* Without the defence: setfacl -m g:G:rwx on the file in the share. */
	acl = acl_from_text("u::rw,g::r,g:4242:rwx,m::rwx,o::r");
	assert_int_equal(acl_set_file(cache_link, ACL_TYPE_ACCESS, acl), 0);
	acl_free(acl);
	assert_true(group_writes(fx, "outside/cache.py"));
	assert_int_equal(removexattr(cache, "system.posix_acl_access"), 0);
	assert_int_equal(chmod(cache, 0644), 0);
	assert_false(group_writes(fx, "outside/cache.py"));

	/* With it: the fd route (root), then the name route. */
	assert_int_equal(linked_walks(fx), 0);
	if (geteuid() == 0) {
		autofree char *own_link = path_of(fx, "outside/own");

		assert_int_equal(unlink(own_link), 0);
		chown_tree(fx, WALKER_UID);
		assert_int_equal(as_walker(fx, linked_walks), 0);
	}
}

/* Many re-grants while the exchanger swaps a plain file and a hard link: 0 when the cache never got write. */
static int grants_against_link_swap(struct fixture *fx)
{
	struct acl_walk_stats stats;

	for (int i = 0; i < 2000; i++) {
		walk(fx, "tree", ACL_WALK_GRANT, &stats);
		if (group_writes(fx, "outside/cache.py"))
			return 1;
	}
	return 0;
}

/*
 * In a folder the agent can write (already granted), it swaps the name of a
 * file it may write with a hard link to a file outside the share, hoping the
 * walk decides on one and writes the other.
 */
static void test_hard_link_swapped_in_during_a_grant(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	autofree char *cache = NULL, *linked = NULL, *plain = NULL;
	struct acl_walk_stats stats;
	bool attack_worked = false;
	acl_t acl;
	pid_t pid;
	int rc;

	make_dir(fx, "outside", 0755);
	make_file(fx, "outside/cache.py", 0644);
	make_dir(fx, "tree", 0755);
	make_file(fx, "tree/plain", 0644);
	cache = path_of(fx, "outside/cache.py");
	linked = path_of(fx, "tree/linked");
	plain = path_of(fx, "tree/plain");
	assert_int_equal(link(cache, linked), 0);
	assert_int_equal(walk(fx, "tree", ACL_WALK_GRANT, &stats), 0);
	assert_false(group_writes(fx, "outside/cache.py"));

	/* Without the defence: check the name's links, then set rwx on the name. */
	acl = acl_from_text("u::rw,g::r,g:4242:rwx,m::rwx,o::r");
	pid = start_exchanger(fx, "plain", "linked");
	for (int i = 0; i < 200000 && !attack_worked; i++) {
		struct stat st;

		if (lstat(plain, &st) == 0 && st.st_nlink == 1)
			acl_set_file(plain, ACL_TYPE_ACCESS, acl);
		attack_worked = group_writes(fx, "outside/cache.py");
	}
	stop_swapper(pid);
	acl_free(acl);
	assert_true(attack_worked);
	assert_int_equal(walk(fx, "tree", ACL_WALK_GRANT, &stats), 0); /* takes it back */
	assert_false(group_writes(fx, "outside/cache.py"));

	/* With it. */
	if (geteuid() == 0)
		chown_tree(fx, WALKER_UID);
	pid = start_exchanger(fx, "plain", "linked");
	rc = as_walker(fx, grants_against_link_swap);
	stop_swapper(pid);
	assert_int_equal(rc, 0);
	assert_false(group_writes(fx, "outside/cache.py"));
}

/* --- deep trees ------------------------------------------------------------ */

#define DEEP 5000

/* fx/deep/a/a/.../a (DEEP levels), with a file "f" at the bottom. */
static void make_deep_tree(struct fixture *fx)
{
	int fd = openat(fx->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_int_equal(mkdirat(fd, "deep", 0755), 0);
	for (int i = 0; i <= DEEP; i++) {
		int next = openat(fd, i ? "a" : "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(next >= 0);
		close(fd);
		fd = next;
		if (i < DEEP)
			assert_int_equal(mkdirat(fd, "a", 0755), 0);
	}
	close(assert_true_fd(openat(fd, "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)));
	close(fd);
}

/* The bottom file's access ACL xattr: 1 there, 0 not, -1 could not look. */
static int deep_file_has_acl(struct fixture *fx, char *acl_out, size_t size)
{
	int fd = openat(fx->fd, "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ssize_t n;

	for (int i = 0; i < DEEP && fd >= 0; i++) {
		int next = openat(fd, "a", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(fd);
		fd = next;
	}
	if (fd < 0)
		return -1;
	n = getxattrat_compat(fd, "f", acl_out, size);
	close(fd);
	return n >= 0;
}

/* Removes the deep tree from the bottom, by fds (nftw stops at PATH_MAX). */
static void remove_deep_tree(struct fixture *fx)
{
	int fd = openat(fx->fd, "deep", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	for (int i = 0; i < DEEP && fd >= 0; i++) {
		int next = openat(fd, "a", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		close(fd);
		fd = next;
	}
	assert_true(fd >= 0);
	unlinkat(fd, "f", 0);
	for (int i = DEEP; i > 0; i--) {
		int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(up >= 0);
		close(fd);
		fd = up;
		assert_int_equal(unlinkat(fd, "a", AT_REMOVEDIR), 0);
	}
	close(fd);
	assert_int_equal(unlinkat(fx->fd, "deep", AT_REMOVEDIR), 0);
}

/* A grant and a revoke of the deep tree with 64 fds at most; 0 when both reached the bottom. */
static int deep_walks_with_few_fds(struct fixture *fx)
{
	struct rlimit lim = { 64, 64 };
	struct acl_walk_stats stats;
	char acl[256];

	if (setrlimit(RLIMIT_NOFILE, &lim))
		return 50;
	if (walk(fx, "deep", ACL_WALK_GRANT, &stats) || stats.changed != DEEP + 2 || stats.errors)
		return 51;
	if (deep_file_has_acl(fx, acl, sizeof(acl)) != 1)
		return 52;
	if (walk(fx, "deep", ACL_WALK_REVOKE, &stats) || stats.changed != DEEP + 2)
		return 53;
	return deep_file_has_acl(fx, acl, sizeof(acl)) == 0 ? 0 : 54;
}

/*
 * The agent nests folders deeper than any fixed limit, and moves a file of
 * the human's to the bottom: a walk that stops at some depth (the old one
 * did at 4,096) leaves its entry behind. No depth, nor a low limit of open
 * files, stops this one.
 */
static void test_deep_tree(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	int status;
	pid_t pid;

	make_deep_tree(fx);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(deep_walks_with_few_fds(fx));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	remove_deep_tree(fx);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* --- what the walk could not see ------------------------------------------- */

static int revoke_with_unreadable(struct fixture *fx)
{
	struct acl_walk_notes notes = ACL_WALK_NOTES_INIT;
	autofree char *p = path_of(fx, "d");
	struct acl_walk_stats stats;
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return 60;
	acl_walk_noting(fd, p, TEST_GID, geteuid(), ACL_WALK_REVOKE, false, &stats, &notes);
	if (stats.unreadable != 1 || stats.errors)
		rc = 61;
	else if (notes.unreadable.nr != 1 || !noted(&notes.unreadable, fx, "d/theirs"))
		rc = 62;
	acl_walk_notes_release(&notes);
	close(fd);
	return rc;
}

/*
 * The agent moves a file of the human's into a folder of its own that the
 * human cannot read: the walk cannot take that file's entry back, and must
 * say where it could not look.
 */
static void test_unreadable_folder_is_noted(void **state)
{
	struct fixture *fx = fixture_or_skip(state);
	autofree char *theirs = NULL;
	struct acl_walk_stats stats;

	if (geteuid() != 0) {
		print_message("# needs root to chown: skipped\n");
		skip();
	}
	make_small_tree(fx);
	make_dir(fx, "d/theirs", 0755);
	make_file(fx, "d/theirs/hidden", 0644);
	assert_int_equal(walk(fx, "d", ACL_WALK_GRANT, &stats), 0);
	chown_tree(fx, WALKER_UID);
	theirs = path_of(fx, "d/theirs");
	assert_int_equal(chown(theirs, OTHER_UID, OTHER_UID), 0);
	assert_int_equal(chmod(theirs, 0700), 0);
	assert_int_equal(as_walker(fx, revoke_with_unreadable), 0);
}

/* --- acl_may_write, against the kernel ------------------------------------- */

#define AGENT_UID 4646

/* What the kernel says: can AGENT_UID, with TEST_GID as its only group, write path? */
static bool kernel_says_writable(const char *path)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		gid_t gid = TEST_GID;

		if (setgroups(1, &gid) || setresgid(TEST_GID, TEST_GID, TEST_GID) ||
		    setresuid(AGENT_UID, AGENT_UID, AGENT_UID))
			_exit(2);
		_exit(access(path, W_OK) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) < 2);
	return WEXITSTATUS(status) == 0;
}

/*
 * The PATH warning and the check of symlinks on a share's way rest on
 * acl_may_write(): for modes, owners, groups and ACLs of every kind, it must
 * answer what the kernel answers.
 */
static void test_may_write_agrees_with_the_kernel(void **state)
{
	static const struct {
		mode_t mode;
		uid_t uid;
		gid_t gid;
		const char *acl; /* NULL: none */
	} cases[] = {
		{ 0755, 0, 0, NULL },
		{ 0777, 0, 0, NULL },
		{ 01777, 0, 0, NULL },
		{ 0775, 0, TEST_GID, NULL },
		{ 0755, 0, TEST_GID, NULL },
		{ 0557, 0, TEST_GID, NULL }, /* the group matches and forbids: other's w does not count */
		{ 0755, AGENT_UID, 0, NULL },
		{ 0555, AGENT_UID, 0, NULL },
		{ 0750, 0, 0, "u::rwx,g::r-x,g:4242:rwx,m::rwx,o::---" },
		{ 0750, 0, 0, "u::rwx,g::r-x,g:4242:rwx,m::r-x,o::---" },
		{ 0750, 0, 0, "u::rwx,g::r-x,u:4646:rwx,m::rwx,o::---" },
		{ 0750, 0, 0, "u::rwx,g::r-x,u:4646:r-x,g:4242:rwx,m::rwx,o::rwx" },
		{ 0750, 0, 0, "u::rwx,g::r-x,g:4242:r-x,m::rwx,o::rwx" },
		{ 0750, 0, 0, "u::rwx,g::r-x,g:1:rwx,m::rwx,o::rwx" },
		{ 0750, 0, TEST_GID, "u::rwx,g::rwx,g:1:r-x,m::rwx,o::---" },
	};
	struct fixture *fx = fixture_or_skip(state);

	if (geteuid() != 0) {
		print_message("# needs root to chown and to ask as another uid: skipped\n");
		skip();
	}
	assert_int_equal(chmod(fx->dir, 0755), 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		autofree char *rel = xasprintf("d%zu", i);
		autofree char *p = path_of(fx, rel);
		autoclose int fd = -1;
		struct stat st;

		make_dir(fx, rel, 0755);
		assert_int_equal(chown(p, cases[i].uid, cases[i].gid), 0);
		assert_int_equal(chmod(p, cases[i].mode), 0);
		if (cases[i].acl) {
			acl_t acl = acl_from_text(cases[i].acl);

			assert_non_null(acl);
			assert_int_equal(acl_set_file(p, ACL_TYPE_ACCESS, acl), 0);
			acl_free(acl);
		}
		fd = open(p, O_PATH | O_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(fstat(fd, &st), 0);
		if (acl_may_write(fd, &st, AGENT_UID, TEST_GID) != kernel_says_writable(p))
			fail_msg("case %zu (mode %04o, acl %s): acl_may_write() says %d, the kernel %d", i,
				 (unsigned)cases[i].mode, cases[i].acl ? cases[i].acl : "none",
				 acl_may_write(fd, &st, AGENT_UID, TEST_GID), kernel_says_writable(p));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_grant_small_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_files_inherit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_restores_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke_keeps_other_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_run_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_owned_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks_not_followed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_race_swap_to_symlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threaded_walk_large_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_route_file_swapped_for_symlink, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_name_route_not_owned_swapped_in, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_name_route_threaded_not_owned, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kernel_without_xattrat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_links_left_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_link_swapped_in_during_a_grant, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable_folder_is_noted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_may_write_agrees_with_the_kernel, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
