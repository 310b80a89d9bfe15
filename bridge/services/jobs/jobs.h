/* jobs.h - the generic job store: long work of any service, persistent in SQLite, crash-safe. */
#ifndef LB_JOBS_H
#define LB_JOBS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../util/error.h"

/*
 * A job is work that outlives the request that started it (a print, a scan, a program upload, a
 * recording): accepted at once with an id, owned by its submitter (the kernel-given identity,
 * "unix:alice"), kept in <dir>/jobs.db with its files in <dir>/jobs/<id>/ (its input, then its
 * results). The store knows no file format: a service registers a validation hook per kind.
 *
 * States and the transitions allowed (anything else is refused with "job N is S: cannot go to T"):
 *
 *	uploading        -> preparing, queued, waiting_approval, failed, cancelled
 *	preparing        -> queued, waiting_approval, failed, cancelled (a service's stage before
 *	                    the queue: a model being sliced; nothing physical has happened, so a
 *	                    stop leaves it preparing and the service prepares it again)
 *	waiting_approval -> queued (lb_jobs_approve), failed, cancelled
 *	queued           -> starting, running, failed, cancelled, waiting_approval (held for a
 *	                    teacher again: a quota)
 *	starting         -> running, queued (the device refused it), done, failed, cancelled,
 *	                    interrupted
 *	running          -> paused, done, failed, cancelled, interrupted
 *	paused           -> running, done, failed, cancelled, interrupted
 *	failed, cancelled, interrupted -> queued, waiting_approval, preparing (a retry: progress
 *	                    reset, at the end of the queue)
 *	done             -> (none: a finished job stays in the history until deleted)
 *
 * Every change is one SQLite transaction (WAL, synchronous=FULL). After a kill -9 at any point,
 * lb_jobs_new finds each job as it was before or after the change in progress, never twice, and
 * a job that was starting, running or paused comes back interrupted: never re-run by itself.
 */
typedef enum lb_job_state {
	LB_JOB_UPLOADING,
	LB_JOB_PREPARING,
	LB_JOB_WAITING_APPROVAL,
	LB_JOB_QUEUED,
	LB_JOB_STARTING,
	LB_JOB_RUNNING,
	LB_JOB_PAUSED,
	LB_JOB_DONE,
	LB_JOB_FAILED,
	LB_JOB_CANCELLED,
	LB_JOB_INTERRUPTED,
	LB_JOB_NSTATES
} lb_job_state;

/* The wire name of a state ("waiting_approval"); "?" for a value out of range. */
const char *lb_job_state_name(lb_job_state s);

/* The state of a wire name: 0 with *s, or LB_EINVAL for an unknown name. */
int lb_job_state_parse(const char *name, lb_job_state *s);

/* Whether a state is finished (done, failed, cancelled, interrupted): the job is history. */
bool lb_job_state_finished(lb_job_state s);

/* Whether the store allows from -> to (the table above). */
bool lb_job_transition_allowed(lb_job_state from, lb_job_state to);

/* The largest range lb_jobs_result_read returns at once. */
#define LB_JOBS_FETCH_MAX (1024 * 1024)

typedef struct lb_jobs lb_jobs;

/*
 * Open (creating if needed) dir/jobs.db and dir/jobs/. Recovery, in one transaction: jobs left
 * starting, running or paused become interrupted at now_real ("the bridge stopped while it was
 * running"); then the files: an input whose move into the job's folder a crash cut short is moved,
 * a waiting job whose input is lost fails, result files a crash left unrecorded are recorded, and
 * folders of no job (a delete cut short) are removed. NULL with err set on failure.
 */
lb_jobs *lb_jobs_new(const char *dir, int64_t now_real, lb_error *err);

/* Close. Accepts NULL; nulls the pointer. */
void lb_jobs_destroy(lb_jobs **j);

/*
 * A service's check of a job's input file (path), registered per kind: 0 with *meta (a new JSON
 * object stored with the job, may be left NULL), or negative with err set (LB_ERR_INVALID_PARAMS
 * "line 12: ..." for a file it refuses). The store never opens the file itself.
 */
typedef int (*lb_job_validate_fn)(void *ctx, const char *path, json_t **meta, lb_error *err);

