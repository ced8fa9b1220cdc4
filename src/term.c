/*
 * term.c: the pseudo-terminal relay of au run.
 *
 * The agent never holds the human's terminal. With it, TIOCSTI pushes
 * keystrokes into the human's shell (bubblewrap CVE-2017-5226), and a process
 * left behind keeps reading it after au run returns (util-linux #760). So, as
 * sudo's use_pty and su --pty do, the agent gets a new pty whose slave takes
 * the place of every standard fd that was a terminal, and au, as the human,
 * copies bytes between the master and the human's terminal. When the agent
 * is gone au closes the master, and whatever the agent left running holds a
 * slave that has hung up.
 */
#include "term.h"
#include "entrypoint.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/*
 * Output left in the master when the agent exits is drained up to this much.
 * The kernel holds less than that; the bound only stops a process left
 * behind from keeping au busy forever by writing without pause.
 */
#define DRAIN_MAX (1024 * 1024)

/* A child that failed before it could exec fails as the entrypoint itself would. */
#define CHILD_SETUP_FAILED SU_EXIT_SELF

bool term_needs_pty(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (isatty(fd))
			return true;
	return false;
}

/* The standard fd whose modes and window size stand for the human's terminal. */
static int human_tty_fd(const struct pty_session *s)
{
	for (int fd = 0; fd <= 2; fd++)
		if (s->tty_fds[fd])
			return fd;
	return -1;
}

static int open_slave(int master_fd)
{
	char name[64];
	int fd;

	/*
	 * TIOCGPTPEER (Linux 4.13) opens the slave of this very master, with
	 * no lookup of a /dev/pts path in between. Older kernels say ENOTTY
	 * (or EINVAL); a seccomp policy that does not know it, EPERM.
	 */
	fd = ioctl(master_fd, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 || (errno != EINVAL && errno != ENOTTY && errno != EPERM))
		return fd;
	errno = ptsname_r(master_fd, name, sizeof(name));
	if (errno)
		return -1;
	return open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

int pty_open(struct pty_session *s)
{
	autoclose int master_fd = -1;
	autoclose int slave_fd = -1;
	struct termios modes;
	struct winsize size;
	int term_fd;

	s->master_fd = -1;
	s->slave_fd = -1;
	for (int fd = 0; fd <= 2; fd++)
		s->tty_fds[fd] = isatty(fd);
	s->stdin_is_tty = s->tty_fds[0];
	term_fd = human_tty_fd(s);
	if (term_fd < 0)
		return error("cannot open a pseudo-terminal: no terminal to copy it from");

	master_fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master_fd < 0)
		return error_errno("cannot open a pseudo-terminal");
	if (grantpt(master_fd) < 0 || unlockpt(master_fd) < 0)
		return error_errno("cannot unlock a pseudo-terminal");
	slave_fd = open_slave(master_fd);
	if (slave_fd < 0)
		return error_errno("cannot open the slave of a pseudo-terminal");

	if (tcgetattr(term_fd, &modes) < 0)
		return error_errno("cannot read the terminal's modes");
	if (tcsetattr(slave_fd, TCSANOW, &modes) < 0)
		return error_errno("cannot set the pseudo-terminal's modes");
	/* A terminal without a size (a serial line) leaves the pty's at 0x0. */
	if (ioctl(term_fd, TIOCGWINSZ, &size) == 0 && ioctl(slave_fd, TIOCSWINSZ, &size) < 0)
		return error_errno("cannot set the pseudo-terminal's window size");

	s->master_fd = steal_fd(&master_fd);
	s->slave_fd = steal_fd(&slave_fd);
	return 0;
}

void pty_release(struct pty_session *s)
{
	if (s->slave_fd >= 0)
		close(s->slave_fd);
	if (s->master_fd >= 0)
		close(s->master_fd);
	s->slave_fd = -1;
	s->master_fd = -1;
}

void pty_child_setup(struct pty_session *s)
{
	bool slave_kept = false;

	for (int fd = 0; fd <= 2; fd++) {
		if (!s->tty_fds[fd])
			continue;
		/* dup2() clears close-on-exec, but not when the fds are equal. */
		if (fd == s->slave_fd) {
			slave_kept = true;
			if (fcntl(fd, F_SETFD, 0) < 0)
				goto fail;
		} else if (dup2(s->slave_fd, fd) < 0) {
			goto fail;
		}
	}
	if (!slave_kept)
		close(s->slave_fd);
	close(s->master_fd);
	s->slave_fd = -1;
	s->master_fd = -1;
	/*
	 * No setpgid() and no setsid() here: the entrypoint starts the new
	 * session with the pty as its controlling terminal, and setsid()
	 * fails for a process that already leads a process group.
	 */
	return;
fail:
	warn_errno("cannot give the pseudo-terminal to the command");
	_exit(CHILD_SETUP_FAILED);
}

