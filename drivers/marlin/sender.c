/* sender.c - the host side of Marlin's line protocol: numbering, flow window, resends (no I/O). */
#include "sender.h"

#include <stdio.h>
#include <string.h>

void mk_sender_reset(mk_sender *s, long n, int window_lines, int window_bytes, int64_t quiet_ns)
{
	s->quiet_ns = quiet_ns > 0 ? quiet_ns : MK_QUIET_NS;
	s->hold_until = 0;
	s->after_resend = 0;
	if (window_lines < 1)
		window_lines = 1;
	if (window_lines > MK_WINDOW_MAX)
		window_lines = MK_WINDOW_MAX;
	s->window_lines = window_lines;
	s->window_bytes = window_bytes > 0 ? window_bytes : 1 << 30;
	s->next_n = s->send_n = n;
	s->fl_head = s->fl_count = s->fl_bytes = 0;
	s->gen++;
	s->owed = 0;
	s->fail_n = -1;
	s->fail_count = 0;
	s->acked_n = s->ok_n = n - 1;
	s->probe_due = 0;
	s->probe_n = n - 1;
	s->req_k = -1;
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

/* Whether bytes more may go out now (window, answers to stale lines still coming). */
static int window_open(const mk_sender *s, size_t bytes, int64_t now)
{
	if (now < s->hold_until)
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
	s->last_tx = now;
	hist_of(s, n)->gen = s->gen;
	s->fl_count++;
	s->fl_bytes += (int)bytes;
}

/* The oldest line in flight, or NULL. */
static mk_flight *flight_head(mk_sender *s)
{
	return s->fl_count ? &s->fl[s->fl_head] : NULL;
}

/* Every line up to n is known accepted: the last acknowledged file line follows (from the
 * history, so also for lines whose flight was forgotten at a rewind); 1 when it moved. */
static int ack_upto(mk_sender *s, long n)
{
	long from = s->acked_n + 1;

	if (n <= s->acked_n)
		return 0;
	if (from < s->next_n - MK_HISTORY)
		from = s->next_n - MK_HISTORY;
	for (long m = from; m <= n && m < s->next_n; m++) {
		const mk_hist *h = &s->hist[(unsigned long)m % MK_HISTORY];
		if (m >= 0 && h->n == m && h->tag.file_line >= 0)
			s->acked = h->tag;
	}
	s->acked_n = n;
	if (s->fail_n >= 0 && s->fail_n <= n)
		s->fail_n = -1, s->fail_count = 0;
	return 1;
}

/*
 * The printer asks for line k: it has nothing from k on, whatever the sender took for an ok
 * (an ok given up as lost, a plain ok taken for a line's): counts go back to k - 1, so that
 * progress never claims a line the printer does not have.
 */
static void unack_from(mk_sender *s, long k)
{
	if (s->ok_n >= k)
		s->ok_n = k - 1;
	if (s->acked_n < k)
		return;
	s->acked_n = k - 1;
	for (long m = k - 1; m >= 0 && m >= s->next_n - MK_HISTORY; m--) {
		const mk_hist *h = &s->hist[(unsigned long)m % MK_HISTORY];
		if (h->n == m && h->tag.file_line >= 0) {
			s->acked = h->tag;
			return;
		}
	}
}

/* Drop the oldest line in flight; 1 when it was acknowledged in the current numbering. */
static int flight_pop(mk_sender *s, int acked)
{
	mk_flight *f = &s->fl[s->fl_head];
	int current = f->gen == s->gen;

	s->fl_head = (s->fl_head + 1) % MK_WINDOW_MAX;
	s->fl_count--;
	s->fl_bytes -= f->bytes;
	if (acked && current)
		ack_upto(s, f->n);
	return acked && current;
}

int mk_sender_can_push(const mk_sender *s, size_t len, int64_t now)
{
	/* "N<n> " + cmd + "*<cs>\n": about len + 12 bytes */
	return s->send_n == s->next_n && !s->probe_due && window_open(s, len + 12, now);
}

/* Whether a cleaned command is an M105 (its answer is "ok T:...", not "ok"). */
static int is_m105(const char *cmd, size_t len)
{
	return len >= 4 && memcmp(cmd, "M105", 4) == 0 && (len == 4 || cmd[4] == ' ');
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
	h->m105 = (uint8_t)is_m105(cmd, len);
	h->len = (uint16_t)n;
	memcpy(out, h->frame, (size_t)n);
	flight_add(s, s->next_n, (size_t)n, tag, now);
	s->send_n = ++s->next_n;
	return n;
}

/*
 * The M105 probe, once the lines of a rewind are on the wire again (see sender.h). With
 * ADVANCED_OK every ok says its line: none is needed. Past a full window only after the quiet
 * time with nothing from the printer and nothing sent, and never beyond the flight ring.
 */
static int probe_next(mk_sender *s, int64_t now, char *out, size_t cap)
{
	static const mk_tag tag = {-1, 0, GCODE_CLASS_QUICK};
	int n;

	if (s->advanced)
		s->probe_due = 0;
	if (!s->probe_due || now < s->hold_until || s->send_n != s->next_n)
		return 0;
	if (!window_open(s, 4 + 12, now) &&
	    (s->fl_count >= MK_WINDOW_MAX || now - s->last_rx < s->quiet_ns ||
	     now - s->last_tx < s->quiet_ns))
		return 0;
	n = mk_sender_push(s, "M105", 4, &tag, now, out, cap);
	if (n > 0) {
		s->probe_due = 0;
		s->probes++;
	}
	return n > 0 ? n : 0;
}

int mk_sender_resend_next(mk_sender *s, int64_t now, char *out, size_t cap)
{
	mk_hist *h;

	if (s->send_n >= s->next_n)
		return probe_next(s, now, out, cap);
	if (!in_history(s, s->send_n))
		return 0;
	h = hist_of(s, s->send_n);
	if (!window_open(s, h->len, now) || h->len >= cap)
		return 0;
	memcpy(out, h->frame, h->len);
	flight_add(s, h->n, h->len, &h->tag, now);
	s->send_n++;
	return h->len;
}

/* Whether one of the lines from k on (to be sent again) is an M105. */
static int m105_from(const mk_sender *s, long k)
{
	for (long m = k < 0 ? 0 : k; m < s->next_n; m++) {
		const mk_hist *h = &s->hist[(unsigned long)m % MK_HISTORY];
		if (in_history(s, m) && h->n == m && h->m105)
			return 1;
	}
	return 0;
}

/*
 * A resend request for line k: Marlin accepted every line before k and wants k (it asks for its
 * last line + 1). On a bad line it drops what its receive buffer holds (gcode_line_error) and
 * asks; lines still on their way arrive after that and are refused with the same request. Those
 * stale requests come in a burst, but also much later: a board busy with a long move or a heat-up
 * leaves lines in its receive buffer for minutes, and their refusal drops whatever the host sent
 * again behind them. So no request is ever ignored as stale: each one forgets the lines in flight
 * and (re)starts the rewind to the line it asks for, which goes out once the requests have stopped
 * for the quiet time (the hold). A copy too many costs nothing: Marlin refuses a line it already
 * has, and asks for the one after its last. What the printer proves it has (an ok N, a request for
 * a later line) is never sent again.
 */
static mk_event on_resend(mk_sender *s, long k, int64_t now, char *why, size_t cap)
{
	mk_flight *f;
	int burst = now < s->hold_until; /* more of the requests already being answered */

	if (k < 0)
		return MK_DUPLICATE;
	s->req_k = k;
	/* plain oks: the count starts again from an M105 after the lines sent again (one of them
	 * when there is one: a new one each time would be refused as a copy once the next request
	 * came, and that request would call for yet another one, forever) */
	s->probe_due = !s->advanced && !m105_from(s, k);
	/* every line before k was accepted; Marlin reads several lines before it runs them, so
	 * the oks of those still in its queue come later (counted by ok_n) */
	while ((f = flight_head(s)) && f->n < k)
		flight_pop(s, 1);
	if (k >= s->next_n) {
		if (k > s->next_n) {
			snprintf(
			    why, cap,
			    "the printer asked to resend line %ld, which was never sent (lines "
			    "sent: %ld..%ld)",
			    k, s->next_n - MK_HISTORY > 0 ? s->next_n - MK_HISTORY : 0,
			    s->next_n - 1);
			return MK_FAIL;
		}
		/* it has every line sent: nothing to send again */
		ack_upto(s, k - 1);
		s->fl_head = s->fl_count = s->fl_bytes = 0;
		s->gen++;
		s->send_n = s->next_n;
		return MK_DUPLICATE;
	}
	if (!in_history(s, k)) {
		snprintf(why, cap,
			 "the printer asked to resend line %ld, which is too old to be resent "
			 "(lines sent: %ld..%ld)",
			 k, s->next_n - MK_HISTORY > 0 ? s->next_n - MK_HISTORY : 0, s->next_n - 1);
		return MK_FAIL;
	}
	ack_upto(s, k - 1);
	unack_from(s, k);
	s->owed = s->acked_n > s->ok_n ? (int)(s->acked_n - s->ok_n) : 0;
	if (!burst) {
		/* a new refusal (not one of a burst): count it against the line */
		if (k == s->fail_n) {
			if (++s->fail_count > MK_MAX_RETRIES) {
				mk_hist *h = hist_of(s, k);
				snprintf(why, cap,
					 "line %ld of the file (\"%.*s\") was rejected %d times in "
					 "a row",
					 h->tag.file_line, h->len > 1 ? h->len - 1 : 0, h->frame,
					 s->fail_count);
				return MK_FAIL;
			}
		} else {
			s->fail_n = k;
			s->fail_count = 1;
		}
		s->resends++;
	}
	/* forget what is in flight: it goes again from k once the requests stop */
	s->fl_head = s->fl_count = s->fl_bytes = 0;
	s->gen++;
	s->send_n = k;
	s->hold_until = now + s->quiet_ns;
	return burst ? MK_DUPLICATE : MK_REWIND;
}

/*
 * The M105 line an "ok T:..." answers, or -1: Marlin accepts numbered lines once each and in
 * order and answers them in that order, so it is the first M105 after the last one answered.
 * Only a copy put on the wire since the last resend request (or one before the line that
 * request asked for, which the printer has): the tail of an older copy that a flush cut
 * ("M105*..") runs as a command too, and proves nothing about the lines before it.
 */
static long probe_line(const mk_sender *s)
{
	long from = s->probe_n + 1;

	if (from < s->next_n - MK_HISTORY)
		from = s->next_n - MK_HISTORY;
	for (long m = from < 0 ? 0 : from; m < s->next_n; m++) {
		const mk_hist *h = &s->hist[(unsigned long)m % MK_HISTORY];
		if (h->n == m && h->m105)
			return m;
	}
	return -1;
}

/*
 * An "ok": a line has run. ADVANCED_OK's N says which; a plain ok is for the line after the one
 * the last ok was for (Marlin runs lines in the order it accepted them and prints one ok for
 * each), whether the sender already counted that line as accepted (a later resend request said
 * so) or it is still in flight. Every line up to it is in: never sent again.
 */
static mk_event on_ok(mk_sender *s, const marlin_reply *r, int after_resend, int64_t now)
{
	mk_flight *f;
	int acked = 0;
	long n;

	/* an M105's own "ok T:...": every line up to it has run (see sender.h) */
	if (r->line < 0 && r->ntemps > 0 && (n = probe_line(s)) >= 0) {
		s->probe_n = n;
		s->ok_n = n; /* exact: the next ok is for the line after it */
		while ((f = flight_head(s)) && f->n <= n)
			acked |= flight_pop(s, 1);
		acked |= ack_upto(s, n);
		if (s->send_n <= n && s->send_n < s->next_n)
			s->send_n = n + 1 < s->next_n ? n + 1 : s->next_n;
		s->owed = s->acked_n > s->ok_n ? (int)(s->acked_n - s->ok_n) : 0;
		return acked ? MK_ACK : MK_NONE;
	}
	/* the "ok" that some firmware prints right after a resend request acknowledges nothing */
	if (after_resend && (s->resend_ok == MK_RESEND_OK_YES ||
			     (s->resend_ok == MK_RESEND_OK_UNKNOWN && now < s->hold_until)))
		return MK_NONE;
	if (r->line >= 0) {
		s->advanced = 1;
		if (r->line >= s->next_n || r->line < s->next_n - MK_HISTORY)
			return MK_NONE; /* N of a line not sent in this numbering */
		n = r->line;
	} else if (s->advanced) {
		return MK_NONE; /* with ADVANCED_OK a line's ok has its N: this is another ok */
	} else {
		n = s->ok_n + 1;
		if (n >= s->next_n) {
			/* more oks than lines: the count ran ahead (an ok of a line fragment that
			 * a flush left, run as a command): this one is the oldest line's */
			f = flight_head(s);
			if (!f)
				return MK_NONE;
			n = f->n;
		}
	}
	if (n > s->ok_n)
		s->ok_n = n;
	while ((f = flight_head(s)) && f->n <= n)
		acked |= flight_pop(s, 1);
	acked |= ack_upto(s, n);
	/* only N proves which line it has: a plain ok might be one taken for another */
	if (r->line >= 0 && s->send_n <= n && s->send_n < s->next_n)
		s->send_n = n + 1 < s->next_n ? n + 1 : s->next_n;
	s->owed = s->acked_n > s->ok_n ? (int)(s->acked_n - s->ok_n) : 0;
	return acked ? MK_ACK : MK_NONE;
}

mk_event mk_sender_on_reply(mk_sender *s, const marlin_reply *r, int64_t now, char *why, size_t cap)
{
	int after_resend = s->after_resend;

	/* only what concerns the flow keeps a wait alive: temperature reports come anyway */
	if (r->kind == MARLIN_OK || r->kind == MARLIN_RESEND || r->kind == MARLIN_BUSY)
		s->last_rx = now;
	if (r->kind == MARLIN_RESEND && after_resend && s->resend_ok == MK_RESEND_OK_UNKNOWN)
		s->resend_ok = MK_RESEND_OK_NO; /* two requests, no "ok" between: it prints none */
	if (r->kind == MARLIN_OK || r->kind == MARLIN_RESEND)
		s->after_resend = r->kind == MARLIN_RESEND;
	switch (r->kind) {
	case MARLIN_OK: return on_ok(s, r, after_resend, now);
	case MARLIN_RESEND: return on_resend(s, r->line, now, why, cap);
	case MARLIN_BUSY: return MK_BUSY;
	default: return MK_NONE;
	}
}

int mk_sender_check_timeout(mk_sender *s, const int64_t timeout_ns[4], int64_t now,
			    int64_t *deadline)
{
	mk_flight *f = flight_head(s);
	int64_t since, limit;

	if (!f) {
		*deadline = s->send_n < s->next_n && now < s->hold_until ? s->hold_until : -1;
		if (*deadline < 0 && s->probe_due && !s->advanced)
			*deadline = s->hold_until > now ? s->hold_until : now;
		return 0;
	}
	since = f->sent > s->last_rx ? f->sent : s->last_rx;
	limit = timeout_ns[f->tag.cls & 3];
	if (now - since < limit) {
		*deadline = since + limit;
		if (now < s->hold_until && s->hold_until < *deadline)
			*deadline = s->hold_until;
		if (s->probe_due && !s->advanced && s->send_n == s->next_n) {
			/* the probe past a full window: after the quiet time */
			int64_t t =
			    (s->last_rx > s->last_tx ? s->last_rx : s->last_tx) + s->quiet_ns;
			if (t < s->hold_until)
				t = s->hold_until;
			if (t < *deadline)
				*deadline = t > now ? t : now;
		}
		return 0;
	}
	if (f->n > s->ok_n)
		s->ok_n = f->n; /* its ok was lost: the next one is for the line after it */
	flight_pop(s, 1);
	s->owed = s->acked_n > s->ok_n ? (int)(s->acked_n - s->ok_n) : 0;
	s->timeouts++;
	*deadline = now;
	return 1;
}
