/* audit.c - the audit log of commands: who did what to which device, when (SQLite, batched). */
#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/db.h"

/* synchronous=NORMAL in WAL mode: a commit is not fsynced, a checkpoint is. */
static const char schema[] = "PRAGMA journal_mode=WAL;"
			     "PRAGMA synchronous=NORMAL;"
			     "CREATE TABLE IF NOT EXISTS audit ("
			     " id INTEGER PRIMARY KEY AUTOINCREMENT,"
			     " t INTEGER NOT NULL,"
			     " user TEXT NOT NULL, role TEXT NOT NULL, name TEXT NOT NULL,"
			     " method TEXT NOT NULL, device TEXT NOT NULL, params TEXT NOT NULL,"
			     " outcome TEXT NOT NULL);"
			     "CREATE INDEX IF NOT EXISTS audit_t ON audit(t);"
			     "CREATE INDEX IF NOT EXISTS audit_user ON audit(user, id);"
			     "CREATE INDEX IF NOT EXISTS audit_device ON audit(device, id);"
			     "CREATE INDEX IF NOT EXISTS audit_method ON audit(method, id);";

struct lb_audit {
	sqlite3 *db;
	sqlite3_stmt *insert;
	int days;
	int64_t max_rows;
	bool in_tx;
	int batched;	    /* rows in the open transaction */
	int64_t tx_start;   /* monotonic ns when it began */
	int64_t next_prune; /* monotonic ns; 0: at the first tick */
	bool pruned_once;   /* next_prune is set */
	bool aged_full;	    /* the last pruning removed a full chunk of old entries */
	int64_t rows;	    /* rows in the table */
};

/* Column bounds (bytes): what a client sends is cut before it is stored. */
#define COL_SHORT 128
#define COL_NAME 64

