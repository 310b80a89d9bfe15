/* jobs.c - the generic job store: long work of any service, persistent in SQLite, crash-safe. */
#include "jobs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../util/db.h"
#include "../../util/grow.h"
#include "../../util/log.h"
#include "../../util/fsutil.h"

#define JOBS_PATH_MAX 1024
#define JOBS_KINDS 16
#define JOBS_KIND_MAX 31
#define JOBS_TEXT_MAX 256     /* owner, label, device, request id */
#define JOBS_PARAMS_MAX 65536 /* service-defined JSON texts */

typedef struct validator {
	char kind[JOBS_KIND_MAX + 1];
	lb_job_validate_fn fn;
	void *ctx;
} validator;

struct lb_jobs {
	sqlite3 *db;
	char files[JOBS_PATH_MAX - 160]; /* dir/jobs: one folder per job */
	validator val[JOBS_KINDS];
	void (*fault)(void *ctx, const char *point);
	void *fault_ctx;
};

static const char *const state_names[LB_JOB_NSTATES] = {
    "uploading", "preparing", "waiting_approval", "queued",    "starting",   "running",
    "paused",	 "done",      "failed",		  "cancelled", "interrupted"};

#define BIT(s) (1u << (s))
#define RETRY_TO (BIT(LB_JOB_QUEUED) | BIT(LB_JOB_WAITING_APPROVAL) | BIT(LB_JOB_PREPARING))

/* For each state, the states it may go to (the table of jobs.h). */
static const unsigned allowed_to[LB_JOB_NSTATES] = {
    [LB_JOB_UPLOADING] = BIT(LB_JOB_QUEUED) | BIT(LB_JOB_WAITING_APPROVAL) | BIT(LB_JOB_FAILED) |
			 BIT(LB_JOB_CANCELLED) | BIT(LB_JOB_PREPARING),
    [LB_JOB_PREPARING] = BIT(LB_JOB_QUEUED) | BIT(LB_JOB_WAITING_APPROVAL) | BIT(LB_JOB_FAILED) |
			 BIT(LB_JOB_CANCELLED),
    [LB_JOB_WAITING_APPROVAL] = BIT(LB_JOB_QUEUED) | BIT(LB_JOB_FAILED) | BIT(LB_JOB_CANCELLED),
    [LB_JOB_QUEUED] = BIT(LB_JOB_STARTING) | BIT(LB_JOB_RUNNING) | BIT(LB_JOB_FAILED) |
		      BIT(LB_JOB_CANCELLED) | BIT(LB_JOB_WAITING_APPROVAL),
    [LB_JOB_STARTING] = BIT(LB_JOB_RUNNING) | BIT(LB_JOB_QUEUED) | BIT(LB_JOB_DONE) |
			BIT(LB_JOB_FAILED) | BIT(LB_JOB_CANCELLED) | BIT(LB_JOB_INTERRUPTED),
    [LB_JOB_RUNNING] = BIT(LB_JOB_PAUSED) | BIT(LB_JOB_DONE) | BIT(LB_JOB_FAILED) |
		       BIT(LB_JOB_CANCELLED) | BIT(LB_JOB_INTERRUPTED),
    [LB_JOB_PAUSED] = BIT(LB_JOB_RUNNING) | BIT(LB_JOB_DONE) | BIT(LB_JOB_FAILED) |
		      BIT(LB_JOB_CANCELLED) | BIT(LB_JOB_INTERRUPTED),
    [LB_JOB_DONE] = 0,
    [LB_JOB_FAILED] = RETRY_TO,
    [LB_JOB_CANCELLED] = RETRY_TO,
    [LB_JOB_INTERRUPTED] = RETRY_TO,
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, owner TEXT NOT NULL,"
    " label TEXT, device TEXT, request_id TEXT, state TEXT NOT NULL,"
    " position INTEGER NOT NULL, params TEXT NOT NULL DEFAULT '{}',"
    " meta TEXT NOT NULL DEFAULT '{}', fraction REAL NOT NULL DEFAULT 0,"
    " detail TEXT NOT NULL DEFAULT '{}', approved_by TEXT, error TEXT, input_src TEXT,"
    " created INTEGER NOT NULL, started INTEGER, finished INTEGER, updated INTEGER NOT NULL,"
    " assigned TEXT, UNIQUE (kind, owner, request_id));"
    "CREATE TABLE IF NOT EXISTS devices (device TEXT PRIMARY KEY, confirmed INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS jobs_queue ON jobs (kind, state, position);"
    "CREATE TABLE IF NOT EXISTS results (job INTEGER NOT NULL, name TEXT NOT NULL,"
    " size INTEGER NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (job, name));";

#define JOB_COLS                                                                                   \
	"id, kind, owner, label, device, request_id, state, position, params, meta, fraction, "    \
	"detail, approved_by, error, created, started, finished, updated, assigned"

#define ACTIVE "('starting', 'running', 'paused')"
#define WAITING "('waiting_approval', 'queued')"
#define FINISHED "('done', 'failed', 'cancelled', 'interrupted')"

/* Call the fault hook (tests) at a durable step. */
static void fault(lb_jobs *j, const char *point)
{
	if (j->fault)
		j->fault(j->fault_ctx, point);
}

const char *lb_job_state_name(lb_job_state s)
{
	return (unsigned)s < LB_JOB_NSTATES ? state_names[s] : "?";
}

int lb_job_state_parse(const char *name, lb_job_state *s)
{
	for (int i = 0; name && i < LB_JOB_NSTATES; i++)
		if (strcmp(name, state_names[i]) == 0) {
			*s = (lb_job_state)i;
			return 0;
		}
	return LB_EINVAL;
}

bool lb_job_state_finished(lb_job_state s)
{
	return s == LB_JOB_DONE || s == LB_JOB_FAILED || s == LB_JOB_CANCELLED ||
	       s == LB_JOB_INTERRUPTED;
}

bool lb_job_transition_allowed(lb_job_state from, lb_job_state to)
{
	return (unsigned)from < LB_JOB_NSTATES && (unsigned)to < LB_JOB_NSTATES &&
	       (allowed_to[from] & BIT(to)) != 0;
}

/* A database error into err; returns LB_EFAIL. */
static int db_error(lb_jobs *j, lb_error *err)
{
	return lb_error_set(err, LB_ERR_INTERNAL, "job store: %s", sqlite3_errmsg(j->db));
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

/* The folder of job id into path[cap]: 0 or LB_EINVAL when it does not fit. */
static int folder_of(lb_jobs *j, long long id, char *path, size_t cap)
{
	int n = snprintf(path, cap, "%s/%lld", j->files, id);

	return n < 0 || (size_t)n >= cap ? LB_EINVAL : 0;
}

/* The file name in the folder of job id into path[cap]: 0 or LB_EINVAL. */
static int file_of(lb_jobs *j, long long id, const char *name, char *path, size_t cap)
{
	int n = snprintf(path, cap, "%s/%lld/%s", j->files, id, name);

	return n < 0 || (size_t)n >= cap ? LB_EINVAL : 0;
}

/* Remove a job's folder and everything in it (a service's work folders too); best effort,
 * problems logged. */
static void remove_folder(const char *folder)
{
	if (lb_rmtree(folder) < 0)
		lb_warn("job store: cannot remove %s: %s", folder, strerror(errno));
}

/* A result name: [A-Za-z0-9._-], 1 to 100 characters, no leading '.', not "input". */
static bool good_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 100 || name[0] == '.' || strcmp(name, "input") == 0)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
			return false;
	return true;
}

