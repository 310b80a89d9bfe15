/* printq.c - the classroom print queue: a print-specific layer over the job store (lb_jobs). */
#include "printq.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../util/config.h"
#include "../../util/db.h"
#include "../../util/log.h"
#include "../../sdk/progress.h"
#include "../jobs/upload.h"
#include "gcheck.h"
#include "mcheck.h"

#define PQ_PATH_MAX 1024
/* An upload untouched for this long is abandoned: its part file is removed (at start, and when
 * an upload starts). Long enough for a client to resume after a bridge restart. */
#define PQ_PART_EXPIRY_NS (3600LL * 1000000000LL)
/* The job kind of prints in the store. */
#define KIND "print"

struct lb_printq {
	lb_jobs *j; /* the job store (owned when own) */
	bool own;
	char prints[PQ_PATH_MAX - 128]; /* dir/prints: the part files of uploads */
	lb_uploads *up;
	const gcode_policy *policy; /* the policy of the upload being checked (the validation
				       hook's; NULL: none), set for the time of its submission */
	lb_model_limits limits;	    /* of uploaded models (lb_printq_set_limits) */
};

void lb_printq_set_limits(lb_printq *q, const lb_model_limits *lim)
{
	if (q && lim)
		q->limits = *lim;
}

/* The print names of the store's states (what clients see), by lb_job_state. */
static const char *const print_names[LB_JOB_NSTATES] = {[LB_JOB_UPLOADING] = "uploading",
							[LB_JOB_PREPARING] = "slicing",
							[LB_JOB_WAITING_APPROVAL] = "submitted",
							[LB_JOB_QUEUED] = "approved",
							[LB_JOB_STARTING] = "queued",
							[LB_JOB_RUNNING] = "printing",
							[LB_JOB_PAUSED] = "paused",
							[LB_JOB_DONE] = "done",
							[LB_JOB_FAILED] = "failed",
							[LB_JOB_CANCELLED] = "cancelled",
							[LB_JOB_INTERRUPTED] = "interrupted"};

const char *lb_printq_state_name(lb_job_state s)
{
	return (unsigned)s < LB_JOB_NSTATES ? print_names[s] : "?";
}

int lb_printq_state_parse(const char *name, lb_job_state *s)
{
	for (int i = 0; name && i < LB_JOB_NSTATES; i++)
		if (i != LB_JOB_UPLOADING && strcmp(name, print_names[i]) == 0) {
			*s = (lb_job_state)i;
			return 0;
		}
	return LB_EINVAL;
}

int lb_print_policy(const json_t *config, gcode_policy *p, lb_error *err)
{
	char why[160];

	memset(p, 0, sizeof *p);
	if (lb_config_num(config, "print", "max_hotend", 0, 500, GCODE_POLICY_MAX_HOTEND,
			  &p->max_hotend, err) < 0 ||
	    lb_config_num(config, "print", "max_bed", 0, 200, GCODE_POLICY_MAX_BED, &p->max_bed,
			  err) < 0)
		goto strictest;
	if (gcode_policy_forbid(p,
				lb_config_str(config, "print", "forbidden", GCODE_POLICY_FORBIDDEN),
				why, sizeof why) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "[print] forbidden: %s", why);
		goto strictest;
	}
	return 0;
strictest:
	memset(p, 0, sizeof *p);
	p->refuse_all = 1; /* nothing passes a policy that could not be read */
	return LB_EFAIL;
}

/* The store's state of job id into *st and its print name into *name (static); 0, or LB_EFAIL
 * with err "no job N". */
static int need_job(lb_printq *q, long long id, lb_job_state *st, const char **name, lb_error *err)
{
	if (lb_jobs_state(q->j, id, st, err) < 0)
		return LB_EFAIL;
	*name = lb_printq_state_name(*st);
	return 0;
}

/* The "job N is S: rule" error; returns LB_EFAIL. */
static int wrong_state(lb_error *err, long long id, const char *state, const char *rule)
{
	return lb_error_set(err, LB_ERR_INVALID_PARAMS, "job %lld is %s: %s", id, state, rule);
}

int lb_printq_progress_path(lb_printq *q, long long id, char *path, size_t cap)
{
	char folder[PQ_PATH_MAX];
	int n;

	if (!q || lb_jobs_folder(q->j, id, folder, sizeof folder, NULL) < 0)
		return LB_EINVAL;
	n = snprintf(path, cap, "%s/.progress", folder);
	return n < 0 || (size_t)n >= cap ? LB_EINVAL : 0;
}

/* Remove a job's progress file (it is folded into the job); best effort. */
static void drop_progress(lb_printq *q, long long id)
{
	char file[PQ_PATH_MAX];

	if (lb_printq_progress_path(q, id, file, sizeof file) == 0 && unlink(file) < 0 &&
	    errno != ENOENT)
		lb_warn("print queue: cannot remove %s: %s", file, strerror(errno));
}