/* Register (or with fn NULL remove) the validation hook of a kind; 0, or LB_ENOMEM / LB_EINVAL
 * (kind NULL or over 31 characters, more than 16 kinds). */
int lb_jobs_set_validator(lb_jobs *j, const char *kind, lb_job_validate_fn fn, void *ctx);

/* What a service submits. */
typedef struct lb_job_spec {
	const char *kind;	 /* "print", "scan", "program", "recording" */
	const char *owner;	 /* the submitter's kernel-given identity, "unix:alice" */
	const char *label;	 /* what people see ("benchy.gcode"), may be NULL */
	const char *device;	 /* the device it must run on, NULL for any of its kind */
	const char *request_id;	 /* the submitter's id of this submission (a retry gives the same
				    job again), NULL for none */
	const char *params;	 /* service-defined JSON text, NULL for {} */
	const char *input;	 /* a file to take as the job's input (moved, not copied, into
				    the job's folder after its validation), NULL for none */
	bool uploading;		 /* created before its upload ends: state uploading */
	bool preparing;		 /* created preparing: the service has work to do on it before
				    it waits (needs_approval then says where it goes next) */
	bool needs_approval;	 /* waiting_approval until lb_jobs_approve, else queued */
	const char *approved_by; /* !needs_approval: who approved it (a teacher submitting), may
				    be NULL; a retry of a job approved once goes back to queued */
} lb_job_spec;

/*
 * Submit: validate the input with the kind's hook (a refusal leaves no job and the file where it
 * was), then create the job (at the end of the queue) and move the input into its folder. A
 * request id (per kind and owner) that already made a job gives that job again, with *duplicate
 * true (duplicate may be NULL). The job's id (> 0), or LB_EFAIL with err set.
 */
long long lb_jobs_submit(lb_jobs *j, const lb_job_spec *spec, int64_t now_real, bool *duplicate,
			 lb_error *err);

/*
 * Move job id to state to (error: the reason of a failed or interrupted job, else NULL). Stamps
 * started (first time running) and finished (a finished state); a retry (a finished job to queued
 * or waiting_approval) clears progress, error and finished and puts the job at the end of the
 * queue. 0, or LB_EFAIL with err set: LB_ERR_INVALID_PARAMS "no job N" or "job N is S: cannot go
 * to T", LB_ERR_INTERNAL for a database error.
 */
int lb_jobs_transition(lb_jobs *j, long long id, lb_job_state to, const char *error,
		       int64_t now_real, lb_error *err);

/*
 * lb_jobs_transition, also setting the job's assigned device (the one it runs on; NULL keeps it)
 * in the same transaction. A job of a kind whose lb_job_kind has confirm_device, going to
 * starting, running or paused with an assigned device, marks that device "to confirm" in that
 * transaction too (lb_jobs_device_confirmed is then false until lb_jobs_device_confirm): no
 * restart can see such a job started and its device confirmed. A retry clears the assigned
 * device. 0, or LB_EFAIL with err set (as lb_jobs_transition).
 */
int lb_jobs_transition_on(lb_jobs *j, long long id, lb_job_state to, const char *device,
			  const char *error, int64_t now_real, lb_error *err);

/* Whether a device is confirmed ready for the next job (a printer's bed clear): true for a device
 * never marked. */
bool lb_jobs_device_confirmed(lb_jobs *j, const char *device);

/* Record a device confirmed ready (a teacher cleared the bed) or not: 0, or LB_EFAIL with err. */
int lb_jobs_device_confirm(lb_jobs *j, const char *device, bool confirmed, lb_error *err);

/* The job that a request id of an owner made for a kind: its id, 0 when none, LB_EFAIL with err
 * set on a database error. */
long long lb_jobs_find_request(lb_jobs *j, const char *kind, const char *owner,
			       const char *request_id, lb_error *err);

/*
 * Insert jobs of an earlier store (a one-time import), keeping their ids, in one transaction:
 * jobs is an array of objects {id, kind, owner, state, position, label?, device?, assigned?,
 * request_id?, params?, meta?, fraction?, detail?, approved_by?, error?, input_src?, created?,
 * started?, finished?} (input_src: a file that the store moves into the job's folder as at a
 * restart). An id already present is left as it is, so an import cut short may run again. The
 * number of jobs inserted, or LB_EFAIL with err set (a job without id, kind, owner or a known
 * state; a database error).
 */
