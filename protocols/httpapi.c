/* httpapi.c - the web API's input checks and output formats (bridge/HTTP.md): pure, fuzzable. */
#include "httpapi.h"

#include <ctype.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of a hex digit, or -1. */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long lb_httpapi_unescape(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return -1;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	if (cap == 0)
		return -1;
	out[o] = '\0';
	return (long)o;
}

int lb_httpapi_path(const char *raw, size_t len, char *out, size_t cap)
{
	char buf[LB_HTTPAPI_PATH_MAX + 1];
	long n;
	const char *seg;

	if (len == 0 || raw[0] != '/' || len > 3 * LB_HTTPAPI_PATH_MAX)
		return -1;
	n = lb_httpapi_unescape(raw, len, buf, sizeof buf);
	if (n < 1)
		return -1;
	if (n == 1) { /* "/" */
		if (cap < sizeof "index.html")
			return -1;
		memcpy(out, "index.html", sizeof "index.html");
		return 0;
	}
	/* every segment after the leading '/': non-empty, not starting with '.' */
	seg = buf + 1;
	for (;;) {
		const char *end = strchr(seg, '/');
		size_t sl = end ? (size_t)(end - seg) : strlen(seg);
		if (sl == 0 || seg[0] == '.')
			return -1;
		for (size_t i = 0; i < sl; i++)
			if (seg[i] == '\\')
				return -1;
		if (!end)
			break;
		seg = end + 1;
	}
	if ((size_t)n > cap) /* n - 1 bytes and a NUL */
		return -1;
	memcpy(out, buf + 1, (size_t)n); /* includes the NUL */
	return 0;
}

const char *lb_httpapi_mime(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {"html", "text/html; charset=utf-8"},
	    {"js", "text/javascript; charset=utf-8"},
	    {"mjs", "text/javascript; charset=utf-8"},
	    {"css", "text/css; charset=utf-8"},
	    {"json", "application/json"},
	    {"svg", "image/svg+xml"},
	    {"png", "image/png"},
	    {"jpg", "image/jpeg"},
	    {"jpeg", "image/jpeg"},
	    {"ico", "image/x-icon"},
	    {"woff2", "font/woff2"},
	    {"txt", "text/plain; charset=utf-8"},
	    {"map", "application/json"},
	    {"webmanifest", "application/manifest+json"},
	};
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');

	if (dot)
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

void lb_httpapi_call_clear(lb_httpapi_call *c)
{
	json_decref(c->params);
	free(c->data);
	memset(c, 0, sizeof *c);
}

/* Whether name is a method name: [a-z0-9_.]{1,64}. */
static int method_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > LB_HTTPAPI_METHOD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_' && name[i] != '.')
			return 0;
	return 1;
}

int lb_httpapi_call_parse(const void *body, size_t len, lb_httpapi_call *out, const char **code,
			  const char **why)
{
	json_t *root = NULL, *m, *p, *d;
	json_error_t jerr;
	const char *key;
	json_t *val;
	size_t dlen = 0;

	memset(out, 0, sizeof *out);
	*code = "invalid_request";
	if (len > LB_HTTPAPI_BODY_MAX) {
		*code = "too_large";
		*why = "the body is over the size limit";
		return -1;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		*code = "parse_error";
		*why = "the body is not JSON";
		return -1;
	}
	if (!json_is_object(root)) {
		*why = "the body must be an object {method, params, data?}";
		goto fail;
	}
	json_object_foreach(root, key, val)
	{
		if (strcmp(key, "method") && strcmp(key, "params") && strcmp(key, "data")) {
			*why = "unknown member in the body (method, params, data)";
			goto fail;
		}
	}
	m = json_object_get(root, "method");
	p = json_object_get(root, "params");
	d = json_object_get(root, "data");
	if (!json_is_string(m) || !method_ok(json_string_value(m))) {
		*why = "method must be a name of [a-z0-9_.], 1 to 64 characters";
		goto fail;
	}
	if (p && !json_is_object(p)) {
		*why = "params must be an object";
		goto fail;
	}
	if (d && !json_is_string(d)) {
		*why = "data must be a base64 string";
		goto fail;
	}
	if (d)
		dlen = json_string_length(d);
	if (len - (dlen < len ? dlen : len) > LB_HTTPAPI_JSON_MAX) {
		*code = "too_large";
		*why = "the JSON (without data) is over 64 KiB";
		goto fail;
	}
	if (d) {
		size_t bin = 0;
		if (dlen > (LB_HTTPAPI_DATA_MAX / 3 + 1) * 4) {
			*code = "too_large";
			*why = "data is over 1 MiB";
			goto fail;
		}
		out->data = malloc(dlen / 4 * 3 + 3);
		if (!out->data) {
			*why = "out of memory";
			goto fail;
		}
		if (sodium_base642bin(out->data, dlen / 4 * 3 + 3, json_string_value(d), dlen, NULL,
				      &bin, NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
			*why = "data is not valid base64";
			goto fail;
		}
		if (bin > LB_HTTPAPI_DATA_MAX) {
			*code = "too_large";
			*why = "data is over 1 MiB";
			goto fail;
		}
		out->datalen = bin;
	}
	snprintf(out->method, sizeof out->method, "%s", json_string_value(m));
	out->params = p ? json_incref(p) : json_object();
	json_decref(root);
	if (!out->params) {
		lb_httpapi_call_clear(out);
		*why = "out of memory";
		return -1;
	}
	return 0;
fail:
	json_decref(root);
	lb_httpapi_call_clear(out);
	return -1;
}

int lb_httpapi_code_normalise(const char *in, size_t len, char out[LB_HTTPAPI_CODE_LEN + 1])
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == ' ' || c == '-')
			continue;
		c = (char)toupper((unsigned char)c);
		if (c == '\0' || !strchr(LB_HTTPAPI_CODE_ALPHABET, c) || n == LB_HTTPAPI_CODE_LEN)
			return -1;
		out[n++] = c;
	}
	if (n != LB_HTTPAPI_CODE_LEN)
		return -1;
	out[n] = '\0';
	return 0;
}

