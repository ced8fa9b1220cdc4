/*
 * report.h: au's end of the entrypoint's report channel (SU_OPT_REPORT). The
 * entrypoint's outer side reports the end of a run on it; a thread of au
 * reads every message as it comes, so that the outer side never blocks on a
 * full socket while au is busy relaying a terminal, and au looks at them
 * once the entrypoint has exited.
 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

struct report_msg {
	unsigned type;       /* enum su_report_type */
	unsigned char *data; /* the payload */
	size_t size;
	int *fds; /* passed along with it (SCM_RIGHTS), owned; -1 once fds_as_paths took it */
	size_t nr_fds;
	char **fd_paths;        /* with fds_as_paths: where each fd was, as the kernel names it */
	struct stat *fd_stats;  /* and what it was */
};

struct report_reader {
	int fd; /* au's end */
	pthread_t thread;
	bool started;
	struct report_msg *msgs;
	size_t nr, alloc;
	bool fds_as_paths; /* keep each fd's path and stat, and close it at once (a run may pass thousands) */
	bool done;  /* SU_REPORT_DONE came */
	int error;  /* errno of a failed read, or EPROTO for a malformed message */
};

/*
 * A socket pair for one run: fds[0] is au's end, fds[1] goes to the
 * entrypoint as SU_REPORT_FD. Both close-on-exec. Dies on failure.
 */
void report_channel(int fds[2]);

/* Starts reading fd (au's end) in a thread of its own. */
void report_reader_start(struct report_reader *r, int fd);

/*
 * Waits for the end of the channel (the entrypoint's side has exited and
 * closed it), then r->msgs holds every message in order.
 */
void report_reader_finish(struct report_reader *r);

void report_reader_release(struct report_reader *r);