struct relay {
	pid_t child;
	int status;
	bool child_done;
	int master_fd;        /* -1 once closed */
	bool master_eof;      /* no slave is open any more */
	int term_fd;          /* the human's terminal, for the window size */
	int out_fd;           /* where the agent's output goes; -1 once it fails */
	bool read_stdin;
	bool have_saved;      /* stdin is a terminal and its modes are saved */
	bool raw;             /* stdin is in raw mode right now */
	struct termios saved; /* the human's modes, to restore */
	int sig_fd;
	size_t in_off, in_len;
	char in_buf[4096];    /* a terminal never gives more in one read */
	char out_buf[65536];
};

static int tcsetattr_retry(int fd, const struct termios *modes)
{
	int ret;

	do
		ret = tcsetattr(fd, TCSANOW, modes);
	while (ret < 0 && errno == EINTR);
	return ret;
}

static void raw_mode(struct relay *r)
{
	struct termios raw = r->saved;

	if (!r->have_saved)
		return;
	/*
	 * Ctrl-C, Ctrl-Z and Ctrl-\ become bytes for the pty, whose line
	 * discipline signals the agent's foreground job; output processing
	 * is the slave's, so it must not happen twice.
	 */
	cfmakeraw(&raw);
	if (tcsetattr_retry(STDIN_FILENO, &raw) == 0)
		r->raw = true;
}

static void restore_terminal(struct relay *r)
{
	/* Errors are ignored: a terminal that has hung up has no modes to restore. */
	if (r->raw)
		tcsetattr_retry(STDIN_FILENO, &r->saved);
	r->raw = false;
}

/*
 * The agent's output went to the human's terminal as it was: it may have left
 * it in a state that hides what comes next (invisible text for au's warnings,
 * the alternate screen, mouse reporting), and it may have asked the terminal
 * questions whose answers would arrive as typed input for the human's shell.
 * So: a soft reset of the terminal's modes (DECSTR keeps the screen), the
 * usual modes that DECSTR leaves on turned off, and unread input dropped.
 */
static void sanitize_terminal(struct relay *r)
{
	static const char reset[] =
		"\033[0m"                       /* plain text */
		"\033[!p"                       /* soft reset: modes, margins, cursor shown */
		"\033[?1000l\033[?1002l\033[?1003l\033[?1006l" /* no mouse reports */
		"\033[?1004l"                   /* no focus reports */
		"\033[?2004l";                  /* no bracketed paste (the shell sets its own) */
	int fd = r->out_fd >= 0 ? r->out_fd : -1;

	if (fd >= 0 && isatty(fd))
		(void)write_all(fd, reset, sizeof(reset) - 1);
	if (r->have_saved)
		tcflush(STDIN_FILENO, TCIFLUSH);
}

static void copy_window_size(struct relay *r)
{
	struct winsize size;

	/* The kernel sends SIGWINCH to the pty's foreground job itself. */
	if (r->master_fd >= 0 && ioctl(r->term_fd, TIOCGWINSZ, &size) == 0)
		ioctl(r->master_fd, TIOCSWINSZ, &size);
}

/* Writes all of out_buf[0..len) to the human's terminal, at once. */
static void write_out(struct relay *r, size_t len)
{
	const char *p = r->out_buf;

	while (len && r->out_fd >= 0) {
		ssize_t n = write(r->out_fd, p, len);

		if (n > 0) {
			p += n;
			len -= n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && errno == EAGAIN) {
			/* Someone made the terminal non-blocking: wait, do not spin. */
			struct pollfd pfd = { .fd = r->out_fd, .events = POLLOUT };

			poll(&pfd, 1, -1);
		} else {
			/*
			 * The terminal has hung up. Output is thrown away
			 * from now on, so that the agent does not block.
			 */
			r->out_fd = -1;
		}
	}
}

/* Copies one read of agent output; false when there was nothing to read. */
static bool pump_output(struct relay *r)
{
	ssize_t n = read(r->master_fd, r->out_buf, sizeof(r->out_buf));

	if (n > 0) {
		write_out(r, n);
		return true;
	}
	/* EIO: every slave fd is closed, the agent has left the pty. */
	if (n == 0 || (errno != EINTR && errno != EAGAIN))
		r->master_eof = true;
	return false;
}

