/* printq.h - the classroom print queue: jobs, their G-code files and states, in SQLite (WAL). */
#ifndef LB_PRINTQ_H
#define LB_PRINTQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../../protocols/gcode.h"
#include "../../../protocols/model.h"
#include "../../util/error.h"
#include "../jobs/jobs.h"
#include "mcheck.h"

/*
 * The print queue is a layer over the job store (services/jobs/jobs.h), kind "print": its jobs,
 * files and states are the store's; this layer names the states as print clients always saw them,
 * keeps the G-code upload and its check, the progress file of a printing job and the printers'
 * beds (the store's "confirm after a job" devices).
 *
 * Job states. slicing: a 3D model (STL, 3MF, OBJ) being made into G-code (the store's
 * preparing); submitted: waiting for a teacher's approval; approved: waiting for a printer;
 * queued: handed to a printer that is starting it; printing; paused; and the finished ones: done,
 * failed, cancelled, interrupted (the bridge or the board stopped in the middle).
 */
#define LB_JOB_STATES                                                                              \
	"slicing, submitted, approved, queued, printing, paused, done, failed, cancelled, "        \
	"interrupted"
/* The result file of a model job holding its sliced G-code (what its printer prints). */
#define LB_PRINTQ_GCODE "print.gcode"

typedef struct lb_printq lb_printq;

/*
 * The safety policy from the [print] section of config (max_hotend, max_bed, forbidden; the
 * defaults of protocols/gcode.h): the one policy that the queue checks submitted files against
 * and that printers check console commands against. 0, or negative with err set naming the bad
 * entry (file:line); *p then refuses every command (refuse_all).
 */
int lb_print_policy(const json_t *config, gcode_policy *p, lb_error *err);

/* The print name of a store state (waiting_approval is "submitted", queued "approved", starting
 * "queued", running "printing"; the others as they are); "?" out of range. */
const char *lb_printq_state_name(lb_job_state s);

/* The model format of the file at path from its first bytes (MODEL_NONE: G-code or anything
 * else; a zip is taken for a 3MF, which the model check then verifies). */
model_format lb_printq_sniff(const char *path);
/* The limits uploaded models are checked against (lb_model_limits_default until set). */
void lb_printq_set_limits(lb_printq *q, const lb_model_limits *lim);
/*
 * A model job's slicing ended with G-code at gcode (a file in the job's folder), which passed the
 * G-code check (lb_gcode_check_file: its facts are checked): keep it as the job's result
 * LB_PRINTQ_GCODE (what lb_printq_path names), its facts and extra's keys (the fit's rotation) in
 * meta, then the job waits: approved when it was approved at submission and hold is NULL; else
 * submitted, hold (e.g. "over the weekly quota...") shown as the job's "hold". All in one commit
 * of the store (lb_jobs_update). 0, or LB_EFAIL with err set (the job is left slicing, the file
 * where it was).
 */
int lb_printq_sliced(lb_printq *q, long long id, const char *gcode, const json_t *checked,
		     const json_t *extra, const char *hold, int64_t now_real, lb_error *err);
/* Keep the file src as job id's result name and value as its meta's key, in one commit of the
 * store (a model job's picture, drawn after it was queued). 0, or LB_EFAIL with err set (no such
 * job: nothing kept, src where it was). */
int lb_printq_add_result(lb_printq *q, long long id, const char *name, const char *src,
			 const char *key, json_t *value, int64_t now_real, lb_error *err);
/* An approved job goes back to waiting for a teacher, why shown as its "hold" (a quota), in one
 * commit. 0, or LB_EFAIL with err set (nothing changed). */
int lb_printq_hold(lb_printq *q, long long id, const char *why, int64_t now_real, lb_error *err);
/* The store state of a print state name: 0 with *s, or LB_EINVAL. */
int lb_printq_state_parse(const char *name, lb_job_state *s);

/*
 * Open a queue over the job store of dir (lb_jobs_new: jobs that a crash left printing, paused or
 * queued come back interrupted, with the last acknowledged line and byte offset of their progress
 * file, and their printers' beds not clear, in one transaction; a printq.db of an earlier version
 * is imported once, see lb_printq_import), with the part files of uploads in dir/prints/. The
 * queue owns the store. NULL with err set on failure.
 */