/*
 * A job's state into *s: 1 when found, 0 with err "no job N" when not, LB_EFAIL with err set on
 * a database error.
 */
static int find_state(lb_jobs *j, long long id, lb_job_state *s, lb_error *err)
{
	sqlite3_stmt *st = lb_db_prepare(j->db, "SELECT state FROM jobs WHERE id = ?", err);
	int rc;

	if (!st)
		return LB_EFAIL;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (lb_job_state_parse((const char *)sqlite3_column_text(st, 0), s) < 0)
			*s = LB_JOB_INTERRUPTED; /* written by someone else: nothing runs it */
		rc = 1;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
	} else {
		rc = db_error(j, err);
	}
	sqlite3_finalize(st);
	return rc;
}

int lb_jobs_state(lb_jobs *j, long long id, lb_job_state *s, lb_error *err)
{
	if (!j)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job store");
	return find_state(j, id, s, err) == 1 ? 0 : LB_EFAIL;
}

/* Begin a write transaction: 0 or LB_EFAIL with err set. */
static int begin(lb_jobs *j, lb_error *err)
{
	return lb_db_exec(j->db, "BEGIN IMMEDIATE", err);
}

/* Commit (fault points before and after, named "<what>.commit"); 0 or LB_EFAIL (rolled back). */
static int commit(lb_jobs *j, const char *before, const char *after, lb_error *err)
{
	fault(j, before);
	if (lb_db_exec(j->db, "COMMIT", err) < 0) {
		lb_db_exec(j->db, "ROLLBACK", NULL);
		return LB_EFAIL;
	}
	fault(j, after);
	return 0;
}

/* Roll back a transaction begun; returns LB_EFAIL. */
static int rollback(lb_jobs *j)
{
	lb_db_exec(j->db, "ROLLBACK", NULL);
	return LB_EFAIL;
}

/* ------------------------------------------------------------------------- recovery */

extern const lb_job_kind *__start_lb_job_kind_list[] __attribute__((weak));
extern const lb_job_kind *__stop_lb_job_kind_list[] __attribute__((weak));

const lb_job_kind *lb_job_kind_find(const char *kind)
{
	if (!kind || !__start_lb_job_kind_list)
		return NULL;
	for (const lb_job_kind *const *k = __start_lb_job_kind_list; k < __stop_lb_job_kind_list;
	     k++)
		if (*k && (*k)->kind && strcmp((*k)->kind, kind) == 0)
			return *k;
	return NULL;
}

/* The recovery of one active job of a kind with a recover hook: its detail, fraction and error
 * from the hook, written in the transaction under way. 0 or LB_EFAIL with err set. */
static int recover_one(lb_jobs *j, long long id, const lb_job_kind *k, lb_error *err)
{
	char folder[JOBS_PATH_MAX], error[512] = "";
	json_t *job = lb_jobs_get(j, id), *detail = NULL;
	double fraction = -1.0;
	char *text = NULL;
	sqlite3_stmt *s = NULL;
	int rc = 0;

	if (!job || folder_of(j, id, folder, sizeof folder) < 0)
		goto done;
	k->recover(job, folder, &fraction, &detail, error, sizeof error);
	text = json_is_object(detail) ? json_dumps(detail, JSON_COMPACT) : NULL;
	s = lb_db_prepare(j->db,
			  "UPDATE jobs SET fraction = CASE WHEN ?1 BETWEEN 0 AND 1 THEN ?1 ELSE"
			  " fraction END, detail = COALESCE(?2, detail),"
			  " error = COALESCE(?3, error) WHERE id = ?4",
			  err);
	if (!s) {
		rc = LB_EFAIL;
		goto done;
	}
	sqlite3_bind_double(s, 1, fraction);
	sqlite3_bind_text(s, 2, text, -1, SQLITE_TRANSIENT);
	if (error[0])
		sqlite3_bind_text(s, 3, error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, id);
	rc = lb_db_run(j->db, s, err) < 0 ? LB_EFAIL : 0;
done:
	free(text);
	json_decref(detail);
	json_decref(job);
	return rc;
}

/* Mark the assigned device of job id "to confirm" when its kind declares confirm_device (in the
 * transaction under way): 0 or LB_EFAIL with err set. */
