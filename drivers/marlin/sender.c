/* sender.c - the host side of Marlin's line protocol: numbering, flow window, resends (no I/O). */
#include "sender.h"

#include <stdio.h>
#include <string.h>

void mk_sender_reset(mk_sender *s, long n, int window_lines, int window_bytes)
{
	if (window_lines < 1)
		window_lines = 1;
	if (window_lines > MK_WINDOW_MAX)
		window_lines = MK_WINDOW_MAX;
	s->window_lines = window_lines;
	s->window_bytes = window_bytes > 0 ? window_bytes : 1 << 30;
	s->next_n = s->send_n = n;
	s->fl_head = s->fl_count = s->fl_bytes = 0;
	s->gen++;
	s->swallow = 0;
	s->fail_n = -1;
	s->fail_count = 0;
	s->acked_n = n - 1;
}

/* The history entry of line n (valid for the last MK_HISTORY lines). */
static mk_hist *hist_of(mk_sender *s, long n)
{
	return &s->hist[(unsigned long)n % MK_HISTORY];
}

/* Whether line n is still in the history. */
static int in_history(const mk_sender *s, long n)
{
	return n < s->next_n && n >= s->next_n - MK_HISTORY && n >= 0;
}

/* Whether bytes more may go out now (window, pending resend-ok). */
static int window_open(const mk_sender *s, size_t bytes, int64_t now)
{
	if (s->swallow && now < s->swallow_until)
		return 0;
	if (s->fl_count >= s->window_lines)
		return 0;
	/* one line always goes, however long: otherwise it could never be sent */
	return s->fl_count == 0 || s->fl_bytes + (long)bytes <= s->window_bytes;
}

/* Count a line put on the wire. */
static void flight_add(mk_sender *s, long n, size_t bytes, const mk_tag *tag, int64_t now)
{
	mk_flight *f = &s->fl[(s->fl_head + s->fl_count) % MK_WINDOW_MAX];

	f->n = n;
	f->gen = s->gen;
	f->bytes = (uint16_t)bytes;
	f->tag = *tag;
	f->sent = now;
	s->fl_count++;
	s->fl_bytes += (int)bytes;
}

/* The oldest line in flight, or NULL. */
static mk_flight *flight_head(mk_sender *s)
{
	return s->fl_count ? &s->fl[s->fl_head] : NULL;
}

/* Drop the oldest line in flight; 1 when it was acknowledged in the current numbering. */
static int flight_pop(mk_sender *s, int acked)
{
	mk_flight *f = &s->fl[s->fl_head];
	int current = f->gen == s->gen;

	s->fl_head = (s->fl_head + 1) % MK_WINDOW_MAX;
	s->fl_count--;
	s->fl_bytes -= f->bytes;
	if (acked && current) {
		s->acked_n = f->n;
		if (f->tag.file_line >= 0)
			s->acked = f->tag;
		if (f->n == s->fail_n)
			s->fail_n = -1, s->fail_count = 0;
	}
	return acked && current;
}

int mk_sender_can_push(const mk_sender *s, size_t len, int64_t now)
{
	/* "N<n> " + cmd + "*<cs>\n": about len + 12 bytes */
	return s->send_n == s->next_n && window_open(s, len + 12, now);
}

int mk_sender_push(mk_sender *s, const char *cmd, size_t len, const mk_tag *tag, int64_t now,
		   char *out, size_t cap)
{
	mk_hist *h = hist_of(s, s->next_n);
	int n = gcode_frame(h->frame, sizeof h->frame, s->next_n, cmd, len);

	if (n < 0 || (size_t)n >= cap)
		return -1;
	h->n = s->next_n;
	h->tag = *tag;
	h->len = (uint16_t)n;
	memcpy(out, h->frame, (size_t)n);
	flight_add(s, s->next_n, (size_t)n, tag, now);
	s->send_n = ++s->next_n;
	return n;
}

int mk_sender_resend_next(mk_sender *s, int64_t now, char *out, size_t cap)
{
	mk_hist *h;

	if (s->send_n >= s->next_n || !in_history(s, s->send_n))
		return 0;
	h = hist_of(s, s->send_n);
	if (!window_open(s, h->len, now) || h->len >= cap)
		return 0;
	memcpy(out, h->frame, h->len);
	flight_add(s, h->n, h->len, &h->tag, now);
	s->send_n++;
	return h->len;
}

