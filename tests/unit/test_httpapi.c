/* test_httpapi.c - unit tests of protocols/httpapi.c and the web sessions (services/web/pairing.c).
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "../../bridge/services/web/pairing.h"
#include "../../bridge/services/web/web.h"
#include "../../protocols/httpapi.h"

/* lb_httpapi_path on a C string: its result, out filled. */
static int path(const char *raw, char *out)
{
	return lb_httpapi_path(raw, strlen(raw), out, LB_HTTPAPI_PATH_MAX + 1);
}

static void test_path_ok(void)
{
	char out[LB_HTTPAPI_PATH_MAX + 1];

	CHECK_EQ_INT(path("/", out), 0);
	CHECK_STR(out, "index.html");
	CHECK_EQ_INT(path("/js/app.js", out), 0);
	CHECK_STR(out, "js/app.js");
	CHECK_EQ_INT(path("/a%20b.txt", out), 0);
	CHECK_STR(out, "a b.txt");
	CHECK_EQ_INT(path("/fr/caf%C3%A9.html", out), 0);
	CHECK_STR(out, "fr/caf\xc3\xa9.html");
}

static void test_path_refused(void)
{
	static const char *const bad[] = {
	    "",		  "index.html",	  "/..",    "/../etc/passwd", "/%2e%2e/x",
	    "/%2E%2e/x",  "/a/../b",	  "/a/./b", "//etc/passwd",   "/a//b",
	    "/a/",	  "/.git/config", "/a%00b", "/a%2",	      "/a%zz",
	    "/a%5cb",	  "/a\\b",	  "/a%0ab", "/a%2f..%2fb",    "/.",
	    "/a/.hidden", "/%2f",
	};
	char out[LB_HTTPAPI_PATH_MAX + 1];
	char longp[LB_HTTPAPI_PATH_MAX + 10];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_MSG(path(bad[i], out) < 0, bad[i]);
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	CHECK(path(longp, out) < 0);
	/* a raw NUL inside the length given */
	CHECK(lb_httpapi_path("/a\0b", 4, out, sizeof out) < 0);
	/* too small an output */
	CHECK(lb_httpapi_path("/abc", 4, out, 3) < 0);
}

static void test_mime(void)
{
	CHECK_STR(lb_httpapi_mime("index.html"), "text/html; charset=utf-8");
	CHECK_STR(lb_httpapi_mime("js/app.JS"), "text/javascript; charset=utf-8");
	CHECK_STR(lb_httpapi_mime("a.css"), "text/css; charset=utf-8");
	CHECK_STR(lb_httpapi_mime("x.svg"), "image/svg+xml");
	CHECK_STR(lb_httpapi_mime("noext"), "application/octet-stream");
	CHECK_STR(lb_httpapi_mime("dir.html/noext"), "application/octet-stream");
	CHECK_STR(lb_httpapi_mime("a.exe"), "application/octet-stream");
}

/* Parse a call body given as a C string. */
static int call(const char *body, lb_httpapi_call *c, const char **code, const char **why)
{
	return lb_httpapi_call_parse(body, strlen(body), c, code, why);
}

static void test_call_ok(void)
{
	lb_httpapi_call c;
	const char *code = NULL, *why = NULL;

	CHECK_EQ_INT(call("{\"method\":\"devices.list\"}", &c, &code, &why), 0);
	CHECK_STR(c.method, "devices.list");
	CHECK(json_is_object(c.params) && json_object_size(c.params) == 0);
	CHECK(c.data == NULL);
	lb_httpapi_call_clear(&c);
	CHECK_EQ_INT(
	    call("{\"method\":\"print.upload\",\"params\":{\"job\":3},\"data\":\"AAEC/w==\"}", &c,
		 &code, &why),
	    0);
	CHECK_EQ_INT(json_integer_value(json_object_get(c.params, "job")), 3);
	CHECK_EQ_UINT(c.datalen, 4);
	CHECK(c.data && c.data[0] == 0 && c.data[1] == 1 && c.data[2] == 2 && c.data[3] == 255);
	lb_httpapi_call_clear(&c);
	lb_httpapi_call_clear(&c); /* twice is fine */
}