static int mark_device(lb_jobs *j, long long id, lb_error *err)
{
	sqlite3_stmt *s = lb_db_prepare(j->db, "SELECT kind FROM jobs WHERE id = ?", err);
	const lb_job_kind *k = NULL;

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		k = lb_job_kind_find((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	if (!k || !k->confirm_device)
		return 0;
	s = lb_db_prepare(j->db,
			  "INSERT OR REPLACE INTO devices (device, confirmed) SELECT assigned, 0"
			  " FROM jobs WHERE id = ? AND assigned IS NOT NULL",
			  err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_int64(s, 1, id);
	return lb_db_run(j->db, s, err);
}

/*
 * Jobs a stop left starting, running or paused become interrupted, their kinds' recover hooks
 * writing what they left, and their devices marked "to confirm" for kinds that declare it: one
 * transaction. 0 or LB_EFAIL with err set.
 */
static int recover_active(lb_jobs *j, int64_t now_real, lb_error *err)
{
	sqlite3_stmt *s;
	long long *ids = NULL;
	size_t n = 0, cap = 0;
	int changed;

	if (begin(j, err) < 0)
		return LB_EFAIL;
	s = lb_db_prepare(j->db, "SELECT id, kind FROM jobs WHERE state IN " ACTIVE, err);
	if (!s)
		goto fail;
	while (sqlite3_step(s) == SQLITE_ROW)
		if (lb_grow(&ids, &cap, n, sizeof *ids) == 0)
			ids[n++] = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *k = lb_db_prepare(j->db, "SELECT kind FROM jobs WHERE id = ?", err);
		const lb_job_kind *kind = NULL;
		if (!k)
			goto fail;
		sqlite3_bind_int64(k, 1, ids[i]);
		if (sqlite3_step(k) == SQLITE_ROW)
			kind = lb_job_kind_find((const char *)sqlite3_column_text(k, 0));
		sqlite3_finalize(k);
		if (kind && kind->recover && recover_one(j, ids[i], kind, err) < 0)
			goto fail;
		if (mark_device(j, ids[i], err) < 0)
			goto fail;
	}
	s = lb_db_prepare(j->db,
			  "UPDATE jobs SET finished = ?1, updated = ?1, error = COALESCE(error,"
			  " 'the bridge stopped while the job was ' || state),"
			  " state = 'interrupted' WHERE state IN " ACTIVE,
			  err);
	if (!s)
		goto fail;
	sqlite3_bind_int64(s, 1, now_real);
	if (lb_db_run(j->db, s, err) < 0)
		goto fail;
	changed = sqlite3_changes(j->db);
	free(ids);
	if (commit(j, "recover.update", "recover.commit", err) < 0)
		return LB_EFAIL;
	if (changed > 0)
		lb_warn("job store: %d job(s) interrupted by the last stop (not restarted)",
			changed);
	return 0;
fail:
	free(ids);
	return rollback(j);
}

/* Finish the moves of inputs a crash cut short; fail waiting jobs whose input is lost. */
static void recover_inputs(lb_jobs *j, int64_t now_real)
{
	sqlite3_stmt *s = lb_db_prepare(
	    j->db, "SELECT id, input_src, state FROM jobs WHERE input_src IS NOT NULL", NULL);
	long long *done = NULL, *lost = NULL;
	size_t ndone = 0, cdone = 0, nlost = 0, clost = 0;

	while (s && sqlite3_step(s) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(s, 0);
		const char *src = (const char *)sqlite3_column_text(s, 1);
		lb_job_state st = LB_JOB_INTERRUPTED;
		char folder[JOBS_PATH_MAX], file[JOBS_PATH_MAX];
		bool moved = false;

		lb_job_state_parse((const char *)sqlite3_column_text(s, 2), &st);
		if (folder_of(j, id, folder, sizeof folder) < 0 ||
		    file_of(j, id, "input", file, sizeof file) < 0)
			continue;
		if (access(file, F_OK) == 0) {
			moved = true;
		} else if (src && lb_mkdirs(folder, 0750) == 0 && rename(src, file) == 0) {
			lb_info("job store: job %lld: finished moving its input after a restart",
				id);
			sync_dir(folder);
			moved = true;
		}
		if (moved && lb_grow(&done, &cdone, ndone, sizeof *done) == 0)
			done[ndone++] = id;
		else if (!moved && !lb_job_state_finished(st) &&
			 lb_grow(&lost, &clost, nlost, sizeof *lost) == 0)
			lost[nlost++] = id;
	}
	sqlite3_finalize(s);
	for (size_t i = 0; i < ndone; i++) {
		s = lb_db_prepare(j->db, "UPDATE jobs SET input_src = NULL WHERE id = ?", NULL);
		if (s) {
			sqlite3_bind_int64(s, 1, done[i]);
			lb_db_run(j->db, s, NULL);
		}
	}
	for (size_t i = 0; i < nlost; i++) {
		lb_warn("job store: job %lld has lost its input file: failed", lost[i]);
		s = lb_db_prepare(j->db,
				  "UPDATE jobs SET state = 'failed', error = 'the input file is"
				  " missing', finished = ?1, updated = ?1, input_src = NULL"
				  " WHERE id = ?2",
				  NULL);
		if (s) {
			sqlite3_bind_int64(s, 1, now_real);
			sqlite3_bind_int64(s, 2, lost[i]);
			lb_db_run(j->db, s, NULL);
		}
	}
	free(done);
	free(lost);
}

/* Record the result files of job id that a crash left unrecorded; remove temporary files. */
static void recover_results(lb_jobs *j, long long id, const char *folder, int64_t now_real)
{
	DIR *d = opendir(folder);
	struct dirent *e;
	sqlite3_stmt *s = lb_db_prepare(
	    j->db, "INSERT OR IGNORE INTO results (job, name, size, created) VALUES (?, ?, ?, ?)",
	    NULL);

	while (d && s && (e = readdir(d))) {
		char path[JOBS_PATH_MAX];
		struct stat st;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "input") == 0 ||
		    snprintf(path, sizeof path, "%s/%s", folder, e->d_name) >= (int)sizeof path)
			continue;
		if (e->d_name[0] == '.' || !good_name(e->d_name)) {
			unlink(path); /* a service's temporary file: its work was cut short */
			continue;
		}
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, id);
		sqlite3_bind_text(s, 2, e->d_name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, (sqlite3_int64)st.st_size);
		sqlite3_bind_int64(s, 4, now_real);
		if (sqlite3_step(s) == SQLITE_DONE && sqlite3_changes(j->db) > 0)
			lb_info("job store: job %lld: recorded result %s after a restart", id,
				e->d_name);
	}
	sqlite3_finalize(s);
	if (d)
		closedir(d);
}

/* Folders of no job go (a delete cut short); results left unrecorded are recorded; results
 * whose file is gone are forgotten. Best effort. */
static void recover_folders(lb_jobs *j, int64_t now_real)
{
	DIR *d = opendir(j->files);
	struct dirent *e;
	sqlite3_stmt *s = lb_db_prepare(j->db, "SELECT 1 FROM jobs WHERE id = ?", NULL);

	while (d && s && (e = readdir(d))) {
		char *end;
		long long id = strtoll(e->d_name, &end, 10);
		char folder[JOBS_PATH_MAX];

		if (e->d_name[0] < '0' || e->d_name[0] > '9' || *end ||
		    folder_of(j, id, folder, sizeof folder) < 0 ||
		    strcmp(folder + strlen(j->files) + 1, e->d_name) != 0)
			continue;
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, id);
		if (sqlite3_step(s) == SQLITE_ROW) {
			recover_results(j, id, folder, now_real);
			continue;
		}
		lb_info("job store: removing %s (no job owns it)", folder);
		remove_folder(folder);
	}
	sqlite3_finalize(s);
	if (d)
		closedir(d);
	/* a result row whose file is gone (removed by hand) */
	s = lb_db_prepare(j->db, "SELECT job, name FROM results", NULL);
	{
		long long *gone = NULL;
		char **names = NULL;
		size_t n = 0, cap = 0, capn = 0;
		while (s && sqlite3_step(s) == SQLITE_ROW) {
			char path[JOBS_PATH_MAX];
			long long id = sqlite3_column_int64(s, 0);
			const char *name = (const char *)sqlite3_column_text(s, 1);
			if (!name || file_of(j, id, name, path, sizeof path) < 0 ||
			    access(path, F_OK) == 0)
				continue;
			if (lb_grow(&gone, &cap, n, sizeof *gone) == 0 &&
			    lb_grow(&names, &capn, n, sizeof *names) == 0 &&
			    (names[n] = strdup(name)) != NULL)
				gone[n++] = id;
		}
		sqlite3_finalize(s);
		for (size_t i = 0; i < n; i++) {
			s = lb_db_prepare(j->db, "DELETE FROM results WHERE job = ? AND name = ?",
					  NULL);
			if (s) {
				sqlite3_bind_int64(s, 1, gone[i]);
				sqlite3_bind_text(s, 2, names[i], -1, SQLITE_TRANSIENT);
				lb_db_run(j->db, s, NULL);
			}
			lb_warn("job store: job %lld: result %s is gone", gone[i], names[i]);
			free(names[i]);
		}
		free(gone);
		free(names);
	}
}