lb_printq *lb_printq_new(const char *dir, int64_t now_real, lb_error *err);

/* Like lb_printq_new over a store already open (borrowed: it outlives the queue). */
lb_printq *lb_printq_attach(lb_jobs *j, const char *dir, int64_t now_real, lb_error *err);

/* The queue's job store. */
lb_jobs *lb_printq_store(lb_printq *q);

/*
 * The print kind's import (lb_job_kind.import): the jobs of dir/printq.db (the queue's own
 * database before the job store) go into the store with their ids, states (mapped), owners,
 * names, printers, progress and errors, their files prints/<id>.gcode as inputs to move, their
 * progress files into their folders, beds not clear kept; then printq.db is renamed
 * printq.db.imported. No printq.db: 0 and nothing done. 0, or LB_EFAIL with err set.
 */
int lb_printq_import(lb_jobs *j, const char *dir, int64_t now_real, lb_error *err);

/* The print kind's recovery hook (lb_job_kind.recover): the progress file into the detail
 * {line, offset}, and the error "the bridge stopped while printing (last acknowledged line N,
 * byte offset M)". */
void lb_printq_recover(const json_t *job, const char *folder, double *fraction, json_t **detail,
		       char *error, size_t cap);

/* A store job (lb_jobs_get) of kind print as print clients see it (lb_printq_job); NULL for
 * NULL. */
json_t *lb_printq_from_store(const json_t *store_job);

/* Close. Accepts NULL; nulls the pointer. */
void lb_printq_destroy(lb_printq **pq);

/* One chunk of a G-code upload (the request's params, checked by the caller for types). */
typedef struct lb_upload {
	const char *request_id; /* the client's id for this submission: retries reuse it */
	const char *name;	/* file name shown to people ("benchy.gcode") */
	const char *owner;	/* who submits (client identity) */
	const char *role;	/* "teacher" or "student" */
	const char *printer;	/* target printer id, or NULL for any printer */
	long long offset;	/* where this chunk goes in the file */
	bool final;		/* the last chunk: check, read metadata and create the job */
	bool has_crc;		/* final: crc32 of the whole file is given */
	uint32_t crc32;		/* zlib crc32 of the whole file */
	bool has_chunk_crc;	/* crc32 of this chunk's bytes is given */
	uint32_t chunk_crc32;	/* zlib crc32 of this chunk (refused, nothing written, if wrong) */
	bool approve;		/* create the job already approved (teacher, or approval off) */
	const char *preset;	/* a model's quality preset (checked by the caller), NULL: normal */
	double scale;		/* a model's scale in percent, 0: none */
	double rotate;		/* a model's rotation about Z in degrees, 0: none */
	long long max_bytes;	/* largest file accepted (0: no limit) */
	int64_t now_real;	/* ns since 1970 */
} lb_upload;

/*
 * Take a chunk (through the generic uploads of services/jobs/upload.h, whose part files are in
 * dir/prints): write it at offset into dir/prints/<request>.part (offset must be the bytes
 * received so far; a chunk already received is accepted again without effect, so a retry is
 * harmless; an empty chunk that is not the final one only asks how much arrived, and makes no
 * part file). A part file untouched for an hour is an abandoned upload: it is removed when the
 * queue opens and when an upload starts. A failed first chunk leaves no part file. The final chunk:
 * verify the crc32, read the file line by line (never whole in memory) for its metadata and for the
 * policy (a violation rejects the file with its line number: "line 12: M104 S300: hotend 300 °C is
 * above the limit of 250 °C", and removes it), then create the job, atomically with the file's move
 * to the job's folder (lb_jobs_submit, gcheck as the validation hook). A request id (per owner)
 * that already made a job returns that job again (with "duplicate": true), never a second one.
 * *result: {"received": bytes} for a chunk, the job object for the final one. 0 or negative with
 * err set (LB_ERR_INVALID_PARAMS with "expected offset N", LB_ERR_TOO_LARGE...).
 */
