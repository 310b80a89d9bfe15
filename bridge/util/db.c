/* db.c - the SQLite helpers the stores share: open with a schema, prepare, step, exec. */
#include "db.h"

#include <stddef.h>

sqlite3 *lb_db_open(const char *path, const char *schema, lb_error *err)
{
	sqlite3 *db = NULL;

	if (sqlite3_open(path, &db) != SQLITE_OK) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot open %s: %s", path,
			     db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(db, 2000);
	if (lb_db_exec(db, schema, err) < 0)
		goto fail;
	return db;
fail:
	sqlite3_close(db);
	return NULL;
}

sqlite3_stmt *lb_db_prepare(sqlite3 *db, const char *sql, lb_error *err)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		lb_error_set(err, LB_ERR_INTERNAL, "database %s: %s",
			     sqlite3_db_filename(db, "main"), sqlite3_errmsg(db));
		return NULL;
	}
	return s;
}

int lb_db_run(sqlite3 *db, sqlite3_stmt *s, lb_error *err)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return lb_error_set(err, LB_ERR_INTERNAL, "database %s: %s",
				    sqlite3_db_filename(db, "main"), sqlite3_errmsg(db));
	return 0;
}

int lb_db_exec(sqlite3 *db, const char *sql, lb_error *err)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		lb_error_set(err, LB_ERR_INTERNAL, "database %s: %s",
			     sqlite3_db_filename(db, "main"), msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return LB_EFAIL;
	}
	return 0;
}