/* The last acknowledged line and offset recorded in a progress file: 1 when it held a valid
 * record, else 0. */
static int read_progress(const char *file, int64_t *line, int64_t *offset)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return 0;
	ok = lb_progress_read(fd, line, offset) == 0;
	close(fd);
	return ok;
}

/* The store's fraction of a print at offset of a file of size bytes. */
static double fraction_of(long long offset, long long size)
{
	double f = size > 0 ? (double)offset / (double)size : 0.0;

	return f < 0.0 ? 0.0 : f > 1.0 ? 1.0 : f;
}

/* Record line and offset as job id's progress (a starting, running or paused job); 0 or
 * LB_EFAIL with err set. */
static int store_progress(lb_printq *q, long long id, int64_t line, int64_t offset,
			  int64_t now_real, lb_error *err)
{
	json_t *job = lb_jobs_get(q->j, id);
	long long size =
	    json_integer_value(json_object_get(json_object_get(job, "params"), "size"));
	char detail[96];

	json_decref(job);
	if (!job)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
	snprintf(detail, sizeof detail, "{\"line\":%lld,\"offset\":%lld}", (long long)line,
		 (long long)offset);
	return lb_jobs_progress(q->j, id, fraction_of(offset, size), detail, now_real, err);
}

/* Fold job id's progress file (written by its printer's thread at each acknowledged line) into
 * the job while it is still active; best effort. */
static void fold_progress(lb_printq *q, long long id, int64_t now_real)
{
	char file[PQ_PATH_MAX];
	int64_t line, offset;
	lb_error err = {0};

	if (lb_printq_progress_path(q, id, file, sizeof file) == 0 &&
	    read_progress(file, &line, &offset) &&
	    store_progress(q, id, line, offset, now_real, &err) < 0)
		lb_warn("print queue: job %lld: progress not folded: %s", id, err.message);
}

void lb_printq_recover(const json_t *job, const char *folder, double *fraction, json_t **detail,
		       char *error, size_t cap)
{
	char file[PQ_PATH_MAX];
	const json_t *d = json_object_get(json_object_get(job, "progress"), "detail");
	int64_t line = json_integer_value(json_object_get(d, "line"));
	int64_t offset = json_integer_value(json_object_get(d, "offset"));
	long long size =
	    json_integer_value(json_object_get(json_object_get(job, "params"), "size"));

	if (snprintf(file, sizeof file, "%s/.progress", folder) < (int)sizeof file &&
	    read_progress(file, &line, &offset)) {
		*detail =
		    json_pack("{s:I,s:I}", "line", (json_int_t)line, "offset", (json_int_t)offset);
		*fraction = fraction_of(offset, size);
	}
	snprintf(error, cap,
		 "the bridge stopped while printing (last acknowledged line %lld, byte offset "
		 "%lld)",
		 (long long)line, (long long)offset);
}

/* --------------------------------------------------------------- import of printq.db */

/* The store's state name of a printq.db state, or NULL. */
static const char *imported_state(const char *old)
{
	lb_job_state st;

	return old && lb_printq_state_parse(old, &st) == 0 ? lb_job_state_name(st) : NULL;
}

