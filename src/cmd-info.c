/* cmd-info.c: au info: what an agent is made of, and a health check of each piece. */
#include "acl.h"
#include "agent.h"
#include "au.h"
#include "config.h"
#include "sys.h"
#include "util.h"

#include <acl/libacl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/acl.h>
#include <sys/stat.h>

static const char info_usage[] =
	"Usage: au info [-a NAME]\n"
	"\n"
	"Show an agent's user, group, home, entrypoint and mounts, the ACL entries that\n"
	"give it access to your files, what still runs as it (--keep-running), and check\n"
	"that each piece is healthy.\n"
	"The exit status is 0 when everything is ok, 1 when something is broken.\n"
	"\n"
	"  -a, --agent NAME  the agent (default: agent)\n"
	"  -h, --help        show this help\n";

struct health {
	int broken;
};

static void check(struct health *h, bool ok, const char *fmt, ...) AU_PRINTF(3, 4);
static void check(struct health *h, bool ok, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (ok)
		printf("  %sok%s      %s\n", color(STDOUT_FILENO, COLOR_GREEN),
		       color(STDOUT_FILENO, COLOR_RESET), sb.buf);
	else
		printf("  %sbroken%s  %s\n", color(STDOUT_FILENO, COLOR_RED),
		       color(STDOUT_FILENO, COLOR_RESET), sb.buf);
	if (!ok)
		h->broken++;
	strbuf_release(&sb);
}

/* Named user and group entries of path's ACL: what gives others access. */
static void print_acl_entries(const char *path, acl_type_t type, const char *prefix)
{
	acl_t acl = acl_get_file(path, type);
	acl_entry_t entry;
	int id = ACL_FIRST_ENTRY;
	autofree char *shown = escape_display(path);

	if (!acl)
		return;
	while (acl_get_entry(acl, id, &entry) == 1) {
		acl_tag_t tag;
		acl_permset_t perms;
		void *qual;

		id = ACL_NEXT_ENTRY;
		if (acl_get_tag_type(entry, &tag) < 0 || (tag != ACL_USER && tag != ACL_GROUP))
			continue;
		if (acl_get_permset(entry, &perms) < 0)
			continue;
		qual = acl_get_qualifier(entry);
		if (!qual)
			continue;
		if (tag == ACL_USER) {
			struct passwd *pw = getpwuid(*(uid_t *)qual);
			printf("  %s: %suser:%s:", shown, prefix, pw ? pw->pw_name : "?");
		} else {
			struct group *gr = getgrgid(*(gid_t *)qual);
			printf("  %s: %sgroup:%s:", shown, prefix, gr ? gr->gr_name : "?");
		}
		printf("%c%c%c\n", acl_get_perm(perms, ACL_READ) == 1 ? 'r' : '-',
		       acl_get_perm(perms, ACL_WRITE) == 1 ? 'w' : '-',
		       acl_get_perm(perms, ACL_EXECUTE) == 1 ? 'x' : '-');
		acl_free(qual);
	}
	acl_free(acl);
}

/* The default ACL of dir has group:gid:rwx. */
static bool has_default_group_entry(const char *dir, gid_t gid)
{
	acl_t acl = acl_get_file(dir, ACL_TYPE_DEFAULT);
	acl_entry_t entry;
	int id = ACL_FIRST_ENTRY;
	bool found = false;

	if (!acl)
		return false;
	while (!found && acl_get_entry(acl, id, &entry) == 1) {
		acl_tag_t tag;
		acl_permset_t perms;
		gid_t *qual;

		id = ACL_NEXT_ENTRY;
		if (acl_get_tag_type(entry, &tag) < 0 || tag != ACL_GROUP)
			continue;
		qual = acl_get_qualifier(entry);
		if (qual && *qual == gid && acl_get_permset(entry, &perms) == 0 &&
		    acl_get_perm(perms, ACL_READ) == 1 && acl_get_perm(perms, ACL_WRITE) == 1 &&
		    acl_get_perm(perms, ACL_EXECUTE) == 1)
			found = true;
		acl_free(qual);
	}
	acl_free(acl);
	return found;
}