static void test_call_refused(void)
{
	static const struct {
		const char *body, *code;
	} bad[] = {
	    {"", "parse_error"},
	    {"{", "parse_error"},
	    {"[]", "invalid_request"},
	    {"{\"params\":{}}", "invalid_request"},
	    {"{\"method\":7}", "invalid_request"},
	    {"{\"method\":\"\"}", "invalid_request"},
	    {"{\"method\":\"Devices.List\"}", "invalid_request"},
	    {"{\"method\":\"a b\"}", "invalid_request"},
	    {"{\"method\":\"x\",\"params\":[]}", "invalid_request"},
	    {"{\"method\":\"x\",\"params\":\"a\"}", "invalid_request"},
	    {"{\"method\":\"x\",\"id\":1}", "invalid_request"},
	    {"{\"method\":\"x\",\"data\":5}", "invalid_request"},
	    {"{\"method\":\"x\",\"data\":\"@@@\"}", "invalid_request"},
	    {"{\"method\":\"x\",\"method\":\"y\"}", "parse_error"},
	};
	lb_httpapi_call c;
	const char *code, *why;
	char *big;
	size_t n = LB_HTTPAPI_JSON_MAX + 100;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		CHECK_MSG(call(bad[i].body, &c, &code, &why) < 0, bad[i].body);
		CHECK_STR(code, bad[i].code);
		CHECK(why && *why);
		CHECK(c.params == NULL && c.data == NULL);
	}
	/* a 65-character method */
	CHECK(call("{\"method\":"
		   "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		   &c, &code, &why) < 0);
	/* params over 64 KiB */
	big = malloc(n + 64);
	CHECK(big != NULL);
	if (!big)
		return;
	n = (size_t)sprintf(big, "{\"method\":\"x\",\"params\":{\"a\":\"");
	memset(big + n, 'a', LB_HTTPAPI_JSON_MAX);
	n += LB_HTTPAPI_JSON_MAX;
	strcpy(big + n, "\"}}");
	CHECK(call(big, &c, &code, &why) < 0);
	CHECK_STR(code, "too_large");
	/* a body over the whole limit is refused before parsing */
	CHECK(lb_httpapi_call_parse(big, LB_HTTPAPI_BODY_MAX + 1, &c, &code, &why) < 0);
	CHECK_STR(code, "too_large");
	free(big);
}

static void test_call_data_limit(void)
{
	size_t bin = LB_HTTPAPI_DATA_MAX + 3, b64 = (bin + 2) / 3 * 4;
	char *body = malloc(b64 + 64);
	lb_httpapi_call c;
	const char *code, *why;
	size_t n;

	CHECK(body != NULL);
	if (!body)
		return;
	/* "AAAA" is 3 zero bytes: 1 MiB + 3 bytes of data is refused, 1 MiB - 2 accepted */
	n = (size_t)sprintf(body, "{\"method\":\"x\",\"data\":\"");
	for (size_t i = 0; i < b64; i++)
		body[n + i] = 'A';
	strcpy(body + n + b64, "\"}");
	CHECK(call(body, &c, &code, &why) < 0);
	CHECK_STR(code, "too_large");
	b64 = (LB_HTTPAPI_DATA_MAX - 2) / 3 * 4;
	strcpy(body + n + b64, "\"}");
	CHECK_EQ_INT(call(body, &c, &code, &why), 0);
	CHECK_EQ_UINT(c.datalen, b64 / 4 * 3);
	lb_httpapi_call_clear(&c);
	free(body);
}

static void test_codes(void)
{
	char out[LB_HTTPAPI_CODE_LEN + 1];
	unsigned char rnd[LB_HTTPAPI_CODE_LEN] = {0, 31, 32, 255, 8, 24};
	const char *why;

	lb_httpapi_code_make(rnd, out);
	CHECK_STR(out, "A9A9J2");
	for (int b = 0; b < 256; b++) {
		unsigned char r[LB_HTTPAPI_CODE_LEN];
		memset(r, b, sizeof r);
		lb_httpapi_code_make(r, out);
		CHECK(strpbrk(out, "0O1I") == NULL);
	}
	CHECK_EQ_INT(lb_httpapi_code_normalise("k7q-m2x", 7, out), 0);
	CHECK_STR(out, "K7QM2X");
	CHECK_EQ_INT(lb_httpapi_code_normalise(" K7Q M2X ", 9, out), 0);
	CHECK(lb_httpapi_code_normalise("K7QM2", 5, out) < 0);
	CHECK(lb_httpapi_code_normalise("K7QM2XY", 7, out) < 0);
	CHECK(lb_httpapi_code_normalise("K7QM20", 6, out) < 0); /* 0 is not in the alphabet */
	CHECK(lb_httpapi_code_normalise("K7QM\0X", 6, out) < 0);
	CHECK_EQ_INT(lb_httpapi_pair_parse("{\"code\":\"abc-def\"}", 18, out, &why), 0);
	CHECK_STR(out, "ABCDEF");
	CHECK(lb_httpapi_pair_parse("{\"code\":\"abc-def\",\"x\":1}", 24, out, &why) < 0);
	CHECK(lb_httpapi_pair_parse("{\"code\":5}", 10, out, &why) < 0);
	CHECK(lb_httpapi_pair_parse("nope", 4, out, &why) < 0);
}

static void test_token(void)
{
	char out[LB_HTTPAPI_TOKEN_LEN + 1];
	const char *t = "tve0ziY7uBVJu-R1m6mTC7Sz-FbM3MZoQ2u_SITyrUY";
	char hdr[80];

	snprintf(hdr, sizeof hdr, "Bearer %s", t);
	CHECK_EQ_INT(lb_httpapi_token(hdr, 1, out), 0);
	CHECK_STR(out, t);
	CHECK_EQ_INT(lb_httpapi_token(t, 0, out), 0);
	CHECK(lb_httpapi_token(t, 1, out) < 0);	  /* no "Bearer " */
	CHECK(lb_httpapi_token(hdr, 0, out) < 0); /* a raw token has no space */
	CHECK(lb_httpapi_token("Bearer abc", 1, out) < 0);
	CHECK(lb_httpapi_token("tve0ziY7uBVJu+R1m6mTC7Sz-FbM3MZoQ2u_SITyrUY", 0, out) < 0);
	CHECK(lb_httpapi_token(NULL, 0, out) < 0);
}

static void test_topics(void)
{
	lb_httpapi_topics t;
	const char *why;
	char many[1024] = "";

	CHECK_EQ_INT(lb_httpapi_topics_parse(NULL, &t, &why), 0);
	CHECK(t.n == 1 && strcmp(t.v[0], "sensor/") == 0);
	CHECK_EQ_INT(lb_httpapi_topics_parse("sensor/,robot/x/,sensor/", &t, &why), 0);
	CHECK_EQ_UINT(t.n, 2);
	CHECK_STR(t.v[1], "robot/x/");
	CHECK_EQ_INT(lb_httpapi_topics_parse("sensor%2F%2Crobot%2F", &t, &why), 0);
	CHECK_EQ_UINT(t.n, 2);
	CHECK(lb_httpapi_topics_parse("sensor/,,robot/", &t, &why) < 0);
	CHECK(lb_httpapi_topics_parse("sensor/%00", &t, &why) < 0);
	CHECK(lb_httpapi_topics_parse("sen sor/", &t, &why) < 0);
	CHECK(lb_httpapi_topics_parse("sensor/\"", &t, &why) < 0);
	for (int i = 0; i < 17; i++)
		sprintf(many + strlen(many), "%st%d/", i ? "," : "", i);
	CHECK(lb_httpapi_topics_parse(many, &t, &why) < 0);
}

static void test_file_query(void)
{
	long long job;
	char file[129];
	const char *why;

	CHECK_EQ_INT(lb_httpapi_file_query("12", "scan-1.pdf", &job, file, &why), 0);
	CHECK(job == 12);
	CHECK_STR(file, "scan-1.pdf");
	CHECK_EQ_INT(lb_httpapi_file_query("12", "log%2Etxt", &job, file, &why), 0);
	CHECK_STR(file, "log.txt");
	CHECK(lb_httpapi_file_query("12", "..%2Fjobs.db", &job, file, &why) < 0);
	CHECK(lb_httpapi_file_query("12", ".hidden", &job, file, &why) < 0);
	CHECK(lb_httpapi_file_query("12", "a/b", &job, file, &why) < 0);
	CHECK(lb_httpapi_file_query("12", "", &job, file, &why) < 0);
	CHECK(lb_httpapi_file_query("0", "a", &job, file, &why) < 0);
	CHECK(lb_httpapi_file_query("-3", "a", &job, file, &why) < 0);
	CHECK(lb_httpapi_file_query("12x", "a", &job, file, &why) < 0);
	CHECK(lb_httpapi_file_query(NULL, "a", &job, file, &why) < 0);
	CHECK(lb_httpapi_file_query("1", NULL, &job, file, &why) < 0);
}

/* The data object of an event text (after "data: "), parsed. */
static json_t *event_data(const char *ev, size_t len)
{
	const char *d = strstr(ev, "data: ");

	CHECK(strncmp(ev, "event: msg\n", 11) == 0);
	CHECK(len > 2 && ev[len - 1] == '\n' && ev[len - 2] == '\n');
	return d ? json_loadb(d + 6, len - (size_t)(d + 6 - ev) - 2, 0, NULL) : NULL;
}

static void test_sse_event(void)
{
	const char *topic = "sensor/sim-temp-1/temp/";
	const char *hdr = "{\"v\":1,\"type\":\"f32\",\"seq\":7,\"count\":2,\"unit\":\"\\u00b0C\"}";
	float v[2] = {21.5f, -3.25f};
	uint64_t seq, prev = 4;
	size_t len;
	char *ev = lb_httpapi_sse_event(topic, strlen(topic), hdr, strlen(hdr), v, sizeof v, &prev,
					&seq, &len);
	json_t *j;

	CHECK(ev != NULL);
	if (!ev)
		return;
	CHECK_EQ_UINT(seq, 7);
	j = event_data(ev, len);
	CHECK(j != NULL);
	CHECK_STR(json_string_value(json_object_get(j, "topic")), topic);
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "gap")), 2);
	CHECK_NEAR(json_number_value(json_array_get(json_object_get(j, "values"), 0)), 21.5, 1e-9);
	CHECK_NEAR(json_number_value(json_array_get(json_object_get(j, "values"), 1)), -3.25, 1e-9);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "header"), "seq")), 7);
	json_decref(j);
	free(ev);

	/* no previous seq: no gap; a json message: values null; a header with a raw line break */
	hdr = "{\"type\":\"json\",\n\"seq\":3,\"data\":{\"a\":\"x\\ny\"}}";
	ev = lb_httpapi_sse_event("bridge/x/", 9, hdr, strlen(hdr), NULL, 0, NULL, &seq, &len);
	CHECK(ev != NULL);
	if (!ev)
		return;
	CHECK(strchr(strstr(ev, "data: "), '\n') == ev + len - 2);
	j = event_data(ev, len);
	CHECK(json_is_null(json_object_get(j, "values")));
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "gap")), 0);
	json_decref(j);
	free(ev);

	/* integers, little-endian on the wire; fewer bytes than count says: only whole samples */
	{
		unsigned char s16[5] = {0xff, 0xff, 0x02, 0x01, 0x07};
		hdr = "{\"type\":\"i16\",\"seq\":1,\"count\":9}";
		ev = lb_httpapi_sse_event("t/", 2, hdr, strlen(hdr), s16, sizeof s16, NULL, &seq,
					  &len);
		j = ev ? event_data(ev, len) : NULL;
		CHECK_EQ_UINT(json_array_size(json_object_get(j, "values")), 2);
		CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(j, "values"), 0)),
			     -1);
		CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(j, "values"), 1)),
			     258);
		json_decref(j);
		free(ev);
	}
	/* not an object: no event */
	CHECK(lb_httpapi_sse_event("t/", 2, "[1]", 3, NULL, 0, NULL, &seq, &len) == NULL);
	CHECK(lb_httpapi_sse_event("t/", 2, "{", 1, NULL, 0, NULL, &seq, &len) == NULL);
	CHECK(lb_httpapi_sse_event("\xff/", 2, "{}", 2, NULL, 0, NULL, &seq, &len) == NULL);
}