int lb_printq_import(lb_jobs *j, const char *dir, int64_t now_real, lb_error *err)
{
	char path[PQ_PATH_MAX], done[PQ_PATH_MAX + 16];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	json_t *jobs = json_array();
	int rc = LB_EFAIL, n;

	if (!dir || snprintf(path, sizeof path, "%s/printq.db", dir) >= (int)sizeof path ||
	    access(path, F_OK) != 0) {
		json_decref(jobs);
		return 0;
	}
	snprintf(done, sizeof done, "%s.imported", path);
	if (!jobs || sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot open %s: %s", path,
			     db ? sqlite3_errmsg(db) : "out of memory");
		goto done;
	}
	s = lb_db_prepare(db,
			  "SELECT id, request_id, name, owner, role, printer, assigned, state,"
			  " position, size, crc32, submitted, approved_by, started, finished,"
			  " error, line, offset, meta FROM jobs ORDER BY id",
			  err);
	if (!s)
		goto done;
	while ((n = sqlite3_step(s)) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(s, 0), size = sqlite3_column_int64(s, 9);
		long long line = sqlite3_column_int64(s, 16), offset = sqlite3_column_int64(s, 17);
		const char *st = imported_state((const char *)sqlite3_column_text(s, 7));
		const char *owner = (const char *)sqlite3_column_text(s, 3);
		json_t *meta = json_loads((const char *)sqlite3_column_text(s, 18), 0, NULL);
		json_t *o = json_object();
		char src[PQ_PATH_MAX];

		if (!o) {
			json_decref(meta);
			lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
			goto done;
		}
		snprintf(src, sizeof src, "%s/prints/%lld.gcode", dir, id);
		json_object_set_new(o, "id", json_integer(id));
		json_object_set_new(o, "kind", json_string(KIND));
		json_object_set_new(o, "owner", json_string(owner ? owner : "(unknown)"));
		json_object_set_new(o, "state", json_string(st ? st : "interrupted"));
		json_object_set_new(o, "position", json_integer(sqlite3_column_int64(s, 8)));
		json_object_set_new(o, "params",
				    json_pack("{s:O?,s:I,s:I}", "role", NULL, "size",
					      (json_int_t)size, "crc32",
					      (json_int_t)sqlite3_column_int64(s, 10)));
		if (sqlite3_column_text(s, 4))
			json_object_set_new(json_object_get(o, "params"), "role",
					    json_string((const char *)sqlite3_column_text(s, 4)));
		else
			json_object_del(json_object_get(o, "params"), "role");
		json_object_set_new(o, "meta", json_is_object(meta) ? meta : json_object());
		if (!json_is_object(meta))
			json_decref(meta);
		json_object_set_new(
		    o, "detail",
		    json_pack("{s:I,s:I}", "line", (json_int_t)line, "offset", (json_int_t)offset));
		json_object_set_new(o, "fraction", json_real(fraction_of(offset, size)));
		json_object_set_new(o, "input_src", json_string(src));
#define TEXT(key, col)                                                                             \
	if (sqlite3_column_text(s, col))                                                           \
	json_object_set_new(o, key, json_string((const char *)sqlite3_column_text(s, col)))
#define INT(key, col)                                                                              \
	if (sqlite3_column_type(s, col) != SQLITE_NULL)                                            \
	json_object_set_new(o, key, json_integer(sqlite3_column_int64(s, col)))
		TEXT("request_id", 1);
		TEXT("label", 2);
		TEXT("device", 5);
		TEXT("assigned", 6);
		TEXT("approved_by", 12);
		TEXT("error", 15);
		INT("created", 11);
		INT("started", 13);
		INT("finished", 14);
#undef TEXT
#undef INT
		json_array_append_new(jobs, o);
	}
	if (n != SQLITE_DONE) {
		lb_error_set(err, LB_ERR_INTERNAL, "%s: %s", path, sqlite3_errmsg(db));
		goto done;
	}
	n = lb_jobs_import(j, jobs, now_real, err);
	if (n < 0)
		goto done;
	/* a printing job's progress file goes with it (the store's recovery, next, folds it) */
	for (size_t i = 0; i < json_array_size(jobs); i++) {
		long long id = json_integer_value(json_object_get(json_array_get(jobs, i), "id"));
		char progress[PQ_PATH_MAX], folder[PQ_PATH_MAX];

		snprintf(progress, sizeof progress, "%s/prints/%lld.progress", dir, id);
		if (access(progress, F_OK) != 0 ||
		    snprintf(folder, sizeof folder, "%s/jobs/%lld", dir, id) >=
			(int)sizeof folder ||
		    (mkdir(folder, 0750) < 0 && errno != EEXIST))
			continue;
		strncat(folder, "/.progress", sizeof folder - strlen(folder) - 1);
		if (rename(progress, folder) < 0)
			lb_warn("print queue: cannot move %s: %s", progress, strerror(errno));
	}
	/* the beds not known clear stay so: an active job's is marked by the store's recovery */
	sqlite3_finalize(s);
	s = lb_db_prepare(db, "SELECT printer FROM beds WHERE clear = 0", err);
	while (s && sqlite3_step(s) == SQLITE_ROW)
		if (lb_jobs_device_confirm(j, (const char *)sqlite3_column_text(s, 0), false, err) <
		    0)
			goto done;
	sqlite3_finalize(s);
	s = NULL;
	sqlite3_close(db);
	db = NULL;
	/* imported (a crash before this rename imports again: ids present are left alone) */
	if (rename(path, done) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot rename %s: %s", path, strerror(errno));
		goto done;
	}
	lb_info("print queue: %d job(s) imported from %s (kept as %s)", n, path, done);
	rc = 0;
done:
	sqlite3_finalize(s);
	sqlite3_close(db);
	json_decref(jobs);
	return rc;
}

/* --------------------------------------------------------------- open and close */

/* Waiting print jobs whose G-code file is gone (removed by hand, a disk replaced) fail at once,
 * rather than when a printer takes them; best effort, problems logged. */
