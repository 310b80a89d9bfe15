/* recorder.h - recordings of chosen streams to CSV files, in their own thread. */
#ifndef LB_RECORDER_H
#define LB_RECORDER_H

#include <jansson.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "../../util/error.h"

typedef struct lb_recorder lb_recorder;

/* CSV options: the separator and the decimal mark (',' for French spreadsheets). */
typedef struct lb_csv_opts {
	char sep;	   /* ',' or ';' or '\t' */
	int decimal_comma; /* 1: 21,5 instead of 21.5 (needs sep != ',') */
} lb_csv_opts;

/*
 * Format one CSV row "t<sep>time<sep>value\n" into buf: t in seconds since the recording started
 * (6 decimals), time as ISO 8601 UTC with microseconds, value with 7 significant digits. Pure.
 * Returns the length, or -1 if it does not fit.
 */
int lb_csv_row(char *buf, size_t cap, const lb_csv_opts *o, int64_t t_ns, int64_t t0_ns,
	       double value);

/* The CSV header line "t (s)<sep>time (UTC)<sep>quantity (unit)\n" (quoted if needed). Pure. */
int lb_csv_header(char *buf, size_t cap, const lb_csv_opts *o, const char *quantity,
		  const char *unit);

/*
 * Start the recorder thread: it subscribes to the bridge's streams at endpoint (an inproc
 * endpoint of the XPUB socket) as recordings ask, each prefix after key (keylen bytes,
 * srv_streams_token: what tells the bridge its subscriptions are the recorder's). NULL with err
 * set on failure.
 */
lb_recorder *lb_recorder_new(void *zctx, const char *endpoint, const unsigned char *key,
			     size_t keylen, lb_error *err);

/*
 * Start recording id: every stream under each prefix of `prefixes` (an array of strings) goes
 * to dir/<device>_<stream>.csv from now on, each row written whole with one write(2) and synced
 * to disk every second, so a crash leaves every line written readable. 0 or negative.
 */
int lb_recorder_start(lb_recorder *r, long long id, const char *dir, const json_t *prefixes,
		      const lb_csv_opts *o, int64_t t0_real);

/* Stop recording id and close its files (waits for the thread's acknowledgement). */
int lb_recorder_stop(lb_recorder *r, long long id);

/* Stop everything and join the thread. Accepts NULL; nulls the pointer. */
void lb_recorder_destroy(lb_recorder **pr);

#endif