static void check_entrypoint(struct health *h, const struct agent *a, const struct agent_user *u)
{
	autostrbuf struct strbuf why = STRBUF_INIT;
	bool unreadable = false;
	int fd;

	if (!u->group_exists) {
		check(h, false, "entrypoint: cannot be checked without its group");
		return;
	}
	fd = entrypoint_open_verified(a, u->gid, &why, &unreadable);
	if (fd >= 0) {
		close(fd);
		check(h, true, "entrypoint is root-owned, setuid, mode 4750, in a safe folder");
		check(h, true, "entrypoint SHA-256 matches the config");
		return;
	}
	if (unreadable) {
		/* Its owner and mode can still be read without the group. */
		struct stat st;
		bool shape = stat(a->entrypoint, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == 0 &&
			     st.st_gid == u->gid && (st.st_mode & 07777) == 04750;
		check(h, shape, "entrypoint is root-owned, setuid, mode 4750");
		check(h, false, "entrypoint SHA-256 cannot be checked: this session is not in group '%s' yet "
				"(log in again)", a->group);
		return;
	}
	if (strstr(why.buf, "SHA-256")) {
		check(h, true, "entrypoint is root-owned, setuid, mode 4750, in a safe folder");
		check(h, false, "entrypoint: %s", why.buf);
		return;
	}
	check(h, false, "entrypoint: %s", why.buf);
	check(h, false, "entrypoint SHA-256 not checked");
}

static void print_identity(const struct agent *a, const struct agent_user *u)
{
	printf("Agent:       %s%s\n", a->user_name, strcmp(a->user_name, DEFAULT_AGENT) ? "" : " (default)");
	if (u->user_exists)
		printf("User:        %s (uid %u)\n", a->user_name, (unsigned)u->uid);
	else
		printf("User:        %s (missing)\n", a->user_name);
	if (u->group_exists)
		printf("Group:       %s (gid %u)\n", a->group, (unsigned)u->gid);
	else
		printf("Group:       %s (missing)\n", a->group);
	printf("Home:        %s\n", u->home);
	printf("Entrypoint:  %s\n", a->entrypoint);
	printf("SHA-256:     %s\n", a->entrypoint_sha256);
}

static void print_mounts(const struct agent *a, const struct human *hu)
{
	printf("Mounts:%s\n", a->nr_mounts ? "" : "      none");
	for (size_t i = 0; i < a->nr_mounts; i++) {
		autofree char *src = escape_display(a->mounts[i].source);
		autofree char *dst = escape_display(a->mounts[i].target);
		printf("  %s -> %s [%s]\n", src, dst, a->mounts[i].read_only ? "ro" : "rw");
	}
	printf("Access to your files (ACL entries):\n");
	print_acl_entries(hu->home, ACL_TYPE_ACCESS, "");
	for (size_t i = 0; i < a->nr_mounts; i++) {
		print_acl_entries(a->mounts[i].source, ACL_TYPE_ACCESS, "");
		print_acl_entries(a->mounts[i].source, ACL_TYPE_DEFAULT, "default:");
	}
}

/* One process of the agent's: its pid and command line, escaped (the agent chose it). */
static int print_process(int proc_fd, const char *pid, void *data)
{
	char path[64], buf[256];
	autoclose int fd = -1;
	autofree char *shown = NULL;
	ssize_t n = -1;
	int *count = data;

	snprintf(path, sizeof(path), "%s/cmdline", pid);
	fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0; /* gone, or a zombie */
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++) {
		if (!buf[i])
			buf[i] = ' ';
	}
	if (n > 0 && buf[n - 1] == ' ')
		buf[n - 1] = '\0';
	shown = escape_display(buf);
	if (!(*count)++)
		printf("Running:\n");
	printf("  %-7s %s%s\n", pid, shown, n == (ssize_t)sizeof(buf) - 1 ? " ..." : "");
	return 0;
}

/* What still runs as the agent: kept with --keep-running, or started outside au. */
static void print_running(const struct agent_user *u)
{
	int count = 0;

	if (u->user_exists)
		for_each_process_of(u->uid, print_process, &count);
	if (!count)
		printf("Running:     nothing\n");
}

static void check_home(struct health *h, const struct agent_user *u)
{
	struct stat st;

	if (stat(u->home, &st) < 0) {
		check(h, false, "home '%s': %s", u->home, strerror(errno));
	} else {
		bool owned = u->user_exists && st.st_uid == u->uid && S_ISDIR(st.st_mode);
		bool setgid = st.st_mode & S_ISGID;
		bool dacl = u->group_exists && has_default_group_entry(u->home, u->gid);

		check(h, owned && setgid && dacl, "home '%s' is the agent's, with setgid and the default ACL%s%s%s",
		      u->home, owned ? "" : " (not owned by the agent)", setgid ? "" : " (no setgid bit)",
		      dacl ? "" : " (no default:group ACL entry)");
	}
}

/* Each piece that au run and the shares need; returns how many are broken. */
static int check_health(const struct agent *a, const struct agent_user *u, const struct human *hu)
{
	struct health h = { 0 };
	autofree char *setfacl = find_in_path("setfacl");
	autoclose int home_fd = open("/home", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	printf("Health:\n");
	check(&h, a->bootstrapped, "set up completely (bootstrapped)");
	check(&h, u->user_exists, "user '%s' exists", a->user_name);
	check(&h, u->group_exists, "group '%s' exists", a->group);
	check(&h, human_in_group_db(hu, a->group), "you (%s) are in group '%s'", hu->name, a->group);
	if (u->group_exists)
		check(&h, process_has_gid(u->gid), "this session has group '%s'%s", a->group,
		      process_has_gid(u->gid) ? "" : ": log in again, or run 'su - $USER'");
	check_home(&h, u);
	check_entrypoint(&h, a, u);
	check(&h, home_fd >= 0 && acl_supported(home_fd), "ACL support on /home");
	check(&h, setfacl != NULL, "ACL tools installed (setfacl)%s", setfacl ? "" : ": sudo apt-get install acl");
	return h.broken;
}

int cmd_info(int argc, char **argv, struct au_ctx *ctx)
{
	static const struct option options[] = {
		{ "agent", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL;
	struct agent *a;
	autoagentuser struct agent_user u = { 0 };
	autohuman struct human hu = { 0 };
	int broken, c;

	while ((c = getopt_long(argc, argv, ":a:h", options, NULL)) != -1) {
		switch (c) {
		case 'a':
			name = optarg;
			break;
		case 'h':
			fputs(info_usage, stdout);
			return EXIT_OK;
		default:
			die_bad_option(c, argv, "info");
		}
	}
	if (optind < argc)
		die_usage("info: unexpected argument '%s'", argv[optind]);

	a = au_setup(ctx, name);
	agent_user_load(&u, a->user_name, a->group);
	human_load(&hu);

	print_identity(a, &u);
	print_mounts(a, &hu);
	print_running(&u);
	broken = check_health(a, &u, &hu);
	if (broken)
		printf("%d broken: see above\n", broken);
	else
		printf("Healthy.\n");
	return broken ? EXIT_FAIL : EXIT_OK;
}
