/*
 * bench_zmq.c - raw libzmq PUB/SUB reference and bridge subscribers for tests/bench/run.py.
 *
 *   bench_zmq pub ENDPOINT SIZE COUNT [RATE_HZ]
 *       Binds an XPUB (a PUB that sees subscriptions) on ENDPOINT (tcp://127.0.0.1:0 is fine),
 *       prints {"mode":"pub","endpoint":...} with the bound endpoint, waits (10 s at most) for a
 *       subscriber, then sends COUNT messages shaped like the bridge's: topic (29 bytes), header
 *       (bridge-like JSON, about 180 bytes, formatted per message without allocation as the
 *       bridge does), SIZE bytes of f32 samples. HWM unlimited. RATE_HZ 0 (default): as fast as
 *       possible; otherwise paced at RATE_HZ with t_host = CLOCK_REALTIME read just before the
 *       send (the raw latency reference) and an extra header field t_due = the time the message
 *       was due (the bridge's t_host is a sample's due time); at the end a second JSON line says
 *       how late the paced sender woke up (p50/p99/max in microseconds).
 *   bench_zmq sub ENDPOINT SIZE COUNT
 *       Connects a SUB (HWM unlimited), subscribes to everything, receives COUNT messages and
 *       prints messages/s, samples/s (SIZE/4 f32 per message), payload bytes/s and seq gaps.
 *   bench_zmq sublat ENDPOINT PREFIX COUNT [WARMUP [OUTFILE]]
 *       Subscribes to PREFIX; for each data message (3 frames), latency = receive time
 *       (CLOCK_REALTIME) - time of the last sample in the message (t_host + (count-1)*1e9/rate,
 *       header parsed with jansson). The first WARMUP (default 20) messages are not counted.
 *       Prints p50/p90/p99/max in microseconds; when headers carry t_due (bench_zmq pub), also
 *       the latency from t_due (due_p50_us, ...). OUTFILE gets every latency, in order (ns; a
 *       line "LAT LAT_DUE"), so that runs can be pooled.
 *   bench_zmq subtput ENDPOINT PREFIX SECONDS [WARMUP_S]
 *       Subscribes to PREFIX; from the first data message, skips WARMUP_S seconds (default 0.5),
 *       then counts messages, samples (header "count"), payload bytes and seq gaps per topic
 *       during SECONDS. Also reports the lag of the stream (receive time - last sample time).
 *   bench_zmq subscan ENDPOINT PREFIX SCANS
 *       Subscribes to PREFIX (a scanner's image stream: each message a band, protocols/scanband.h);
 *       for each of SCANS scans, from its band with first_row 0 to its band flagged LAST, prints
 *       one JSON line: the reception times (CLOCK_MONOTONIC ns, comparable with another
 *       process's clock) of its first and last band, image bytes, bands, rows, the announced
 *       height, and whether the rows followed each other (seq and first_row without gaps). Waits
 *       60 s at most for a scan to begin, 5 s for each next band. SCANS 0: until stopped.
 *
 * CURVE (tests/bench/curve.py): BENCH_CURVE_SERVER=SECRET makes pub a CURVE server, and
 * BENCH_CURVE_CLIENT="SERVER PUBLIC SECRET" makes every subscriber a CURVE client.
 *
 * Every mode prints one JSON line on stdout; every wait has a timeout. Exit status 0 when the
 * run completed, 1 on a timeout or an error (the JSON line is still printed when possible).
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <zmq.h>

#include "../../protocols/scanband.c"

#define FIRST_TIMEOUT_MS 10000 /* waiting for the first message / the subscriber */
#define NEXT_TIMEOUT_MS 5000   /* waiting for any later message */

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_zmq: %s: %s\n", what, zmq_strerror(zmq_errno()));
	exit(1);
}

static long parse_long(const char *s, const char *what)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < 0) {
		fprintf(stderr, "bench_zmq: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

static double parse_double(const char *s, const char *what)
{
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end || !(v >= 0)) {
		fprintf(stderr, "bench_zmq: bad %s '%s'\n", what, s);
		exit(2);
	}
	return v;
}

/* ------------------------------------------------------------------ header helpers */

/* Decimal digits of v at p; returns the number of characters (as the bridge's header.c). */
static size_t put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static size_t put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return n;
}

