/* slicer.c - running a slicer (PrusaSlicer's CLI) as a confined child process, a few at once. */
#include "slicer.h"

#include "../../util/clock.h"
#include "../../util/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SL_LINE_MAX 256	       /* a progress line longer than this is not one */
#define SL_NOPIDFD_POLL_MS 100 /* how often to look for an exit without a pidfd */
#define SL_SUMMARY_MAX 160     /* bytes of the slicer's own words in an error message */

/* Why a running slicer was killed by the pool. */
enum { KILL_NONE = 0, KILL_TIMEOUT, KILL_CANCEL };

/* One run: its spec (copied), its process, what it said. */
typedef struct sl_run {
	long long id;
	char program[LB_SLICER_PATH], model[LB_SLICER_PATH], workdir[LB_SLICER_PATH];
	char *args[LB_SLICER_ARGS + 1];
	int time_s, cpu_s, mem_mb, info;
	lb_slice_status st;
	pid_t pid;  /* > 0 while running */
	int out_fd; /* the slicer's stdout + stderr, -1 at EOF */
	int pid_fd; /* pidfd of the process, or -1 */
	int killed; /* KILL_* */
	char tail[LB_SLICER_TAIL + 1];
	size_t ntail;
	char line[SL_LINE_MAX + 1];
	size_t nline;
	int line_over; /* the current line is too long to be a progress line */
} sl_run;

struct lb_slicer {
	int max;
	long long next_id;
	sl_run **runs; /* in submission order */
	size_t n, cap;
};

int lb_slicer_default_max(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 1 ? (int)(n - 1) : 1;
}

/* The run of that id, or NULL. */
static sl_run *find_run(const lb_slicer *p, long long id)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (p->runs[i]->id == id)
			return p->runs[i];
	return NULL;
}

/* Free a run's copies (not its process). */
static void run_free(sl_run *r)
{
	if (!r)
		return;
	for (int i = 0; i < LB_SLICER_ARGS && r->args[i]; i++)
		free(r->args[i]);
	if (r->out_fd >= 0)
		close(r->out_fd);
	if (r->pid_fd >= 0)
		close(r->pid_fd);
	free(r);
}

lb_slicer *lb_slicer_new(int max, lb_error *err)
{
	lb_slicer *p = calloc(1, sizeof *p);

	if (!p) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	p->max = max >= 1 ? max : lb_slicer_default_max();
	p->next_id = 1;
	return p;
}

void lb_slicer_destroy(lb_slicer **pp)
{
	lb_slicer *p = pp ? *pp : NULL;

	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		sl_run *r = p->runs[i];
		if (r->pid > 0) {
			kill(-r->pid, SIGKILL);
			while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
		run_free(r);
	}
	free(p->runs);
	free(p);
	*pp = NULL;
}

/* Copy s into dst[LB_SLICER_PATH]: 0, or -1 when it does not fit. */
static int copy_path(char *dst, const char *s)
{
	size_t n = strlen(s);

	if (n >= LB_SLICER_PATH)
		return -1;
	memcpy(dst, s, n + 1);
	return 0;
}