lb_jobs *lb_jobs_new(const char *dir, int64_t now_real, lb_error *err)
{
	lb_jobs *j = calloc(1, sizeof *j);
	char path[JOBS_PATH_MAX];
	int n;

	if (!j) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	n = snprintf(j->files, sizeof j->files, "%s/jobs", dir ? dir : "");
	if (!dir || !*dir || n < 0 || (size_t)n >= sizeof j->files) {
		lb_error_set(err, LB_ERR_INTERNAL,
			     "job store: the data directory name is too long");
		goto fail;
	}
	if (lb_mkdirs(j->files, 0750) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot create the job directory %s: %s",
			     j->files, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof path, "%s/jobs.db", dir);
	j->db = lb_db_open(path, schema, err);
	if (!j->db)
		goto fail;
	/* a jobs.db of a version without assigned devices */
	if (sqlite3_exec(j->db, "SELECT assigned FROM jobs LIMIT 0", NULL, NULL, NULL) !=
		SQLITE_OK &&
	    lb_db_exec(j->db, "ALTER TABLE jobs ADD COLUMN assigned TEXT", err) < 0)
		goto fail;
	for (const lb_job_kind *const *k = __start_lb_job_kind_list;
	     k && k < __stop_lb_job_kind_list; k++)
		if (*k && (*k)->import && (*k)->import(j, dir, now_real, err) < 0)
			goto fail;
	if (recover_active(j, now_real, err) < 0)
		goto fail;
	recover_inputs(j, now_real);
	recover_folders(j, now_real);
	return j;
fail:
	lb_jobs_destroy(&j);
	return NULL;
}

void lb_jobs_destroy(lb_jobs **pj)
{
	if (!pj || !*pj)
		return;
	sqlite3_close((*pj)->db);
	free(*pj);
	*pj = NULL;
}

void lb_jobs_set_fault_hook(lb_jobs *j, void (*hook)(void *ctx, const char *point), void *ctx)
{
	j->fault = hook;
	j->fault_ctx = ctx;
}

int lb_jobs_set_validator(lb_jobs *j, const char *kind, lb_job_validate_fn fn, void *ctx)
{
	validator *free_slot = NULL;

	if (!j || !kind || !*kind || strlen(kind) > JOBS_KIND_MAX)
		return LB_EINVAL;
	for (int i = 0; i < JOBS_KINDS; i++) {
		if (strcmp(j->val[i].kind, kind) == 0) {
			j->val[i].fn = fn;
			j->val[i].ctx = ctx;
			if (!fn)
				j->val[i].kind[0] = '\0';
			return 0;
		}
		if (!j->val[i].kind[0] && !free_slot)
			free_slot = &j->val[i];
	}
	if (!fn)
		return 0;
	if (!free_slot)
		return LB_ENOMEM;
	snprintf(free_slot->kind, sizeof free_slot->kind, "%s", kind);
	free_slot->fn = fn;
	free_slot->ctx = ctx;
	return 0;
}

/* The validator of a kind, or NULL. */
static const validator *validator_of(lb_jobs *j, const char *kind)
{
	for (int i = 0; i < JOBS_KINDS; i++)
		if (j->val[i].fn && strcmp(j->val[i].kind, kind) == 0)
			return &j->val[i];
	return NULL;
}

/* The job a request id of an owner made for a kind: > 0, 0 when none, LB_EFAIL with err. */
static long long by_request(lb_jobs *j, const lb_job_spec *spec, lb_error *err)
{
	sqlite3_stmt *s = lb_db_prepare(
	    j->db, "SELECT id FROM jobs WHERE kind = ? AND owner = ? AND request_id = ?", err);
	long long id = 0;
	int rc;

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, spec->kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, spec->owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, spec->request_id, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		id = db_error(j, err);
	sqlite3_finalize(s);
	return id;
}

/* A text that must be short: 0, or LB_EFAIL with err naming it. */
static int check_text(const char *what, const char *v, bool required, lb_error *err)
{
	if ((required && (!v || !*v)) || (v && strlen(v) > JOBS_TEXT_MAX))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "a job's %s must be 1 to %d bytes",
				    what, JOBS_TEXT_MAX);
	return 0;
}

/* Whether a JSON text (NULL: yes) is an object of at most JOBS_PARAMS_MAX bytes. */
static bool json_object_text(const char *text)
{
	json_t *o;
	bool ok;

	if (!text)
		return true;
	if (strlen(text) > JOBS_PARAMS_MAX)
		return false;
	o = json_loads(text, 0, NULL);
	ok = json_is_object(o);
	json_decref(o);
	return ok;
}

long long lb_jobs_submit(lb_jobs *j, const lb_job_spec *spec, int64_t now_real, bool *duplicate,
			 lb_error *err)
{
	const validator *v;
	json_t *meta = NULL;
	char *meta_text = NULL, folder[JOBS_PATH_MAX], file[JOBS_PATH_MAX];
	sqlite3_stmt *s;
	long long id = LB_EFAIL;

	if (duplicate)
		*duplicate = false;
	if (!j || !spec)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid job arguments");
	if (!spec->kind || !*spec->kind || strlen(spec->kind) > JOBS_KIND_MAX)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "a job's kind must be 1 to %d bytes", JOBS_KIND_MAX);
	if (check_text("owner", spec->owner, true, err) < 0 ||
	    check_text("label", spec->label, false, err) < 0 ||
	    check_text("device", spec->device, false, err) < 0 ||
	    check_text("request id", spec->request_id, false, err) < 0 ||
	    check_text("approver", spec->approved_by, false, err) < 0)
		return LB_EFAIL;
	if (!json_object_text(spec->params))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "a job's params must be a JSON object of at most %d bytes",
				    JOBS_PARAMS_MAX);
	if (spec->request_id) {
		id = by_request(j, spec, err);
		if (id != 0) {
			if (id > 0 && duplicate)
				*duplicate = true;
			return id;
		}
		id = LB_EFAIL;
	}
	if (spec->input && access(spec->input, R_OK) != 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", spec->input,
				    strerror(errno));
	v = validator_of(j, spec->kind);
	if (v && spec->input) {
		if (v->fn(v->ctx, spec->input, &meta, err) < 0) {
			json_decref(meta);
			return LB_EFAIL;
		}
		meta_text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
		json_decref(meta);
		if (meta && !meta_text)
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	if (begin(j, err) < 0)
		goto done;
	s = lb_db_prepare(
	    j->db,
	    "INSERT INTO jobs (kind, owner, label, device, request_id, state, position,"
	    " params, meta, input_src, created, updated, approved_by) VALUES (?1, ?2, ?3, ?4,"
	    " ?5, ?6, (SELECT COALESCE(MAX(position), 0) + 1 FROM jobs), ?7, ?8, ?9,"
	    " ?10, ?10, ?11)",
	    err);
	if (!s) {
		rollback(j);
		goto done;
	}
	sqlite3_bind_text(s, 1, spec->kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, spec->owner, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 3, spec->label, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 4, spec->device, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, spec->request_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 6,
			  lb_job_state_name(spec->uploading	   ? LB_JOB_UPLOADING
					    : spec->preparing	   ? LB_JOB_PREPARING
					    : spec->needs_approval ? LB_JOB_WAITING_APPROVAL
								   : LB_JOB_QUEUED),
			  -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 7, spec->params ? spec->params : "{}", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 8, meta_text ? meta_text : "{}", -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 9, spec->input, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 10, now_real);
	if (!spec->needs_approval && !spec->uploading)
		/* a job preparing keeps it: it goes to queued when prepared */
		sqlite3_bind_text(s, 11, spec->approved_by, -1, SQLITE_TRANSIENT);
	if (lb_db_run(j->db, s, err) < 0) {
		rollback(j);
		goto done;
	}
	id = (long long)sqlite3_last_insert_rowid(j->db);
	if (commit(j, "submit.insert", "submit.commit", err) < 0) {
		id = LB_EFAIL;
		goto done;
	}
	if (!spec->input)
		goto done;
	/* a crash from here to the end is finished by lb_jobs_new (recover_inputs) */
	if (folder_of(j, id, folder, sizeof folder) < 0 ||
	    file_of(j, id, "input", file, sizeof file) < 0 || lb_mkdirs(folder, 0750) < 0 ||
	    rename(spec->input, file) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "job %lld: cannot move %s: %s", id, spec->input,
			     strerror(errno));
		/* the job exists and its input is where it was: the next open retries */
		goto done;
	}
	if (sync_dir(folder) < 0)
		lb_warn("job store: cannot sync %s: %s", folder, strerror(errno));
	fault(j, "submit.move");
	s = lb_db_prepare(j->db, "UPDATE jobs SET input_src = NULL WHERE id = ?", NULL);
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		lb_db_run(j->db, s, NULL);
	}