/* A time n seconds after an arbitrary start. */
static lb_now at(double s)
{
	lb_now n = {(int64_t)(s * 1e9) + 1000000000LL, (int64_t)(s * 1e9) + 1700000000000000000LL};
	return n;
}

static const unsigned char rnd1[6] = {1, 2, 3, 4, 5, 6}, rnd2[6] = {7, 8, 9, 10, 11, 12};
static const char *tok1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA1";
static const char *tok2 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA2";
static const char *tok3 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA3";

static void test_pairs_single_use(void)
{
	lb_pairs *p = lb_pairs_new(60 * 1000000000LL, "t");
	lb_pair_info pi;
	lb_session_info si;
	lb_error err;
	const char *why;

	CHECK_EQ_INT(lb_pairs_add(p, LB_ROLE_STUDENT, "5B group 3", 600 * 1000000000LL, 1,
				  3600 * 1000000000LL, rnd1, at(0), &pi, &err),
		     0);
	CHECK_STR(pi.id, "p1.t");
	/* the same code again (same random bytes) is refused while live */
	CHECK(lb_pairs_add(p, LB_ROLE_STUDENT, "x", 600 * 1000000000LL, 1, 3600 * 1000000000LL,
			   rnd1, at(0), &pi, &err) < 0);
	CHECK_EQ_INT(lb_pairs_redeem(p, pi.code, "10.0.0.7", tok1, at(1), &si, &why), 0);
	CHECK_STR(si.user, "web:p1.t");
	CHECK_STR(si.name, "5B group 3");
	CHECK_EQ_INT(si.role, LB_ROLE_STUDENT);
	/* single use: a second tablet is refused */
	CHECK_EQ_INT(lb_pairs_redeem(p, pi.code, "10.0.0.8", tok2, at(2), &si, &why),
		     LB_PAIRS_REFUSED);
	CHECK_EQ_INT(lb_pairs_check(p, tok1, at(3), &si, &why), 0);
	CHECK_EQ_INT(lb_pairs_check(p, tok2, at(3), &si, &why), LB_PAIRS_REFUSED);
	CHECK_CONTAINS(why, "unknown");
	/* idle for 60 s: expired, and says so */
	CHECK_EQ_INT(lb_pairs_check(p, tok1, at(63.5), &si, &why), LB_PAIRS_REFUSED);
	CHECK_CONTAINS(why, "expired");
	lb_pairs_destroy(&p);
	CHECK(p == NULL);
	lb_pairs_destroy(&p);
}