lb_audit *lb_audit_new(const char *path, int days, int64_t max_rows, lb_error *err)
{
	lb_audit *a = calloc(1, sizeof *a);

	if (!a) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	a->days = days > 0 ? days : 90;
	a->max_rows = max_rows > 0 ? max_rows : 1000000;
	/* the file, and so its -wal and -shm (SQLite copies its mode), readable by the bridge's
	 * user only: pupils may have accounts on this computer */
	{
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || fchmod(fd, 0600) < 0) {
			lb_error_set(err, LB_ERR_INTERNAL, "cannot open %s: %s", path,
				     strerror(errno));
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		close(fd);
	}
	a->db = lb_db_open(path, schema, err);
	if (!a->db)
		goto fail;
	a->insert = lb_db_prepare(a->db,
				  "INSERT INTO audit(t,user,role,name,method,device,params,outcome)"
				  " VALUES(?,?,?,?,?,?,?,?)",
				  err);
	if (!a->insert)
		goto fail;
	{
		sqlite3_stmt *st = lb_db_prepare(a->db, "SELECT count(*) FROM audit", err);
		if (!st)
			goto fail;
		if (sqlite3_step(st) == SQLITE_ROW)
			a->rows = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return a;
fail:
	lb_audit_destroy(&a);
	return NULL;
}

/* Bind s (NULL: "") cut to at most max bytes at a UTF-8 boundary, as parameter i. */
static void bind_text(sqlite3_stmt *st, int i, const char *s, size_t max)
{
	size_t n;

	if (!s)
		s = "";
	n = strlen(s);
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	sqlite3_bind_text(st, i, s, (int)n, SQLITE_TRANSIENT);
}

int lb_audit_flush(lb_audit *a, lb_error *err)
{
	if (!a || !a->in_tx)
		return 0;
	a->in_tx = false;
	a->batched = 0;
	return lb_db_exec(a->db, "COMMIT", err);
}

/* Open the batch's transaction if none is: 0, or LB_EFAIL with err set. */
static int begin(lb_audit *a, int64_t mono, lb_error *err)
{
	if (a->in_tx)
		return 0;
	if (lb_db_exec(a->db, "BEGIN", err) < 0)
		return LB_EFAIL;
	a->in_tx = true;
	a->tx_start = mono;
	return 0;
}

int lb_audit_set_outcome(lb_audit *a, int64_t id, const char *outcome, lb_error *err)
{
	sqlite3_stmt *st;

	/* the batch's age is unknown here: it is committed by the next tick or record */
	if (begin(a, a->in_tx ? a->tx_start : 0, err) < 0)
		return LB_EFAIL;
	st = lb_db_prepare(a->db, "UPDATE audit SET outcome = ? WHERE id = ?", err);
	if (!st)
		return LB_EFAIL;
	bind_text(st, 1, outcome, 32);
	sqlite3_bind_int64(st, 2, id);
	return lb_db_run(a->db, st, err);
}

int64_t lb_audit_record(lb_audit *a, const lb_audit_entry *e, lb_now now, lb_error *err)
{
	int64_t id;
	int rc;

	if (begin(a, now.mono, err) < 0)
		return LB_EFAIL;
	sqlite3_reset(a->insert);
	sqlite3_bind_int64(a->insert, 1, now.real);
	bind_text(a->insert, 2, e->user, COL_SHORT);
	bind_text(a->insert, 3, e->role, 16);
	bind_text(a->insert, 4, e->name, COL_NAME);
	bind_text(a->insert, 5, e->method, COL_NAME);
	bind_text(a->insert, 6, e->device, COL_NAME);
	bind_text(a->insert, 7, e->summary, LB_AUDIT_SUMMARY_MAX);
	bind_text(a->insert, 8, e->outcome, 32);
	rc = sqlite3_step(a->insert);
	sqlite3_reset(a->insert);
	sqlite3_clear_bindings(a->insert);
	if (rc != SQLITE_DONE)
		return lb_error_set(err, LB_ERR_INTERNAL, "audit log: %s", sqlite3_errmsg(a->db));
	id = sqlite3_last_insert_rowid(a->db);
	a->rows++;
	if (++a->batched >= LB_AUDIT_BATCH || now.mono - a->tx_start >= LB_AUDIT_BATCH_NS)
		if (lb_audit_flush(a, err) < 0)
			return LB_EFAIL;
	return id;
}

int64_t lb_audit_prune(lb_audit *a, int64_t now_real, lb_error *err)
{
	sqlite3_stmt *st;
	int64_t removed;

	if (lb_audit_flush(a, err) < 0)
		return LB_EFAIL;
	st = lb_db_prepare(a->db,
			   "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE t < ? "
			   "ORDER BY t LIMIT ?)",
			   err);
	if (!st)
		return LB_EFAIL;
	sqlite3_bind_int64(st, 1, now_real - (int64_t)a->days * 86400LL * 1000000000LL);
	sqlite3_bind_int(st, 2, LB_AUDIT_PRUNE_CHUNK);
	if (lb_db_run(a->db, st, err) < 0)
		return LB_EFAIL;
	removed = sqlite3_changes(a->db);
	a->rows -= removed;
	a->aged_full = removed >= LB_AUDIT_PRUNE_CHUNK;
	if (a->rows <= a->max_rows)
		return removed;
	/* the newest max_rows kept (ids grow: AUTOINCREMENT); the excess is what came since the
	 * last tick, so this stays short */
	st = lb_db_prepare(
	    a->db, "DELETE FROM audit WHERE id IN (SELECT id FROM audit ORDER BY id LIMIT ?)", err);
	if (!st)
		return LB_EFAIL;
	sqlite3_bind_int64(st, 1, a->rows - a->max_rows);
	if (lb_db_run(a->db, st, err) < 0)
		return LB_EFAIL;
	a->rows -= sqlite3_changes(a->db);
	return removed + sqlite3_changes(a->db);
}

int lb_audit_tick(lb_audit *a, lb_now now, lb_error *err)
{
	if (a->in_tx && now.mono - a->tx_start >= LB_AUDIT_BATCH_NS && lb_audit_flush(a, err) < 0)
		return LB_EFAIL;
	if (!a->pruned_once || now.mono >= a->next_prune) {
		a->pruned_once = true;
		if (lb_audit_prune(a, now.real, err) < 0)
			return LB_EFAIL;
		/* a full chunk of old entries: more may be due, at the next tick, not in an hour */
		a->next_prune = now.mono + (a->aged_full ? LB_AUDIT_BATCH_NS : LB_AUDIT_PRUNE_NS);
	} else if (a->rows > a->max_rows && lb_audit_prune(a, now.real, err) < 0) {
		return LB_EFAIL; /* a flood of requests: the row bound holds at every tick */
	}
	return 0;
}

/* A column of row st as a JSON string. */
static json_t *col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return json_string(s ? (const char *)s : "");
}