done:
	free(meta_text);
	return id;
}

int lb_jobs_transition(lb_jobs *j, long long id, lb_job_state to, const char *error,
		       int64_t now_real, lb_error *err)
{
	return lb_jobs_transition_on(j, id, to, NULL, error, now_real, err);
}

/* The state change of lb_jobs_transition_on inside a transaction begun by the caller: 0, or
 * LB_EFAIL with err set (the caller rolls back). */
static int transition_in(lb_jobs *j, long long id, lb_job_state to, const char *device,
			 const char *error, int64_t now_real, lb_error *err)
{
	lb_job_state from;
	bool retry, finished;
	sqlite3_stmt *s;

	if (find_state(j, id, &from, err) != 1)
		return LB_EFAIL;
	if (!lb_job_transition_allowed(from, to))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "job %lld is %s: cannot go to %s",
				    id, lb_job_state_name(from), lb_job_state_name(to));
	retry = lb_job_state_finished(from);
	finished = lb_job_state_finished(to);
	s = lb_db_prepare(
	    j->db,
	    "UPDATE jobs SET state = ?1, updated = ?2, error = ?3,"
	    " started = CASE WHEN ?6 THEN NULL WHEN ?4 AND started IS NULL THEN ?2 ELSE started "
	    "END,"
	    " finished = CASE WHEN ?5 THEN ?2 WHEN ?6 THEN NULL ELSE finished END,"
	    " fraction = CASE WHEN ?6 THEN 0 ELSE fraction END,"
	    " detail = CASE WHEN ?6 THEN '{}' ELSE detail END,"
	    " approved_by = CASE WHEN ?6 AND ?1 = 'waiting_approval' THEN NULL ELSE approved_by "
	    "END,"
	    " position = CASE WHEN ?6 THEN (SELECT MAX(position) + 1 FROM jobs) ELSE position END,"
	    " assigned = CASE WHEN ?6 THEN NULL ELSE COALESCE(?8, assigned) END"
	    " WHERE id = ?7",
	    err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, lb_job_state_name(to), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now_real);
	sqlite3_bind_text(s, 3, error, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 4, to == LB_JOB_RUNNING);
	sqlite3_bind_int(s, 5, finished);
	sqlite3_bind_int(s, 6, retry);
	sqlite3_bind_int64(s, 7, id);
	sqlite3_bind_text(s, 8, device, -1, SQLITE_TRANSIENT);
	if (lb_db_run(j->db, s, err) < 0)
		return LB_EFAIL;
	if ((to == LB_JOB_STARTING || to == LB_JOB_RUNNING || to == LB_JOB_PAUSED) &&
	    mark_device(j, id, err) < 0)
		return LB_EFAIL;
	return 0;
}

int lb_jobs_transition_on(lb_jobs *j, long long id, lb_job_state to, const char *device,
			  const char *error, int64_t now_real, lb_error *err)
{
	if (!j || (unsigned)to >= LB_JOB_NSTATES)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid transition arguments");
	if (begin(j, err) < 0)
		return LB_EFAIL;
	if (transition_in(j, id, to, device, error, now_real, err) < 0)
		return rollback(j);
	return commit(j, "transition.update", "transition.commit", err);
}

int lb_jobs_approve(lb_jobs *j, long long id, const char *by, int64_t now_real, lb_error *err)
{
	lb_job_state from;
	sqlite3_stmt *s;

	if (!j)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job store");
	if (begin(j, err) < 0)
		return LB_EFAIL;
	if (find_state(j, id, &from, err) != 1)
		return rollback(j);
	if (from != LB_JOB_WAITING_APPROVAL) {
		rollback(j);
		return lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "job %lld is %s: only a job waiting for approval can be approved", id,
		    lb_job_state_name(from));
	}
	s = lb_db_prepare(
	    j->db, "UPDATE jobs SET state = 'queued', approved_by = ?, updated = ? WHERE id = ?",
	    err);
	if (!s)
		return rollback(j);
	sqlite3_bind_text(s, 1, by, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now_real);
	sqlite3_bind_int64(s, 3, id);
	if (lb_db_run(j->db, s, err) < 0)
		return rollback(j);
	return commit(j, "approve.update", "approve.commit", err);
}

/* Replace the meta or params column (a JSON object text) of job id; 0 or LB_EFAIL with err. */
static int set_object(lb_jobs *j, long long id, const char *column, const char *text,
		      int64_t now_real, lb_error *err)
{
	char sql[80];
	sqlite3_stmt *s;

	if (!j)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job store");
	if (!text || !json_object_text(text))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "a job's %s must be a JSON object",
				    column);
	snprintf(sql, sizeof sql, "UPDATE jobs SET %s = ?, updated = ? WHERE id = ?", column);
	s = lb_db_prepare(j->db, sql, err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, text, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now_real);
	sqlite3_bind_int64(s, 3, id);
	if (lb_db_run(j->db, s, err) < 0)
		return LB_EFAIL;
	if (sqlite3_changes(j->db) != 1)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
	return 0;
}

int lb_jobs_set_meta(lb_jobs *j, long long id, const char *meta, int64_t now_real, lb_error *err)
{
	return set_object(j, id, "meta", meta, now_real, err);
}

int lb_jobs_set_params(lb_jobs *j, long long id, const char *params, int64_t now_real,
		       lb_error *err)
{
	return set_object(j, id, "params", params, now_real, err);
}

int lb_jobs_progress(lb_jobs *j, long long id, double fraction, const char *detail,
		     int64_t now_real, lb_error *err)
{
	lb_job_state st;
	sqlite3_stmt *s;

	if (!j)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job store");
	if (!(fraction >= 0.0 && fraction <= 1.0))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "a job's progress is a fraction from 0 to 1");
	if (!json_object_text(detail))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "a job's progress detail must be a JSON object");
	s = lb_db_prepare(j->db,
			  "UPDATE jobs SET fraction = ?, detail = ?, updated = ? WHERE id = ? AND"
			  " state IN " ACTIVE,
			  err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_double(s, 1, fraction);
	sqlite3_bind_text(s, 2, detail ? detail : "{}", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, now_real);
	sqlite3_bind_int64(s, 4, id);
	if (lb_db_run(j->db, s, err) < 0)
		return LB_EFAIL;
	if (sqlite3_changes(j->db) == 1) {
		fault(j, "progress.commit");
		return 0;
	}
	if (lb_jobs_state(j, id, &st, err) < 0)
		return LB_EFAIL;
	return lb_error_set(err, LB_ERR_INVALID_PARAMS,
			    "job %lld is %s: only a starting, running or paused job has progress",
			    id, lb_job_state_name(st));
}

