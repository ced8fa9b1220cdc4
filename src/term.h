/*
 * term.h: the pseudo-terminal relay of au run. The agent never gets the
 * human's terminal: it gets a new pty, and au copies bytes between the two.
 *
 * Use: if (term_needs_pty()) { pty_open(); fork(); child: pty_child_setup(),
 * then exec (the entrypoint's init takes the slave as its session's
 * terminal, with the command as its foreground job); parent: pty_relay(),
 * which returns the child's wait status. When the child stops (the agent's
 * job did: Ctrl-Z), au stops too, and continues it when it is continued. }
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct pty_session {
	int master_fd;    /* kept by au */
	int slave_fd;     /* handed to the agent, closed by au after the fork */
	int tty_fds[3];   /* 1 where fd 0, 1 or 2 is the human's terminal, else 0 */
	bool stdin_is_tty;
};

/* True when any of fds 0, 1, 2 is a terminal (then au run uses a pty). */
bool term_needs_pty(void);

/*
 * Opens a new pty, copying the terminal's modes and window size. Returns 0,
 * or -1 after printing an error (then nothing is left open).
 */
int pty_open(struct pty_session *s);

/* Closes whatever of the pty is still open, for a failed fork. */
void pty_release(struct pty_session *s);

/*
 * In the child, before exec: makes the slave fd 0/1/2 wherever the human's
 * terminal was, leaves the other standard fds as they are, closes the master.
 * It leaves the process group and session alone, so that the entrypoint's
 * setsid() can succeed (it fails for a process group leader). On failure it
 * prints an error and exits 125 (SU_EXIT_SELF, as the entrypoint would).
 */
void pty_child_setup(struct pty_session *s);

/*
 * In the parent, after the fork: puts the human's terminal in raw mode,
 * relays both ways until child exits, restores the terminal on every path
 * (exit, signal, crash of the child), forwards SIGTERM, SIGHUP, SIGINT and
 * SIGQUIT to child, copies window size changes. Closes the slave if the
 * caller has not, and the master before returning. Returns the child's wait
 * status.
 */
int pty_relay(struct pty_session *s, pid_t child);