static void test_pairs_revoke_and_max_age(void)
{
	lb_pairs *p = lb_pairs_new(600 * 1000000000LL, "t");
	lb_pair_info pi, pj;
	lb_session_info si;
	lb_error err;
	const char *why;
	json_t *l;

	CHECK_EQ_INT(lb_pairs_add(p, LB_ROLE_OBSERVER, "class", 600 * 1000000000LL, 3,
				  100 * 1000000000LL, rnd1, at(0), &pi, &err),
		     0);
	CHECK_EQ_INT(lb_pairs_add(p, LB_ROLE_STUDENT, "other", 600 * 1000000000LL, 1,
				  100 * 1000000000LL, rnd2, at(0), &pj, &err),
		     0);
	CHECK_EQ_INT(lb_pairs_redeem(p, pi.code, "a", tok1, at(1), &si, &why), 0);
	CHECK_EQ_INT(lb_pairs_redeem(p, pi.code, "b", tok2, at(1), &si, &why), 0);
	CHECK_EQ_INT(lb_pairs_redeem(p, pj.code, "c", tok3, at(1), &si, &why), 0);
	l = lb_pairs_list(p, at(2));
	CHECK_EQ_UINT(json_array_size(json_object_get(l, "pairings")), 1); /* p2 is used up */
	CHECK_EQ_INT(json_integer_value(json_object_get(
			 json_array_get(json_object_get(l, "pairings"), 0), "uses_left")),
		     1);
	json_decref(l);
	CHECK_EQ_INT(lb_pairs_revoke(p, pi.id), 2);
	CHECK_EQ_INT(lb_pairs_check(p, tok1, at(3), &si, &why), LB_PAIRS_REFUSED);
	CHECK_CONTAINS(why, "revoked");
	CHECK_EQ_INT(lb_pairs_check(p, tok3, at(3), &si, &why), 0);
	CHECK_EQ_INT(lb_pairs_revoke(p, "p99.t"), LB_EFAIL);
	/* the maximum age (100 s) ends a session in use */
	CHECK_EQ_INT(lb_pairs_check(p, tok3, at(90), &si, &why), 0);
	CHECK_EQ_INT(lb_pairs_check(p, tok3, at(101.5), &si, &why), LB_PAIRS_REFUSED);
	CHECK_CONTAINS(why, "expired");
	lb_pairs_destroy(&p);
}