/* ------------------------------------------------------------------------- queries */

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

/* A JSON-object column as a new object ({} when unreadable). */
static json_t *col_object(sqlite3_stmt *s, int i)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	json_t *o = t ? json_loads(t, 0, NULL) : NULL;

	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	return o;
}

/* A waiting job's place among the waiting jobs of its kind (waiting_approval or queued; 1 =
 * next), 0 when it is not waiting or on error. */
static long queue_rank(lb_jobs *j, long long id)
{
	sqlite3_stmt *s = lb_db_prepare(j->db,
					"SELECT COUNT(*) FROM jobs q, jobs me WHERE me.id = ?1"
					" AND me.state IN " WAITING " AND q.state IN " WAITING
					" AND q.kind = me.kind AND (q.position < me.position OR"
					" (q.position = me.position AND q.id <= me.id))",
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

/* The job of the current row of a JOB_COLS statement as a new object (rank: see queue_rank). */
static json_t *job_from_row(sqlite3_stmt *s, long rank)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(s, 0)));
	json_object_set_new(o, "kind", col_text(s, 1));
	json_object_set_new(o, "owner", col_text(s, 2));
	json_object_set_new(o, "label", col_text(s, 3));
	json_object_set_new(o, "device", col_text(s, 4));
	json_object_set_new(o, "assigned", col_text(s, 18));
	json_object_set_new(o, "request_id", col_text(s, 5));
	json_object_set_new(o, "state", col_text(s, 6));
	json_object_set_new(o, "position", rank > 0 ? json_integer(rank) : json_null());
	json_object_set_new(o, "params", col_object(s, 8));
	json_object_set_new(o, "meta", col_object(s, 9));
	json_object_set_new(o, "progress",
			    json_pack("{s:f,s:o}", "fraction", sqlite3_column_double(s, 10),
				      "detail", col_object(s, 11)));
	json_object_set_new(o, "approved_by", col_text(s, 12));
	json_object_set_new(o, "error", col_text(s, 13));
	json_object_set_new(o, "created", col_int(s, 14));
	json_object_set_new(o, "started", col_int(s, 15));
	json_object_set_new(o, "finished", col_int(s, 16));
	json_object_set_new(o, "updated", col_int(s, 17));
	return o;
}

json_t *lb_jobs_get(lb_jobs *j, long long id)
{
	sqlite3_stmt *s =
	    j ? lb_db_prepare(j->db, "SELECT " JOB_COLS " FROM jobs WHERE id = ?", NULL) : NULL;
	json_t *o = NULL;

	if (!s)
		return NULL;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) == SQLITE_ROW)
		o = job_from_row(s, queue_rank(j, id));
	sqlite3_finalize(s);
	return o;
}

json_t *lb_jobs_list(lb_jobs *j, const char *kind, bool history)
{
	sqlite3_stmt *s =
	    j ? lb_db_prepare(j->db,
			      history
				  ? "SELECT " JOB_COLS " FROM jobs WHERE state IN " FINISHED
				    " AND (?1 IS NULL OR kind = ?1) ORDER BY finished DESC, id DESC"
				  : "SELECT " JOB_COLS " FROM jobs WHERE state NOT IN " FINISHED
				    " AND (?1 IS NULL OR kind = ?1)"
				    " ORDER BY state NOT IN " ACTIVE ", position, id",
			      NULL)
	      : NULL;
	json_t *a = json_array();

	if (!s || !a)
		goto done;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *st = (const char *)sqlite3_column_text(s, 6);
		long long id = sqlite3_column_int64(s, 0);

		bool waiting =
		    st && (strcmp(st, "queued") == 0 || strcmp(st, "waiting_approval") == 0);

		json_array_append_new(a, job_from_row(s, waiting ? queue_rank(j, id) : 0));
	}
done:
	sqlite3_finalize(s);
	return a;
}

long long lb_jobs_next(lb_jobs *j, const char *kind, const char *device)
{
	sqlite3_stmt *s =
	    j ? lb_db_prepare(j->db,
			      "SELECT id FROM jobs WHERE state = 'queued' AND kind = ?1 AND"
			      " (device IS NULL OR device = ?2) ORDER BY position, id LIMIT 1",
			      NULL)
	      : NULL;
	long long id = 0;
	int rc;

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, kind, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, device, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(s, 0);
	else if (rc != SQLITE_DONE)
		id = LB_EFAIL;
	sqlite3_finalize(s);
	return id;
}

int lb_jobs_move(lb_jobs *j, long long id, int pos, int64_t now_real, lb_error *err)
{
	lb_job_state st;
	long long *ids = NULL, *slots = NULL;
	size_t n = 0, cap = 0, cap2 = 0, at;
	sqlite3_stmt *s = NULL;
	int rc;

	if (!j)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job store");
	if (pos < 1)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "position %d: positions start at 1 (next)", pos);
	if (begin(j, err) < 0)
		return LB_EFAIL;
	if (find_state(j, id, &st, err) != 1)
		goto fail;
	if (st != LB_JOB_WAITING_APPROVAL && st != LB_JOB_QUEUED) {
		lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "job %lld is %s: only a waiting job (waiting_approval or queued) can be"
		    " moved",
		    id, lb_job_state_name(st));
		goto fail;
	}
	/* the waiting jobs of its kind in order, their positions kept as the slots to refill */
	s = lb_db_prepare(j->db,
			  "SELECT id, position FROM jobs WHERE state IN " WAITING
			  " AND kind = (SELECT kind FROM jobs WHERE id = ?) ORDER BY position, id",
			  err);
	if (!s)
		goto fail;
	sqlite3_bind_int64(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (lb_grow(&ids, &cap, n, sizeof *ids) < 0 ||
		    lb_grow(&slots, &cap2, n, sizeof *slots) < 0) {
			lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
			goto fail;
		}
		ids[n] = sqlite3_column_int64(s, 0);
		slots[n++] = sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	s = NULL;
	/* take it out, put it back at pos (the end when pos is past it) */
	for (at = 0; at < n && ids[at] != id; at++)
		;
	if (at == n) {
		lb_error_set(err, LB_ERR_INTERNAL, "job %lld vanished from its queue", id);
		goto fail;
	}
	memmove(ids + at, ids + at + 1, (n - at - 1) * sizeof *ids);
	at = (size_t)pos - 1 < n - 1 ? (size_t)pos - 1 : n - 1;
	memmove(ids + at + 1, ids + at, (n - 1 - at) * sizeof *ids);
	ids[at] = id;
	/* equal positions would keep their id order: make the slots distinct */
	for (size_t i = 1; i < n; i++)
		if (slots[i] <= slots[i - 1])
			slots[i] = slots[i - 1] + 1;
	s = lb_db_prepare(j->db, "UPDATE jobs SET position = ?, updated = ? WHERE id = ?", err);
	if (!s)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_int64(s, 1, slots[i]);
		sqlite3_bind_int64(s, 2, now_real);
		sqlite3_bind_int64(s, 3, ids[i]);
		if (sqlite3_step(s) != SQLITE_DONE) {
			db_error(j, err);
			goto fail;
		}
	}
	sqlite3_finalize(s);
	free(ids);
	free(slots);
	rc = commit(j, "move.update", "move.commit", err);
	return rc;
