/* fuzz_mbot.c - libFuzzer harness: the mBot reply parser (whole and in pieces), the request
 * parser, the encoders and the pending table. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/mbot.h"

#define MAXMSG 2048

/* A message as recorded for comparison (its text copied out of the parser). */
typedef struct rec {
	mbot_msg m;
	uint8_t frame[MBOT_REPLY_MAX];
} rec;

static rec whole[MAXMSG], pieces[MAXMSG];

/* The frame just returned must re-encode to itself (robot-side encoders), value bytes aside for
 * NaN floats (a signalling NaN is quieted through double) and the stray bytes of padded values. */
static void check_reencode(const mbot_msg *m, const uint8_t *frame)
{
	uint8_t b[MBOT_REPLY_MAX];
	int n = -1;

	if (m->len < 4 || m->len > MBOT_REPLY_MAX)
		abort();
	switch (m->kind) {
	case MBOT_MSG_ACK: n = mbot_enc_ack(b, sizeof b); break;
	case MBOT_MSG_EMPTY: n = mbot_enc_empty(b, sizeof b, m->idx); break;
	case MBOT_MSG_BANNER: n = mbot_enc_banner(b, sizeof b, m->text, m->tlen); break;
	case MBOT_MSG_VALUE:
		if (m->type == MBOT_TYPE_STRING)
			n = mbot_enc_string(b, sizeof b, m->idx, m->text, m->tlen);
		else
			n = mbot_enc_value(b, sizeof b, m->idx, m->type, m->number, m->padded);
		break;
	default: abort();
	}
	if (n != (int)m->len)
		abort();
	if (m->kind == MBOT_MSG_VALUE && m->type != MBOT_TYPE_STRING) {
		size_t vlen = m->len - 6, check = vlen;
		if (m->padded)
			check = m->type == MBOT_TYPE_SHORT ? 2 : 4;
		if (isnan(m->number))
			check = 0;
		if (memcmp(b, frame, 4) != 0 || memcmp(b + 4, frame + 4, check) != 0 ||
		    memcmp(b + 4 + vlen, frame + 4 + vlen, 2) != 0)
			abort();
	} else if (memcmp(b, frame, (size_t)n) != 0) {
		abort();
	}
}

/* Run the parser over data in pieces whose sizes come from sizes[] (0: all at once). */
static int run_parser(const uint8_t *data, size_t size, const uint8_t *sizes, size_t nsizes,
		      rec *out, unsigned long *garbage)
{
	static mbot_parser p;
	size_t off = 0, k = 0, total = 0;
	int n = 0;
	mbot_msg m;

	memset(&p, 0, sizeof p);
	while (off < size) {
		size_t want = nsizes ? 1 + sizes[k++ % nsizes] % 64 : size - off;
		if (want > size - off)
			want = size - off;
		size_t took = mbot_parser_feed(&p, data + off, want);
		off += took;
		while (mbot_parser_next(&p, &m) == 1) {
			if (p.n > MBOT_PARSER_CAP || m.len > p.n)
				abort();
			check_reencode(&m, p.buf);
			total += m.len;
			if (n < MAXMSG) {
				out[n].m = m;
				out[n].m.text = NULL;
				memcpy(out[n].frame, p.buf, m.len);
			}
			n++;
		}
		if (took == 0 && p.n < MBOT_PARSER_CAP)
			abort(); /* feed refused bytes with room left */
	}
	/* every byte is a message's or garbage, except those still held (a frame's beginning) */
	if (total + p.garbage + p.n != size || p.n >= MBOT_REPLY_MAX)
		abort();
	*garbage = p.garbage;
	return n;
}

/* Every request frame that parses re-encodes to itself. */
static void check_requests(const uint8_t *data, size_t size)
{
	mbot_request r;
	uint8_t b[MBOT_REQ_MAX];

	for (size_t off = 0; off < size; off++) {
		int n = mbot_parse_request(data + off, size - off, &r);
		if (n <= 0)
			continue;
		if (n > MBOT_REQ_MAX)
			abort();
		int e = mbot_enc_request(b, sizeof b, r.idx, r.action, r.device, r.data, r.n);
		if (r.action == MBOT_GET || r.action == MBOT_RUN || r.action == MBOT_RESET ||
		    r.action == MBOT_START) {
			if (e != n || memcmp(b, data + off, (size_t)n) != 0)
				abort();
		} else if (e != MBOT_ERR_RANGE) {
			abort();
		}
		(void)mbot_req_short(&r, data[off] % 64);
	}
}

