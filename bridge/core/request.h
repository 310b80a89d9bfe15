/* request.h - parsing and validating client requests, building replies (pure, fuzzable). */
#ifndef LB_REQUEST_H
#define LB_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../sdk/params.h"
#include "../util/error.h"

#define LB_REQUEST_MAX_JSON (64 * 1024)

/* A parsed request. root owns everything; id, method and params point into it. */
typedef struct lb_request {
	json_t *root;
	json_t *id; /* string or integer; NULL when it could not be read */
	const char *method;
	json_t *params; /* always an object (an empty one when absent) */
} lb_request;

/*
 * Parse one request frame: UTF-8 JSON {"id": string|int, "method": string, "params": object?}.
 * Returns 0, or a negative code with err set (parse_error, invalid_request, too_large); on
 * failure req->id still holds the id if one could be read, for the error reply.
 */
int lb_request_parse(const void *buf, size_t len, lb_request *req, lb_error *err);

/* Release what lb_request_parse allocated; safe on a zeroed or failed request. */
void lb_request_clear(lb_request *req);

/* A reply text {"id":..,"result":..} (result stolen, NULL for null); malloc'd, NULL on ENOMEM. */
char *lb_reply_result(const json_t *id, json_t *result);

/* A reply text {"id":..,"error":{"code","name","message"}}; malloc'd, NULL on ENOMEM. */
char *lb_reply_error(const json_t *id, const lb_error *err);

#endif