static void fail_lost_files(lb_printq *q, int64_t now_real)
{
	json_t *list = lb_jobs_list(q->j, KIND, false), *v;
	size_t i;

	json_array_foreach(list, i, v)
	{
		long long id = json_integer_value(json_object_get(v, "id"));
		const char *st = json_string_value(json_object_get(v, "state"));
		char path[PQ_PATH_MAX];
		lb_error err = {0};

		if (!st || (strcmp(st, "waiting_approval") != 0 && strcmp(st, "queued") != 0) ||
		    lb_printq_path(q, id, path, sizeof path) < 0 || access(path, F_OK) == 0)
			continue;
		lb_warn("print queue: job %lld has lost its G-code file: failed", id);
		if (lb_jobs_transition(q->j, id, LB_JOB_FAILED, "the G-code file is missing",
				       now_real, &err) < 0)
			lb_warn("print queue: job %lld: %s", id, err.message);
	}
	json_decref(list);
}

/* The store's validation hook of prints: a 3D model (by its first bytes) gets the model check
 * (mcheck.h), anything else the G-code check with the queue's current policy. */
static int validate(void *ctx, const char *path, json_t **meta, lb_error *err)
{
	lb_printq *q = ctx;

	if (lb_printq_sniff(path) != MODEL_NONE)
		return lb_model_check_file(path, &q->limits, meta, err);
	return lb_gcode_check_file((void *)q->policy, path, meta, err);
}

model_format lb_printq_sniff(const char *path)
{
	uint8_t head[MODEL_SNIFF_LEN];
	struct stat st;
	ssize_t n;
	model_format f;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return MODEL_NONE;
	n = fstat(fd, &st) == 0 ? read(fd, head, sizeof head) : -1;
	close(fd);
	if (n <= 0)
		return MODEL_NONE;
	f = model_sniff(head, (size_t)n, (long long)st.st_size);
	if (f == MODEL_NONE && lb_model_short_stl(head, (size_t)n, (long long)st.st_size))
		f = MODEL_STL_BINARY; /* cut short: the model check says so */
	/* a zip that does not show itself as 3MF in its head may still be one: the model
	 * check says what it holds */
	return f == MODEL_ZIP ? MODEL_3MF : f;
}

lb_printq *lb_printq_attach(lb_jobs *j, const char *dir, int64_t now_real, lb_error *err)
{
	lb_printq *q = calloc(1, sizeof *q);
	int n;

	if (!q) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	q->j = j;
	n = snprintf(q->prints, sizeof q->prints, "%s/prints", dir ? dir : "");
	if (!j || !dir || !*dir || n < 0 || (size_t)n >= sizeof q->prints) {
		lb_error_set(err, LB_ERR_INTERNAL,
			     "print queue: the data directory name is too long");
		goto fail;
	}
	lb_model_limits_default(&q->limits);
	q->up = lb_uploads_new(q->prints, PQ_PART_EXPIRY_NS, err);
	if (!q->up)
		goto fail;
	if (lb_jobs_set_validator(j, KIND, validate, q) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "print queue: cannot register its check");
		goto fail;
	}
	lb_uploads_sweep(q->up, now_real);
	fail_lost_files(q, now_real);
	return q;
fail:
	q->j = NULL;
	lb_printq_destroy(&q);
	return NULL;
}

lb_printq *lb_printq_new(const char *dir, int64_t now_real, lb_error *err)
{
	lb_jobs *j = lb_jobs_new(dir, now_real, err);
	lb_printq *q = j ? lb_printq_attach(j, dir, now_real, err) : NULL;

	if (!q) {
		lb_jobs_destroy(&j);
		return NULL;
	}
	q->own = true;
	return q;
}

void lb_printq_destroy(lb_printq **pq)
{
	if (!pq || !*pq)
		return;
	/* a borrowed store is left alone: the server may have closed it already */
	if ((*pq)->own)
		lb_jobs_destroy(&(*pq)->j);
	lb_uploads_destroy(&(*pq)->up);
	free(*pq);
	*pq = NULL;
}

lb_jobs *lb_printq_store(lb_printq *q)
{
	return q ? q->j : NULL;
}

/* --------------------------------------------------------------- jobs as clients see them */