/* Encoders with arguments from the input: a frame the request parser reads back, or an error. */
static void check_encoders(const uint8_t *d, size_t size)
{
	uint8_t b[MBOT_REQ_MAX];
	mbot_request r;

	if (size < 8)
		return;
	int a = (int16_t)(d[0] | (d[1] << 8)), c = (int16_t)(d[2] | (d[3] << 8));
	int n[] = {
	    mbot_enc_move(b, sizeof b, d[4], a, c),
	    mbot_enc_motor(b, sizeof b, d[4], d[5], a),
	    mbot_enc_led(b, sizeof b, d[4], d[5] % 4, d[6], d[7], a),
	    mbot_enc_tone(b, sizeof b, d[4], a, c),
	    mbot_enc_servo(b, sizeof b, d[4], d[5] % 6, d[6] % 3, c),
	    mbot_enc_get(b, sizeof b, d[4], a, c),
	    mbot_enc_ir_send(b, sizeof b, d[4], (const char *)d, size % 64),
	    mbot_enc_request(b, d[5] % (MBOT_REQ_MAX + 1), d[4], d[6] % 8, a % 300, d + 8,
			     (size - 8) % 64),
	};
	for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
		if (n[i] > MBOT_REQ_MAX ||
		    (n[i] < 0 && n[i] != MBOT_ERR_RANGE && n[i] != MBOT_ERR_SPACE))
			abort();
	}
	/* the last one is still in b */
	if (n[7] > 0 && mbot_parse_request(b, (size_t)n[7], &r) != n[7])
		abort();
}

/* Drive the pending table with the parsed messages; its invariants must hold throughout. */
static void check_tracker(const rec *msgs, int n, const uint8_t *d, size_t size)
{
	static mbot_tracker t;
	mbot_pending p;
	uint8_t idx;
	int64_t now = 0;

	memset(&t, 0, sizeof t);
	for (int i = 0; i < n && i < MAXMSG; i++) {
		uint8_t op = size ? d[(size_t)i % size] : 0;
		int action = (op & 3) == 0 ? MBOT_GET : (op & 3) == 1 ? MBOT_RUN : MBOT_RESET;
		int r = mbot_track_add(&t, action, op >> 4, now, op & 0x3f, &idx);
		if (r >= 0 && idx == MBOT_IDX_EVENT)
			abort();
		if (r < 0 && r != MBOT_ERR_FULL)
			abort();
		mbot_msg m = msgs[i].m;
		mbot_track_match(&t, &m, &p);
		now += op & 7;
		while (mbot_track_expire(&t, now, &p) == 1)
			if (!p.lost && p.deadline_ms > now)
				abort();
		int c = mbot_track_count(&t);
		if (c < 0 || c > MBOT_MAX_PENDING)
			abort();
		for (int x = 0; x < MBOT_MAX_PENDING; x++)
			for (int y = x + 1; y < MBOT_MAX_PENDING; y++)
				if (t.slot[x].used && t.slot[y].used &&
				    t.slot[x].idx == t.slot[y].idx)
					abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long g1, g2;
	int n1 = run_parser(data, size, NULL, 0, whole, &g1);
	int n2 = run_parser(data, size, data, size < 16 ? size : 16, pieces, &g2);

	/* the pieces make no difference */
	if (n1 != n2 || g1 != g2)
		abort();
	for (int i = 0; i < n1 && i < MAXMSG; i++) {
		const mbot_msg *a = &whole[i].m, *b = &pieces[i].m;
		if (a->kind != b->kind || a->idx != b->idx || a->type != b->type ||
		    a->len != b->len || a->padded != b->padded || a->tlen != b->tlen ||
		    memcmp(whole[i].frame, pieces[i].frame, a->len) != 0)
			abort();
	}
	check_requests(data, size);
	check_encoders(data, size);
	check_tracker(whole, n1, data, size);
	return 0;
}
