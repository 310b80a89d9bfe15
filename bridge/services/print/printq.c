/* printq.c - the classroom print queue: jobs, their G-code files and states, in SQLite (WAL). */
#include "printq.h"

#include "../../util/db.h"

#include <dirent.h>
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
#include "../../util/grow.h"
#include "../../util/log.h"
#include "../../sdk/progress.h"
#include "../jobs/upload.h"
#include "gcheck.h"

#define PQ_PATH_MAX 1024
/* An upload untouched for this long is abandoned: its part file is removed (at start, and when
 * an upload starts). Long enough for a client to resume after a bridge restart. */
#define PQ_PART_EXPIRY_NS (3600LL * 1000000000LL)

struct lb_printq {
	sqlite3 *db;
	char prints[PQ_PATH_MAX - 128]; /* dir/prints */
	lb_uploads *up;			/* the part files of uploads, in dir/prints */
};

/* The job states, as in LB_JOB_STATES; cancel hands out these strings (static storage). */
static const char *const job_states[] = {"submitted", "approved",  "queued",
					 "printing",  "paused",	   "done",
					 "failed",    "cancelled", "interrupted"};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT UNIQUE NOT NULL,"
    " name TEXT, owner TEXT, role TEXT, printer TEXT, assigned TEXT,"
    " state TEXT NOT NULL, position INTEGER NOT NULL,"
    " size INTEGER NOT NULL, crc32 INTEGER NOT NULL, submitted INTEGER NOT NULL,"
    " approved_by TEXT, started INTEGER, finished INTEGER, error TEXT,"
    " line INTEGER NOT NULL DEFAULT 0, offset INTEGER NOT NULL DEFAULT 0,"
    " meta TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, position);"
    "CREATE TABLE IF NOT EXISTS beds (printer TEXT PRIMARY KEY, clear INTEGER NOT NULL);";

#define JOB_COLS                                                                                   \
	"id, request_id, name, owner, role, printer, assigned, state, position, size, crc32, "     \
	"submitted, approved_by, started, finished, error, line, offset, meta"

#define WAITING "('submitted', 'approved')"
#define ACTIVE "('queued', 'printing', 'paused')"
#define FINISHED "('done', 'failed', 'cancelled', 'interrupted')"

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

/* The static string of a known state, or NULL. */
static const char *state_static(const char *state)
{
	for (size_t i = 0; state && i < sizeof job_states / sizeof *job_states; i++)
		if (strcmp(state, job_states[i]) == 0)
			return job_states[i];
	return NULL;
}

/* Whether a state is one of the finished ones (done, failed, cancelled, interrupted). */
static bool is_finished(const char *state)
{
	return strcmp(state, "done") == 0 || strcmp(state, "failed") == 0 ||
	       strcmp(state, "cancelled") == 0 || strcmp(state, "interrupted") == 0;
}

/* Whether a state is a waiting one (submitted, approved). */
static bool is_waiting(const char *state)
{
	return strcmp(state, "submitted") == 0 || strcmp(state, "approved") == 0;
}

/* fsync a directory so that renames and unlinks in it are durable; 0 or -1 with errno. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The file of job id into path[cap]; 0, or LB_EINVAL when it does not fit. */
static int gcode_path(lb_printq *q, long long id, char *path, size_t cap)
{
	int n = snprintf(path, cap, "%s/%lld.gcode", q->prints, id);

	return n < 0 || (size_t)n >= cap ? LB_EINVAL : 0;
}

int lb_printq_progress_path(lb_printq *q, long long id, char *path, size_t cap)
{
	int n = q ? snprintf(path, cap, "%s/%lld.progress", q->prints, id) : -1;

	return n < 0 || (size_t)n >= cap ? LB_EINVAL : 0;
}

/* Remove a job's progress file (it is folded into the database); best effort. */
static void drop_progress(lb_printq *q, long long id)
{
	char file[PQ_PATH_MAX];

	if (lb_printq_progress_path(q, id, file, sizeof file) == 0 && unlink(file) < 0 &&
	    errno != ENOENT)
		lb_warn("print queue: cannot remove %s: %s", file, strerror(errno));
}