/* The value after "key": in a compact JSON header (fast path, no allocation); 0 if missing. */
static const char *hdr_find(const char *h, size_t n, const char *key, size_t keylen)
{
	const char *p = memmem(h, n, key, keylen);
	return p ? p + keylen : NULL;
}

static uint64_t hdr_u64(const char *h, size_t n, const char *key, size_t keylen, int *ok)
{
	const char *p = hdr_find(h, n, key, keylen), *end = h + n;
	uint64_t v = 0;

	*ok = 0;
	if (!p)
		return 0;
	if (p < end && *p == '-')
		return 0;
	for (; p < end && *p >= '0' && *p <= '9'; p++, *ok = 1)
		v = v * 10 + (uint64_t)(*p - '0');
	return v;
}

static double hdr_num(const char *h, size_t n, const char *key, size_t keylen, int *ok)
{
	const char *p = hdr_find(h, n, key, keylen);
	char buf[40];
	size_t k = 0;

	*ok = 0;
	if (!p)
		return 0;
	while (p < h + n && k < sizeof buf - 1 && strchr("0123456789+-.eE", *p) && *p)
		buf[k++] = *p++;
	buf[k] = '\0';
	*ok = k > 0;
	return strtod(buf, NULL);
}

#define KEY(s) s, sizeof s - 1

/* ------------------------------------------------------------------ per-topic seq tracking */

#define TOPIC_SLOTS 4096
#define TOPIC_MAX 128

typedef struct topic_slot {
	char name[TOPIC_MAX];
	size_t len;
	uint64_t last_seq;
	int used;
} topic_slot;

typedef struct seq_track {
	topic_slot *slot;
	uint64_t missing;    /* messages missing according to seq jumps */
	uint64_t gap_events; /* number of jumps */
	uint64_t reordered;  /* seq not above the last one */
	size_t ntopics;
} seq_track;

static void seq_init(seq_track *t)
{
	memset(t, 0, sizeof *t);
	t->slot = calloc(TOPIC_SLOTS, sizeof *t->slot);
	if (!t->slot) {
		fprintf(stderr, "bench_zmq: out of memory\n");
		exit(1);
	}
}

/* Record seq on topic; count gaps only when counting is set. */
static void seq_see(seq_track *t, const char *topic, size_t len, uint64_t seq, int counting)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	if (len > TOPIC_MAX)
		len = TOPIC_MAX;
	for (size_t k = 0; k < len; k++)
		h = (h ^ (unsigned char)topic[k]) * 1099511628211ULL;
	for (i = h % TOPIC_SLOTS;; i = (i + 1) % TOPIC_SLOTS) {
		topic_slot *s = &t->slot[i];
		if (!s->used) {
			if (t->ntopics + 1 >= TOPIC_SLOTS)
				return;
			memcpy(s->name, topic, len);
			s->len = len;
			s->used = 1;
			s->last_seq = seq;
			t->ntopics++;
			return;
		}
		if (s->len == len && memcmp(s->name, topic, len) == 0)
			break;
	}
	if (seq > t->slot[i].last_seq + 1 && counting) {
		t->missing += seq - t->slot[i].last_seq - 1;
		t->gap_events++;
	} else if (seq <= t->slot[i].last_seq && counting) {
		t->reordered++;
	}
	if (seq > t->slot[i].last_seq)
		t->slot[i].last_seq = seq;
}

/* ------------------------------------------------------------------ receiving */

/* One received message: up to 3 frames kept (topic, header, payload), the rest counted. */
typedef struct rx_msg {
	zmq_msg_t f[3];
	int nframes;
	size_t extra_bytes;
} rx_msg;

static void rx_init(rx_msg *m)
{
	for (int i = 0; i < 3; i++)
		zmq_msg_init(&m->f[i]);
	m->nframes = 0;
}

