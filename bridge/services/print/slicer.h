/* slicer.h - running a slicer (PrusaSlicer's CLI) as a confined child process, a few at once. */
#ifndef LB_SLICER_H
#define LB_SLICER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "../../util/error.h"

#define LB_SLICER_TAIL 8192	     /* bytes of the slicer's output kept (the last ones) */
#define LB_SLICER_ARGS 16	     /* extra arguments at most (--load PROFILE.ini ...) */
#define LB_SLICER_FDS 2		     /* pollfds per running slicer (output, process) */
#define LB_SLICER_PATH 1024	     /* longest path (model, folder, program) */
#define LB_SLICER_TIME_S 300	     /* defaults of lb_slice_spec's limits */
#define LB_SLICER_CPU_S 1200	     /* CPU seconds: the slicer uses several threads */
#define LB_SLICER_MEM_MB 4096	     /* address space (RLIMIT_AS), threads' stacks included */
#define LB_SLICER_OUTPUT "out.gcode" /* the G-code's name in the working folder */

/* What to slice, and within which limits (0: the default of each). */
typedef struct lb_slice_spec {
	const char *program;		  /* "prusa-slicer" (looked up in PATH) or a path */
	const char *model;		  /* the model file (STL, 3MF, OBJ), absolute path */
	const char *workdir;		  /* a private folder made for this run (mode 0700) */
	const char *args[LB_SLICER_ARGS]; /* extra arguments before the model, NULL-ended */
	int time_s;			  /* wall-clock limit, seconds */
	int cpu_s;			  /* CPU time limit (RLIMIT_CPU), seconds */
	int mem_mb;			  /* address-space limit (RLIMIT_AS), MiB */
	int info; /* run "--info MODEL" (size, manifold: lb_slicer_output) instead of slicing */
} lb_slice_spec;

typedef enum lb_slice_state {
	LB_SLICE_QUEUED = 0, /* waiting for a free slot, in order */
	LB_SLICE_RUNNING,
	LB_SLICE_DONE, /* gcode is the G-code file */
	LB_SLICE_FAILED,
	LB_SLICE_CANCELLED,
} lb_slice_state;

/* A run as lb_slicer_status sees it. */
typedef struct lb_slice_status {
	lb_slice_state state;
	int position;		    /* 1-based place in the waiting line (QUEUED), else 0 */
	int percent;		    /* from the slicer's "40 => Generating perimeters" lines */
	char stage[64];		    /* "Generating perimeters" */
	char gcode[LB_SLICER_PATH]; /* DONE: the G-code's path (in workdir); "" for --info */
	lb_error error;		    /* FAILED / CANCELLED: why */
	int net_isolated;	    /* it ran in its own empty network namespace */
	int64_t started, ended;	    /* monotonic ns (0: not yet) */
} lb_slice_status;

/* The slicers that run and wait: opaque. */
typedef struct lb_slicer lb_slicer;

/* How many slicers may run at once on this machine: online cores - 1, at least 1. */
int lb_slicer_default_max(void);

/* A pool running at most max slicers at once (max < 1: lb_slicer_default_max()); NULL with
 * err set on failure (out of memory). */
lb_slicer *lb_slicer_new(int max, lb_error *err);

/*
 * Kill every running slicer (its whole process group), wait for them, free the pool; *p = NULL.
 * Accepts NULL and *p NULL.
 */
void lb_slicer_destroy(lb_slicer **p);

/*
 * Add a run (the spec is copied): it waits its turn, started by lb_slicer_step. Returns its id
 * (> 0), or LB_EINVAL with err set (no model, no folder, relative model path, too many or too
 * long arguments), LB_ENOMEM.
 */
long long lb_slicer_submit(lb_slicer *p, const lb_slice_spec *spec, lb_error *err);

/*
 * The pollfds to watch for the running slicers, into fds[cap] (cap >= LB_SLICER_FDS * max
 * suffices): their number. *timeout_ms (a poll timeout, -1: none) is lowered to the next time
 * limit or to a run waiting to start.
 */
int lb_slicer_pollfds(lb_slicer *p, struct pollfd *fds, int cap, int *timeout_ms, int64_t now);

/*
 * Do what is due at monotonic time now (ns): read the slicers' output (never blocking), reap
 * those that ended, kill those past their time limit, start waiting runs in order while slots
 * are free. fds/n: what poll returned for lb_slicer_pollfds (may be NULL/0: then everything is
 * looked at). Returns how many runs changed state (0 when none).
 */
int lb_slicer_step(lb_slicer *p, const struct pollfd *fds, int n, int64_t now);

/* The run's state into *st: 0, or LB_EINVAL (unknown id). */
int lb_slicer_status(const lb_slicer *p, long long id, lb_slice_status *st);

/* The last LB_SLICER_TAIL bytes of the run's output (stdout and stderr), NUL-terminated; NULL
 * for an unknown id. Valid until the next call on the pool. */
const char *lb_slicer_output(lb_slicer *p, long long id);

/*
 * Cancel a run: a waiting one leaves the line, a running one is killed (its process group) and
 * reaped by lb_slicer_step. 0, or LB_EINVAL (unknown id); a finished run is left as it is (0).
 */
int lb_slicer_cancel(lb_slicer *p, long long id, int64_t now);

/* Forget a finished run (its files stay): 0, or LB_EINVAL (not finished, or unknown id). */
int lb_slicer_forget(lb_slicer *p, long long id);

/* --- the pool on a thread of its own, for the bridge (its main loop watches no service fd) --- */

/* A pool driven by its own thread: opaque. Every call below is thread-safe. */
typedef struct lb_slicer_worker lb_slicer_worker;

/*
 * Start a worker thread (lb_thread_start: signals blocked; the slicers get theirs reset)
 * running a pool of at most max slicers (max < 1: lb_slicer_default_max(); 64 at most). The thread
 * reads the monotonic clock at its loop's edge and passes it to lb_slicer_step. NULL with err set
 * on failure.
 */
lb_slicer_worker *lb_slicer_worker_new(int max, lb_error *err);

/* Stop the thread (it kills the running slicers and reaps them), free all; *w = NULL. Accepts
 * NULL and *w NULL. */
void lb_slicer_worker_destroy(lb_slicer_worker **w);

/* As lb_slicer_submit, lb_slicer_status, lb_slicer_cancel (now: the caller's clock),
 * lb_slicer_forget, on the worker's pool; submit and cancel wake the thread. */
long long lb_slicer_worker_submit(lb_slicer_worker *w, const lb_slice_spec *spec, lb_error *err);
int lb_slicer_worker_status(lb_slicer_worker *w, long long id, lb_slice_status *st);
int lb_slicer_worker_cancel(lb_slicer_worker *w, long long id, int64_t now);
int lb_slicer_worker_forget(lb_slicer_worker *w, long long id);
/* A copy of lb_slicer_output of the run into buf[cap] (cut to fit): 0, or LB_EINVAL (unknown id).
 */
int lb_slicer_worker_output(lb_slicer_worker *w, long long id, char *buf, size_t cap);

/*
 * A descriptor (eventfd) that becomes readable when a run changed state (started, ended) or its
 * progress moved, for the caller's poll/zmq_poll; read 8 bytes to clear it. The worker owns it.
 */
int lb_slicer_worker_fd(const lb_slicer_worker *w);

#endif