static void test_pairs_rate_limit(void)
{
	lb_pairs *p = lb_pairs_new(600 * 1000000000LL, "t");
	lb_pair_info pi;
	lb_session_info si;
	lb_error err;
	const char *why;

	CHECK_EQ_INT(lb_pairs_add(p, LB_ROLE_STUDENT, "g", 600 * 1000000000LL, 5,
				  3600 * 1000000000LL, rnd1, at(0), &pi, &err),
		     0);
	for (int i = 0; i < LB_PAIR_FAILS; i++)
		CHECK_EQ_INT(lb_pairs_redeem(p, "ZZZZZZ", "10.0.0.9", tok1, at(1 + i), &si, &why),
			     LB_PAIRS_REFUSED);
	/* now even the right code is refused from that address, not from another */
	CHECK_EQ_INT(lb_pairs_redeem(p, pi.code, "10.0.0.9", tok1, at(10), &si, &why),
		     LB_PAIRS_LIMITED);
	CHECK_EQ_INT(lb_pairs_redeem(p, pi.code, "10.0.0.10", tok2, at(10), &si, &why), 0);
	/* a minute after the window opened, the address may try again */
	CHECK_EQ_INT(lb_pairs_redeem(p, pi.code, "10.0.0.9", tok1, at(62), &si, &why), 0);
	lb_pairs_destroy(&p);
}