int lb_jobs_import(lb_jobs *j, const json_t *jobs, int64_t now_real, lb_error *err);

/*
 * What a service declares about its kind of job, before any store opens (LB_JOB_KIND): found by
 * every lb_jobs_new, so recovery after a stop does the kind's part in the same transaction.
 */
struct lb_server;
typedef struct lb_job_kind {
	const char *kind;    /* "print" */
	bool confirm_device; /* its devices wait for a confirmation after a job (printers' beds) */
	/* At open, before recovery: bring jobs of an earlier storage of this service into the
	 * store (dir: the store's data directory), once (lb_jobs_import); 0 or LB_EFAIL with err
	 * set (the store does not open). May be NULL. */
	int (*import)(lb_jobs *j, const char *dir, int64_t now_real, lb_error *err);
	/* At open, for each job of this kind a stop left starting, running or paused (job: as
	 * lb_jobs_get; folder: its folder), in the recovery transaction: may set *fraction and
	 * *detail (a new object, taken) from what the job left, and writes the job's error text
	 * into error[cap] (kept empty: the store's own). May be NULL. */
	void (*recover)(const json_t *job, const char *folder, double *fraction, json_t **detail,
			char *error, size_t cap);
	/* jobs.cancel of a job of this kind (the service stops its device, or cancels it itself):
	 * 0 or LB_EFAIL with err set. NULL: the store cancels jobs not started, refuses others. */
	int (*cancel)(struct lb_server *s, long long id, int64_t now_real, lb_error *err);
} lb_job_kind;

/* Declare a kind: put LB_JOB_KIND(my_kind); after its definition (a linker section, as
 * LB_REGISTER_SERVICE). */
#define LB_JOB_KIND(k)                                                                             \
	static const lb_job_kind *lb_job_kind_ptr_##k                                              \
	    __attribute__((section("lb_job_kind_list"), used, aligned(sizeof(void *)))) = &k

/* The declared kind of that name, or NULL. */
const lb_job_kind *lb_job_kind_find(const char *kind);

/* Replace the meta object of job id (what the service learnt of its input, e.g. after preparing
 * it) with meta (JSON object text). 0, or LB_EFAIL with err set (no such job, not an object). */
int lb_jobs_set_meta(lb_jobs *j, long long id, const char *meta, int64_t now_real, lb_error *err);
/* The same for the job's params (a retry with other settings). */
int lb_jobs_set_params(lb_jobs *j, long long id, const char *params, int64_t now_real,
		       lb_error *err);
/* waiting_approval -> queued, recording who approved. 0, or LB_EFAIL with err set. */
int lb_jobs_approve(lb_jobs *j, long long id, const char *by, int64_t now_real, lb_error *err);

/*
 * Record progress of a starting, running or paused job: fraction in [0, 1] and a service-defined
 * JSON object as text (detail, NULL for {}). 0, or LB_EFAIL with err set (other states, a
 * fraction out of range, detail not an object).
 */
int lb_jobs_progress(lb_jobs *j, long long id, double fraction, const char *detail,
		     int64_t now_real, lb_error *err);

/* The state of job id into *s: 0, or LB_EFAIL with err set ("no job N"). */
int lb_jobs_state(lb_jobs *j, long long id, lb_job_state *s, lb_error *err);

/*
 * A job as a new object: {id, kind, owner, label, device, assigned, state, request_id, params,
 * meta, progress: {fraction, detail}, position, approved_by, error, created, started, finished,
 * updated}; position is its place among the waiting jobs of its kind (waiting_approval and
 * queued, 1 = next), null when not waiting; times are ns since 1970, null when unset. NULL when
 * there is no such job.
 */
json_t *lb_jobs_get(lb_jobs *j, long long id);

/* The jobs of a kind (NULL: all kinds) as a new array: the unfinished ones, active first, then in
 * queue order (history false), or the finished ones, newest first (history true). */
json_t *lb_jobs_list(lb_jobs *j, const char *kind, bool history);