fail:
	sqlite3_finalize(s);
	free(ids);
	free(slots);
	return rollback(j);
}

int lb_jobs_check_owner(lb_jobs *j, long long id, const char *user, bool privileged,
			const char *what, lb_error *err)
{
	sqlite3_stmt *s =
	    j ? lb_db_prepare(j->db, "SELECT owner FROM jobs WHERE id = ?", err) : NULL;
	int rc;

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(s, 0);
		if (privileged || (owner && user && strcmp(owner, user) == 0))
			rc = 0;
		else
			rc = lb_error_set(err, LB_ERR_FORBIDDEN,
					  "only its owner (%s) or a teacher may %s job %lld",
					  owner ? owner : "?", what ? what : "touch", id);
	} else if (rc == SQLITE_DONE) {
		rc = lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job %lld", id);
	} else {
		rc = db_error(j, err);
	}
	sqlite3_finalize(s);
	return rc;
}

int lb_jobs_delete(lb_jobs *j, long long id, lb_error *err)
{
	lb_job_state st;
	char folder[JOBS_PATH_MAX];
	sqlite3_stmt *s;

	if (!j)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job store");
	if (begin(j, err) < 0)
		return LB_EFAIL;
	if (find_state(j, id, &st, err) != 1)
		return rollback(j);
	if (st == LB_JOB_STARTING || st == LB_JOB_RUNNING || st == LB_JOB_PAUSED) {
		rollback(j);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "job %lld is %s: stop it before deleting it", id,
				    lb_job_state_name(st));
	}
	s = lb_db_prepare(j->db, "DELETE FROM results WHERE job = ?", err);
	if (!s)
		return rollback(j);
	sqlite3_bind_int64(s, 1, id);
	if (lb_db_run(j->db, s, err) < 0)
		return rollback(j);
	s = lb_db_prepare(j->db, "DELETE FROM jobs WHERE id = ?", err);
	if (!s)
		return rollback(j);
	sqlite3_bind_int64(s, 1, id);
	if (lb_db_run(j->db, s, err) < 0)
		return rollback(j);
	if (commit(j, "delete.update", "delete.commit", err) < 0)
		return LB_EFAIL;
	/* a crash from here on leaves a folder of no job: lb_jobs_new removes it */
	if (folder_of(j, id, folder, sizeof folder) == 0)
		remove_folder(folder);
	fault(j, "delete.files");
	return 0;
}

int lb_jobs_input_path(lb_jobs *j, long long id, char *path, size_t cap)
{
	lb_job_state st;

	if (!j || !path || find_state(j, id, &st, NULL) != 1)
		return LB_EINVAL;
	return file_of(j, id, "input", path, cap);
}

int lb_jobs_folder(lb_jobs *j, long long id, char *path, size_t cap, lb_error *err)
{
	lb_job_state st;

	if (!j || !path)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no job store");
	if (find_state(j, id, &st, err) != 1)
		return LB_EFAIL;
	if (folder_of(j, id, path, cap) < 0 || lb_mkdirs(path, 0750) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "job %lld: cannot make its folder: %s",
				    id, strerror(errno));
	return 0;
}

/* Check a result file before it is added to job id: its name, src a regular file (its size into
 * *size), file[cap] the path it will have; the job's folder made, into folder[cap]. 0, or
 * LB_EFAIL with err set. */
static int result_check(lb_jobs *j, long long id, const char *name, const char *src, char *folder,
			char *file, size_t cap, long long *size, lb_error *err)
{
	struct stat st;

	if (!src || cap > JOBS_PATH_MAX)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid result arguments");
	if (!good_name(name))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "a result name is 1 to 100 of [A-Za-z0-9._-], not starting with"
				    " '.', not \"input\"");
	if (lb_jobs_folder(j, id, folder, cap, err) < 0)
		return LB_EFAIL;
	if (file_of(j, id, name, file, cap) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "job store: path too long");
	if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", src,
				    errno ? strerror(errno) : "not a file");
	*size = (long long)st.st_size;
	return 0;
}

/* The row of result name (size bytes) of job id, inside a transaction begun by the caller: 0, or
 * LB_EFAIL with err set (the caller rolls back). */
static int result_row(lb_jobs *j, long long id, const char *name, long long size, int64_t now_real,
		      lb_error *err)
{
	sqlite3_stmt *s = lb_db_prepare(
	    j->db, "INSERT OR REPLACE INTO results (job, name, size, created) VALUES (?, ?, ?, ?)",
	    err);

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, (sqlite3_int64)size);
	sqlite3_bind_int64(s, 4, now_real);
	return lb_db_run(j->db, s, err) < 0 ? LB_EFAIL : 0;
}

int lb_jobs_result_add(lb_jobs *j, long long id, const char *name, const char *src,
		       int64_t now_real, lb_error *err)
{
	lb_job_file f = {name, src};

	return lb_jobs_update(j, id, &f, 1, NULL, -1, now_real, err);
}

int lb_jobs_update(lb_jobs *j, long long id, const lb_job_file *files, size_t nfiles,
		   const char *meta, int to, int64_t now_real, lb_error *err)
{
	struct {
		char path[JOBS_PATH_MAX];
		long long size;
	} *dst = NULL;
	char folder[JOBS_PATH_MAX];
	size_t moved = 0;
	int rc = LB_EFAIL;

	if (!j || (nfiles && !files) || to >= LB_JOB_NSTATES || nfiles > LB_JOBS_UPDATE_FILES)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid job update arguments");
	if (nfiles && !(dst = calloc(nfiles, sizeof *dst)))
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < nfiles; i++)
		if (result_check(j, id, files[i].name, files[i].src, folder, dst[i].path,
				 sizeof dst[i].path, &dst[i].size, err) < 0)
			goto done;
	if (begin(j, err) < 0)
		goto done;
	for (size_t i = 0; i < nfiles; i++)
		if (result_row(j, id, files[i].name, dst[i].size, now_real, err) < 0) {
			rollback(j);
			goto done;
		}
	if (nfiles)
		fault(j, "result.insert");
	if ((meta && set_object(j, id, "meta", meta, now_real, err) < 0) ||
	    (to >= 0 && transition_in(j, id, (lb_job_state)to, NULL, NULL, now_real, err) < 0)) {
		rollback(j);
		goto done;
	}
	/* a crash after a rename and before the commit: lb_jobs_new records the file */
	for (; moved < nfiles; moved++)
		if (rename(files[moved].src, dst[moved].path) < 0) {
			rollback(j);
			lb_error_set(err, LB_ERR_INTERNAL, "job %lld: cannot move %s: %s", id,
				     files[moved].src, strerror(errno));
			goto undo;
		}
	if (nfiles && sync_dir(folder) < 0)
		lb_warn("job store: cannot sync %s: %s", folder, strerror(errno));
	if (commit(j, nfiles ? "result.move" : "update.update",
		   nfiles ? "result.commit" : "update.commit", err) < 0)
		goto undo;
	rc = 0;
	goto done;
undo:
	while (moved-- > 0)
		if (rename(dst[moved].path, files[moved].src) < 0)
			lb_warn("job store: cannot move %s back: %s", dst[moved].path,
				strerror(errno));