/* A pairing's code expires with its ttl. */
static void test_pairs_code_expiry(void)
{
	lb_pairs *p = lb_pairs_new(600 * 1000000000LL, "t");
	lb_pair_info pi;
	lb_session_info si;
	lb_error err;
	const char *why;

	CHECK_EQ_INT(lb_pairs_add(p, LB_ROLE_TEACHER, "t", 10 * 1000000000LL, 1,
				  3600 * 1000000000LL, rnd1, at(0), &pi, &err),
		     0);
	CHECK_EQ_INT(lb_pairs_redeem(p, pi.code, "a", tok1, at(10.5), &si, &why), LB_PAIRS_REFUSED);
	lb_pairs_destroy(&p);
}

/* A session and a revoked pairing kept across a restart (a second store on the same file), expired
 * ones dropped, a bad file set aside; time passed in. */
static void test_pairs_persist(void)
{
	char dir[] = "/tmp/lbpairsXXXXXX", path[64], bad[128];
	lb_pairs *p = lb_pairs_new(600 * 1000000000LL, "a");
	lb_pair_info pi, pj, pk;
	lb_session_info si;
	lb_error err = {0};
	const char *why;
	json_t *l;
	FILE *f;
	unsigned char r3[6] = {9, 9, 9, 1, 2, 3};

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/web.db", dir);
	CHECK_EQ_INT(lb_pairs_persist(p, path, at(0), &err), 0);
	CHECK_EQ_INT(lb_pairs_add(p, LB_ROLE_STUDENT, "g1", 600 * 1000000000LL, 2,
				  3600 * 1000000000LL, rnd1, at(0), &pi, &err),
		     0);
	CHECK_EQ_INT(lb_pairs_add(p, LB_ROLE_OBSERVER, "g2", 600 * 1000000000LL, 1,
				  3600 * 1000000000LL, rnd2, at(0), &pj, &err),
		     0);
	CHECK_EQ_INT(lb_pairs_add(p, LB_ROLE_STUDENT, "short", 20 * 1000000000LL, 1,
				  3600 * 1000000000LL, r3, at(0), &pk, &err),
		     0);
	CHECK_EQ_INT(lb_pairs_redeem(p, pi.code, "a", tok1, at(1), &si, &why), 0);
	CHECK_STR(si.session, "s1");
	CHECK_EQ_INT(lb_pairs_redeem(p, pj.code, "b", tok2, at(1), &si, &why), 0);
	CHECK_EQ_INT(lb_pairs_revoke(p, pj.id), 1);
	lb_pairs_destroy(&p);

	/* the restart: a new tag, the same file, 30 s later */
	p = lb_pairs_new(600 * 1000000000LL, "b");
	CHECK_EQ_INT(lb_pairs_persist(p, path, at(30), &err), 0);
	CHECK_EQ_INT(lb_pairs_check(p, tok1, at(31), &si, &why), 0);
	CHECK_STR(si.user, "web:p1.a");
	CHECK_STR(si.name, "g1");
	CHECK_EQ_INT(si.role, LB_ROLE_STUDENT);
	CHECK_EQ_INT(lb_pairs_check(p, tok2, at(31), &si, &why), LB_PAIRS_REFUSED);
	/* the code has one use left, the short one expired, the revoked one is gone */
	l = lb_pairs_list(p, at(31));
	CHECK_EQ_INT((int)json_array_size(json_object_get(l, "pairings")), 1);
	CHECK_EQ_INT((int)json_integer_value(json_object_get(
			 json_array_get(json_object_get(l, "pairings"), 0), "uses_left")),
		     1);
	json_decref(l);
	CHECK_EQ_INT(lb_pairs_redeem(p, pj.code, "c", tok3, at(31), &si, &why), LB_PAIRS_REFUSED);
	CHECK_EQ_INT(lb_pairs_redeem(p, pk.code, "c", tok3, at(31), &si, &why), LB_PAIRS_REFUSED);
	CHECK_EQ_INT(lb_pairs_redeem(p, pi.code, "d", tok3, at(32), &si, &why), 0);
	CHECK_STR(si.session, "s2"); /* numbered after the kept one: its own lease identity */
	CHECK_EQ_INT(lb_pairs_check(p, tok3, at(60), &si, &why), 0); /* within it: not */
	CHECK_EQ_INT(lb_pairs_check(p, tok1, at(95), &si, &why), 0); /* a minute on: written */
	lb_pairs_destroy(&p);

	/* idle 600 s since the last use written: gone at the next start; the other kept */
	p = lb_pairs_new(600 * 1000000000LL, "c");
	CHECK_EQ_INT(lb_pairs_persist(p, path, at(650), &err), 0);
	CHECK_EQ_INT(lb_pairs_check(p, tok1, at(650), &si, &why), 0);
	CHECK_EQ_INT(lb_pairs_check(p, tok3, at(650), &si, &why), LB_PAIRS_REFUSED);
	lb_pairs_destroy(&p);

	/* a file that is not a database: set aside, a new one started */
	unlink(path);
	snprintf(bad, sizeof bad, "%s-wal", path);
	unlink(bad);
	snprintf(bad, sizeof bad, "%s-shm", path);
	unlink(bad);
	f = fopen(path, "w");
	CHECK(f != NULL);
	for (int i = 0; f && i < 200; i++)
		fputs("not a database at all ", f);
	if (f)
		fclose(f);
	p = lb_pairs_new(600 * 1000000000LL, "d");
	CHECK_EQ_INT(lb_pairs_persist(p, path, at(800), &err), 0);
	CHECK_EQ_INT(lb_pairs_check(p, tok1, at(800), &si, &why), LB_PAIRS_REFUSED);
	snprintf(bad, sizeof bad, "%s.bad-%lld", path, (long long)(at(800).real / 1000000000));
	CHECK(access(bad, F_OK) == 0);
	lb_pairs_destroy(&p);
	unlink(bad);
	unlink(path);
	snprintf(bad, sizeof bad, "%s-wal", path);
	unlink(bad);
	snprintf(bad, sizeof bad, "%s-shm", path);
	unlink(bad);
	rmdir(dir);
}

