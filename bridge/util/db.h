/* db.h - the SQLite helpers the stores share: open with a schema, prepare, step, exec. */
#ifndef LB_DB_H
#define LB_DB_H

#include <sqlite3.h>

#include "error.h"

/*
 * Open (creating if needed) the database at path, wait up to 2 s for a busy one, and run schema
 * (which sets WAL and creates the tables). The connection, or NULL with err set ("cannot open
 * /var/lib/labbridge/printq.db: ...") and nothing left open.
 */
sqlite3 *lb_db_open(const char *path, const char *schema, lb_error *err);

/* A prepared statement for sql, or NULL with err set (err may be NULL). */
sqlite3_stmt *lb_db_prepare(sqlite3 *db, const char *sql, lb_error *err);

/* Step a statement that returns no rows and finalize it; 0 or LB_EFAIL with err set. */
int lb_db_run(sqlite3 *db, sqlite3_stmt *s, lb_error *err);

/* Run SQL text without parameters; 0 or LB_EFAIL with err set (err may be NULL). */
int lb_db_exec(sqlite3 *db, const char *sql, lb_error *err);

#endif