void lb_httpapi_code_make(const unsigned char rnd[LB_HTTPAPI_CODE_LEN],
			  char out[LB_HTTPAPI_CODE_LEN + 1])
{
	for (size_t i = 0; i < LB_HTTPAPI_CODE_LEN; i++)
		out[i] = LB_HTTPAPI_CODE_ALPHABET[rnd[i] & 31];
	out[LB_HTTPAPI_CODE_LEN] = '\0';
}

int lb_httpapi_pair_parse(const void *body, size_t len, char out[LB_HTTPAPI_CODE_LEN + 1],
			  const char **why)
{
	json_t *root, *c;
	int rc = -1;

	if (len > LB_HTTPAPI_PAIR_MAX) {
		*why = "the body is over 1 KiB";
		return -1;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	c = json_object_get(root, "code");
	if (!json_is_object(root) || !json_is_string(c) || json_object_size(root) != 1)
		*why = "the body must be {\"code\": \"ABC123\"}";
	else if (json_string_length(c) > 32 ||
		 lb_httpapi_code_normalise(json_string_value(c), json_string_length(c), out) < 0)
		*why = "a pairing code is 6 letters and digits";
	else
		rc = 0;
	json_decref(root);
	return rc;
}

int lb_httpapi_token(const char *in, int bearer, char out[LB_HTTPAPI_TOKEN_LEN + 1])
{
	size_t n;

	if (!in)
		return -1;
	if (bearer) {
		if (strncasecmp(in, "Bearer ", 7) != 0)
			return -1;
		in += 7;
		while (*in == ' ')
			in++;
	}
	n = strlen(in);
	if (n != LB_HTTPAPI_TOKEN_LEN)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)in[i]) && in[i] != '-' && in[i] != '_')
			return -1;
	memcpy(out, in, n + 1);
	return 0;
}

int lb_httpapi_file_query(const char *job_raw, const char *file_raw, long long *job, char file[129],
			  const char **why)
{
	char buf[32];
	char *end;
	long n;

	*why = "job must be a job id and file a result's name";
	if (!job_raw || !file_raw ||
	    lb_httpapi_unescape(job_raw, strlen(job_raw), buf, sizeof buf) < 1)
		return -1;
	if (!isdigit((unsigned char)buf[0]))
		return -1;
	*job = strtoll(buf, &end, 10);
	if (*end || *job < 1 || *job > (1LL << 53))
		return -1;
	n = lb_httpapi_unescape(file_raw, strlen(file_raw), file, 129);
	if (n < 1 || file[0] == '.')
		return -1;
	for (long i = 0; i < n; i++)
		if (!isalnum((unsigned char)file[i]) && file[i] != '_' && file[i] != '.' &&
		    file[i] != '-')
			return -1;
	return 0;
}

/* Whether c may appear in a topic prefix. */
static int topic_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '/' || c == ':' ||
	       c == '-';
}