/* A resend request for line k. */
static mk_event on_resend(mk_sender *s, long k, const char *text, int64_t now, char *why,
			  size_t cap)
{
	mk_flight *f;
	int stale;

	/* the firmware asks for k: every line before k was accepted */
	while ((f = flight_head(s)) && f->n < k && f->gen == s->gen)
		flight_pop(s, 1);
	f = flight_head(s);
	stale = f && f->gen != s->gen;
	if (f)
		flight_pop(s, 0); /* the rejected line */
	s->swallow = 1;
	s->swallow_until = now + MK_SWALLOW_NS;
	if (stale)
		return MK_DUPLICATE; /* sent before the rewind: already being resent */
	if (k == s->next_n && s->send_n == s->next_n)
		return MK_DUPLICATE; /* nothing to send again: the next new line is what it wants */
	if (!in_history(s, k)) {
		snprintf(why, cap,
			 "the printer asked to resend line %ld, which %s (lines sent: %ld..%ld)", k,
			 k >= s->next_n ? "was never sent" : "is too old to be resent",
			 s->next_n - MK_HISTORY > 0 ? s->next_n - MK_HISTORY : 0, s->next_n - 1);
		return MK_FAIL;
	}
	if (k == s->fail_n) {
		if (++s->fail_count > MK_MAX_RETRIES) {
			mk_hist *h = hist_of(s, k);
			snprintf(
			    why, cap,
			    "line %ld of the file (\"%.*s\") was rejected %d times in a row%s%s",
			    h->tag.file_line, h->len > 1 ? h->len - 1 : 0, h->frame, s->fail_count,
			    text && *text ? ": " : "", text ? text : "");
			return MK_FAIL;
		}
	} else {
		s->fail_n = k;
		s->fail_count = 1;
	}
	s->gen++; /* what is still in flight will be rejected: those answers are stale */
	s->send_n = k;
	s->resends++;
	return MK_REWIND;
}

/* An "ok": the oldest line in flight is acknowledged (ADVANCED_OK's N says up to which). */
static mk_event on_ok(mk_sender *s, const marlin_reply *r)
{
	mk_flight *f = flight_head(s);
	int acked = 0;

	if (s->swallow) {
		s->swallow = 0;
		/* the ok that follows a resend request acknowledges nothing, unless its N says
		 * it does */
		if (!(r->line >= 0 && f && f->gen == s->gen && r->line >= f->n))
			return MK_NONE;
	}
	if (!f)
		return MK_NONE;
	if (r->line >= 0 && f->gen == s->gen) {
		while ((f = flight_head(s)) && f->gen == s->gen && f->n <= r->line)
			acked |= flight_pop(s, 1);
		if (acked)
			return MK_ACK;
		if (!f || f->gen == s->gen)
			return MK_NONE; /* N of a line not ours (a bare command): nothing to pop */
	}
	return flight_pop(s, 1) ? MK_ACK : MK_NONE;
}

mk_event mk_sender_on_reply(mk_sender *s, const marlin_reply *r, int64_t now, char *why, size_t cap)
{
	s->last_rx = now;
	switch (r->kind) {
	case MARLIN_OK: return on_ok(s, r);
	case MARLIN_RESEND: return on_resend(s, r->line, NULL, now, why, cap);
	case MARLIN_BUSY: return MK_BUSY;
	default: return MK_NONE;
	}
}

int mk_sender_check_timeout(mk_sender *s, const int64_t timeout_ns[4], int64_t now,
			    int64_t *deadline)
{
	mk_flight *f = flight_head(s);
	int64_t since, limit;

	if (s->swallow && now >= s->swallow_until)
		s->swallow = 0; /* the firmware sends no ok after a resend request */
	if (!f) {
		*deadline = s->send_n < s->next_n && s->swallow ? s->swallow_until : -1;
		return 0;
	}
	since = f->sent > s->last_rx ? f->sent : s->last_rx;
	limit = timeout_ns[f->tag.cls & 3];
	if (now - since < limit) {
		*deadline = since + limit;
		if (s->swallow && s->swallow_until < *deadline)
			*deadline = s->swallow_until;
		return 0;
	}
	flight_pop(s, 1);
	s->timeouts++;
	*deadline = now;
	return 1;
}