static void rx_close(rx_msg *m)
{
	for (int i = 0; i < 3; i++)
		zmq_msg_close(&m->f[i]);
}

/* Receive a whole message; 0, or -1 with errno (EAGAIN on timeout). */
static int rx_recv(void *sock, rx_msg *m, int flags)
{
	int more = 1;

	m->nframes = 0;
	m->extra_bytes = 0;
	while (more) {
		zmq_msg_t *dst, spare;
		int first = m->nframes == 0;

		if (m->nframes < 3) {
			dst = &m->f[m->nframes];
		} else {
			zmq_msg_init(&spare);
			dst = &spare;
		}
		if (zmq_msg_recv(dst, sock, first ? flags : 0) < 0) {
			if (dst == &spare)
				zmq_msg_close(&spare);
			if (first)
				return -1;
			continue; /* the rest of a message is always there: retry */
		}
		more = zmq_msg_more(dst);
		if (dst == &spare) {
			m->extra_bytes += zmq_msg_size(&spare);
			zmq_msg_close(&spare);
		}
		m->nframes++;
	}
	return 0;
}

/* CURVE for a subscriber when the environment asks for it: BENCH_CURVE_CLIENT = "SERVER_KEY
 * PUBLIC_KEY SECRET_KEY" (Z85, space-separated); for bench_zmq pub BENCH_CURVE_SERVER = its
 * SECRET_KEY (every client accepted: no ZAP handler). */
static void curve_client(void *s)
{
	const char *env = getenv("BENCH_CURVE_CLIENT");

	if (!env || strlen(env) != 3 * 40 + 2)
		return;
	if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, env, 40) < 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, env + 41, 40) < 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, env + 82, 40) < 0)
		die("CURVE client keys");
}

static void curve_server(void *s)
{
	const char *env = getenv("BENCH_CURVE_SERVER");
	int one = 1;

	if (!env || strlen(env) != 40)
		return;
	if (zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
	    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, env, 40) < 0)
		die("CURVE server key");
}

static void *make_sub(void *ctx, const char *endpoint, const char *prefix)
{
	void *s = zmq_socket(ctx, ZMQ_SUB);
	int zero = 0, ivl = 10;

	if (!s)
		die("zmq_socket");
	curve_client(s);
	zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
	if (zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix)) < 0)
		die("subscribe");
	if (zmq_connect(s, endpoint) < 0)
		die("zmq_connect");
	return s;
}

static void set_timeout(void *s, int ms)
{
	zmq_setsockopt(s, ZMQ_RCVTIMEO, &ms, sizeof ms);
}

/* ------------------------------------------------------------------ percentiles */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double pct_us(const int64_t *v, long n, double p)
{
	long i;

	if (n <= 0)
		return 0;
	i = (long)ceil(p / 100.0 * (double)n) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return (double)v[i] / 1e3;
}

/* ------------------------------------------------------------------ pub */

