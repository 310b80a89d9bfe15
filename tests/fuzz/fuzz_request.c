/* fuzz_request.c - libFuzzer harness: request parsing, param readers and replies on any bytes. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bridge/core/request.h"

/* A reply may only fail for lack of memory (error messages are cut at UTF-8 boundaries). */

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether s is valid UTF-8 (what jansson accepts in a string). */
static bool utf8_valid(const char *s)
{
	json_t *j = json_string(s);
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

/* The code is one lb_request_parse or a parameter reader may report. */
static bool known_code(int code)
{
	return code == LB_ERR_PARSE || code == LB_ERR_INVALID_REQUEST ||
	       code == LB_ERR_INVALID_PARAMS || code == LB_ERR_TOO_LARGE || code == LB_ERR_INTERNAL;
}

/* Build an error reply for err and check it: JSON, the id echoed, code, name and message. */
static void check_error_reply(const json_t *id, const lb_error *err)
{
	char *text = lb_reply_error(id, err);
	json_t *r, *e;

	FUZZ_ASSERT(text != NULL);
	FUZZ_ASSERT(utf8_valid(err->message));
	r = json_loads(text, 0, NULL);
	FUZZ_ASSERT(json_is_object(r));
	FUZZ_ASSERT(json_object_size(r) == 2);
	FUZZ_ASSERT(id ? json_equal(json_object_get(r, "id"), (json_t *)id)
		       : json_is_null(json_object_get(r, "id")));
	e = json_object_get(r, "error");
	FUZZ_ASSERT(json_integer_value(json_object_get(e, "code")) == err->code);
	FUZZ_ASSERT(
	    strcmp(json_string_value(json_object_get(e, "name")), lb_error_name(err->code)) == 0);
	FUZZ_ASSERT(strcmp(json_string_value(json_object_get(e, "message")), err->message) == 0);
	json_decref(r);
	free(text);
}

/* Read params as the method handlers of PROTOCOL.md do. */
static void read_params(const lb_request *req)
{
	static const char *const string_keys[] = {"device", "key",    "action", "name",
						  "role",   "prefix", "kind"};
	static const char *const allowed[] = {"device", "ttl_ms", "force", "key",
					      "value",	"action", "args",  NULL};
	lb_error err;
	const char *s;
	long long ll;
	bool b;

	for (size_t i = 0; i < sizeof string_keys / sizeof string_keys[0]; i++) {
		bool required = i % 2 == 0;
		s = NULL;
		memset(&err, 0, sizeof err);
		if (lb_param_string(req->params, string_keys[i], required, &s, &err) < 0) {
			FUZZ_ASSERT(err.code == LB_ERR_INVALID_PARAMS);
			check_error_reply(req->id, &err);
		} else if (s) {
			FUZZ_ASSERT(utf8_valid(s));
		} else {
			FUZZ_ASSERT(!required);
		}
	}

	ll = 30000;
	memset(&err, 0, sizeof err);
	if (lb_param_int(req->params, "ttl_ms", false, 1000, 600000, &ll, &err) < 0) {
		FUZZ_ASSERT(err.code == LB_ERR_INVALID_PARAMS);
		check_error_reply(req->id, &err);
	}
	FUZZ_ASSERT(ll >= 1000 && ll <= 600000);
	ll = 0;
	if (lb_param_int(req->params, "value", true, -1000000, 1000000, &ll, &err) < 0)
		check_error_reply(req->id, &err);
	FUZZ_ASSERT(ll >= -1000000 && ll <= 1000000);

	b = false;
	if (lb_param_bool(req->params, "force", &b, &err) < 0) {
		FUZZ_ASSERT(err.code == LB_ERR_INVALID_PARAMS);
		check_error_reply(req->id, &err);
	}

	memset(&err, 0, sizeof err);
	if (lb_param_only(req->params, allowed, &err) < 0) {
		FUZZ_ASSERT(err.code == LB_ERR_INVALID_PARAMS);
		check_error_reply(req->id, &err);
	}
}

/* A result reply carrying a copy of params: it must parse back to the same values. */
static void check_result_reply(const lb_request *req)
{
	json_t *copy = json_deep_copy(req->params);
	char *text;
	json_t *r;

	FUZZ_ASSERT(copy != NULL);
	text = lb_reply_result(req->id, copy); /* steals copy */
	FUZZ_ASSERT(text != NULL);
	r = json_loads(text, 0, NULL);
	FUZZ_ASSERT(json_is_object(r));
	FUZZ_ASSERT(json_equal(json_object_get(r, "id"), req->id));
	/* Reals are printed with 10 digits: compare only when there are none. */
	if (!strpbrk(text, ".eE"))
		FUZZ_ASSERT(json_equal(json_object_get(r, "result"), req->params));
	json_decref(r);
	free(text);

	/* NULL result and NULL id. */
	text = lb_reply_result(NULL, NULL);
	FUZZ_ASSERT(text && strcmp(text, "{\"id\":null,\"result\":null}") == 0);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lb_request req;
	lb_error err;
	int rc;

	memset(&err, 0, sizeof err);
	rc = lb_request_parse(data, size, &req, &err);
	if (rc < 0) {
		FUZZ_ASSERT(known_code(err.code));
		FUZZ_ASSERT(memchr(err.message, '\0', sizeof err.message) != NULL);
		FUZZ_ASSERT(req.id == NULL || json_is_integer(req.id) || json_is_string(req.id));
		if (size > LB_REQUEST_MAX_JSON)
			FUZZ_ASSERT(err.code == LB_ERR_TOO_LARGE && req.root == NULL);
		check_error_reply(req.id, &err);
	} else {
		FUZZ_ASSERT(rc == 0);
		FUZZ_ASSERT(size <= LB_REQUEST_MAX_JSON);
		FUZZ_ASSERT(json_is_object(req.root));
		FUZZ_ASSERT(json_is_integer(req.id) || json_is_string(req.id));
		FUZZ_ASSERT(req.method && req.method[0] && utf8_valid(req.method));
		FUZZ_ASSERT(json_is_object(req.params));
		FUZZ_ASSERT(json_object_size(req.root) ==
			    3); /* id, method, params (added if absent) */
		read_params(&req);
		check_result_reply(&req);

		/* Every documented error for this request id. */
		static const int codes[] = {LB_ERR_METHOD_NOT_FOUND, LB_ERR_UNKNOWN_DEVICE,
					    LB_ERR_LEASED, LB_ERR_TOO_LARGE};
		for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
			lb_error_set(&err, codes[i], "method '%s' failed", req.method);
			check_error_reply(req.id, &err);
		}
	}
	lb_request_clear(&req);
	FUZZ_ASSERT(req.root == NULL && req.id == NULL);
	return 0;
}
