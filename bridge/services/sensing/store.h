/* store.h - what must survive a restart (calibrations, recordings), in SQLite (WAL). */
#ifndef LB_STORE_H
#define LB_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "../../util/error.h"

typedef struct lb_store lb_store;

/*
 * Open (creating if needed) dir/labbridge.db and its tables. Recordings left "recording" by a
 * crash are marked "interrupted" (their files stay readable). NULL with err set on failure.
 */
lb_store *lb_store_new(const char *dir, lb_error *err);

/* Close. Accepts NULL; nulls the pointer. */
void lb_store_destroy(lb_store **pst);

/* {stream: {"gain": g, "offset": o}} for a device id: a new object (empty if none), or NULL. */
json_t *lb_store_calib_get(lb_store *st, const char *device);

/* Store (replace) a stream's calibration; 0 or negative with err set. */
int lb_store_calib_set(lb_store *st, const char *device, const char *stream, double gain,
		       double offset, int64_t now_real, lb_error *err);

/* Remove a stream's calibration (stream NULL: every stream of the device); 0 or negative. */
int lb_store_calib_clear(lb_store *st, const char *device, const char *stream, lb_error *err);

/* A new recording's row; returns its id (> 0) or negative with err set. */
long long lb_store_recording_add(lb_store *st, const json_t *rec, lb_error *err);

/* Record where a recording's files are; 0 or negative with err set. */
int lb_store_recording_dir(lb_store *st, long long id, const char *dir, lb_error *err);

/* Set a recording's state ("recording", "stopped", "interrupted") and stop time; 0 or negative. */
int lb_store_recording_state(lb_store *st, long long id, const char *state, int64_t stopped,
			     lb_error *err);

/* Every recording (newest first) as a new array of objects, or one (id > 0) as an object. */
json_t *lb_store_recordings(lb_store *st, long long id);

#endif
