/* fuzz_subs.c - libFuzzer harness: the subscription counts of subs.c against a reference model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bridge/core/subs.h"

/*
 * Input: a sequence of operations on 4 connections (fds 3..6), each starting with a byte b:
 *	b % 4 == 0: open fd 3 + (b >> 2) % 4      b % 4 == 1: close it
 *	otherwise: a message from it: the next byte is its length L (% 140), then L bytes (the first
 *	one is 0x00 unsubscribe / 0x01 subscribe / anything else).
 * Prefixes come from a small alphabet so that repeats and unsubscriptions of held prefixes are
 * frequent. The model keeps each connection's set of prefixes; after every operation the
 * table's counts must equal the model's and stay within the limits, and a verdict other than
 * LB_SUB_OK must be exactly when the model says the message breaks a limit.
 */

#define NCONN 4
#define MAXP 300

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct model_conn {
	int open, doomed;
	size_t n;
	unsigned char len[MAXP];
	unsigned char p[MAXP][LB_SUB_MAX_LEN];
} model_conn;

static model_conn model[NCONN];

static long find(const model_conn *c, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->len[i] == len && memcmp(c->p[i], p, len) == 0)
			return (long)i;
	return -1;
}

static size_t model_total(void)
{
	size_t t = 0;

	for (int i = 0; i < NCONN; i++)
		t += model[i].open ? model[i].n : 0;
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lb_subs *t = lb_subs_new();
	size_t i = 0;

	if (!t)
		return 0;
	memset(model, 0, sizeof model);
	while (i < size) {
		uint8_t b = data[i++];
		int k = (b >> 2) % NCONN, fd = 3 + k;
		model_conn *c = &model[k];

		if (b % 4 == 0) {
			FUZZ_ASSERT(lb_subs_open(t, fd) == 0);
			memset(c, 0, sizeof *c);
			c->open = 1;
		} else if (b % 4 == 1) {
			lb_subs_close(t, fd);
			memset(c, 0, sizeof *c);
		} else {
			size_t len = i < size ? data[i++] % 140 : 0;
			unsigned char msg[140];
			lb_sub_verdict v, want = LB_SUB_OK;

			if (len > size - i)
				len = size - i;
			for (size_t j = 0; j < len; j++) /* prefixes from "ab/" mostly */
				msg[j] =
				    j == 0 ? data[i + j] : (unsigned char)("ab/"[data[i + j] % 3]);
			i += len;
			v = lb_subs_apply(t, fd, msg, len);
			if (c->open && !c->doomed) {
				long at = len >= 1 ? find(c, msg + 1, len - 1) : -1;
				if (len < 1 || (msg[0] != 0 && msg[0] != 1))
					want = LB_SUB_NOT_A_SUB;
				else if (len - 1 > LB_SUB_MAX_LEN)
					want = LB_SUB_TOO_LONG;
				else if (msg[0] == 0) {
					if (at >= 0) {
						c->len[at] = c->len[c->n - 1];
						memcpy(c->p[at], c->p[c->n - 1], LB_SUB_MAX_LEN);
						c->n--;
					}
				} else if (at < 0) {
					if (c->n >= LB_SUB_MAX_PER_CONN)
						want = LB_SUB_TOO_MANY;
					else if (model_total() >= LB_SUB_MAX_TOTAL)
						want = LB_SUB_FULL;
					else {
						c->len[c->n] = (unsigned char)(len - 1);
						memcpy(c->p[c->n++], msg + 1, len - 1);
					}
				}
				if (want != LB_SUB_OK)
					c->doomed = 1;
			}
			FUZZ_ASSERT(v == want);
		}
		for (int j = 0; j < NCONN; j++) {
			FUZZ_ASSERT(lb_subs_count(t, 3 + j) == (model[j].open ? model[j].n : 0));
			FUZZ_ASSERT(lb_subs_count(t, 3 + j) <= LB_SUB_MAX_PER_CONN);
		}
		FUZZ_ASSERT(lb_subs_total(t) == model_total());
		FUZZ_ASSERT(lb_subs_total(t) <= LB_SUB_MAX_TOTAL);
	}
	lb_subs_destroy(&t);
	return 0;
}