/* Write a job's last acknowledged line and byte offset into its row: 0, or LB_EFAIL with err. */
static int store_progress(lb_printq *q, long long id, int64_t line, int64_t offset, lb_error *err)
{
	sqlite3_stmt *s =
	    lb_db_prepare(q->db, "UPDATE jobs SET line = ?, offset = ? WHERE id = ?", err);

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_int64(s, 1, line);
	sqlite3_bind_int64(s, 2, offset);
	sqlite3_bind_int64(s, 3, id);
	return lb_db_run(q->db, s, err) < 0 ? LB_EFAIL : 0;
}

/*
 * Fold job id's progress file (written by its printer's thread at each acknowledged line) into
 * its row: 1 when the file held a valid record and the row took it, 0 when there is none,
 * LB_EFAIL with err set on a database error.
 */
static int fold_progress(lb_printq *q, long long id, lb_error *err)
{
	char file[PQ_PATH_MAX];
	int64_t line, offset;
	int fd, ok;

	if (lb_printq_progress_path(q, id, file, sizeof file) < 0)
		return 0;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ok = lb_progress_read(fd, &line, &offset) == 0;
	close(fd);
	if (!ok)
		return 0;
	return store_progress(q, id, line, offset, err) < 0 ? LB_EFAIL : 1;
}

/* A text column as a JSON string, or null. */
static json_t *col_text(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	return t ? json_string((const char *)t) : json_null();
}

/* An integer column as a JSON integer, or null. */
static json_t *col_int(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? json_null()
							: json_integer(sqlite3_column_int64(s, i));
}

/*
 * The job of the current row of a JOB_COLS statement as a new object; rank is its place among
 * the waiting jobs (1 = next), 0 when it is not waiting (position null). NULL when out of memory.
 */
static json_t *job_from_row(sqlite3_stmt *s, long rank)
{
	json_t *j = json_object(), *meta, *progress;
	long long size = sqlite3_column_int64(s, 9), offset = sqlite3_column_int64(s, 17);
	double percent = size > 0 ? 100.0 * (double)offset / (double)size : 0.0;

	if (!j)
		return NULL;
	meta = json_loads((const char *)sqlite3_column_text(s, 18), 0, NULL);
	if (!json_is_object(meta)) {
		json_decref(meta);
		meta = json_object();
	}
	if (percent > 100.0)
		percent = 100.0;
	progress =
	    json_pack("{s:I,s:I,s:O,s:f}", "line", (json_int_t)sqlite3_column_int64(s, 16),
		      "offset", (json_int_t)offset, "lines",
		      json_object_get(meta, "lines") ? json_object_get(meta, "lines") : json_null(),
		      "percent", (double)(long long)(percent * 10.0) / 10.0);
	json_object_set_new(j, "id", json_integer(sqlite3_column_int64(s, 0)));
	json_object_set_new(j, "request_id", col_text(s, 1));
	json_object_set_new(j, "name", col_text(s, 2));
	json_object_set_new(j, "owner", col_text(s, 3));
	json_object_set_new(j, "role", col_text(s, 4));
	json_object_set_new(j, "printer", col_text(s, 5));
	json_object_set_new(j, "assigned", col_text(s, 6));
	json_object_set_new(j, "state", col_text(s, 7));
	json_object_set_new(j, "position", rank > 0 ? json_integer(rank) : json_null());
	json_object_set_new(j, "size", json_integer(size));
	json_object_set_new(j, "crc32", col_int(s, 10));
	json_object_set_new(j, "submitted", col_int(s, 11));
	json_object_set_new(j, "approved_by", col_text(s, 12));
	json_object_set_new(j, "started", col_int(s, 13));
	json_object_set_new(j, "finished", col_int(s, 14));
	json_object_set_new(j, "error", col_text(s, 15));
	json_object_set_new(j, "progress", progress ? progress : json_null());
	json_object_set_new(j, "meta", meta ? meta : json_null());
	return j;
}

/*
 * A job's state (a static string) into *state; 1 when found, 0 with err "no job N" when not,
 * LB_EFAIL with err set on a database error.
 */