json_t *lb_printq_from_store(const json_t *sj)
{
	json_t *o, *meta, *params, *detail;
	lb_job_state st = LB_JOB_INTERRUPTED;
	long long size, offset;
	double percent;

	if (!sj)
		return NULL;
	o = json_object();
	if (!o)
		return NULL;
	meta = json_object_get(sj, "meta");
	params = json_object_get(sj, "params");
	detail = json_object_get(json_object_get(sj, "progress"), "detail");
	size = json_integer_value(json_object_get(params, "size"));
	/* a model job prints its G-code: its size is that file's, once sliced */
	if (json_is_integer(json_object_get(meta, "gcode_size")))
		size = json_integer_value(json_object_get(meta, "gcode_size"));
	offset = json_integer_value(json_object_get(detail, "offset"));
	percent = size > 0 ? 100.0 * (double)offset / (double)size : 0.0;
	if (percent > 100.0)
		percent = 100.0;
	lb_job_state_parse(json_string_value(json_object_get(sj, "state")), &st);
	json_object_set(o, "id", json_object_get(sj, "id"));
	json_object_set(o, "request_id", json_object_get(sj, "request_id"));
	json_object_set(o, "name", json_object_get(sj, "label"));
	json_object_set(o, "owner", json_object_get(sj, "owner"));
	json_object_set_new(o, "role",
			    json_is_string(json_object_get(params, "role"))
				? json_copy(json_object_get(params, "role"))
				: json_null());
	json_object_set(o, "printer", json_object_get(sj, "device"));
	json_object_set(o, "assigned", json_object_get(sj, "assigned"));
	json_object_set_new(o, "state", json_string(lb_printq_state_name(st)));
	json_object_set(o, "position", json_object_get(sj, "position"));
	json_object_set_new(o, "size", json_integer(size));
	json_object_set_new(o, "crc32",
			    json_is_integer(json_object_get(params, "crc32"))
				? json_copy(json_object_get(params, "crc32"))
				: json_null());
	json_object_set(o, "submitted", json_object_get(sj, "created"));
	json_object_set(o, "approved_by", json_object_get(sj, "approved_by"));
	json_object_set(o, "started", json_object_get(sj, "started"));
	json_object_set(o, "finished", json_object_get(sj, "finished"));
	json_object_set(o, "error", json_object_get(sj, "error"));
	json_object_set_new(
	    o, "progress",
	    json_pack("{s:I,s:I,s:O,s:f}", "line",
		      (json_int_t)json_integer_value(json_object_get(detail, "line")), "offset",
		      (json_int_t)offset, "lines",
		      json_object_get(meta, "lines") ? json_object_get(meta, "lines") : json_null(),
		      "percent", (double)(long long)(percent * 10.0) / 10.0));
	json_object_set(o, "meta", meta ? meta : json_object());
	/* a model job: what was uploaded and how it is sliced (null for G-code) */
	if (json_is_string(json_object_get(params, "model"))) {
		json_t *m = json_object_get(meta, "model");
		json_object_set_new(o, "model", json_is_object(m) ? json_copy(m) : json_object());
		json_object_set(json_object_get(o, "model"), "format",
				json_object_get(params, "model"));
		json_object_set(o, "preset", json_object_get(params, "preset"));
		json_object_set_new(o, "scale",
				    json_is_number(json_object_get(params, "scale"))
					? json_copy(json_object_get(params, "scale"))
					: json_null());
		json_object_set_new(o, "rotate",
				    json_is_number(json_object_get(params, "rotate"))
					? json_copy(json_object_get(params, "rotate"))
					: json_null());
	} else {
		json_object_set_new(o, "model", json_null());
		json_object_set_new(o, "preset", json_null());
	}
	json_object_set_new(o, "hold",
			    st == LB_JOB_WAITING_APPROVAL &&
				    json_is_string(json_object_get(meta, "hold"))
				? json_copy(json_object_get(meta, "hold"))
				: json_null());
	return o;
}

json_t *lb_printq_job(lb_printq *q, long long id)
{
	json_t *sj = q ? lb_jobs_get(q->j, id) : NULL;
	json_t *o = NULL;

	if (sj && strcmp(json_string_value(json_object_get(sj, "kind")), KIND) == 0)
		o = lb_printq_from_store(sj);
	json_decref(sj);
	return o;
}

json_t *lb_printq_list(lb_printq *q, bool history)
{
	json_t *a = json_array(), *sa = q ? lb_jobs_list(q->j, KIND, history) : NULL;
	size_t i;
	json_t *v;

	json_array_foreach(sa, i, v)
	{
		if (strcmp(json_string_value(json_object_get(v, "state")), "uploading") != 0)
			json_array_append_new(a, lb_printq_from_store(v));
	}
	json_decref(sa);
	return a;
}

int lb_printq_path(lb_printq *q, long long id, char *path, size_t cap)
{
	json_t *sj = q ? lb_jobs_get(q->j, id) : NULL;
	const char *kind = json_string_value(json_object_get(sj, "kind"));
	bool model = json_is_string(json_object_get(json_object_get(sj, "params"), "model"));
	bool print = kind && strcmp(kind, KIND) == 0;
	char folder[PQ_PATH_MAX];
	int n;

	json_decref(sj);
	if (!print)
		return LB_EINVAL;
	if (!model)
		return lb_jobs_input_path(q->j, id, path, cap);
	/* a model job prints the G-code its slicing left */
	if (lb_jobs_folder(q->j, id, folder, sizeof folder, NULL) < 0)
		return LB_EINVAL;
	n = snprintf(path, cap, "%s/" LB_PRINTQ_GCODE, folder);
	return n < 0 || (size_t)n >= cap ? LB_EINVAL : 0;
}