int lb_audit_list(lb_audit *a, const lb_audit_query *q, json_t **out, lb_error *err)
{
	char sql[512];
	size_t n;
	sqlite3_stmt *st = NULL;
	json_t *arr = NULL;
	int limit = q->limit ? q->limit : 100, k = 1, rc;

	*out = NULL;
	if (limit < 1 || limit > LB_AUDIT_LIST_MAX)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "limit must be 1..%d, not %d",
				    LB_AUDIT_LIST_MAX, limit);
	n = (size_t)snprintf(sql, sizeof sql,
			     "SELECT id,t,user,role,name,method,device,params,outcome FROM audit "
			     "WHERE 1");
	if (q->since)
		n += (size_t)snprintf(sql + n, sizeof sql - n, " AND t >= ?");
	if (q->until)
		n += (size_t)snprintf(sql + n, sizeof sql - n, " AND t <= ?");
	if (q->user)
		n += (size_t)snprintf(sql + n, sizeof sql - n, " AND user = ?");
	if (q->device)
		n += (size_t)snprintf(sql + n, sizeof sql - n, " AND device = ?");
	if (q->method)
		n += (size_t)snprintf(sql + n, sizeof sql - n, " AND method = ?");
	if (q->before_id)
		n += (size_t)snprintf(sql + n, sizeof sql - n, " AND id < ?");
	snprintf(sql + n, sizeof sql - n, " ORDER BY id DESC LIMIT ?");
	st = lb_db_prepare(a->db, sql, err);
	if (!st)
		return LB_EFAIL;
	if (q->since)
		sqlite3_bind_int64(st, k++, q->since);
	if (q->until)
		sqlite3_bind_int64(st, k++, q->until);
	if (q->user)
		sqlite3_bind_text(st, k++, q->user, -1, SQLITE_STATIC);
	if (q->device)
		sqlite3_bind_text(st, k++, q->device, -1, SQLITE_STATIC);
	if (q->method)
		sqlite3_bind_text(st, k++, q->method, -1, SQLITE_STATIC);
	if (q->before_id)
		sqlite3_bind_int64(st, k++, q->before_id);
	sqlite3_bind_int(st, k, limit);
	arr = json_array();
	if (!arr)
		goto oom;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = json_object();
		if (!row || json_array_append_new(arr, row) < 0)
			goto oom;
		json_object_set_new(row, "id", json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(row, "t", json_integer(sqlite3_column_int64(st, 1)));
		json_object_set_new(row, "user", col_str(st, 2));
		json_object_set_new(row, "role", col_str(st, 3));
		json_object_set_new(row, "name", col_str(st, 4));
		json_object_set_new(row, "method", col_str(st, 5));
		json_object_set_new(row, "device", col_str(st, 6));
		json_object_set_new(row, "params", col_str(st, 7));
		json_object_set_new(row, "outcome", col_str(st, 8));
	}
	if (rc != SQLITE_DONE) {
		lb_error_set(err, LB_ERR_INTERNAL, "audit log: %s", sqlite3_errmsg(a->db));
		goto fail;
	}
	sqlite3_finalize(st);
	*out = arr;
	return 0;
oom:
	lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
fail:
	sqlite3_finalize(st);
	json_decref(arr);
	return LB_EFAIL;
}

/* Whether a params key names a secret or bulk data, never summarised. */
static bool hidden_key(const char *k)
{
	static const char *const words[] = {"secret", "password", "passwd", "token",
					    "data",   "program",  "source", "content",
					    "code",   "private",  NULL};

	for (const char *const *w = words; *w; w++)
		if (strcasestr(k, *w))
			return true;
	return false;
}

/* A copy of v fit for a summary: at depth > 1 a container is "…", strings over 48 bytes cut. */
static json_t *summarise(const json_t *v, int depth)
{
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		char buf[64];
		if (n <= 48)
			return json_string(s);
		n = 48;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		snprintf(buf, sizeof buf, "%.*s…", (int)n, s);
		return json_string(buf);
	}
	if (json_is_object(v) || json_is_array(v)) {
		json_t *c;
		if (depth > 1)
			return json_string("…");
		c = json_is_object(v) ? json_object() : json_array();
		if (json_is_object(v)) {
			const char *k;
			json_t *x;
			json_object_foreach((json_t *)v, k, x) json_object_set_new(
			    c, k, hidden_key(k) ? json_string("…") : summarise(x, depth + 1));
		} else {
			size_t i;
			json_t *x;
			json_array_foreach(v, i, x)
			{
				if (i >= 8) {
					json_array_append_new(c, json_string("…"));
					break;
				}
				json_array_append_new(c, summarise(x, depth + 1));
			}
		}
		return c;
	}
	return json_deep_copy(v);
}

void lb_audit_summary(const json_t *params, char *out, size_t cap)
{
	json_t *s;
	char *text;
	size_t n, max = cap - 1 < LB_AUDIT_SUMMARY_MAX ? cap - 1 : LB_AUDIT_SUMMARY_MAX;

	if (!cap)
		return;
	out[0] = '\0';
	if (!json_is_object(params))
		return;
	s = summarise(params, 0);
	text = s ? json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10)) : NULL;
	json_decref(s);
	if (!text)
		return;
	n = strlen(text);
	if (n > max) {
		/* cut with room for "…" (3 bytes) at a character boundary */
		n = max >= 3 ? max - 3 : 0;
		while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
			n--;
		snprintf(out, cap, "%.*s%s", (int)n, text, max >= 3 ? "…" : "");
	} else {
		memcpy(out, text, n + 1);
	}
	free(text);
}

void lb_audit_destroy(lb_audit **pa)
{
	lb_audit *a;

	if (!pa || !*pa)
		return;
	a = *pa;
	lb_audit_flush(a, NULL);
	sqlite3_finalize(a->insert);
	sqlite3_close(a->db);
	free(a);
	*pa = NULL;
}