static int job_state(lb_printq *q, long long id, const char **state, lb_error *err)
{
	sqlite3_stmt *s = lb_db_prepare(q->db, "SELECT state FROM jobs WHERE id = ?", err);
	int rc;

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*state = state_static((const char *)sqlite3_column_text(s, 0));
		if (!*state)
			*state = "interrupted"; /* an unknown state written by someone else */
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
	} else {
		rc = lb_error_set(err, LB_ERR_INTERNAL, "print queue database: %s",
				  sqlite3_errmsg(q->db));
	}
	sqlite3_finalize(s);
	return rc;
}

/*
 * Like job_state, but 0 only when found: no such job is LB_EFAIL with err "no job N" too, so
 * callers need one test.
 */
static int need_job(lb_printq *q, long long id, const char **state, lb_error *err)
{
	int rc = job_state(q, id, state, err);

	return rc == 1 ? 0 : LB_EFAIL;
}

/* The id of the job made by a request id: > 0, 0 when none, LB_EFAIL with err set. */
static long long job_by_request(lb_printq *q, const char *request_id, lb_error *err)
{
	sqlite3_stmt *s = lb_db_prepare(q->db, "SELECT id FROM jobs WHERE request_id = ?", err);
	long long id = 0;
	int rc;

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, request_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		id = lb_error_set(err, LB_ERR_INTERNAL, "print queue database: %s",
				  sqlite3_errmsg(q->db));
	sqlite3_finalize(s);
	return id;
}

/*
 * After a crash: move the part files of jobs whose insert committed but whose rename did not
 * happen; fail waiting jobs that have no file at all; remove <id>.gcode files that no job owns
 * (a delete interrupted between its row and its file). Best effort: problems are logged.
 */
static void recover_files(lb_printq *q, int64_t now_real)
{
	sqlite3_stmt *s = lb_db_prepare(q->db, "SELECT id, request_id, state FROM jobs", NULL);
	long long *lost = NULL;
	size_t nlost = 0, cap = 0;
	int moved = 0;
	DIR *d;
	struct dirent *e;

	while (s && sqlite3_step(s) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(s, 0);
		const char *rid = (const char *)sqlite3_column_text(s, 1);
		const char *state = (const char *)sqlite3_column_text(s, 2);
		char file[PQ_PATH_MAX], part[PQ_PATH_MAX];

		if (gcode_path(q, id, file, sizeof file) < 0 || access(file, F_OK) == 0 || !rid)
			continue;
		if (lb_uploads_path(q->up, rid, part, sizeof part) == 0 &&
		    rename(part, file) == 0) {
			lb_info("print queue: job %lld: finished moving its file after a restart",
				id);
			moved++;
		} else if (state && is_waiting(state) &&
			   lb_grow(&lost, &cap, nlost, sizeof *lost) == 0) {
			lost[nlost++] = id;
		}
	}
	sqlite3_finalize(s);
	if (moved && sync_dir(q->prints) < 0)
		lb_warn("print queue: cannot sync %s: %s", q->prints, strerror(errno));
	for (size_t i = 0; i < nlost; i++) {
		lb_warn("print queue: job %lld has lost its G-code file: failed", lost[i]);
		lb_printq_set_state(q, lost[i], "failed", NULL, "the G-code file is missing",
				    now_real, NULL);
	}
	free(lost);

	d = opendir(q->prints);
	s = lb_db_prepare(q->db, "SELECT 1 FROM jobs WHERE id = ?", NULL);
	while (d && s && (e = readdir(d))) {
		char *end;
		long long id = strtoll(e->d_name, &end, 10);
		char file[PQ_PATH_MAX];

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || strcmp(end, ".gcode") != 0)
			continue;
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, id);
		if (sqlite3_step(s) != SQLITE_DONE)
			continue;
		if (gcode_path(q, id, file, sizeof file) == 0 &&
		    strcmp(file + strlen(q->prints) + 1, e->d_name) == 0) {
			lb_info("print queue: removing %s (no job owns it)", file);
			unlink(file);
		}
	}
	sqlite3_finalize(s);
	if (d)
		closedir(d);
}