int lb_httpapi_topics_parse(const char *raw, lb_httpapi_topics *t, const char **why)
{
	char buf[LB_HTTPAPI_TOPICS_MAX * (LB_HTTPAPI_TOPIC_MAX + 1) + 1];
	long n;
	char *p;

	memset(t, 0, sizeof *t);
	if (!raw || !*raw) {
		snprintf(t->v[0], sizeof t->v[0], "sensor/");
		t->n = 1;
		return 0;
	}
	n = lb_httpapi_unescape(raw, strlen(raw), buf, sizeof buf);
	if (n < 0) {
		*why = "topics: bad escape or too long";
		return -1;
	}
	p = buf;
	for (;;) {
		char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		int dup = 0;
		if (len == 0 || len > LB_HTTPAPI_TOPIC_MAX) {
			*why = "topics: each prefix is 1 to 128 characters";
			return -1;
		}
		for (size_t i = 0; i < len; i++)
			if (!topic_char(p[i])) {
				*why = "topics: a prefix has a character outside [A-Za-z0-9_./:-]";
				return -1;
			}
		for (size_t i = 0; i < t->n; i++)
			if (strlen(t->v[i]) == len && memcmp(t->v[i], p, len) == 0)
				dup = 1;
		if (!dup) {
			if (t->n == LB_HTTPAPI_TOPICS_MAX) {
				*why = "topics: at most 16 prefixes";
				return -1;
			}
			memcpy(t->v[t->n], p, len);
			t->v[t->n++][len] = '\0';
		}
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

/* A growing text buffer; failed set on the first allocation failure. */
typedef struct sbuf {
	char *p;
	size_t n, cap;
	int failed;
} sbuf;

/* Append len bytes. */
static void put(sbuf *b, const char *s, size_t len)
{
	if (b->failed)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t cap = (b->n + len + 1) * 2;
		char *q = realloc(b->p, cap);
		if (!q) {
			b->failed = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

/* Append a formatted number (or null for a non-finite one). */
static void put_num(sbuf *b, double v, int digits)
{
	char tmp[40];
	int n;

	if (!isfinite(v)) {
		put(b, "null", 4);
		return;
	}
	n = snprintf(tmp, sizeof tmp, "%.*g", digits, v);
	put(b, tmp, (size_t)n);
}

/* Append the samples of a numeric type as a JSON array; 0, or -1 for an unknown type. */
static int put_values(sbuf *b, const char *type, const unsigned char *s, size_t slen, size_t count)
{
	size_t size;

	if (!strcmp(type, "f32") || !strcmp(type, "i32"))
		size = 4;
	else if (!strcmp(type, "f64"))
		size = 8;
	else if (!strcmp(type, "i16") || !strcmp(type, "u16"))
		size = 2;
	else if (!strcmp(type, "u8"))
		size = 1;
	else
		return -1;
	if (count > slen / size)
		count = slen / size;
	put(b, "[", 1);
	for (size_t i = 0; i < count; i++) {
		const unsigned char *q = s + i * size;
		if (i)
			put(b, ",", 1);
		/* little-endian on the wire (PROTOCOL.md), whatever this machine is */
		if (size == 1) {
			put_num(b, q[0], 3);
		} else if (size == 2) {
			uint16_t u = (uint16_t)(q[0] | q[1] << 8);
			put_num(b, type[0] == 'i' ? (double)(int16_t)u : (double)u, 5);
		} else if (size == 4) {
			uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
				     (uint32_t)q[3] << 24;
			if (type[0] == 'f') {
				float f;
				memcpy(&f, &u, 4);
				put_num(b, f, 9);
			} else {
				put_num(b, (double)(int32_t)u, 10);
			}
		} else {
			uint64_t u = 0;
			double d;
			for (int k = 7; k >= 0; k--)
				u = u << 8 | q[k];
			memcpy(&d, &u, 8);
			put_num(b, d, 17);
		}
	}
	put(b, "]", 1);
	return 0;
}

char *lb_httpapi_sse_event(const void *topic, size_t tlen, const void *header, size_t hlen,
			   const void *samples, size_t slen, const uint64_t *prev, uint64_t *seq,
			   size_t *outlen)
{
	json_t *h = json_loadb(header, hlen, 0, NULL);
	json_t *t = json_stringn(topic, tlen);
	json_t *jseq = json_object_get(h, "seq");
	const char *type = json_string_value(json_object_get(h, "type"));
	json_int_t count = json_integer_value(json_object_get(h, "count"));
	char *ts = NULL, *hs = NULL, tmp[64];
	uint64_t gap = 0;
	sbuf b = {0};

	*seq = 0;
	if (!json_is_object(h) || !t)
		goto out;
	if (json_is_integer(jseq) && json_integer_value(jseq) >= 0)
		*seq = (uint64_t)json_integer_value(jseq);
	if (prev && *seq > *prev + 1)
		gap = *seq - *prev - 1;
	ts = json_dumps(t, JSON_ENCODE_ANY | JSON_COMPACT);
	/* the header as it came (valid JSON), unless it holds a line break, which would end the
	 * event's data line, or a NUL (jansson stops reading there): then dumped again */
	if (memchr(header, '\n', hlen) || memchr(header, '\r', hlen) ||
	    memchr(header, '\0', hlen)) {
		hs = json_dumps(h, JSON_COMPACT | JSON_REAL_PRECISION(17));
		if (!hs)
			goto out;
	}
	if (!ts)
		goto out;
	put(&b, "event: msg\ndata: {\"topic\":", 26);
	put(&b, ts, strlen(ts));
	put(&b, ",\"header\":", 10);
	if (hs)
		put(&b, hs, strlen(hs));
	else
		put(&b, header, hlen);
	put(&b, ",\"values\":", 10);
	if (!type || !strcmp(type, "json") || !samples || slen > LB_HTTPAPI_SAMPLES_MAX ||
	    count < 0 || put_values(&b, type, samples, slen, (size_t)count) < 0)
		put(&b, "null", 4);
	snprintf(tmp, sizeof tmp, ",\"gap\":%llu}\n\n", (unsigned long long)gap);
	put(&b, tmp, strlen(tmp));
out:
	json_decref(h);
	json_decref(t);
	free(ts);
	free(hs);
	if (b.failed || !b.p) {
		free(b.p);
		return NULL;
	}
	*outlen = b.n;
	return b.p;
}