/* --------------------------------------------------------------- uploads */

/* A job as the result of an upload whose request id already made it; 0 or LB_EFAIL. */
static int duplicate_result(lb_printq *q, long long id, json_t **result, lb_error *err)
{
	*result = lb_printq_job(q, id);
	if (!*result)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read job %lld", id);
	json_object_set_new(*result, "duplicate", json_true());
	return 0;
}

/*
 * The final chunk is in: check the whole part file (size bytes, synced), then submit it to the
 * store (which runs the G-code check, its validation hook, and moves the file into the job's
 * folder). On a bad file (checksum, policy, empty) the part is removed. 0 with *result the job,
 * or LB_EFAIL with err set.
 */
static int finish_upload(lb_printq *q, const lb_upload *u, int fd, const char *part, long long size,
			 const gcode_policy *policy, json_t **result, lb_error *err)
{
	lb_job_spec spec = {0};
	char *params = NULL;
	uint32_t crc = 0;
	long long id;
	model_format mf;
	json_t *po;

	if (size == 0) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "the file is empty");
		goto reject;
	}
	if (lb_upload_file_crc(fd, size, &crc) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", part,
				    strerror(errno));
	if (u->has_crc && crc != u->crc32) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "checksum mismatch: file has crc32 %lu, expected %lu",
			     (unsigned long)crc, (unsigned long)u->crc32);
		goto reject;
	}
	/* {"role", "size", "crc32"} and for a model {"model": format, "preset", "scale"?,
	 * "rotate"?}: what its slicing needs */
	mf = lb_printq_sniff(part);
	po = json_pack("{s:s?,s:I,s:I}", "role", u->role, "size", (json_int_t)size, "crc32",
		       (json_int_t)crc);
	if (po && mf != MODEL_NONE) {
		json_object_set_new(po, "model", json_string(lb_model_format_key(mf)));
		json_object_set_new(po, "preset", json_string(u->preset ? u->preset : "normal"));
		if (u->scale > 0)
			json_object_set_new(po, "scale", json_real(u->scale));
		if (u->rotate != 0)
			json_object_set_new(po, "rotate", json_real(u->rotate));
	}
	params = po ? json_dumps(po, JSON_COMPACT) : NULL;
	json_decref(po);
	if (!params)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	spec.preparing = mf != MODEL_NONE;
	spec.kind = KIND;
	spec.owner = u->owner;
	spec.label = u->name;
	spec.device = u->printer;
	spec.request_id = u->request_id;
	spec.params = params;
	spec.input = part;
	spec.needs_approval = !u->approve;
	spec.approved_by = u->approve ? u->owner : NULL;
	q->policy = policy;
	id = lb_jobs_submit(q->j, &spec, u->now_real, NULL, err);
	q->policy = NULL;
	free(params);
	if (id < 0) {
		if (err && err->code == LB_ERR_INVALID_PARAMS)
			unlink(part);
		return LB_EFAIL;
	}
	*result = lb_printq_job(q, id);
	if (!*result)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read job %lld", id);
	return 0;
reject:
	unlink(part);
	return LB_EFAIL;
}

int lb_printq_upload(lb_printq *q, const lb_upload *u, const void *chunk, size_t len,
		     const gcode_policy *policy, json_t **result, lb_error *err)
{
	lb_upload_chunk c = {0};
	long long id, size = 0;
	int fd = -1, rc;

	if (result)
		*result = NULL;
	if (!q || !u || !result || (len > 0 && !chunk))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid upload arguments");
	if (!u->request_id || !*u->request_id)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "an upload needs a request id");
	if (!u->owner || !*u->owner)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "an upload needs an owner");
	if (u->offset < 0 || len > (size_t)(LLONG_MAX - u->offset))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid offset %lld", u->offset);
	id = lb_jobs_find_request(q->j, KIND, u->owner, u->request_id, err);
	if (id < 0)
		return LB_EFAIL;
	if (id > 0)
		return duplicate_result(q, id, result, err);
	c.key = u->request_id;
	c.offset = u->offset;
	c.final = u->final;
	c.has_crc = u->has_chunk_crc;
	c.crc32 = u->chunk_crc32;
	c.max_bytes = u->max_bytes;
	c.now_real = u->now_real;
	if (lb_uploads_write(q->up, &c, chunk, len, &size, &fd, err) < 0)
		return LB_EFAIL;
	if (!u->final) {
		*result = json_pack("{s:I}", "received", (json_int_t)size);
		return *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	{
		char part[PQ_PATH_MAX];
		if (lb_uploads_path(q->up, u->request_id, part, sizeof part) < 0)
			rc = lb_error_set(err, LB_ERR_INTERNAL, "print queue: path too long");
		else
			rc = finish_upload(q, u, fd, part, size, policy, result, err);
	}
	close(fd);
	return rc;
}