/*
 * After a stop: jobs left queued, printing or paused take the last acknowledged position from
 * their progress file and become interrupted, and their printers' beds are marked not clear
 * (a part may be on them), in one transaction. 0, or LB_EFAIL with err set.
 */
static int recover_active(lb_printq *q, int64_t now_real, lb_error *err)
{
	sqlite3_stmt *s;
	long long *ids = NULL;
	size_t nids = 0, cap = 0;
	int rc = LB_EFAIL, changed;

	if (lb_db_exec(q->db, "BEGIN IMMEDIATE", err) < 0)
		return LB_EFAIL;
	s = lb_db_prepare(q->db, "SELECT id FROM jobs WHERE state IN " ACTIVE, err);
	if (!s)
		goto done;
	while (sqlite3_step(s) == SQLITE_ROW)
		if (lb_grow(&ids, &cap, nids, sizeof *ids) == 0)
			ids[nids++] = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	for (size_t i = 0; i < nids; i++)
		if (fold_progress(q, ids[i], err) < 0)
			goto done;
	/* a database written before beds were marked at the start of a job: mark them now */
	s = lb_db_prepare(q->db,
			  "INSERT OR REPLACE INTO beds (printer, clear) SELECT DISTINCT assigned, 0"
			  " FROM jobs WHERE state IN " ACTIVE " AND assigned IS NOT NULL",
			  err);
	if (!s || lb_db_run(q->db, s, err) < 0)
		goto done;
	s = lb_db_prepare(
	    q->db,
	    "UPDATE jobs SET state = 'interrupted', finished = ?,"
	    " error = 'the bridge stopped while printing (last acknowledged line ' || line"
	    " || ', byte offset ' || offset || ')' WHERE state IN " ACTIVE,
	    err);
	if (!s)
		goto done;
	sqlite3_bind_int64(s, 1, now_real);
	if (lb_db_run(q->db, s, err) < 0)
		goto done;
	changed = sqlite3_changes(q->db);
	if (lb_db_exec(q->db, "COMMIT", err) < 0)
		goto done;
	rc = 0;
	if (changed > 0)
		lb_warn("print queue: %d job(s) interrupted by the last stop: their printers wait "
			"for printer.clear",
			changed);
	for (size_t i = 0; i < nids; i++)
		drop_progress(q, ids[i]);
done:
	if (rc < 0)
		lb_db_exec(q->db, "ROLLBACK", NULL);
	free(ids);
	return rc;
}

lb_printq *lb_printq_new(const char *dir, int64_t now_real, lb_error *err)
{
	lb_printq *q = calloc(1, sizeof *q);
	char path[PQ_PATH_MAX];
	int n;

	if (!q) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	n = snprintf(q->prints, sizeof q->prints, "%s/prints", dir ? dir : "");
	if (!dir || !*dir || n < 0 || (size_t)n >= sizeof q->prints) {
		lb_error_set(err, LB_ERR_INTERNAL,
			     "print queue: the data directory name is too long");
		goto fail;
	}
	/* the part files of uploads live beside the jobs' files (a rename makes a job's file) */
	q->up = lb_uploads_new(q->prints, PQ_PART_EXPIRY_NS, err);
	if (!q->up)
		goto fail;
	snprintf(path, sizeof path, "%s/printq.db", dir);
	q->db = lb_db_open(path, schema, err);
	if (!q->db)
		goto fail;
	if (recover_active(q, now_real, err) < 0)
		goto fail;
	recover_files(q, now_real);
	lb_uploads_sweep(q->up, now_real);
	return q;
fail:
	lb_printq_destroy(&q);
	return NULL;
}

void lb_printq_destroy(lb_printq **pq)
{
	if (!pq || !*pq)
		return;
	sqlite3_close((*pq)->db);
	lb_uploads_destroy(&(*pq)->up);
	free(*pq);
	*pq = NULL;
}

