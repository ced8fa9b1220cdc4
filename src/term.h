/*
 * term.h: the pseudo-terminal relay of au run. The agent never gets the
 * human's terminal: it gets a new pty, and au copies bytes between the two.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct pty_session {
	int master_fd;    /* kept by au */
	int slave_fd;     /* handed to the agent, closed by au after the fork */
	int tty_fds[3];   /* which of fds 0, 1, 2 are the human's terminal */
	bool stdin_is_tty;
};

/* True when any of fds 0, 1, 2 is a terminal (then au run uses a pty). */
bool term_needs_pty(void);

/* Opens a new pty, copying the terminal's modes and window size. */
int pty_open(struct pty_session *s);

/*
 * In the child, before exec: makes the slave fd 0/1/2 wherever the human's
 * terminal was, leaves the other standard fds as they are, closes the master.
 */
void pty_child_setup(struct pty_session *s);

/*
 * In the parent, after the fork: puts the human's terminal in raw mode,
 * relays both ways until child exits, restores the terminal on every path
 * (exit, signal, crash of the child), forwards SIGTERM, SIGHUP, SIGINT and
 * SIGQUIT to child, copies window size changes. Returns the child's wait
 * status.
 */
int pty_relay(struct pty_session *s, pid_t child);