/* Reads what the master holds without waiting, and closes it. */
static void hang_up(struct relay *r)
{
	size_t total = 0;

	while (r->master_fd >= 0 && !r->master_eof && total < DRAIN_MAX) {
		if (!pump_output(r)) {
			if (errno == EINTR)
				continue;
			break;
		}
		total += sizeof(r->out_buf);
	}
	if (r->master_fd >= 0)
		close(r->master_fd);
	r->master_fd = -1;
	r->master_eof = true;
	r->read_stdin = false;
	r->in_len = 0;
}

static void flush_input(struct relay *r)
{
	ssize_t n;

	if (r->master_fd < 0 || r->master_eof) {
		r->in_len = 0;
		return;
	}
	n = write(r->master_fd, r->in_buf + r->in_off, r->in_len);
	if (n > 0) {
		r->in_off += n;
		r->in_len -= n;
	} else if (n < 0 && errno != EINTR && errno != EAGAIN) {
		r->in_len = 0; /* the pty is gone, and the input with it */
	}
}

static void pump_input(struct relay *r)
{
	ssize_t n = read(STDIN_FILENO, r->in_buf, sizeof(r->in_buf));
	struct termios modes;

	if (n > 0) {
		r->in_off = 0;
		r->in_len = n;
		flush_input(r);
		return;
	}
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	/*
	 * End of input (the terminal hung up, or au reads it from an orphaned
	 * process group): pass it on as the slave's end-of-file character,
	 * as script(1) does, and read no more.
	 */
	r->read_stdin = false;
	r->in_off = 0;
	r->in_buf[0] = 4; /* ^D */
	if (tcgetattr(r->master_fd, &modes) == 0 && modes.c_cc[VEOF] != _POSIX_VDISABLE)
		r->in_buf[0] = modes.c_cc[VEOF];
	r->in_len = 1;
	flush_input(r);
}

static void suspend(struct relay *r);

/*
 * The entrypoint stops when the agent's job does (Ctrl-Z: its -j): then au
 * stops as well and the human's shell has the terminal back, as under sudo's
 * use_pty. The shell's fg continues au and the entrypoint, which continues
 * the agent's job; the SIGCONT here is for when au could not stop (an
 * orphaned process group, as under a script): then the job simply goes on.
 */
static void job_stopped(struct relay *r)
{
	suspend(r);
	kill(r->child, SIGCONT);
}

static void reap(struct relay *r)
{
	pid_t pid;
	int status;

	if (r->child_done)
		return;
	do
		pid = waitpid(r->child, &status, WNOHANG | WUNTRACED);
	while (pid < 0 && errno == EINTR);
	if (pid == r->child && WIFSTOPPED(status)) {
		job_stopped(r);
	} else if (pid == r->child) {
		r->status = status;
		r->child_done = true;
	} else if (pid < 0) {
		error_errno("cannot wait for the command (process %d)", (int)r->child);
		r->status = EXIT_FAIL << 8;
		r->child_done = true;
	}
}

static void forward_signal(struct relay *r, int sig)
{
	if (r->child_done || kill(r->child, sig) == 0 || errno != EPERM)
		return;
	/*
	 * The agent runs as another user, so au may not signal it. The pty
	 * can, on the kernel's authority: TIOCSIG signals its foreground job
	 * (the job a Ctrl-C would reach), and closing the master hangs up
	 * the agent's session (SIGHUP), the way a closed terminal window
	 * ends a shell.
	 */
	if ((sig == SIGINT || sig == SIGQUIT) && r->master_fd >= 0 &&
	    ioctl(r->master_fd, TIOCSIG, sig) == 0)
		return;
	hang_up(r);
}

/* Stops au the way a job stops, with the human's terminal as it was. */
static void suspend(struct relay *r)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old;
	sigset_t tstp;

	restore_terminal(r);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	sigaction(SIGTSTP, &dfl, &old);
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);
	/* Does nothing in an orphaned process group: then au carries on. */
	kill(getpid(), SIGTSTP);
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	sigaction(SIGTSTP, &old, NULL);
	raw_mode(r);
	copy_window_size(r);
}

static void handle_signals(struct relay *r)
{
	struct signalfd_siginfo si;

	while (read(r->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap(r);
			break;
		case SIGWINCH:
			copy_window_size(r);
			break;
		case SIGTSTP:
			suspend(r);
			break;
		case SIGCONT:
			/* Also after a SIGSTOP, which could not be caught. */
			raw_mode(r);
			copy_window_size(r);
			break;
		default:
			forward_signal(r, si.ssi_signo);
			break;
		}
	}
}