/* --------------------------------------------------------------- states */

int lb_printq_approve(lb_printq *q, long long id, const char *by, int64_t now_real, lb_error *err)
{
	lb_job_state st;
	const char *name;

	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (need_job(q, id, &st, &name, err) < 0)
		return LB_EFAIL;
	if (st != LB_JOB_WAITING_APPROVAL)
		return wrong_state(err, id, name, "only submitted jobs can be approved");
	return lb_jobs_approve(q->j, id, by, now_real, err);
}

int lb_printq_transition(lb_printq *q, long long id, const char *state, const char *printer,
			 const char *error, int64_t now_real, lb_error *err)
{
	lb_job_state from, to;
	const char *name;

	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (lb_printq_state_parse(state, &to) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "unknown job state \"%s\" (one of: " LB_JOB_STATES ")",
				    state ? state : "");
	if (need_job(q, id, &from, &name, err) < 0)
		return LB_EFAIL;
	if (from == to && !lb_job_state_finished(to))
		return 0; /* a printer repeating its state: nothing changes */
	if (!lb_job_transition_allowed(from, to) || lb_job_state_finished(from))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "job %lld is %s: cannot go to %s",
				    id, name, lb_printq_state_name(to));
	/* finishing: the exact last position is in the file, however the job ended */
	if (lb_job_state_finished(to) &&
	    (from == LB_JOB_STARTING || from == LB_JOB_RUNNING || from == LB_JOB_PAUSED))
		fold_progress(q, id, now_real);
	if (lb_jobs_transition_on(q->j, id, to, printer, error, now_real, err) < 0)
		return LB_EFAIL;
	if (lb_job_state_finished(to))
		drop_progress(q, id);
	return 0;
}

int lb_printq_progress(lb_printq *q, long long id, long line, long long offset, int64_t now_real,
		       lb_error *err)
{
	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (line < 0 || offset < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "negative progress");
	return store_progress(q, id, line, offset, now_real, err);
}

int lb_printq_cancel(lb_printq *q, long long id, int64_t now_real, const char **was, lb_error *err)
{
	lb_job_state st;
	const char *name;

	if (was)
		*was = NULL;
	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (need_job(q, id, &st, &name, err) < 0)
		return LB_EFAIL;
	if (lb_job_state_finished(st))
		return wrong_state(err, id, name, "only unfinished jobs can be cancelled");
	if (lb_printq_transition(q, id, "cancelled", NULL, NULL, now_real, err) < 0)
		return LB_EFAIL;
	if (was)
		*was = name;
	return 0;
}

int lb_printq_retry(lb_printq *q, long long id, bool reslice, int64_t now_real, lb_error *err)
{
	lb_job_state st;
	const char *name;
	json_t *job;
	bool approved, model;
	char path[PQ_PATH_MAX];

	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (need_job(q, id, &st, &name, err) < 0)
		return LB_EFAIL;
	if (st != LB_JOB_FAILED && st != LB_JOB_CANCELLED && st != LB_JOB_INTERRUPTED)
		return wrong_state(err, id, name,
				   "only failed, cancelled or interrupted jobs can be retried");
	/* a job cancelled before a teacher approved it goes back to waiting for approval; a
	 * model job with no G-code yet (its slicing failed) is sliced again */
	job = lb_jobs_get(q->j, id);
	approved = json_is_string(json_object_get(job, "approved_by"));
	model = json_is_string(json_object_get(json_object_get(job, "params"), "model"));
	json_decref(job);
	drop_progress(q, id);
	if (model &&
	    (reslice || lb_printq_path(q, id, path, sizeof path) < 0 || access(path, R_OK) != 0))
		return lb_jobs_transition(q->j, id, LB_JOB_PREPARING, NULL, now_real, err);
	return lb_jobs_transition(q->j, id, approved ? LB_JOB_QUEUED : LB_JOB_WAITING_APPROVAL,
				  NULL, now_real, err);
}

int lb_printq_delete(lb_printq *q, long long id, lb_error *err)
{
	lb_job_state st;
	const char *name;

	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (need_job(q, id, &st, &name, err) < 0)
		return LB_EFAIL;
	if (!lb_job_state_finished(st) && st != LB_JOB_WAITING_APPROVAL)
		return wrong_state(
		    err, id, name,
		    "only finished or submitted jobs can be deleted (cancel it first)");
	return lb_jobs_delete(q->j, id, err);
}

