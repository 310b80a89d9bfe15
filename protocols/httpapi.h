/* httpapi.h - the web API's input checks and output formats (bridge/HTTP.md): pure, fuzzable. */
#ifndef LB_HTTPAPI_H
#define LB_HTTPAPI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define LB_HTTPAPI_PATH_MAX 512		  /* a static file's path, decoded */
#define LB_HTTPAPI_JSON_MAX (64 * 1024)	  /* a call's JSON, without its data */
#define LB_HTTPAPI_DATA_MAX (1024 * 1024) /* a call's binary frame, decoded */
#define LB_HTTPAPI_BODY_MAX (LB_HTTPAPI_JSON_MAX + (LB_HTTPAPI_DATA_MAX / 3 + 1) * 4 + 16)
#define LB_HTTPAPI_PAIR_MAX 1024    /* the body of /api/pair */
#define LB_HTTPAPI_METHOD_MAX 64    /* a method name */
#define LB_HTTPAPI_TOPICS_MAX 16    /* prefixes of one stream */
#define LB_HTTPAPI_TOPIC_MAX 128    /* bytes of one prefix */
#define LB_HTTPAPI_TOKEN_LEN 43	    /* base64url of 32 bytes, no padding */
#define LB_HTTPAPI_CODE_LEN 6	    /* a pairing code */
#define LB_HTTPAPI_SAMPLES_MAX 4096 /* bytes of samples decoded into an event */

/* The pairing codes' alphabet: 32 characters, no 0/O, 1/I. */
#define LB_HTTPAPI_CODE_ALPHABET "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

/*
 * Percent-decode in[0..len) into out (cap bytes, NUL-terminated); '+' stays '+'. Returns the
 * decoded length, or -1 for a bad escape, a decoded NUL or control byte, or no room.
 */
long lb_httpapi_unescape(const char *in, size_t len, char *out, size_t cap);

/*
 * A static file's path from a request's raw (still escaped) URL path: out receives the path
 * relative to the root ("index.html" for "/"), NUL-terminated. Returns 0, or -1 when it is
 * refused: not starting with '/', a bad escape, NUL or control bytes, a backslash, an empty
 * segment ("//"), a segment "." or ".." or starting with '.', longer than LB_HTTPAPI_PATH_MAX.
 */
int lb_httpapi_path(const char *raw, size_t len, char *out, size_t cap);

/* The Content-Type for a file's name, by its extension ("application/octet-stream" else). */
const char *lb_httpapi_mime(const char *path);

/* A call's body, parsed. params is owned (an object); data is malloc'd (NULL: none). */
typedef struct lb_httpapi_call {
	char method[LB_HTTPAPI_METHOD_MAX + 1];
	json_t *params;
	unsigned char *data;
	size_t datalen;
} lb_httpapi_call;

/*
 * Parse the body of POST /api/call: {"method": NAME, "params"?: object, "data"?: base64} and
 * nothing else. Returns 0, or -1 with *why set to a static reason and *code to "parse_error",
 * "invalid_request" or "too_large". On failure nothing stays allocated.
 */
int lb_httpapi_call_parse(const void *body, size_t len, lb_httpapi_call *out, const char **code,
			  const char **why);

/* Free what lb_httpapi_call_parse allocated; safe on a zeroed or cleared call. */
void lb_httpapi_call_clear(lb_httpapi_call *c);

/*
 * Bring a typed pairing code to its canonical form: spaces and dashes dropped, letters upper
 * case; out gets LB_HTTPAPI_CODE_LEN characters and a NUL. 0, or -1 when it is not 6 characters
 * of the alphabet.
 */
int lb_httpapi_code_normalise(const char *in, size_t len, char out[LB_HTTPAPI_CODE_LEN + 1]);

/* A pairing code from LB_HTTPAPI_CODE_LEN random bytes (each picks one of 32 characters). */
void lb_httpapi_code_make(const unsigned char rnd[LB_HTTPAPI_CODE_LEN],
			  char out[LB_HTTPAPI_CODE_LEN + 1]);

/* Parse the body of POST /api/pair, {"code": string}: 0 with the canonical code, or -1 and *why.
 */
int lb_httpapi_pair_parse(const void *body, size_t len, char out[LB_HTTPAPI_CODE_LEN + 1],
			  const char **why);

/*
 * A session token from an Authorization header value ("Bearer TOKEN") or a raw query value
 * (bearer 0): out gets the 43 base64url characters. 0, or -1 when it is not one.
 */
int lb_httpapi_token(const char *in, int bearer, char out[LB_HTTPAPI_TOKEN_LEN + 1]);

/*
 * The raw (escaped) job= and file= values of GET /api/file: *job an integer 1..2^53, file a name
 * of 1..128 bytes of [A-Za-z0-9_.-] not starting with '.'. 0, or -1 with *why.
 */
int lb_httpapi_file_query(const char *job_raw, const char *file_raw, long long *job, char file[129],
			  const char **why);

/* The prefixes of one stream. */
typedef struct lb_httpapi_topics {
	char v[LB_HTTPAPI_TOPICS_MAX][LB_HTTPAPI_TOPIC_MAX + 1];
	size_t n;
} lb_httpapi_topics;

/*
 * Parse the raw (escaped) topics= value of /api/stream: comma-separated prefixes, each 1..128
 * bytes of [A-Za-z0-9_./:-] once decoded, at most 16, duplicates dropped; NULL or empty gives
 * "sensor/". 0, or -1 with *why.
 */
int lb_httpapi_topics_parse(const char *raw, lb_httpapi_topics *t, const char **why);

/*
 * One Server-Sent Event for a stream message (topic, header JSON, samples frame or NULL):
 * "event: msg\ndata: {...}\n\n" (bridge/HTTP.md), malloc'd with its length in *outlen. *seq
 * receives the header's seq (0 if none); prev is the last seq sent on that topic (NULL: none),
 * from which the event's gap is counted. NULL when the header is not a JSON object or the
 * topic not UTF-8 (or no memory).
 */
char *lb_httpapi_sse_event(const void *topic, size_t tlen, const void *header, size_t hlen,
			   const void *samples, size_t slen, const uint64_t *prev, uint64_t *seq,
			   size_t *outlen);

#endif