long long lb_slicer_submit(lb_slicer *p, const lb_slice_spec *spec, lb_error *err)
{
	sl_run *r;
	int i;

	if (!p || !spec || !spec->model || !spec->workdir || spec->model[0] != '/' ||
	    !spec->workdir[0])
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "a slicing needs a model (absolute path) and a folder"),
		       LB_EINVAL;
	r = calloc(1, sizeof *r);
	if (!r)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory"), LB_ENOMEM;
	r->out_fd = r->pid_fd = -1;
	if (copy_path(r->program, spec->program ? spec->program : "prusa-slicer") < 0 ||
	    copy_path(r->model, spec->model) < 0 || copy_path(r->workdir, spec->workdir) < 0 ||
	    strlen(r->workdir) + 1 + strlen(LB_SLICER_OUTPUT) >= LB_SLICER_PATH) {
		run_free(r);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "a slicing path is too long"),
		       LB_EINVAL;
	}
	for (i = 0; i < LB_SLICER_ARGS && spec->args[i]; i++) {
		r->args[i] = strdup(spec->args[i]);
		if (!r->args[i]) {
			run_free(r);
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory"), LB_ENOMEM;
		}
	}
	r->time_s = spec->time_s > 0 ? spec->time_s : LB_SLICER_TIME_S;
	r->cpu_s = spec->cpu_s > 0 ? spec->cpu_s : LB_SLICER_CPU_S;
	r->mem_mb = spec->mem_mb > 0 ? spec->mem_mb : LB_SLICER_MEM_MB;
	r->info = spec->info != 0;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		sl_run **runs = realloc(p->runs, cap * sizeof *runs);
		if (!runs) {
			run_free(r);
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory"), LB_ENOMEM;
		}
		p->runs = runs;
		p->cap = cap;
	}
	r->id = p->next_id++;
	r->st.state = LB_SLICE_QUEUED;
	p->runs[p->n++] = r;
	return r->id;
}

/* In the child, after fork: confine it, then exec the slicer. Only async-signal-safe calls.
 * Writes 'N' on status when the network namespace was made, 'E' + errno when exec failed. */