int lb_printq_move(lb_printq *q, long long id, int pos, int64_t now_real, lb_error *err)
{
	lb_job_state st;
	const char *name;

	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (pos < 1)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "position %d: positions start at 1 (next)", pos);
	if (need_job(q, id, &st, &name, err) < 0)
		return LB_EFAIL;
	if (st != LB_JOB_WAITING_APPROVAL && st != LB_JOB_QUEUED)
		return wrong_state(err, id, name,
				   "only waiting (submitted or approved) jobs can be moved");
	return lb_jobs_move(q->j, id, pos, now_real, err);
}

long long lb_printq_next(lb_printq *q, const char *printer)
{
	long long id = q ? lb_jobs_next(q->j, KIND, printer) : 0;

	return id > 0 ? id : 0;
}

bool lb_printq_bed_clear(lb_printq *q, const char *printer)
{
	return !q || lb_jobs_device_confirmed(q->j, printer);
}

int lb_printq_set_bed(lb_printq *q, const char *printer, bool clear, lb_error *err)
{
	if (!q || !printer)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no printer given");
	return lb_jobs_device_confirm(q->j, printer, clear, err);
}

/* --------------------------------------------------------------- model jobs */

int lb_printq_sliced(lb_printq *q, long long id, const char *gcode, const json_t *checked,
		     const json_t *extra, const char *hold, int64_t now_real, lb_error *err)
{
	json_t *sj, *all = NULL;
	char *text = NULL;
	struct stat gst;
	lb_job_state st;
	const char *name;
	bool approved;
	int rc = LB_EFAIL;

	if (!q || !gcode)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid arguments");
	if (need_job(q, id, &st, &name, err) < 0)
		return LB_EFAIL;
	if (st != LB_JOB_PREPARING)
		return wrong_state(err, id, name, "only a job being sliced can take its G-code");
	sj = lb_jobs_get(q->j, id);
	all = json_object_get(sj, "meta");
	all = json_is_object(all) ? json_copy(all) : json_object();
	if (checked)
		json_object_update(all, (json_t *)checked);
	if (extra)
		json_object_update(all, (json_t *)extra);
	if (stat(gcode, &gst) == 0)
		json_object_set_new(all, "gcode_size", json_integer((json_int_t)gst.st_size));
	if (hold)
		json_object_set_new(all, "hold", json_string(hold));
	else
		json_object_del(all, "hold");
	approved = json_is_string(json_object_get(sj, "approved_by"));
	json_decref(sj);
	text = json_dumps(all, JSON_COMPACT);
	if (!text) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto done;
	}
	{
		lb_job_file f = {LB_PRINTQ_GCODE, gcode};
		rc = lb_jobs_update(q->j, id, &f, 1, text,
				    approved && !hold ? LB_JOB_QUEUED : LB_JOB_WAITING_APPROVAL,
				    now_real, err);
	}
done:
	free(text);
	json_decref(all);
	return rc;
}

/* Job id's meta with key set to value (taken), as JSON text to free, or NULL with err set (no
 * such job, out of memory). */
static char *meta_with(lb_printq *q, long long id, const char *key, json_t *value, lb_error *err)
{
	json_t *sj = lb_jobs_get(q->j, id), *meta;
	char *text;

	if (!sj) {
		json_decref(value);
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
		return NULL;
	}
	meta = json_object_get(sj, "meta");
	meta = json_is_object(meta) ? json_copy(meta) : json_object();
	json_decref(sj);
	json_object_set_new(meta, key, value);
	text = json_dumps(meta, JSON_COMPACT);
	json_decref(meta);
	if (!text)
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	return text;
}

int lb_printq_add_result(lb_printq *q, long long id, const char *name, const char *src,
			 const char *key, json_t *value, int64_t now_real, lb_error *err)
{
	lb_job_file f = {name, src};
	char *text;
	int rc;

	if (!q || !key || !value)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid arguments");
	text = meta_with(q, id, key, json_incref(value), err);
	if (!text)
		return LB_EFAIL;
	rc = lb_jobs_update(q->j, id, &f, 1, text, -1, now_real, err);
	free(text);
	return rc;
}

int lb_printq_hold(lb_printq *q, long long id, const char *why, int64_t now_real, lb_error *err)
{
	char *text;
	int rc;

	if (!q || !why)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid arguments");
	text = meta_with(q, id, "hold", json_string(why), err);
	if (!text)
		return LB_EFAIL;
	rc = lb_jobs_update(q->j, id, NULL, 0, text, LB_JOB_WAITING_APPROVAL, now_real, err);
	free(text);
	return rc;
}
