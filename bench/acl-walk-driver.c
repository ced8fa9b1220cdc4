/*
 * acl-walk-driver.c: runs acl_walk() once on a directory, for bench/acl-walk.
 * Usage: acl-walk-driver grant|revoke DIR GID OWNER_UID
 */
#include "acl.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct acl_walk_stats stats;
	enum acl_walk_mode mode;
	int fd, ret;

	if (argc != 5 || (strcmp(argv[1], "grant") && strcmp(argv[1], "revoke")))
		die_usage("usage: acl-walk-driver grant|revoke DIR GID OWNER_UID");
	mode = !strcmp(argv[1], "grant") ? ACL_WALK_GRANT : ACL_WALK_REVOKE;
	fd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		die_errno("cannot open '%s'", argv[2]);
	ret = acl_walk(fd, argv[2], (gid_t)strtoul(argv[3], NULL, 10),
		       (uid_t)strtoul(argv[4], NULL, 10), mode, true, &stats);
	if (getenv("ACL_WALK_STATS"))
		fprintf(stderr, "changed %zu, unchanged %zu, not owned %zu, skipped %zu, errors %zu\n",
			stats.changed, stats.unchanged, stats.not_owned, stats.skipped,
			stats.errors);
	return ret < 0 ? EXIT_FAIL : EXIT_OK;
}