/* A file's place among the waiting jobs (1 = next): 0 when it is not waiting or on error. */
static long waiting_rank(lb_printq *q, long long id)
{
	sqlite3_stmt *s = lb_db_prepare(q->db,
					"SELECT COUNT(*) FROM jobs j, jobs me WHERE me.id = ?1"
					" AND me.state IN " WAITING " AND j.state IN " WAITING
					" AND (j.position < me.position OR"
					" (j.position = me.position AND j.id <= me.id))",
					NULL);
	long rank = 0;

	if (!s)
		return 0;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		rank = (long)sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return rank;
}

json_t *lb_printq_job(lb_printq *q, long long id)
{
	sqlite3_stmt *s =
	    q ? lb_db_prepare(q->db, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", NULL) : NULL;
	json_t *j = NULL;

	if (!s)
		return NULL;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		j = job_from_row(s, waiting_rank(q, id));
	sqlite3_finalize(s);
	return j;
}

json_t *lb_printq_list(lb_printq *q, bool history)
{
	sqlite3_stmt *s =
	    q ? lb_db_prepare(q->db,
			      history ? "SELECT " JOB_COLS " FROM jobs WHERE state IN " FINISHED
					" ORDER BY finished DESC, id DESC"
				      : "SELECT " JOB_COLS " FROM jobs WHERE state NOT IN " FINISHED
					" ORDER BY state IN " WAITING ", position, id",
			      NULL)
	      : NULL;
	json_t *a = json_array();
	long rank = 0;

	if (!s || !a)
		goto cleanup;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(s, 7);
		bool waiting = state && is_waiting(state);

		json_array_append_new(a, job_from_row(s, waiting ? ++rank : 0));
	}
cleanup:
	sqlite3_finalize(s);
	return a;
}

int lb_printq_path(lb_printq *q, long long id, char *path, size_t cap)
{
	const char *state;

	if (!q || !path || need_job(q, id, &state, NULL) < 0)
		return LB_EINVAL;
	return gcode_path(q, id, path, cap);
}

/*
 * Insert the job of a checked upload, durably (synchronous=FULL for this one statement, which is
 * its own transaction), at the end of the queue: its id (> 0), or LB_EFAIL with err set.
 */
static long long insert_job(lb_printq *q, const lb_upload *u, long long size, uint32_t crc,
			    const char *meta, lb_error *err)
{
	sqlite3_stmt *s;
	long long id = LB_EFAIL;

	if (lb_db_exec(q->db, "PRAGMA synchronous=FULL", err) < 0)
		return LB_EFAIL;
	s = lb_db_prepare(
	    q->db,
	    "INSERT INTO jobs (request_id, name, owner, role, printer, state, position,"
	    " size, crc32, submitted, approved_by, meta) VALUES (?, ?, ?, ?, ?, ?,"
	    " (SELECT COALESCE(MAX(position), 0) + 1 FROM jobs), ?, ?, ?, ?, ?)",
	    err);
	if (!s)
		goto cleanup;
	sqlite3_bind_text(s, 1, u->request_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, u->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, u->owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, u->role, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, u->printer, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 6, u->approve ? "approved" : "submitted", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, size);
	sqlite3_bind_int64(s, 8, (sqlite3_int64)crc);
	sqlite3_bind_int64(s, 9, u->now_real);
	if (u->approve)
		sqlite3_bind_text(s, 10, u->owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 11, meta, -1, SQLITE_TRANSIENT);
	if (lb_db_run(q->db, s, err) == 0)
		id = (long long)sqlite3_last_insert_rowid(q->db);
cleanup:
	lb_db_exec(q->db, "PRAGMA synchronous=NORMAL", NULL);
	return id;
}

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
 * The final chunk is in: check the whole part file (size bytes, synced), make the job and move
 * the file to <id>.gcode. On a bad file (checksum, policy, empty) the part is removed. 0 with
 * *result the job, or LB_EFAIL with err set.
 */