static void child_exec(const sl_run *r, const char *exe, char *const argv[], char *const envp[],
		       int out, int status, int devnull)
{
	struct sigaction sa;
	sigset_t none;
	struct rlimit rl;
	int e;

	setpgid(0, 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* SIGKILL, SIGSTOP: EINVAL, no matter */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (unshare(CLONE_NEWNET) == 0) {
		char c = 'N';
		if (write(status, &c, 1) < 0) {
			/* the parent reads none: it says "not isolated" */
		}
	}
	rl.rlim_cur = rl.rlim_max = (rlim_t)r->mem_mb * 1024 * 1024;
	setrlimit(RLIMIT_AS, &rl);
	rl.rlim_cur = (rlim_t)r->cpu_s;
	rl.rlim_max = (rlim_t)r->cpu_s + 5; /* SIGXCPU first, SIGKILL 5 s later */
	setrlimit(RLIMIT_CPU, &rl);
	rl.rlim_cur = rl.rlim_max = 0;
	setrlimit(RLIMIT_CORE, &rl);
	if (chdir(r->workdir) < 0)
		goto fail;
	if (dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		goto fail;
	/* nothing of the bridge's (sockets, serial ports) reaches the slicer */
	if (status > 3)
		syscall(SYS_close_range, 3u, (unsigned)status - 1, 0u);
	syscall(SYS_close_range, (unsigned)status + 1, ~0u, 0u);
	execve(exe, argv, envp);
fail:
	e = errno;
	{
		char msg[1 + sizeof e];
		msg[0] = 'E';
		memcpy(msg + 1, &e, sizeof e);
		if (write(status, msg, sizeof msg) < 0) {
			/* nothing more to do */
		}
	}
	_exit(127);
}

/* The first bytes of s that fit a summary, appended to out[cap] (printable ASCII only). */
static void append_clean(char *out, size_t cap, const char *s, size_t len)
{
	size_t n = strlen(out);

	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
}

/* Whether [s, s + len) is a progress line "NN => stage"; sets *pct and the stage span. */
static int progress_line(const char *s, size_t len, int *pct, const char **stage, size_t *slen)
{
	size_t i = 0;
	int v = 0;

	while (i < len && i < 3 && s[i] >= '0' && s[i] <= '9')
		v = v * 10 + (s[i++] - '0');
	if (i == 0 || len - i < 4 || memcmp(s + i, " => ", 4) != 0 || v > 100)
		return 0;
	*pct = v;
	*stage = s + i + 4;
	*slen = len - i - 4;
	while (*slen && (s[i + 4 + *slen - 1] == '\r' || s[i + 4 + *slen - 1] == ' '))
		(*slen)--;
	return 1;
}

/* A complete output line: a progress line moves the percentage (never back) and the stage. */
static void take_line(sl_run *r, const char *s, size_t len)
{
	int pct;
	const char *stage;
	size_t slen;

	if (!progress_line(s, len, &pct, &stage, &slen))
		return;
	if (pct > r->st.percent)
		r->st.percent = pct;
	r->st.stage[0] = '\0';
	append_clean(r->st.stage, sizeof r->st.stage, stage, slen);
}

/* Read what the slicer wrote, never blocking: into the tail, line by line into the progress.
 * Closes the pipe at its end. */
static void read_output(sl_run *r)
{
	char buf[4096];

	_Static_assert(sizeof buf <= LB_SLICER_TAIL, "a read fits in the tail");
	while (r->out_fd >= 0) {
		ssize_t got = read(r->out_fd, buf, sizeof buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
				close(r->out_fd);
				r->out_fd = -1;
			}
			return;
		}
		if (r->ntail + (size_t)got > LB_SLICER_TAIL) {
			size_t drop = r->ntail + (size_t)got - LB_SLICER_TAIL;
			memmove(r->tail, r->tail + drop, r->ntail - drop);
			r->ntail -= drop;
		}
		memcpy(r->tail + r->ntail, buf, (size_t)got);
		r->ntail += (size_t)got;
		r->tail[r->ntail] = '\0';
		for (ssize_t i = 0; i < got; i++) {
			if (buf[i] == '\n') {
				if (!r->line_over)
					take_line(r, r->line, r->nline);
				r->nline = 0;
				r->line_over = 0;
			} else if (r->nline < SL_LINE_MAX) {
				r->line[r->nline++] = buf[i];
			} else {
				r->line_over = 1;
			}
		}
	}
}

/*
 * The slicer's own last words from its output: the last (at most two) lines that are neither
 * blank nor progress, their "[time] [thread] [level]" prefix dropped, into out[cap] ("" when
 * none).
 */
static void summary(const sl_run *r, char *out, size_t cap)
{
	const char *lines[2];
	size_t lens[2];
	int n = 0;
	size_t end = r->ntail;

	out[0] = '\0';
	while (end > 0 && n < 2) {
		size_t start = end;
		const char *s;
		size_t len;
		int pct;
		const char *st;
		size_t sl;

		while (start > 0 && r->tail[start - 1] != '\n')
			start--;
		s = r->tail + start;
		len = end - start;
		end = start > 0 ? start - 1 : 0;
		while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\n'))
			len--;
		while (len >= 2 && s[0] == '[') { /* "[2026-12-03 ...] [0x7f...] [error]   " */
			const char *close = memchr(s, ']', len);
			if (!close)
				break;
			len -= (size_t)(close + 1 - s);
			s = close + 1;
			while (len && (*s == ' ' || *s == '\t'))
				s++, len--;
		}
		if (len == 0 || progress_line(s, len, &pct, &st, &sl) ||
		    (len >= 29 && memcmp(s, "Initializing StaticPrintConfigs", 29) == 0))
			continue;
		lines[n] = s;
		lens[n] = len;
		n++;
		if (start == 0)
			break;
	}
	for (int i = n - 1; i >= 0; i--) {
		if (out[0])
			append_clean(out, cap, " / ", 3);
		append_clean(out, cap, lines[i], lens[i]);
	}
	if (strlen(out) >= SL_SUMMARY_MAX)
		strcpy(out + SL_SUMMARY_MAX - 3, "...");
}

/* Whether the output says memory ran out (C++ bad_alloc, thread creation refused, Python). */
static int says_out_of_memory(const sl_run *r)
{
	static const char *const words[] = {"bad_alloc", "Cannot allocate memory", "out of memory",
					    "MemoryError", "Resource temporarily unavailable"};

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strstr(r->tail, words[i]))
			return 1;
	return 0;
}