static int run_pub(const char *endpoint, long size, long count, double rate)
{
	void *ctx = zmq_ctx_new(), *pub;
	int zero = 0, one = 1, linger = 10000, timeout = FIRST_TIMEOUT_MS;
	char ep[256], sub[256];
	size_t eplen = sizeof ep;
	const char *topic = "sensor/sim-bench-000/voltage/";
	size_t tlen = strlen(topic);
	char prefix[256], header[512];
	size_t plen = 0;
	float *payload;
	long nsamples = size / 4;
	int64_t t0_mono, t0_real, t_start, t_end;
	double period_ns = rate > 0 ? 1e9 / rate : 0;
	int64_t *late;
	long nlate = 0;

	payload = calloc(1, size > 0 ? (size_t)size : 1);
	if (!payload)
		return 1;
	for (long i = 0; i < nsamples; i++)
		payload[i] = (float)sin((double)i * 0.01);
	pub = zmq_socket(ctx, ZMQ_XPUB);
	if (!pub)
		die("zmq_socket");
	zmq_setsockopt(pub, ZMQ_SNDHWM, &zero, sizeof zero);
	zmq_setsockopt(pub, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(pub, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
	zmq_setsockopt(pub, ZMQ_XPUB_VERBOSE, &one, sizeof one);
	curve_server(pub);
	if (zmq_bind(pub, endpoint) < 0)
		die("zmq_bind");
	zmq_getsockopt(pub, ZMQ_LAST_ENDPOINT, ep, &eplen);
	printf("{\"mode\":\"pub\",\"endpoint\":\"%s\"}\n", ep);
	fflush(stdout);
	/* wait for the subscriber (no slow-joiner loss) */
	if (zmq_recv(pub, sub, sizeof sub, 0) < 0) {
		fprintf(stderr, "bench_zmq pub: no subscriber within %d ms\n", timeout);
		zmq_close(pub);
		zmq_ctx_term(ctx);
		free(payload);
		return 1;
	}

	/* the constant part of the header, as the bridge builds it once per stream */
	plen += put_str(prefix + plen, "{\"v\":1,\"epoch\":\"0123456789abcdef\",\"type\":\"f32\","
				       "\"rate\":");
	plen += (size_t)snprintf(prefix + plen, sizeof prefix - plen, "%.15g",
				 rate > 0 ? rate : 100000.0);
	plen += put_str(prefix + plen, ",\"quantity\":\"voltage\",\"unit\":\"V\",\"sim\":true");

	late = rate > 0 ? calloc((size_t)(count > 0 ? count : 1), sizeof *late) : NULL;
	/* wake up as precisely as a timerfd does (the bridge's device threads use one; timerfd
	 * ignores timer slack, clock_nanosleep would add up to the default 50 us) */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	t0_mono = now_ns(CLOCK_MONOTONIC);
	t0_real = now_ns(CLOCK_REALTIME);
	t_start = t0_mono;
	for (long i = 0; i < count; i++) {
		char *p = header;
		int64_t t_host, t_due = 0;

		if (rate > 0) {
			int64_t due = t0_mono + (int64_t)((double)i * period_ns);
			struct timespec ts = {due / 1000000000LL, due % 1000000000LL};
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
			if (late)
				late[nlate++] = now_ns(CLOCK_MONOTONIC) - due;
			t_host = now_ns(CLOCK_REALTIME); /* stamped at send time */
			t_due =
			    t0_real + (due - t0_mono); /* when it was due, as the bridge stamps */
		} else {
			t_host = t0_real + (int64_t)i * 10000000LL;
		}
		memcpy(p, prefix, plen);
		p += plen;
		p += put_str(p, ",\"seq\":");
		p += put_u64(p, (uint64_t)i + 1);
		p += put_str(p, ",\"t_host\":");
		p += put_u64(p, (uint64_t)t_host);
		if (t_due) {
			p += put_str(p, ",\"t_due\":");
			p += put_u64(p, (uint64_t)t_due);
		}
		p += put_str(p, ",\"t_dev\":");
		p += put_u64(p, (uint64_t)i * 10000000ULL);
		p += put_str(p, ",\"count\":");
		p += put_u64(p, (uint64_t)(nsamples > 0 ? nsamples : 1));
		*p++ = '}';
		if (zmq_send(pub, topic, tlen, ZMQ_SNDMORE) < 0 ||
		    zmq_send(pub, header, (size_t)(p - header), ZMQ_SNDMORE) < 0 ||
		    zmq_send(pub, payload, (size_t)size, 0) < 0)
			die("zmq_send");
	}
	t_end = now_ns(CLOCK_MONOTONIC);
	fprintf(stderr, "bench_zmq pub: %ld messages queued in %.3f s\n", count,
		(double)(t_end - t_start) / 1e9);
	if (late && nlate > 0) {
		/* how late the paced sender woke up: the part of a timer-driven publisher's latency
		 * that a send-time stamp does not see */
		qsort(late, (size_t)nlate, sizeof *late, cmp_i64);
		printf("{\"mode\":\"pub\",\"sent\":%ld,\"wake_late_p50_us\":%.1f,"
		       "\"wake_late_p99_us\":%.1f,\"wake_late_max_us\":%.1f}\n",
		       nlate, pct_us(late, nlate, 50), pct_us(late, nlate, 99),
		       (double)late[nlate - 1] / 1e3);
		fflush(stdout);
	}
	free(late);
	zmq_close(pub); /* lingers until sent (10 s at most) */
	zmq_ctx_term(ctx);
	free(payload);
	return 0;
}

/* ------------------------------------------------------------------ sub */

static int run_sub(const char *endpoint, long size, long count)
{
	void *ctx = zmq_ctx_new();
	void *sub = make_sub(ctx, endpoint, "");
	rx_msg m;
	seq_track st;
	long n = 0, bad = 0;
	int64_t t_first = 0, t_last = 0;
	uint64_t bytes = 0;
	int timed_out = 0;
	double secs;

	seq_init(&st);
	rx_init(&m);
	set_timeout(sub, FIRST_TIMEOUT_MS);
	while (n < count) {
		int ok;
		uint64_t seq;

		if (rx_recv(sub, &m, 0) < 0) {
			if (zmq_errno() == EAGAIN || zmq_errno() == EINTR) {
				timed_out = 1;
				break;
			}
			die("zmq_msg_recv");
		}
		t_last = now_ns(CLOCK_MONOTONIC);
		if (n == 0) {
			t_first = t_last;
			set_timeout(sub, NEXT_TIMEOUT_MS);
		}
		n++;
		if (m.nframes != 3 || (long)zmq_msg_size(&m.f[2]) != size) {
			bad++;
			continue;
		}
		bytes += zmq_msg_size(&m.f[2]);
		seq = hdr_u64(zmq_msg_data(&m.f[1]), zmq_msg_size(&m.f[1]), KEY("\"seq\":"), &ok);
		if (ok)
			seq_see(&st, zmq_msg_data(&m.f[0]), zmq_msg_size(&m.f[0]), seq, 1);
	}
	secs = (double)(t_last - t_first) / 1e9;
	/* the first message starts the clock: n-1 messages arrived during secs */
	printf(
	    "{\"mode\":\"sub\",\"size\":%ld,\"messages\":%ld,\"seconds\":%.6f,\"msgs_per_s\":%.1f,"
	    "\"samples_per_s\":%.1f,\"bytes_per_s\":%.1f,\"missing\":%" PRIu64
	    ",\"bad\":%ld,\"timeout\":%s}\n",
	    size, n, secs, secs > 0 ? (double)(n - 1) / secs : 0,
	    secs > 0 ? (double)(n - 1) * (double)(size / 4) / secs : 0,
	    secs > 0 && n > 0 ? (double)bytes * (double)(n - 1) / (double)n / secs : 0, st.missing,
	    bad, timed_out ? "true" : "false");
	fflush(stdout);
	rx_close(&m);
	free(st.slot);
	zmq_close(sub);
	zmq_ctx_term(ctx);
	return timed_out ? 1 : 0;
}

/* ------------------------------------------------------------------ sublat */

static int run_sublat(const char *endpoint, const char *prefix, long count, long warmup,
		      const char *outfile)
{
	void *ctx = zmq_ctx_new();
	void *sub = make_sub(ctx, endpoint, prefix);
	rx_msg m;
	seq_track st;
	int64_t *lat = calloc((size_t)(count > 0 ? count : 1), sizeof *lat);
	int64_t *lat_due = calloc((size_t)(count > 0 ? count : 1), sizeof *lat_due);
	long n = 0, seen = 0, bad = 0, ndue = 0;
	int timed_out = 0;
	double sum = 0;

	if (!lat || !lat_due)
		return 1;
	seq_init(&st);
	rx_init(&m);
	set_timeout(sub, FIRST_TIMEOUT_MS);
	while (n < count) {
		int64_t t_recv, t_last;
		json_t *h;
		json_int_t t_host, cnt, seq, t_due = 0;
		double rate;

		if (rx_recv(sub, &m, 0) < 0) {
			if (zmq_errno() == EAGAIN || zmq_errno() == EINTR) {
				timed_out = 1;
				break;
			}
			die("zmq_msg_recv");
		}
		t_recv = now_ns(CLOCK_REALTIME); /* the whole message has arrived */
		set_timeout(sub, NEXT_TIMEOUT_MS);
		if (m.nframes != 3)
			continue; /* json messages (events, heartbeats) carry no samples */
		h = json_loadb(zmq_msg_data(&m.f[1]), zmq_msg_size(&m.f[1]), 0, NULL);
		if (!h || json_unpack(h, "{s:I,s:I,s:F,s:I,s?I}", "t_host", &t_host, "count", &cnt,
				      "rate", &rate, "seq", &seq, "t_due", &t_due) < 0) {
			bad++;
			json_decref(h);
			continue;
		}
		json_decref(h);
		seq_see(&st, zmq_msg_data(&m.f[0]), zmq_msg_size(&m.f[0]), (uint64_t)seq,
			seen >= warmup);
		if (seen++ < warmup)
			continue;
		t_last = (int64_t)t_host;
		if (rate > 0 && cnt > 1)
			t_last += (int64_t)llround((double)(cnt - 1) * 1e9 / rate);
		lat[n] = t_recv - t_last;
		lat_due[n] = t_due ? t_recv - (int64_t)t_due : lat[n];
		ndue += t_due != 0;
		sum += (double)lat[n];
		n++;
	}
	if (outfile) {
		FILE *f = fopen(outfile, "w");
		if (!f) {
			perror(outfile);
		} else {
			for (long i = 0; i < n; i++)
				fprintf(f, "%" PRId64 " %" PRId64 "\n", lat[i], lat_due[i]);
			fclose(f);
		}
	}
	qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
	qsort(lat_due, (size_t)n, sizeof *lat_due, cmp_i64);
	printf("{\"mode\":\"sublat\",\"prefix\":\"%s\",\"n\":%ld,\"warmup\":%ld,\"min_us\":%.1f,"
	       "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
	       "\"mean_us\":%.1f,\"with_t_due\":%ld,\"due_p50_us\":%.1f,\"due_p99_us\":%.1f,"
	       "\"missing\":%" PRIu64 ",\"bad\":%ld,\"timeout\":%s}\n",
	       prefix, n, warmup, n ? (double)lat[0] / 1e3 : 0, pct_us(lat, n, 50),
	       pct_us(lat, n, 90), pct_us(lat, n, 99), pct_us(lat, n, 99.9),
	       n ? (double)lat[n - 1] / 1e3 : 0, n ? sum / (double)n / 1e3 : 0, ndue,
	       pct_us(lat_due, n, 50), pct_us(lat_due, n, 99), st.missing, bad,
	       timed_out ? "true" : "false");
	fflush(stdout);
	rx_close(&m);
	free(st.slot);
	free(lat);
	free(lat_due);
	zmq_close(sub);
	zmq_ctx_term(ctx);
	return timed_out ? 1 : 0;
}

/* ------------------------------------------------------------------ subtput */

static int run_subtput(const char *endpoint, const char *prefix, double seconds, double warm)
{
	void *ctx = zmq_ctx_new();
	void *sub = make_sub(ctx, endpoint, prefix);
	rx_msg m;
	seq_track st;
	uint64_t msgs = 0, samples = 0, bytes = 0, bad = 0;
	int64_t t_first = -1, t_begin = 0, t_stop = 0;
	double lag_first = -1, lag_last = 0, lag_max = 0;
	int timed_out = 0, counting = 0;

	seq_init(&st);
	rx_init(&m);
	for (;;) {
		int64_t t;
		int ok, okc, okt, okr;
		const char *h;
		size_t hl;
		uint64_t seq, cnt, t_host;
		double rate, lag;

		if (rx_recv(sub, &m, ZMQ_DONTWAIT) < 0) {
			zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
			long wait;
			if (zmq_errno() != EAGAIN && zmq_errno() != EINTR)
				die("zmq_msg_recv");
			t = now_ns(CLOCK_MONOTONIC);
			if (t_first < 0)
				wait = FIRST_TIMEOUT_MS;
			else if (t >= t_stop)
				break;
			else
				wait = (long)((t_stop - t) / 1000000) + 1;
			if (zmq_poll(&it, 1, wait) == 0 && t_first < 0) {
				timed_out = 1;
				break;
			}
			continue;
		}
		t = now_ns(CLOCK_MONOTONIC);
		if (m.nframes != 3)
			continue;
		if (t_first < 0) {
			t_first = t;
			t_begin = t_first + (int64_t)(warm * 1e9);
			t_stop = t_begin + (int64_t)(seconds * 1e9);
		}
		if (t >= t_stop)
			break;
		if (!counting && t >= t_begin)
			counting = 1;
		h = zmq_msg_data(&m.f[1]);
		hl = zmq_msg_size(&m.f[1]);
		seq = hdr_u64(h, hl, KEY("\"seq\":"), &ok);
		if (ok)
			seq_see(&st, zmq_msg_data(&m.f[0]), zmq_msg_size(&m.f[0]), seq, counting);
		if (!counting)
			continue;
		cnt = hdr_u64(h, hl, KEY("\"count\":"), &okc);
		t_host = hdr_u64(h, hl, KEY("\"t_host\":"), &okt);
		rate = hdr_num(h, hl, KEY("\"rate\":"), &okr);
		if (!ok || !okc || !okt) {
			bad++;
			continue;
		}
		msgs++;
		samples += cnt;
		bytes += zmq_msg_size(&m.f[2]);
		lag = (double)now_ns(CLOCK_REALTIME) - (double)t_host -
		      (okr && rate > 0 && cnt > 1 ? (double)(cnt - 1) * 1e9 / rate : 0);
		if (lag_first < 0)
			lag_first = lag;
		lag_last = lag;
		if (lag > lag_max)
			lag_max = lag;
	}
	{
		/* the window is [t_begin, t_stop); the rate is over the full window */
		double secs = (double)(t_stop - t_begin) / 1e9;
		if (timed_out || secs <= 0)
			secs = 0;
		printf(
		    "{\"mode\":\"subtput\",\"prefix\":\"%s\",\"seconds\":%.3f,\"messages\":%" PRIu64
		    ",\"samples\":%" PRIu64 ",\"bytes\":%" PRIu64
		    ",\"msgs_per_s\":%.1f,\"samples_per_s\":%.1f,\"bytes_per_s\":%.1f,"
		    "\"missing\":%" PRIu64 ",\"gap_events\":%" PRIu64 ",\"reordered\":%" PRIu64
		    ",\"topics\":%zu,\"lag_first_ms\":%.3f,\"lag_last_ms\":%.3f,"
		    "\"lag_max_ms\":%.3f,\"bad\":%" PRIu64 ",\"timeout\":%s}\n",
		    prefix, secs, msgs, samples, bytes, secs > 0 ? (double)msgs / secs : 0,
		    secs > 0 ? (double)samples / secs : 0, secs > 0 ? (double)bytes / secs : 0,
		    st.missing, st.gap_events, st.reordered, st.ntopics,
		    lag_first < 0 ? 0 : lag_first / 1e6, lag_last / 1e6, lag_max / 1e6, bad,
		    timed_out ? "true" : "false");
		fflush(stdout);
	}
	rx_close(&m);
	free(st.slot);
	zmq_close(sub);
	zmq_ctx_term(ctx);
	return timed_out ? 1 : 0;
}

/* ------------------------------------------------------------------ scanner bands */

#define SCAN_WAIT_MS 60000 /* for the first band of the next scan */

static int run_subscan(const char *endpoint, const char *prefix, long scans)
{
	void *ctx = zmq_ctx_new();
	void *sub = make_sub(ctx, endpoint, prefix);
	rx_msg m;
	int rc = 0;

	rx_init(&m);
	for (long k = 0; scans == 0 || k < scans; k++) {
		int64_t t_first = -1, t_last = 0;
		uint64_t bytes = 0, bands = 0, rows = 0, last_seq = 0;
		int32_t height = 0;
		int ordered = 1, done = 0;

		while (!done) {
			scanband_header h;
			const char *hd;
			size_t hl;
			int ok;
			uint64_t seq;
			int64_t t;

			set_timeout(sub, t_first < 0 ? SCAN_WAIT_MS : NEXT_TIMEOUT_MS);
			if (rx_recv(sub, &m, 0) < 0) {
				if (zmq_errno() == EINTR)
					continue;
				fprintf(stderr, "bench_zmq subscan: %s\n",
					t_first < 0 ? "no scan began" : "a scan stopped midway");
				rc = 1;
				goto out;
			}
			t = now_ns(CLOCK_MONOTONIC);
			if (m.nframes != 3 ||
			    scanband_decode(zmq_msg_data(&m.f[2]), zmq_msg_size(&m.f[2]), &h) < 0)
				continue;
			hd = zmq_msg_data(&m.f[1]);
			hl = zmq_msg_size(&m.f[1]);
			seq = hdr_u64(hd, hl, KEY("\"seq\":"), &ok);
			if (t_first < 0) {
				if (h.first_row != 0)
					continue; /* the end of a scan that began before we looked
						   */
				t_first = t;
				height = h.height;
			} else if (!ok || seq != last_seq + 1 || h.first_row != rows)
				ordered = 0;
			last_seq = seq;
			t_last = t;
			bands++;
			rows += h.rows;
			bytes += zmq_msg_size(&m.f[2]) - SCANBAND_HEADER_LEN;
			done = (h.flags & SCANBAND_LAST) != 0;
		}
		printf("{\"mode\":\"subscan\",\"first_ns\":%" PRId64 ",\"last_ns\":%" PRId64
		       ",\"bytes\":%" PRIu64 ",\"bands\":%" PRIu64 ",\"rows\":%" PRIu64
		       ",\"height\":%" PRId32 ",\"ordered\":%s}\n",
		       t_first, t_last, bytes, bands, rows, height, ordered ? "true" : "false");
		fflush(stdout);
	}
out:
	rx_close(&m);
	zmq_close(sub);
	zmq_ctx_term(ctx);
	return rc;
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
	fprintf(stderr, "usage: bench_zmq pub ENDPOINT SIZE COUNT [RATE_HZ]\n"
			"       bench_zmq sub ENDPOINT SIZE COUNT\n"
			"       bench_zmq sublat ENDPOINT PREFIX COUNT [WARMUP [OUTFILE]]\n"
			"       bench_zmq subtput ENDPOINT PREFIX SECONDS [WARMUP_S]\n"
			"       bench_zmq subscan ENDPOINT PREFIX SCANS\n");
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "pub") == 0 && argc <= 6)
		return run_pub(argv[2], parse_long(argv[3], "SIZE"), parse_long(argv[4], "COUNT"),
			       argc == 6 ? parse_double(argv[5], "RATE_HZ") : 0);
	if (argc == 5 && strcmp(argv[1], "sub") == 0)
		return run_sub(argv[2], parse_long(argv[3], "SIZE"), parse_long(argv[4], "COUNT"));
	if (argc >= 5 && argc <= 7 && strcmp(argv[1], "sublat") == 0)
		return run_sublat(argv[2], argv[3], parse_long(argv[4], "COUNT"),
				  argc >= 6 ? parse_long(argv[5], "WARMUP") : 20,
				  argc == 7 ? argv[6] : NULL);
	if (argc >= 5 && argc <= 6 && strcmp(argv[1], "subtput") == 0)
		return run_subtput(argv[2], argv[3], parse_double(argv[4], "SECONDS"),
				   argc == 6 ? parse_double(argv[5], "WARMUP_S") : 0.5);
	if (argc == 5 && strcmp(argv[1], "subscan") == 0)
		return run_subscan(argv[2], argv[3], parse_long(argv[4], "SCANS"));
	usage();
	return 2;
}
