/* test_scan_submit.c - the scan service's checks of a submission: formats per kind, settings. */
#include <jansson.h>

#include "check.h"
#include "../../bridge/services/scan/scan_submit.h"

/* The settings of a JSON text, checked: 0, or negative with the message in msg. */
static int settings(const char *text, char *msg, size_t cap)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	lb_error err = {0};
	int rc = scan_check_settings(v, &err);

	snprintf(msg, cap, "%s", rc < 0 ? err.message : "");
	json_decref(v);
	return rc;
}

static void test_formats(void)
{
	const char *f = NULL;
	lb_error err = {0};

	CHECK_EQ_INT(scan_check_format("scanner", NULL, &f, &err), 0);
	CHECK_STR(f, "pdf");
	CHECK_EQ_INT(scan_check_format("scanner3d", NULL, &f, &err), 0);
	CHECK_STR(f, "ply");
	for (const char *const *n = (const char *const[]){"pdf", "png", "jpeg", "tiff", NULL}; *n;
	     n++) {
		CHECK_EQ_INT(scan_check_format("scanner", *n, &f, &err), 0);
		CHECK_STR(f, *n);
	}
	CHECK(scan_check_format("scanner", "ply", &f, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK(strstr(err.message, "pdf, png, jpeg, tiff or pnm") != NULL);
	CHECK(scan_check_format("scanner3d", "pdf", &f, &err) < 0);
	CHECK(scan_check_format("scanner", "PDF", &f, &err) < 0);
	CHECK(scan_check_format("scanner", "", &f, &err) < 0);
}

static void test_settings(void)
{
	char msg[256], big[2048];
	int n = 0;

	CHECK_EQ_INT(settings("null", msg, sizeof msg), 0);
	CHECK_EQ_INT(settings("{}", msg, sizeof msg), 0);
	CHECK_EQ_INT(settings("{\"resolution\": 300, \"mode\": \"Color\", \"preview\": false, "
			      "\"page\": [210, 297.5], \"x\": -1.5}",
			      msg, sizeof msg),
		     0);
	CHECK(settings("[1]", msg, sizeof msg) < 0);
	CHECK(settings("{\"page\": [1, 2, 3]}", msg, sizeof msg) < 0);
	CHECK(strstr(msg, "settings.page") != NULL);
	CHECK(settings("{\"page\": [1, \"a\"]}", msg, sizeof msg) < 0);
	CHECK(settings("{\"mode\": {\"a\": 1}}", msg, sizeof msg) < 0);
	CHECK(settings("{\"mode\": null}", msg, sizeof msg) < 0);
	CHECK(settings("{\"\": 1}", msg, sizeof msg) < 0);
	CHECK(settings("{\"s\": \"a\\u0000b\"}", msg, sizeof msg) < 0); /* a NUL inside */
	/* 64 characters pass, 65 do not, for keys and string values alike */
	snprintf(big, sizeof big, "{\"k\": \"%064d\"}", 0);
	CHECK_EQ_INT(settings(big, msg, sizeof msg), 0);
	snprintf(big, sizeof big, "{\"k\": \"%065d\"}", 0);
	CHECK(settings(big, msg, sizeof msg) < 0);
	snprintf(big, sizeof big, "{\"%064d\": 1}", 0);
	CHECK_EQ_INT(settings(big, msg, sizeof msg), 0);
	snprintf(big, sizeof big, "{\"%065d\": 1}", 0);
	CHECK(settings(big, msg, sizeof msg) < 0);
	/* 32 keys pass, 33 do not */
	n = snprintf(big, sizeof big, "{");
	for (int i = 0; i < 33; i++)
		n += snprintf(big + n, sizeof big - (size_t)n, "%s\"k%d\": %d", i ? "," : "", i, i);
	snprintf(big + n, sizeof big - (size_t)n, "}");
	CHECK(settings(big, msg, sizeof msg) < 0);
	CHECK(strstr(msg, "at most 32") != NULL);
	*strrchr(big, ',') = '}';
	CHECK_EQ_INT(settings(big, msg, sizeof msg), 0);
}

int main(void)
{
	RUN(test_formats);
	RUN(test_settings);
	return check_summary();
}