/* lb_web_parse_addr: IPv4, [IPv6], every address of both families, and what is refused. */
static void test_parse_addr(void)
{
	static const char *const bad[] = {
	    "",		"8080",	      "nowhere:80",  "1.2.3.4:",    "1.2.3.4:x",    "1.2.3.4:65536",
	    "::1:8080", "[::1:8080",  "::1]:8080",   "[]:8080",	    "[x]:8080",	    "[::1]8080",
	    "[::1]:-1", "1.2.3.4:+1", "1.2.3.4: 80", "[::1%lo]:80", "256.1.1.1:80",
	};
	struct sockaddr_storage sa;
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&sa;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&sa;
	int dual;

	CHECK_EQ_INT(lb_web_parse_addr("127.0.0.1:8080", &sa, &dual), 0);
	CHECK(sa.ss_family == AF_INET && ntohs(v4->sin_port) == 8080 &&
	      ntohl(v4->sin_addr.s_addr) == INADDR_LOOPBACK && !dual);
	CHECK_EQ_INT(lb_web_parse_addr("localhost:0", &sa, &dual), 0);
	CHECK(sa.ss_family == AF_INET && ntohl(v4->sin_addr.s_addr) == INADDR_LOOPBACK);
	CHECK_EQ_INT(lb_web_parse_addr("0.0.0.0:80", &sa, &dual), 0);
	CHECK(sa.ss_family == AF_INET && v4->sin_addr.s_addr == 0 && !dual);
	CHECK_EQ_INT(lb_web_parse_addr("[::1]:8080", &sa, &dual), 0);
	CHECK(sa.ss_family == AF_INET6 && ntohs(v6->sin6_port) == 8080 &&
	      IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) && !dual);
	CHECK_EQ_INT(lb_web_parse_addr("[::]:8080", &sa, &dual), 0);
	CHECK(sa.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr) && !dual);
	CHECK_EQ_INT(lb_web_parse_addr("[fd00::12:3]:1", &sa, &dual), 0);
	CHECK(sa.ss_family == AF_INET6 && v6->sin6_addr.s6_addr[0] == 0xfd &&
	      v6->sin6_addr.s6_addr[15] == 3);
	CHECK_EQ_INT(lb_web_parse_addr("*:8080", &sa, &dual), 0);
	CHECK(sa.ss_family == AF_INET6 && IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr) && dual &&
	      ntohs(v6->sin6_port) == 8080);
	CHECK_EQ_INT(lb_web_parse_addr(":65535", &sa, &dual), 0);
	CHECK(dual && ntohs(v6->sin6_port) == 65535);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK_MSG(lb_web_parse_addr(bad[i], &sa, &dual) < 0, bad[i]);
}