static void relay_loop(struct relay *r)
{
	while (!r->child_done) {
		struct pollfd pfd[3];
		nfds_t n = 0;
		int master_i = -1, stdin_i = -1;

		pfd[n++] = (struct pollfd){ .fd = r->sig_fd, .events = POLLIN };
		if (r->master_fd >= 0 && !r->master_eof) {
			master_i = n;
			pfd[n++] = (struct pollfd){
				.fd = r->master_fd,
				.events = POLLIN | (r->in_len ? POLLOUT : 0),
			};
		}
		/* Pending input is written first: no reading ahead of the agent. */
		if (r->read_stdin && !r->in_len) {
			stdin_i = n;
			pfd[n++] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			error_errno("cannot wait for the terminal");
			return;
		}
		/* Output first: what the agent wrote before it exited is shown. */
		if (master_i >= 0 && (pfd[master_i].revents & (POLLIN | POLLHUP | POLLERR)))
			pump_output(r);
		if (master_i >= 0 && (pfd[master_i].revents & POLLOUT) && r->in_len)
			flush_input(r);
		if (stdin_i >= 0 && pfd[stdin_i].revents)
			pump_input(r);
		if (r->master_eof)
			r->read_stdin = false;
		if (pfd[0].revents)
			handle_signals(r);
	}
}

/*
 * The signals au handles while it relays, through a signalfd. A signal the
 * caller ignores stays ignored (nohup, a background job without job control).
 */
static const int relay_signals[] = {
	SIGCHLD, SIGWINCH, SIGCONT, SIGTSTP, SIGINT, SIGQUIT, SIGTERM, SIGHUP,
};

int pty_relay(struct pty_session *s, pid_t child)
{
	struct relay r = {
		.child = child,
		.master_fd = s->master_fd,
		.term_fd = human_tty_fd(s),
		.read_stdin = s->stdin_is_tty,
		.sig_fd = -1,
	};
	struct sigaction dfl = { .sa_handler = SIG_DFL }, old_chld, cur;
	sigset_t set, old_mask;
	int flags;

	s->master_fd = -1;
	/* Only the agent may hold the slave, or the master never sees it close. */
	if (s->slave_fd >= 0)
		close(s->slave_fd);
	s->slave_fd = -1;
	if (s->tty_fds[1])
		r.out_fd = STDOUT_FILENO;
	else if (s->tty_fds[2])
		r.out_fd = STDERR_FILENO;
	else
		r.out_fd = STDIN_FILENO;

	/* An inherited SIG_IGN would reap the child before au sees its status. */
	sigaction(SIGCHLD, &dfl, &old_chld);
	sigemptyset(&set);
	for (size_t i = 0; i < ARRAY_SIZE(relay_signals); i++) {
		int sig = relay_signals[i];

		if (sig != SIGCHLD && sigaction(sig, NULL, &cur) == 0 && cur.sa_handler == SIG_IGN)
			continue;
		sigaddset(&set, sig);
	}
	sigprocmask(SIG_BLOCK, &set, &old_mask);
	r.sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

	flags = fcntl(r.master_fd, F_GETFL);
	if (r.sig_fd < 0 || flags < 0 || fcntl(r.master_fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		/* Without a relay, end the agent's terminal and wait for it. */
		error_errno("cannot relay the terminal");
		hang_up(&r);
	} else {
		r.have_saved = r.read_stdin && tcgetattr(STDIN_FILENO, &r.saved) == 0;
		raw_mode(&r);
		copy_window_size(&r);
		/* It may have exited before SIGCHLD was blocked, and its signal lost. */
		reap(&r);
		relay_loop(&r);
		hang_up(&r);
	}

	if (!r.child_done) {
		pid_t pid;

		do
			pid = waitpid(child, &r.status, 0);
		while (pid < 0 && errno == EINTR);
		if (pid < 0) {
			error_errno("cannot wait for the command (process %d)", (int)child);
			r.status = EXIT_FAIL << 8;
		}
	}
	restore_terminal(&r);
	sanitize_terminal(&r);

	if (r.sig_fd >= 0) {
		struct signalfd_siginfo si;

		/* Signals that came too late are dropped, not delivered now. */
		while (read(r.sig_fd, &si, sizeof(si)) == sizeof(si))
			;
		close(r.sig_fd);
	}
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	sigaction(SIGCHLD, &old_chld, NULL);
	return r.status;
}
