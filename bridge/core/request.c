/* request.c - parsing and validating client requests, building replies (pure, fuzzable). */
#include "request.h"

#include <stdlib.h>
#include <string.h>

int lb_request_parse(const void *buf, size_t len, lb_request *req, lb_error *err)
{
	json_error_t jerr;
	json_t *method, *params;

	memset(req, 0, sizeof *req);
	if (len > LB_REQUEST_MAX_JSON)
		return lb_error_set(
		    err, LB_ERR_TOO_LARGE,
		    "request frame of %zu bytes exceeds the %d-byte limit (files and "
		    "programs go in a binary frame after the JSON: print.upload, "
		    "robot.program.load)",
		    len, LB_REQUEST_MAX_JSON);
	/* jansson rejects invalid UTF-8 and NUL characters in strings. */
	req->root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!req->root)
		return lb_error_set(err, LB_ERR_PARSE, "malformed request (column %d): %s",
				    jerr.column, jerr.text);
	if (!json_is_object(req->root))
		return lb_error_set(err, LB_ERR_INVALID_REQUEST,
				    "a request must be a JSON object {id, method, params}");
	req->id = json_object_get(req->root, "id");
	if (!json_is_string(req->id) && !json_is_integer(req->id)) {
		req->id = NULL;
		return lb_error_set(err, LB_ERR_INVALID_REQUEST,
				    "request 'id' is missing or not a string or integer");
	}
	method = json_object_get(req->root, "method");
	if (!json_is_string(method) || json_string_length(method) == 0)
		return lb_error_set(err, LB_ERR_INVALID_REQUEST,
				    "request 'method' is missing or not a non-empty string");
	req->method = json_string_value(method);
	params = json_object_get(req->root, "params");
	if (!params || json_is_null(params)) {
		params = json_object();
		if (!params || json_object_set_new(req->root, "params", params) < 0)
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	} else if (!json_is_object(params)) {
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "request 'params' must be an object");
	}
	req->params = params;
	{
		static const char *const fields[] = {"id", "method", "params", NULL};
		if (lb_param_only(req->root, fields, err) < 0)
			return lb_error_set(err, LB_ERR_INVALID_REQUEST,
					    "unknown request field (expected id, method, params)");
	}
	return 0;
}

void lb_request_clear(lb_request *req)
{
	json_decref(req->root);
	memset(req, 0, sizeof *req);
}

/* Serialise a reply object; NULL on failure. Steals r. */
static char *reply_dump(json_t *r)
{
	char *text = r ? json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;

	json_decref(r);
	return text;
}

char *lb_reply_result(const json_t *id, json_t *result)
{
	json_t *r = json_object();

	if (!r) {
		json_decref(result);
		return NULL;
	}
	json_object_set_new(r, "id", id ? json_copy((json_t *)id) : json_null());
	json_object_set_new(r, "result", result ? result : json_null());
	return reply_dump(r);
}

char *lb_reply_error(const json_t *id, const lb_error *err)
{
	json_t *r = json_pack("{s:o,s:{s:i,s:s,s:s}}", "id",
			      id ? json_copy((json_t *)id) : json_null(), "error", "code",
			      err->code, "name", lb_error_name(err->code), "message", err->message);
	if (!r) /* a message that is not UTF-8 */
		r = json_pack("{s:o,s:{s:i,s:s,s:s}}", "id",
			      id ? json_copy((json_t *)id) : json_null(), "error", "code",
			      err->code, "name", lb_error_name(err->code), "message",
			      "(message not UTF-8)");
	return reply_dump(r);
}