/*
 * Move a waiting job (waiting_approval or queued) to place pos (1 = next; past the end: last)
 * among the waiting jobs of its kind, in one transaction; the others keep their order. 0, or
 * LB_EFAIL with err set (pos < 1, no such job, a job not waiting).
 */
int lb_jobs_move(lb_jobs *j, long long id, int pos, int64_t now_real, lb_error *err);

/* The next queued job of a kind that may run on device (jobs for any device, or for this one),
 * in queue order: its id, 0 when none, LB_EFAIL on a database error. */
long long lb_jobs_next(lb_jobs *j, const char *kind, const char *device);

/*
 * Whether user may act on job id: 0 when user is its owner or privileged (a teacher: the caller
 * decides roles), else LB_EFAIL with err LB_ERR_FORBIDDEN "only its owner (unix:bob) or a teacher
 * may <what> job N" (or "no job N").
 */
int lb_jobs_check_owner(lb_jobs *j, long long id, const char *user, bool privileged,
			const char *what, lb_error *err);

/* Remove a finished job, or one never started (uploading, waiting_approval, queued), with its
 * files. 0, or LB_EFAIL with err set (a job starting, running or paused must be stopped first). */
int lb_jobs_delete(lb_jobs *j, long long id, lb_error *err);

/* The input file of job id into path[cap] (it may not exist: a job without input). 0, or
 * LB_EINVAL (no such job, too long). */
int lb_jobs_input_path(lb_jobs *j, long long id, char *path, size_t cap);

/*
 * Add a result file to job id: the file src (in the same file system, e.g. written by the service
 * in the job's folder under a temporary name) is moved to the job's folder as name ([A-Za-z0-9._-],
 * 1 to 100 characters, not starting with '.', not "input"), replacing one of that name. 0, or
 * LB_EFAIL with err set.
 */
int lb_jobs_result_add(lb_jobs *j, long long id, const char *name, const char *src,
		       int64_t now_real, lb_error *err);

/* A file to move into a job's results (lb_jobs_update): src as result name. */
typedef struct lb_job_file {
	const char *name;
	const char *src;
} lb_job_file;

/* The most files one lb_jobs_update moves. */
#define LB_JOBS_UPDATE_FILES 8

/*
 * What a service learnt of job id, stored at once with one commit (a sliced model: its G-code,
 * its facts and its next state): files[nfiles] moved into its results (each as
 * lb_jobs_result_add), its meta replaced by meta (as lb_jobs_set_meta; NULL keeps it), then its
 * state to `to` (as lb_jobs_transition, no error text; -1 keeps it). 0, or LB_EFAIL with err set
 * (as those functions): then nothing changed and the files are back where they were. A crash
 * after the files moved and before the commit: the next open records them as results (as it does
 * for lb_jobs_result_add), meta and state unchanged (a service that redoes its work replaces them).
 */
int lb_jobs_update(lb_jobs *j, long long id, const lb_job_file *files, size_t nfiles,
		   const char *meta, int to, int64_t now_real, lb_error *err);

/* The folder of job id (for a service's temporary files) into path[cap]; it is created. 0 or
 * LB_EFAIL with err set. */
int lb_jobs_folder(lb_jobs *j, long long id, char *path, size_t cap, lb_error *err);

/* The results of job id as a new array [{name, size, created}], by name; NULL if no such job. */
json_t *lb_jobs_results(lb_jobs *j, long long id);

/*
 * Read up to len bytes (len <= LB_JOBS_FETCH_MAX) of result name of job id from offset into buf:
 * *got the bytes read (0 at or after the end), *size the file's size. 0, or LB_EFAIL with err set
 * (no such job or result, offset negative, len over the limit: LB_ERR_TOO_LARGE).
 */
int lb_jobs_result_read(lb_jobs *j, long long id, const char *name, long long offset, size_t len,
			void *buf, size_t *got, long long *size, lb_error *err);

/*
 * Fault injection for tests: hook(ctx, point) is called at each durable step of a change
 * ("submit.insert", "submit.commit", "submit.move", "transition.update", ...), before and after
 * each commit. A test kills the process from it to check the recovery. NULL removes it.
 */
void lb_jobs_set_fault_hook(lb_jobs *j, void (*hook)(void *ctx, const char *point), void *ctx);

#endif
