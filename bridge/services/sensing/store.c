/* store.c - what must survive a restart (calibrations, recordings), in SQLite (WAL). */
#include "store.h"

#include "../../util/db.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../util/log.h"
#include "../../util/fsutil.h"

struct lb_store {
	sqlite3 *db;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS calibration ("
    " device TEXT NOT NULL, stream TEXT NOT NULL, gain REAL NOT NULL, offset REAL NOT NULL,"
    " updated INTEGER NOT NULL, PRIMARY KEY (device, stream));"
    "CREATE TABLE IF NOT EXISTS recording ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, owner TEXT NOT NULL,"
    " state TEXT NOT NULL, started INTEGER NOT NULL, stopped INTEGER,"
    " dir TEXT NOT NULL, spec TEXT NOT NULL);"
    "UPDATE recording SET state = 'interrupted' WHERE state = 'recording';";

lb_store *lb_store_new(const char *dir, lb_error *err)
{
	lb_store *st = calloc(1, sizeof *st);
	char path[600];

	if (!st) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (lb_mkdirs(dir, 0755) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot create the data directory %s: %s", dir,
			     strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof path, "%s/labbridge.db", dir);
	st->db = lb_db_open(path, schema, err);
	if (!st->db)
		goto fail;
	return st;
fail:
	lb_store_destroy(&st);
	return NULL;
}

void lb_store_destroy(lb_store **pst)
{
	if (!pst || !*pst)
		return;
	sqlite3_close((*pst)->db);
	free(*pst);
	*pst = NULL;
}

json_t *lb_store_calib_get(lb_store *st, const char *device)
{
	sqlite3_stmt *s = lb_db_prepare(
	    st->db, "SELECT stream, gain, offset FROM calibration WHERE device = ?", NULL);
	json_t *o = json_object();

	if (!s)
		return o;
	sqlite3_bind_text(s, 1, device, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(s) == SQLITE_ROW)
		json_object_set_new(o, (const char *)sqlite3_column_text(s, 0),
				    json_pack("{s:f,s:f}", "gain", sqlite3_column_double(s, 1),
					      "offset", sqlite3_column_double(s, 2)));
	sqlite3_finalize(s);
	return o;
}

int lb_store_calib_set(lb_store *st, const char *device, const char *stream, double gain,
		       double offset, int64_t now_real, lb_error *err)
{
	sqlite3_stmt *s =
	    lb_db_prepare(st->db,
			  "INSERT OR REPLACE INTO calibration (device, stream, gain, offset, "
			  "updated) VALUES (?, ?, ?, ?, ?)",
			  err);

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, device, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, stream, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(s, 3, gain);
	sqlite3_bind_double(s, 4, offset);
	sqlite3_bind_int64(s, 5, now_real);
	return lb_db_run(st->db, s, err);
}

int lb_store_calib_clear(lb_store *st, const char *device, const char *stream, lb_error *err)
{
	sqlite3_stmt *s =
	    lb_db_prepare(st->db,
			  stream ? "DELETE FROM calibration WHERE device = ? AND stream = ?"
				 : "DELETE FROM calibration WHERE device = ?",
			  err);

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, device, -1, SQLITE_TRANSIENT);
	if (stream)
		sqlite3_bind_text(s, 2, stream, -1, SQLITE_TRANSIENT);
	return lb_db_run(st->db, s, err);
}

long long lb_store_recording_add(lb_store *st, const json_t *rec, lb_error *err)
{
	sqlite3_stmt *s =
	    lb_db_prepare(st->db,
			  "INSERT INTO recording (name, owner, state, started, dir, spec) "
			  "VALUES (?, ?, 'recording', ?, ?, ?)",
			  err);
	char *spec;

	if (!s)
		return LB_EFAIL;
	spec = json_dumps(rec, JSON_COMPACT);
	sqlite3_bind_text(s, 1, json_string_value(json_object_get(rec, "name")), -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 2, json_string_value(json_object_get(rec, "owner")), -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 3, json_integer_value(json_object_get(rec, "started")));
	sqlite3_bind_text(s, 4, json_string_value(json_object_get(rec, "dir")), -1,
			  SQLITE_TRANSIENT);
	sqlite3_bind_text(s, 5, spec ? spec : "{}", -1, SQLITE_TRANSIENT);
	free(spec);
	if (lb_db_run(st->db, s, err) < 0)
		return LB_EFAIL;
	return (long long)sqlite3_last_insert_rowid(st->db);
}

int lb_store_recording_dir(lb_store *st, long long id, const char *dir, lb_error *err)
{
	sqlite3_stmt *s = lb_db_prepare(st->db, "UPDATE recording SET dir = ? WHERE id = ?", err);

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, dir, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, id);
	return lb_db_run(st->db, s, err);
}

int lb_store_recording_state(lb_store *st, long long id, const char *state, int64_t stopped,
			     lb_error *err)
{
	sqlite3_stmt *s =
	    lb_db_prepare(st->db, "UPDATE recording SET state = ?, stopped = ? WHERE id = ?", err);

	if (!s)
		return LB_EFAIL;
	sqlite3_bind_text(s, 1, state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, stopped);
	sqlite3_bind_int64(s, 3, id);
	return lb_db_run(st->db, s, err);
}

json_t *lb_store_recordings(lb_store *st, long long id)
{
	sqlite3_stmt *s =
	    lb_db_prepare(st->db,
			  id > 0 ? "SELECT id, name, owner, state, started, stopped, dir, spec "
				   "FROM recording WHERE id = ?"
				 : "SELECT id, name, owner, state, started, stopped, dir, spec "
				   "FROM recording ORDER BY id DESC",
			  NULL);
	json_t *a = json_array();

	if (!s)
		return id > 0 ? NULL : a;
	if (id > 0)
		sqlite3_bind_int64(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *spec = json_loads((const char *)sqlite3_column_text(s, 7), 0, NULL);
		json_t *r = json_pack("{s:I,s:s,s:s,s:s,s:I,s:s}", "id",
				      (json_int_t)sqlite3_column_int64(s, 0), "name",
				      (const char *)sqlite3_column_text(s, 1), "owner",
				      (const char *)sqlite3_column_text(s, 2), "state",
				      (const char *)sqlite3_column_text(s, 3), "started_ns",
				      (json_int_t)sqlite3_column_int64(s, 4), "dir",
				      (const char *)sqlite3_column_text(s, 6));
		if (!r) {
			json_decref(spec);
			continue;
		}
		json_object_set_new(r, "stopped_ns",
				    sqlite3_column_type(s, 5) == SQLITE_NULL
					? json_null()
					: json_integer(sqlite3_column_int64(s, 5)));
		json_object_set(r, "streams", json_object_get(spec, "streams"));
		json_object_set(r, "sep", json_object_get(spec, "sep"));
		json_object_set(r, "decimal_comma", json_object_get(spec, "decimal_comma"));
		json_decref(spec);
		json_array_append_new(a, r);
	}
	sqlite3_finalize(s);
	if (id > 0) {
		json_t *one = json_incref(json_array_get(a, 0));
		json_decref(a);
		return one;
	}
	return a;
}