done:
	free(dst);
	return rc;
}

json_t *lb_jobs_results(lb_jobs *j, long long id)
{
	lb_job_state st;
	sqlite3_stmt *s;
	json_t *a;

	if (!j || find_state(j, id, &st, NULL) != 1)
		return NULL;
	s = lb_db_prepare(
	    j->db, "SELECT name, size, created FROM results WHERE job = ? ORDER BY name", NULL);
	a = json_array();
	if (!s || !a) {
		sqlite3_finalize(s);
		json_decref(a);
		return NULL;
	}
	sqlite3_bind_int64(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW)
		json_array_append_new(a,
				      json_pack("{s:o,s:I,s:I}", "name", col_text(s, 0), "size",
						(json_int_t)sqlite3_column_int64(s, 1), "created",
						(json_int_t)sqlite3_column_int64(s, 2)));
	sqlite3_finalize(s);
	return a;
}

int lb_jobs_result_read(lb_jobs *j, long long id, const char *name, long long offset, size_t len,
			void *buf, size_t *got, long long *size, lb_error *err)
{
	char file[JOBS_PATH_MAX];
	sqlite3_stmt *s;
	struct stat st;
	size_t done = 0;
	int fd, rc;

	*got = 0;
	*size = 0;
	if (!j || (len > 0 && !buf))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid read arguments");
	if (len > LB_JOBS_FETCH_MAX)
		return lb_error_set(err, LB_ERR_TOO_LARGE, "at most %d bytes are read at once",
				    LB_JOBS_FETCH_MAX);
	if (offset < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid offset %lld", offset);
	if (!good_name(name))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "job %lld has no result %s", id,
				    name ? name : "(null)");
	s = lb_db_prepare(j->db, "SELECT 1 FROM results WHERE job = ? AND name = ?", err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? lb_error_set(err, LB_ERR_INVALID_PARAMS,
							"job %lld has no result %s", id, name)
					 : db_error(j, err);
	if (file_of(j, id, name, file, sizeof file) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "job store: path too long");
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc =
		    lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", file, strerror(errno));
		goto done;
	}
	*size = (long long)st.st_size;
	while (done < len && offset + (long long)done < *size) {
		ssize_t n =
		    pread(fd, (char *)buf + done, len - done, (off_t)(offset + (long long)done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", file,
					  strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	return rc;
}

bool lb_jobs_device_confirmed(lb_jobs *j, const char *device)
{
	sqlite3_stmt *s =
	    j && device
		? lb_db_prepare(j->db, "SELECT confirmed FROM devices WHERE device = ?", NULL)
		: NULL;
	bool ok = true;

	if (!s)
		return true;
	sqlite3_bind_text(s, 1, device, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(s) == SQLITE_ROW)
		ok = sqlite3_column_int(s, 0) != 0;
	sqlite3_finalize(s);
	return ok;
}

int lb_jobs_device_confirm(lb_jobs *j, const char *device, bool confirmed, lb_error *err)
{
	sqlite3_stmt *s;

	if (!j || !device)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no device given");
	if (check_text("device", device, true, err) < 0)
		return LB_EFAIL;
	s = lb_db_prepare(j->db, "INSERT OR REPLACE INTO devices (device, confirmed) VALUES (?, ?)",
			  err);
	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, device, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(s, 2, confirmed ? 1 : 0);
	fault(j, "confirm.update");
	if (lb_db_run(j->db, s, err) < 0)
		return LB_EFAIL;
	fault(j, "confirm.commit");
	return 0;
}

long long lb_jobs_find_request(lb_jobs *j, const char *kind, const char *owner,
			       const char *request_id, lb_error *err)
{
	lb_job_spec spec = {.kind = kind, .owner = owner, .request_id = request_id};

	if (!j || !kind || !owner || !request_id)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid request arguments");
	return by_request(j, &spec, err);
}

/* A string member of an import record, or NULL. */
static const char *rec_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* An object member of an import record as JSON text (malloc'd, "{}" when absent), or NULL. */
static char *rec_obj(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_object(v) ? json_dumps(v, JSON_COMPACT) : strdup("{}");
}

/* Bind an integer member of an import record (null when absent) to parameter i. */
static void rec_bind_int(sqlite3_stmt *s, int i, const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		sqlite3_bind_int64(s, i, json_integer_value(v));
}

int lb_jobs_import(lb_jobs *j, const json_t *jobs, int64_t now_real, lb_error *err)
{
	sqlite3_stmt *s;
	size_t i;
	const json_t *o;
	int n = 0;

	if (!j || !json_is_array(jobs))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "invalid import arguments");
	if (begin(j, err) < 0)
		return LB_EFAIL;
	s = lb_db_prepare(
	    j->db,
	    "INSERT OR IGNORE INTO jobs (id, kind, owner, label, device, assigned, request_id,"
	    " state, position, params, meta, fraction, detail, approved_by, error, input_src,"
	    " created, started, finished, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
	    " ?10, ?11, ?12, ?13, ?14, ?15, ?16, COALESCE(?17, ?20), ?18, ?19, ?20)",
	    err);
	if (!s)
		return rollback(j);
	json_array_foreach(jobs, i, o)
	{
		lb_job_state st;
		char *params = rec_obj(o, "params"), *meta = rec_obj(o, "meta"),
		     *detail = rec_obj(o, "detail");
		const json_t *frac = json_object_get(o, "fraction");
		int rc;

		if (!json_is_integer(json_object_get(o, "id")) || !rec_str(o, "kind") ||
		    !rec_str(o, "owner") || lb_job_state_parse(rec_str(o, "state"), &st) < 0 ||
		    !params || !meta || !detail) {
			free(params);
			free(meta);
			free(detail);
			sqlite3_finalize(s);
			rollback(j);
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "import: job %zu lacks an id, kind, owner or state", i);
		}
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		rec_bind_int(s, 1, o, "id");
		sqlite3_bind_text(s, 2, rec_str(o, "kind"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 3, rec_str(o, "owner"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 4, rec_str(o, "label"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 5, rec_str(o, "device"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 6, rec_str(o, "assigned"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 7, rec_str(o, "request_id"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 8, lb_job_state_name(st), -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 9, json_integer_value(json_object_get(o, "position")));
		sqlite3_bind_text(s, 10, params, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 11, meta, -1, SQLITE_TRANSIENT);
		sqlite3_bind_double(s, 12, json_is_number(frac) ? json_number_value(frac) : 0.0);
		sqlite3_bind_text(s, 13, detail, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 14, rec_str(o, "approved_by"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 15, rec_str(o, "error"), -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(s, 16, rec_str(o, "input_src"), -1, SQLITE_TRANSIENT);
		rec_bind_int(s, 17, o, "created");
		rec_bind_int(s, 18, o, "started");
		rec_bind_int(s, 19, o, "finished");
		sqlite3_bind_int64(s, 20, now_real);
		rc = sqlite3_step(s);
		free(params);
		free(meta);
		free(detail);
		if (rc != SQLITE_DONE) {
			db_error(j, err);
			sqlite3_finalize(s);
			return rollback(j);
		}
		n += sqlite3_changes(j->db);
	}
	sqlite3_finalize(s);
	if (commit(j, "import.insert", "import.commit", err) < 0)
		return LB_EFAIL;
	return n;
}