static int finish_upload(lb_printq *q, const lb_upload *u, int fd, const char *part, long long size,
			 const gcode_policy *policy, json_t **result, lb_error *err)
{
	char file[PQ_PATH_MAX];
	char *meta = NULL;
	json_t *meta_obj = NULL;
	uint32_t crc = 0;
	long long id;
	int rc = LB_EFAIL;

	if (size == 0) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "the file is empty");
		goto reject;
	}
	if (lb_upload_file_crc(fd, size, &crc) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", part, strerror(errno));
		goto cleanup;
	}
	if (u->has_crc && crc != u->crc32) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "checksum mismatch: file has crc32 %lu, expected %lu",
			     (unsigned long)crc, (unsigned long)u->crc32);
		goto reject;
	}
	/* the printer family's check, in the shape of the job store's validation hook */
	if (lb_gcode_check_file((void *)policy, part, &meta_obj, err) < 0) {
		if (err && err->code == LB_ERR_INVALID_PARAMS)
			goto reject;
		goto cleanup;
	}
	meta = json_dumps(meta_obj, JSON_COMPACT);
	if (!meta) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto cleanup;
	}
	id = insert_job(q, u, size, crc, meta, err);
	if (id < 0)
		goto cleanup;
	/* a crash from here to the rename is finished by lb_printq_new (recover_files) */
	if (gcode_path(q, id, file, sizeof file) < 0 || rename(part, file) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "job %lld: cannot move %s: %s", id, part,
			     strerror(errno));
		goto cleanup;
	}
	if (sync_dir(q->prints) < 0)
		lb_warn("print queue: cannot sync %s: %s", q->prints, strerror(errno));
	*result = lb_printq_job(q, id);
	if (!*result) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot read job %lld", id);
		goto cleanup;
	}
	rc = 0;
	goto cleanup;
reject:
	unlink(part);
cleanup:
	json_decref(meta_obj);
	free(meta);
	return rc;
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
	if (u->offset < 0 || len > (size_t)(LLONG_MAX - u->offset))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid offset %lld", u->offset);
	id = job_by_request(q, u->request_id, err);
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

/* The "job N is S: only ... can be ..." error; returns LB_EFAIL. */
static int wrong_state(lb_error *err, long long id, const char *state, const char *rule)
{
	return lb_error_set(err, LB_ERR_INVALID_PARAMS, "job %lld is %s: %s", id, state, rule);
}

int lb_printq_approve(lb_printq *q, long long id, const char *by, int64_t now_real, lb_error *err)
{
	const char *state;
	sqlite3_stmt *s;

	(void)now_real;
	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (need_job(q, id, &state, err) < 0)
		return LB_EFAIL;
	if (strcmp(state, "submitted") != 0)
		return wrong_state(err, id, state, "only submitted jobs can be approved");
	s = lb_db_prepare(q->db, "UPDATE jobs SET state = 'approved', approved_by = ? WHERE id = ?",
			  err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, by, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, id);
	return lb_db_run(q->db, s, err);
}

int lb_printq_set_state(lb_printq *q, long long id, const char *state, const char *printer,
			const char *error, int64_t now_real, lb_error *err)
{
	const char *now_state, *target = state_static(state);
	sqlite3_stmt *s;
	bool active;

	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (!target)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "unknown job state \"%s\" (one of: " LB_JOB_STATES ")",
				    state ? state : "");
	if (need_job(q, id, &now_state, err) < 0)
		return LB_EFAIL;
	active = strcmp(target, "queued") == 0 || strcmp(target, "printing") == 0 ||
		 strcmp(target, "paused") == 0;
	/* started: the first time it prints; finished: set when finished, cleared otherwise; the
	 * error: replaced when given, cleared when the job is back to an unfinished state */
	s = lb_db_prepare(q->db,
			  "UPDATE jobs SET state = ?1, assigned = COALESCE(?2, assigned),"
			  " started = CASE WHEN ?1 = 'printing' AND started IS NULL THEN ?4"
			  " ELSE started END,"
			  " finished = CASE WHEN ?1 IN " FINISHED " THEN ?4 ELSE NULL END,"
			  " error = CASE WHEN ?3 IS NOT NULL THEN ?3 WHEN ?1 IN " FINISHED
			  " THEN error ELSE NULL END WHERE id = ?5",
			  err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, printer, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, now_real);
	sqlite3_bind_int64(s, 5, id);
	if (!active) {
		if (lb_db_run(q->db, s, err) < 0)
			return LB_EFAIL;
		/* finished: the exact last position is in the file, however the job ended */
		if (is_finished(target) && fold_progress(q, id, err) >= 0)
			drop_progress(q, id);
		return 0;
	}
	/* a job handed to a printer: from now on its bed may hold a part, whatever stops the job
	 * (crash, kill -9, unplug, reset): only printer.clear clears it. One transaction, so no
	 * restart can see the job started and the bed clear. */
	if (lb_db_exec(q->db, "BEGIN IMMEDIATE", err) < 0) {
		sqlite3_finalize(s);
		return LB_EFAIL;
	}
	if (lb_db_run(q->db, s, err) < 0)
		goto rollback;
	s = lb_db_prepare(
	    q->db,
	    "INSERT OR REPLACE INTO beds (printer, clear) SELECT assigned, 0 FROM jobs"
	    " WHERE id = ? AND assigned IS NOT NULL",
	    err);
	if (!s)
		goto rollback;
	sqlite3_bind_int64(s, 1, id);
	if (lb_db_run(q->db, s, err) < 0 || lb_db_exec(q->db, "COMMIT", err) < 0)
		goto rollback;
	return 0;