/* The run is over: classify how from its wait status, resources and output. */
static void finish(sl_run *r, int wstatus, const struct rusage *ru, int exec_errno, int64_t now)
{
	char said[SL_SUMMARY_MAX + 8];
	double cpu = (double)ru->ru_utime.tv_sec + (double)ru->ru_stime.tv_sec +
		     (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e6;
	struct stat sb;
	const char *exception = strstr(r->tail, "what():");

	summary(r, said, sizeof said);
	r->pid = 0;
	r->st.ended = now;
	r->st.state = LB_SLICE_FAILED;
	if (r->killed == KILL_CANCEL) {
		r->st.state = LB_SLICE_CANCELLED;
		lb_error_set(&r->st.error, LB_ERR_INVALID_REQUEST, "the slicing was cancelled");
	} else if (r->killed == KILL_TIMEOUT) {
		lb_error_set(&r->st.error, LB_ERR_TIMEOUT, "the slicer took longer than %d s",
			     r->time_s);
	} else if (exec_errno) {
		lb_error_set(&r->st.error, LB_ERR_INTERNAL, "cannot run the slicer %s: %s",
			     r->program, strerror(exec_errno));
	} else if ((WIFSIGNALED(wstatus) &&
		    (WTERMSIG(wstatus) == SIGXCPU || WTERMSIG(wstatus) == SIGKILL)) &&
		   cpu >= r->cpu_s - 0.5) {
		lb_error_set(&r->st.error, LB_ERR_TOO_LARGE,
			     "the slicer used more than %d s of CPU time", r->cpu_s);
	} else if ((WIFSIGNALED(wstatus) || WEXITSTATUS(wstatus) != 0) && says_out_of_memory(r)) {
		lb_error_set(&r->st.error, LB_ERR_TOO_LARGE,
			     "the slicer ran out of memory (limit %d MiB)%s%s", r->mem_mb,
			     said[0] ? ": " : "", said);
	} else if ((WIFSIGNALED(wstatus) || WEXITSTATUS(wstatus) != 0) && exception) {
		/* PrusaSlicer ends on an uncaught exception for a model it refuses ("Objects could
		 * not fit on the bed"): its what() is the reason */
		char why[SL_SUMMARY_MAX + 8] = "";
		const char *e = exception + 7;
		while (*e == ' ')
			e++;
		append_clean(why, sizeof why, e, strcspn(e, "\r\n"));
		lb_error_set(&r->st.error, LB_ERR_INVALID_PARAMS,
			     "the slicer refused the model: %s", why);
	} else if (WIFSIGNALED(wstatus)) {
		lb_error_set(&r->st.error, LB_ERR_INTERNAL, "the slicer crashed (SIG%s)%s%s",
			     sigabbrev_np(WTERMSIG(wstatus)) ? sigabbrev_np(WTERMSIG(wstatus))
							     : "?",
			     said[0] ? ": " : "", said);
	} else if (WEXITSTATUS(wstatus) != 0) {
		lb_error_set(&r->st.error, LB_ERR_INVALID_PARAMS,
			     "the slicer refused the model (status %d)%s%s", WEXITSTATUS(wstatus),
			     said[0] ? ": " : "", said);
	} else if (r->info) {
		r->st.state = LB_SLICE_DONE;
	} else if (snprintf(r->st.gcode, sizeof r->st.gcode, "%s/%s", r->workdir,
			    LB_SLICER_OUTPUT) >= (int)sizeof r->st.gcode ||
		   stat(r->st.gcode, &sb) < 0 || sb.st_size == 0) {
		r->st.gcode[0] = '\0';
		lb_error_set(&r->st.error, LB_ERR_INTERNAL, "the slicer wrote no G-code%s%s",
			     said[0] ? ": " : "", said);
	} else {
		r->st.state = LB_SLICE_DONE;
		r->st.percent = 100;
	}
}

/*
 * The program's file into exe[cap]: itself when it holds a '/', else the first executable of
 * that name in path (searched here, not in the child between fork and exec). 0, or an errno.
 */
static int resolve(const char *program, const char *path, char *exe, size_t cap)
{
	if (strchr(program, '/')) {
		if ((size_t)snprintf(exe, cap, "%s", program) >= cap)
			return ENAMETOOLONG;
		return access(exe, X_OK) == 0 ? 0 : errno;
	}
	while (path && *path) {
		size_t n = strcspn(path, ":");
		if (n > 0 && (size_t)snprintf(exe, cap, "%.*s/%s", (int)n, path, program) < cap &&
		    access(exe, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	return ENOENT;
}

/* Start a waiting run: fork, confine, exec. Its state becomes RUNNING, or FAILED (with the
 * reason) when it could not start. */
static void start_run(sl_run *r, int64_t now)
{
	char *argv[LB_SLICER_ARGS + 8], out_path[LB_SLICER_PATH + 16];
	char env_home[LB_SLICER_PATH + 8], env_tmp[LB_SLICER_PATH + 8], env_path[1024];
	char *envp[] = {env_path, env_home, env_tmp, "LC_ALL=C", NULL};
	const char *path = getenv("PATH");
	int pipe_out[2] = {-1, -1}, pipe_st[2] = {-1, -1}, devnull = -1, a = 0, bad;
	char exe[LB_SLICER_PATH];
	struct rusage ru = {0};
	pid_t pid;

	r->st.started = now;
	r->st.position = 0;
	if (mkdir(r->workdir, 0700) < 0 && errno != EEXIST) {
		finish(r, 0, &ru, errno, now);
		lb_error_set(&r->st.error, LB_ERR_INTERNAL, "cannot make the slicing folder: %s",
			     strerror(errno));
		return;
	}
	snprintf(out_path, sizeof out_path, "%s/%s", r->workdir, LB_SLICER_OUTPUT);
	unlink(out_path);
	snprintf(env_path, sizeof env_path, "PATH=%s", path ? path : "/usr/bin:/bin");
	snprintf(env_home, sizeof env_home, "HOME=%s", r->workdir);
	snprintf(env_tmp, sizeof env_tmp, "TMPDIR=%s", r->workdir);
	argv[a++] = r->program;
	if (r->info) {
		argv[a++] = "--info";
	} else {
		argv[a++] = "--export-gcode";
		for (int i = 0; i < LB_SLICER_ARGS && r->args[i]; i++)
			argv[a++] = r->args[i];
		argv[a++] = "--output";
		argv[a++] = out_path;
	}
	argv[a++] = r->model;
	argv[a] = NULL;
	bad = resolve(r->program, path ? path : "/usr/bin:/bin", exe, sizeof exe);
	if (bad) {
		finish(r, 0, &ru, bad, now);
		return;
	}
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (devnull < 0 || pipe2(pipe_out, O_CLOEXEC) < 0 || pipe2(pipe_st, O_CLOEXEC) < 0)
		goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (pid == 0)
		child_exec(r, exe, argv, envp, pipe_out[1], pipe_st[1], devnull);
	setpgid(pid, pid); /* as the child does: no race with a kill of the group */
	close(pipe_out[1]);
	close(pipe_st[1]);
	close(devnull);
	r->pid = pid;
	r->st.state = LB_SLICE_RUNNING;
	{
		/* the status pipe closes at exec (or says why exec failed): short, bounded */
		char msg[8];
		size_t got = 0;
		ssize_t n;
		while (got < sizeof msg &&
		       ((n = read(pipe_st[0], msg + got, sizeof msg - got)) > 0 ||
			(n < 0 && errno == EINTR)))
			got += n > 0 ? (size_t)n : 0;
		close(pipe_st[0]);
		r->st.net_isolated = got >= 1 && msg[0] == 'N';
		for (size_t i = 0; i < got; i++) {
			int e;
			if (msg[i] != 'E' || got - i < 1 + sizeof e)
				continue;
			memcpy(&e, msg + i + 1, sizeof e);
			waitpid(pid, NULL, 0);
			close(pipe_out[0]);
			r->pid = 0;
			finish(r, 0, &ru, e ? e : ENOEXEC, now);
			return;
		}
	}
	r->out_fd = pipe_out[0];
	fcntl(r->out_fd, F_SETFL, fcntl(r->out_fd, F_GETFL) | O_NONBLOCK);
	r->pid_fd = (int)syscall(SYS_pidfd_open, pid, 0);
	return;
fail : {
	int e = errno;
	if (pipe_out[0] >= 0)
		close(pipe_out[0]), close(pipe_out[1]);
	if (pipe_st[0] >= 0)
		close(pipe_st[0]), close(pipe_st[1]);
	if (devnull >= 0)
		close(devnull);
	finish(r, 0, &ru, e, now);
}
}

/* A running slicer's process has ended (not reaped yet): kill what is left of its group, take
 * the rest of its output, reap it, classify. 1 when it had ended, else 0. */
static int reap(sl_run *r, int64_t now)
{
	siginfo_t si;
	struct rusage ru = {0};
	int wstatus = 0;

	memset(&si, 0, sizeof si);
	if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
	    si.si_pid != r->pid)
		return 0;
	kill(-r->pid, SIGKILL); /* a grandchild holding the pipe; the zombie keeps the group id */
	read_output(r);
	while (wait4(r->pid, &wstatus, 0, &ru) < 0 && errno == EINTR)
		;
	if (r->out_fd >= 0) {
		close(r->out_fd);
		r->out_fd = -1;
	}
	if (r->pid_fd >= 0) {
		close(r->pid_fd);
		r->pid_fd = -1;
	}
	finish(r, wstatus, &ru, 0, now);
	return 1;
}

int lb_slicer_pollfds(lb_slicer *p, struct pollfd *fds, int cap, int *timeout_ms, int64_t now)
{
	int n = 0;

	for (size_t i = 0; p && i < p->n; i++) {
		sl_run *r = p->runs[i];
		int64_t left;
		int ms;

		if (r->st.state == LB_SLICE_QUEUED && r->pid == 0) {
			int running = 0;
			for (size_t j = 0; j < p->n; j++)
				running += p->runs[j]->st.state == LB_SLICE_RUNNING;
			if (running < p->max)
				*timeout_ms = 0;
		}
		if (r->st.state != LB_SLICE_RUNNING)
			continue;
		if (r->out_fd >= 0 && n < cap)
			fds[n++] = (struct pollfd){.fd = r->out_fd, .events = POLLIN};
		if (r->pid_fd >= 0 && n < cap)
			fds[n++] = (struct pollfd){.fd = r->pid_fd, .events = POLLIN};
		if (r->pid_fd < 0 && (*timeout_ms < 0 || *timeout_ms > SL_NOPIDFD_POLL_MS))
			*timeout_ms = SL_NOPIDFD_POLL_MS;
		if (r->killed)
			continue;
		left = r->st.started + (int64_t)r->time_s * 1000000000LL - now;
		ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
		if (*timeout_ms < 0 || ms < *timeout_ms)
			*timeout_ms = ms;
	}
	return n;
}

int lb_slicer_step(lb_slicer *p, const struct pollfd *fds, int n, int64_t now)
{
	int changed = 0, running = 0;

	(void)fds;
	(void)n; /* every running slicer is looked at: reads are non-blocking, and few run */
	if (!p)
		return 0;
	for (size_t i = 0; i < p->n; i++) {
		sl_run *r = p->runs[i];
		if (r->st.state != LB_SLICE_RUNNING)
			continue;
		read_output(r);
		if (!r->killed && now >= r->st.started + (int64_t)r->time_s * 1000000000LL) {
			r->killed = KILL_TIMEOUT;
			kill(-r->pid, SIGKILL);
		}
		if (reap(r, now))
			changed++;
		else
			running++;
	}
	for (size_t i = 0; i < p->n && running < p->max; i++) {
		sl_run *r = p->runs[i];
		if (r->st.state != LB_SLICE_QUEUED)
			continue;
		start_run(r, now);
		changed++;
		running += r->st.state == LB_SLICE_RUNNING;
	}
	return changed;
}

int lb_slicer_status(const lb_slicer *p, long long id, lb_slice_status *st)
{
	sl_run *r = find_run(p, id);
	int pos = 0;

	if (!r)
		return LB_EINVAL;
	*st = r->st;
	if (r->st.state == LB_SLICE_QUEUED) {
		for (size_t i = 0; i < p->n && p->runs[i] != r; i++)
			pos += p->runs[i]->st.state == LB_SLICE_QUEUED;
		st->position = pos + 1;
	}
	return 0;
}

const char *lb_slicer_output(lb_slicer *p, long long id)
{
	sl_run *r = find_run(p, id);

	return r ? r->tail : NULL;
}

int lb_slicer_cancel(lb_slicer *p, long long id, int64_t now)
{
	sl_run *r = find_run(p, id);

	if (!r)
		return LB_EINVAL;
	if (r->st.state == LB_SLICE_QUEUED) {
		r->st.state = LB_SLICE_CANCELLED;
		r->st.ended = now;
		lb_error_set(&r->st.error, LB_ERR_INVALID_REQUEST, "the slicing was cancelled");
	} else if (r->st.state == LB_SLICE_RUNNING && !r->killed) {
		r->killed = KILL_CANCEL;
		kill(-r->pid, SIGKILL);
	}
	return 0;
}

int lb_slicer_forget(lb_slicer *p, long long id)
{
	for (size_t i = 0; p && i < p->n; i++) {
		sl_run *r = p->runs[i];
		if (r->id != id)
			continue;
		if (r->st.state == LB_SLICE_QUEUED || r->st.state == LB_SLICE_RUNNING)
			return LB_EINVAL;
		run_free(r);
		memmove(p->runs + i, p->runs + i + 1, (p->n - i - 1) * sizeof *p->runs);
		p->n--;
		return 0;
	}
	return LB_EINVAL;
}

/* --- the worker thread --- */

#define WORKER_MAX 64 /* slicers at once at most: their pollfds fit the thread's array */

struct lb_slicer_worker {
	pthread_mutex_t lock; /* guards pool and stop */
	lb_slicer *pool;
	int wake_fd;   /* eventfd: submit, cancel, stop wake the thread */
	int notify_fd; /* eventfd: the thread tells of changes */
	int stop;
	pthread_t thread;
};

/* Add one to an eventfd (never blocks: a counter that would overflow is left as it is). */
static void bump(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof one) < 0) {
		/* EAGAIN: already far from zero, readable anyway */
	}
}

/* The sum of the progress of every run (a change in it is worth telling). */
static long progress_sum(const lb_slicer *p)
{
	long sum = 0;

	for (size_t i = 0; i < p->n; i++)
		sum += p->runs[i]->st.percent + 1000L * (long)p->runs[i]->st.state;
	return sum;
}

/* The thread: poll the pool's descriptors and the wake eventfd, step the pool, tell of changes;
 * at stop, kill what runs. */
static void *worker_main(void *arg)
{
	lb_slicer_worker *w = arg;

	for (;;) {
		struct pollfd fds[LB_SLICER_FDS * WORKER_MAX + 1];
		int timeout = -1, n;
		long before, after;
		uint64_t v;

		pthread_mutex_lock(&w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		fds[0] = (struct pollfd){.fd = w->wake_fd, .events = POLLIN};
		n = lb_slicer_pollfds(w->pool, fds + 1, (int)(sizeof fds / sizeof fds[0]) - 1,
				      &timeout, lb_now_read().mono);
		pthread_mutex_unlock(&w->lock);
		if (poll(fds, (nfds_t)n + 1, timeout) < 0 && errno != EINTR)
			break;
		if (fds[0].revents & POLLIN) {
			if (read(w->wake_fd, &v, sizeof v) < 0) {
				/* EAGAIN: another read took it */
			}
		}
		pthread_mutex_lock(&w->lock);
		before = progress_sum(w->pool);
		lb_slicer_step(w->pool, fds + 1, n, lb_now_read().mono);
		after = progress_sum(w->pool);
		pthread_mutex_unlock(&w->lock);
		if (after != before)
			bump(w->notify_fd);
	}
	return NULL;
}

lb_slicer_worker *lb_slicer_worker_new(int max, lb_error *err)
{
	lb_slicer_worker *w = calloc(1, sizeof *w);
	int rc;

	if (!w) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->pool = lb_slicer_new(max > WORKER_MAX ? WORKER_MAX : max, err);
	if (w->wake_fd < 0 || w->notify_fd < 0 || !w->pool) {
		if (w->wake_fd < 0 || w->notify_fd < 0)
			lb_error_set(err, LB_ERR_INTERNAL, "eventfd: %s", strerror(errno));
		goto fail;
	}
	pthread_mutex_init(&w->lock, NULL);
	rc = lb_thread_start(&w->thread, worker_main, w);
	if (rc != 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot start the slicer thread: %s",
			     strerror(rc));
		pthread_mutex_destroy(&w->lock);
		goto fail;
	}
	return w;
fail:
	lb_slicer_destroy(&w->pool);
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	if (w->notify_fd >= 0)
		close(w->notify_fd);
	free(w);
	return NULL;
}

void lb_slicer_worker_destroy(lb_slicer_worker **pw)
{
	lb_slicer_worker *w = pw ? *pw : NULL;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_mutex_unlock(&w->lock);
	bump(w->wake_fd);
	pthread_join(w->thread, NULL);
	lb_slicer_destroy(&w->pool);
	pthread_mutex_destroy(&w->lock);
	close(w->wake_fd);
	close(w->notify_fd);
	free(w);
	*pw = NULL;
}

long long lb_slicer_worker_submit(lb_slicer_worker *w, const lb_slice_spec *spec, lb_error *err)
{
	long long id;

	pthread_mutex_lock(&w->lock);
	id = lb_slicer_submit(w->pool, spec, err);
	pthread_mutex_unlock(&w->lock);
	if (id > 0)
		bump(w->wake_fd);
	return id;
}

int lb_slicer_worker_status(lb_slicer_worker *w, long long id, lb_slice_status *st)
{
	int rc;

	pthread_mutex_lock(&w->lock);
	rc = lb_slicer_status(w->pool, id, st);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

int lb_slicer_worker_output(lb_slicer_worker *w, long long id, char *buf, size_t cap)
{
	const char *out;
	int rc = LB_EINVAL;

	if (!buf || cap == 0)
		return LB_EINVAL;
	pthread_mutex_lock(&w->lock);
	out = lb_slicer_output(w->pool, id);
	if (out) {
		snprintf(buf, cap, "%s", out);
		rc = 0;
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

int lb_slicer_worker_cancel(lb_slicer_worker *w, long long id, int64_t now)
{
	int rc;

	pthread_mutex_lock(&w->lock);
	rc = lb_slicer_cancel(w->pool, id, now);
	pthread_mutex_unlock(&w->lock);
	bump(w->wake_fd);
	bump(w->notify_fd); /* a waiting run cancelled changed state here */
	return rc;
}

int lb_slicer_worker_forget(lb_slicer_worker *w, long long id)
{
	int rc;

	pthread_mutex_lock(&w->lock);
	rc = lb_slicer_forget(w->pool, id);
	pthread_mutex_unlock(&w->lock);
	return rc;
}

int lb_slicer_worker_fd(const lb_slicer_worker *w)
{
	return w->notify_fd;
}