int lb_printq_upload(lb_printq *q, const lb_upload *u, const void *chunk, size_t len,
		     const gcode_policy *policy, json_t **result, lb_error *err);

/*
 * A job as a new JSON object: {id, request_id, name, owner, role, printer, assigned, state,
 * position, size, crc32, submitted, approved_by, started, finished, error, progress: {line, offset,
 * lines, percent}, meta: {slicer, time_s, filament_mm, filament_g, layer_count, lines, commands,
 * thumbnails: [{width, height}]}}; NULL if there is no such job. position is the job's place
 * among the waiting jobs (1 = next, as lb_printq_move counts), null when it is not waiting;
 * timestamps are ns since 1970, null when unset; percent = 100 * offset / size.
 */
json_t *lb_printq_job(lb_printq *q, long long id);

/* Jobs as a new array: the waiting and active ones in queue order (history false), or the
 * finished ones, newest first (history true). */
json_t *lb_printq_list(lb_printq *q, bool history);

/* The G-code file of a job into path[cap]; 0 or negative (no such job). */
int lb_printq_path(lb_printq *q, long long id, char *path, size_t cap);

/* submitted -> approved (by: who approved). 0 or negative with err set (wrong state...). */
int lb_printq_approve(lb_printq *q, long long id, const char *by, int64_t now_real, lb_error *err);

/*
 * Move a job to a state (print name), with its printer when not NULL and error message when not
 * NULL, as the store allows (jobs.h: approved -> queued or printing, queued -> printing or back
 * to approved, printing <-> paused, any unfinished -> a finished state; the same unfinished state
 * again changes nothing), stamping started and finished. A job going to queued, printing or
 * paused marks its printer's bed not clear in the same transaction (only lb_printq_set_bed clears
 * it); a job finishing takes its progress file's position first. 0, or LB_EFAIL with err set
 * ("job N is S: cannot go to T", an unknown state, no such job).
 */
int lb_printq_transition(lb_printq *q, long long id, const char *state, const char *printer,
			 const char *error, int64_t now_real, lb_error *err);

/*
 * The progress file of job id into path[cap] (.progress in the job's folder, see progress.h): the
 * printer's thread records each acknowledged position there; the queue folds it into the job
 * when the job finishes and when lb_printq_new recovers jobs a stop interrupted. 0 or negative.
 */
int lb_printq_progress_path(lb_printq *q, long long id, char *path, size_t cap);

/* Record the last acknowledged line and byte offset of a queued, printing or paused job. 0 or
 * negative with err set (no such job, another state). */
int lb_printq_progress(lb_printq *q, long long id, long line, long long offset, int64_t now_real,
		       lb_error *err);

/* Cancel a job that is not finished; *was receives its state before ("printing" means the
 * caller must stop the printer). 0 or negative with err set. */
int lb_printq_cancel(lb_printq *q, long long id, int64_t now_real, const char **was, lb_error *err);

/* A finished job (failed, cancelled, interrupted) goes back to approved (to submitted if it was
 * never approved), progress reset, at the end of the queue; a model job with no G-code (its
 * slicing failed), or any model job when reslice is true, goes back to slicing. 0 or negative
 * with err set. */
int lb_printq_retry(lb_printq *q, long long id, bool reslice, int64_t now_real, lb_error *err);

/* Remove a finished or submitted job and its file. 0 or negative with err set. */
int lb_printq_delete(lb_printq *q, long long id, lb_error *err);

/* Move a waiting job (submitted or approved) to position pos (1 = next) among the waiting jobs.
 * 0 or negative with err set. */
int lb_printq_move(lb_printq *q, long long id, int pos, int64_t now_real, lb_error *err);

/* The next approved job that printer may print (target NULL or printer), in queue order: its id,
 * or 0 when none. */
long long lb_printq_next(lb_printq *q, const char *printer);

/* Whether a printer's bed is known clear (persisted; a printer never seen is clear). */
bool lb_printq_bed_clear(lb_printq *q, const char *printer);

/* Record that a printer's bed is clear (a teacher confirmed) or not. */
int lb_printq_set_bed(lb_printq *q, const char *printer, bool clear, lb_error *err);

#endif