rollback:
	lb_db_exec(q->db, "ROLLBACK", NULL);
	return LB_EFAIL;
}

int lb_printq_progress(lb_printq *q, long long id, long line, long long offset, lb_error *err)
{
	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (line < 0 || offset < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "negative progress");
	if (store_progress(q, id, line, offset, err) < 0)
		return LB_EFAIL;
	if (sqlite3_changes(q->db) == 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
	return 0;
}

int lb_printq_cancel(lb_printq *q, long long id, int64_t now_real, const char **was, lb_error *err)
{
	const char *state;

	if (was)
		*was = NULL;
	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (need_job(q, id, &state, err) < 0)
		return LB_EFAIL;
	if (is_finished(state))
		return wrong_state(err, id, state, "only unfinished jobs can be cancelled");
	if (lb_printq_set_state(q, id, "cancelled", NULL, NULL, now_real, err) < 0)
		return LB_EFAIL;
	if (was)
		*was = state;
	return 0;
}

int lb_printq_retry(lb_printq *q, long long id, int64_t now_real, lb_error *err)
{
	const char *state;
	sqlite3_stmt *s;

	(void)now_real;
	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (need_job(q, id, &state, err) < 0)
		return LB_EFAIL;
	if (strcmp(state, "failed") != 0 && strcmp(state, "cancelled") != 0 &&
	    strcmp(state, "interrupted") != 0)
		return wrong_state(err, id, state,
				   "only failed, cancelled or interrupted jobs can be retried");
	/* a job cancelled before a teacher approved it goes back to waiting for approval */
	s = lb_db_prepare(
	    q->db,
	    "UPDATE jobs SET state = CASE WHEN approved_by IS NULL THEN 'submitted'"
	    " ELSE 'approved' END, assigned = NULL, started = NULL, finished = NULL,"
	    " error = NULL, line = 0, offset = 0,"
	    " position = (SELECT COALESCE(MAX(position), 0) + 1 FROM jobs) WHERE id = ?",
	    err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_int64(s, 1, id);
	if (lb_db_run(q->db, s, err) < 0)
		return LB_EFAIL;
	drop_progress(q, id);
	return 0;
}

int lb_printq_delete(lb_printq *q, long long id, lb_error *err)
{
	char file[PQ_PATH_MAX];
	const char *state;
	sqlite3_stmt *s;

	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (need_job(q, id, &state, err) < 0)
		return LB_EFAIL;
	if (!is_finished(state) && strcmp(state, "submitted") != 0)
		return wrong_state(
		    err, id, state,
		    "only finished or submitted jobs can be deleted (cancel it first)");
	s = lb_db_prepare(q->db, "DELETE FROM jobs WHERE id = ?", err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_int64(s, 1, id);
	if (lb_db_run(q->db, s, err) < 0)
		return LB_EFAIL;
	drop_progress(q, id);
	/* the row first: a crash before the unlink leaves a file that lb_printq_new removes */
	if (gcode_path(q, id, file, sizeof file) == 0 && unlink(file) < 0 && errno != ENOENT)
		lb_warn("print queue: cannot remove %s: %s", file, strerror(errno));
	else if (sync_dir(q->prints) < 0)
		lb_warn("print queue: cannot sync %s: %s", q->prints, strerror(errno));
	return 0;
}

int lb_printq_move(lb_printq *q, long long id, int pos, lb_error *err)
{
	const char *state;
	long long *ids = NULL;
	size_t n = 0, cap = 0, at;
	sqlite3_stmt *s = NULL;
	int rc = LB_EFAIL;

	if (!q)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no print queue");
	if (pos < 1)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "position %d: positions start at 1 (next)", pos);
	if (need_job(q, id, &state, err) < 0)
		return LB_EFAIL;
	if (!is_waiting(state))
		return wrong_state(err, id, state,
				   "only waiting (submitted or approved) jobs can be moved");
	if (lb_db_exec(q->db, "BEGIN IMMEDIATE", err) < 0)
		return LB_EFAIL;
	/* the waiting jobs in order, without the one moved, then it inserted at pos */
	s = lb_db_prepare(
	    q->db, "SELECT id FROM jobs WHERE state IN " WAITING " ORDER BY position, id", err);
	if (!s)
		goto cleanup;
	while (sqlite3_step(s) == SQLITE_ROW) {
		long long other = sqlite3_column_int64(s, 0);

		if (other == id)
			continue;
		if (lb_grow(&ids, &cap, n, sizeof *ids) < 0) {
			lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
			goto cleanup;
		}
		ids[n++] = other;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (lb_grow(&ids, &cap, n, sizeof *ids) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto cleanup;
	}
	at = (size_t)pos - 1 < n ? (size_t)pos - 1 : n;
	memmove(ids + at + 1, ids + at, (n - at) * sizeof *ids);
	ids[at] = id;
	n++;
	/* renumber the waiting jobs 1..n: new jobs take MAX(position) + 1, still after them */
	s = lb_db_prepare(q->db, "UPDATE jobs SET position = ? WHERE id = ?", err);
	if (!s)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, (sqlite3_int64)i + 1);
		sqlite3_bind_int64(s, 2, ids[i]);
		if (sqlite3_step(s) != SQLITE_DONE) {
			lb_error_set(err, LB_ERR_INTERNAL, "print queue database: %s",
				     sqlite3_errmsg(q->db));
			goto cleanup;
		}
	}
	rc = lb_db_exec(q->db, "COMMIT", err);
cleanup:
	sqlite3_finalize(s);
	if (rc < 0)
		lb_db_exec(q->db, "ROLLBACK", NULL);
	free(ids);
	return rc;
}

long long lb_printq_next(lb_printq *q, const char *printer)
{
	sqlite3_stmt *s =
	    q ? lb_db_prepare(q->db,
			      "SELECT id FROM jobs WHERE state = 'approved' AND"
			      " (printer IS NULL OR printer = ?) ORDER BY position, id"
			      " LIMIT 1",
			      NULL)
	      : NULL;
	long long id = 0;

	if (!s)
		return 0;
	sqlite3_bind_text(s, 1, printer, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return id;
}

bool lb_printq_bed_clear(lb_printq *q, const char *printer)
{
	sqlite3_stmt *s =
	    q && printer ? lb_db_prepare(q->db, "SELECT clear FROM beds WHERE printer = ?", NULL)
			 : NULL;
	bool clear = true;

	if (!s)
		return true;
	sqlite3_bind_text(s, 1, printer, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) == SQLITE_ROW)
		clear = sqlite3_column_int(s, 0) != 0;
	sqlite3_finalize(s);
	return clear;
}

int lb_printq_set_bed(lb_printq *q, const char *printer, bool clear, lb_error *err)
{
	sqlite3_stmt *s;

	if (!q || !printer)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no printer given");
	s = lb_db_prepare(q->db, "INSERT OR REPLACE INTO beds (printer, clear) VALUES (?, ?)", err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, printer, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, clear ? 1 : 0);
	return lb_db_run(q->db, s, err);
}