/* lb_grants_still_fn of the test: prefixes starting with "robot/a/" are no longer granted. */
static int still_not_a(void *arg, const lb_client *who, const char *prefix, char *why, size_t cap)
{
	(*(int *)arg)++;
	if (strncmp(prefix, "robot/a/", 8) != 0)
		return 1;
	snprintf(why, cap, "lease on a taken by %s", who->user);
	return 0;
}

/* The grants table: revoked grants block their restricted topics, announced once, per stream. */
static void test_grants(void)
{
	lb_grants *g = lb_grants_new();
	lb_client who = {.role = LB_ROLE_STUDENT, .user = "web:p1.t"};
	char prefix[256], reason[160];
	int asked = 0;

	CHECK_EQ_INT(lb_grants_add(g, 1, &who, "robot/a/console/"), 0);
	CHECK_EQ_INT(lb_grants_add(g, 1, &who, "robot/b/"), 0);
	CHECK_EQ_INT(lb_grants_add(g, 2, &who, "robot/a/"), 0);
	CHECK(!lb_grants_blocked(g, 1, "robot/a/console/", 16));
	CHECK_EQ_INT(lb_grants_next_revoked(g, 1, prefix, sizeof prefix, reason, sizeof reason), 0);
	CHECK_EQ_INT((int)lb_grants_recheck(g, still_not_a, &asked), 2);
	CHECK_EQ_INT(asked, 3);
	CHECK(lb_grants_blocked(g, 1, "robot/a/console/x", 17));
	CHECK(!lb_grants_blocked(g, 1, "robot/b/console/", 16));
	CHECK(!lb_grants_blocked(g, 3, "robot/a/console/", 16)); /* another stream's */
	CHECK(lb_grants_blocked(g, 2, "robot/a/event/", 14));
	CHECK_EQ_INT(lb_grants_next_revoked(g, 1, prefix, sizeof prefix, reason, sizeof reason), 1);
	CHECK_STR(prefix, "robot/a/console/");
	CHECK_STR(reason, "lease on a taken by web:p1.t");
	CHECK_EQ_INT(lb_grants_next_revoked(g, 1, prefix, sizeof prefix, reason, sizeof reason), 0);
	asked = 0;
	CHECK_EQ_INT((int)lb_grants_recheck(g, still_not_a, &asked), 0); /* revoked: not asked */
	CHECK_EQ_INT(asked, 1);
	lb_grants_drop(g, 1);
	CHECK_EQ_INT((int)lb_grants_count(g), 1);
	CHECK(!lb_grants_blocked(g, 1, "robot/a/console/", 16));
	for (int i = 0; i < LB_GRANTS_MAX; i++)
		lb_grants_add(g, 9, &who, "robot/c/");
	CHECK_EQ_INT(lb_grants_add(g, 9, &who, "robot/c/"), LB_EFAIL);
	CHECK_EQ_INT((int)lb_grants_count(g), LB_GRANTS_MAX);
	lb_grants_destroy(&g);
	CHECK(g == NULL);
	lb_grants_destroy(&g);
}

int main(void)
{
	RUN(test_path_ok);
	RUN(test_path_refused);
	RUN(test_mime);
	RUN(test_call_ok);
	RUN(test_call_refused);
	RUN(test_call_data_limit);
	RUN(test_codes);
	RUN(test_token);
	RUN(test_topics);
	RUN(test_file_query);
	RUN(test_sse_event);
	RUN(test_pairs_single_use);
	RUN(test_pairs_revoke_and_max_age);
	RUN(test_pairs_rate_limit);
	RUN(test_pairs_code_expiry);
	RUN(test_pairs_persist);
	RUN(test_parse_addr);
	RUN(test_grants);
	return check_summary();
}
