/* link.c - the mBot driver's protocol handling: sensor polling, requests in flight, replies. */
#include "link.h"

#include <string.h>

static int settle(mbot_link *l, const mbot_pending *pd);

/* Start from nothing. Never fails. */
void mbot_link_init(mbot_link *l)
{
	memset(l, 0, sizeof *l);
	for (int i = 0; i < MBOT_MAX_PENDING; i++)
		l->meta[i].poll = -1;
}

/* A GET of poll p with index idx into buf; its length or a negative MBOT_ERR_*. */
static int poll_frame(const mbot_link_poll *p, uint8_t idx, uint8_t *buf, size_t cap)
{
	if (p->slot >= 0)
		return mbot_enc_get_slot(buf, cap, idx, p->device, p->port, p->slot);
	return mbot_enc_get(buf, cap, idx, p->device, p->port);
}

/* Add a poll; its index, FULL or RANGE. */
int mbot_link_add_poll(mbot_link *l, int device, int port, int slot, int period_ms, int timeout_ms)
{
	mbot_link_poll *p;
	uint8_t b[MBOT_REQ_MAX];

	if (l->npoll >= MBOT_LINK_POLLS)
		return MBOT_ERR_FULL;
	if (period_ms < 1 || timeout_ms < 1)
		return MBOT_ERR_RANGE;
	p = &l->poll[l->npoll];
	memset(p, 0, sizeof *p);
	p->device = device;
	p->port = port;
	p->slot = slot;
	p->period_ms = period_ms;
	p->timeout_ms = timeout_ms;
	if (poll_frame(p, 0, b, sizeof b) < 0)
		return MBOT_ERR_RANGE;
	return l->npoll++;
}

/* Polling on or off. Never fails. */
void mbot_link_polling(mbot_link *l, int on, int64_t now_ms)
{
	l->polling = on;
	for (int i = 0; i < l->npoll && on; i++)
		l->poll[i].next_ms = now_ms;
}

/* Record a request frame in the tracker and its metadata (frame NULL: written already, whatever
 * the room); 0 or FULL/RANGE. */
static int track(mbot_link *l, uint8_t *frame, size_t len, int action, int device, int poll,
		 int64_t now_ms, int timeout_ms, uint32_t *seq)
{
	uint8_t idx;
	int slot;

	if (len > MBOT_LINK_INFLIGHT_MAX)
		return MBOT_ERR_RANGE;
	if (frame && l->inflight_bytes + (int)len > MBOT_LINK_INFLIGHT_MAX)
		return MBOT_ERR_FULL;
	slot = mbot_track_add(&l->tracker, action, device, now_ms, timeout_ms, &idx);
	if (slot < 0)
		return slot;
	if (frame)
		frame[3] = idx;
	l->meta[slot].seq = l->tracker.slot[slot].seq;
	l->meta[slot].len = (int)len;
	l->meta[slot].poll = poll;
	l->inflight_bytes += (int)len;
	l->sent++;
	if (seq)
		*seq = l->meta[slot].seq;
	return 0;
}

/* Track a command frame; 0 with *tag, FULL, LENGTH or RANGE. */
int mbot_link_send(mbot_link *l, uint8_t *frame, size_t len, int64_t now_ms, int timeout_ms,
		   uint32_t *tag)
{
	mbot_request r;
	int n = mbot_parse_request(frame, len, &r);

	if (n < 0 || (size_t)n != len)
		return MBOT_ERR_LENGTH;
	return track(l, frame, len, r.action, r.device, -1, now_ms, timeout_ms, tag);
}

/* Track a command written out of band; 0 with *tag, FULL, LENGTH or RANGE. */
int mbot_link_adopt(mbot_link *l, const uint8_t *frame, size_t len, int64_t now_ms, int timeout_ms,
		    uint32_t *tag)
{
	mbot_request r;
	int n = mbot_parse_request(frame, len, &r);

	if (n < 0 || (size_t)n != len)
		return MBOT_ERR_LENGTH;
	if (r.action == MBOT_GET)
		return MBOT_ERR_RANGE;
	return track(l, NULL, len, r.action, r.device, -1, now_ms, timeout_ms, tag);
}

/* Forget a command never written; 1 if it was pending. */
int mbot_link_cancel(mbot_link *l, uint32_t tag)
{
	for (int i = 0; i < MBOT_MAX_PENDING; i++)
		if (l->tracker.slot[i].used && l->tracker.slot[i].seq == tag) {
			mbot_pending pd = l->tracker.slot[i];
			memset(&l->tracker.slot[i], 0, sizeof l->tracker.slot[i]);
			settle(l, &pd);
			if (l->sent)
				l->sent--;
			return 1;
		}
	return 0;
}

/* The poll requests due now, into out. Never fails. */
size_t mbot_link_due(mbot_link *l, int64_t now_ms, uint8_t *out, size_t cap)
{
	size_t n = 0;

	if (!l->polling)
		return 0;
	for (int i = 0; i < l->npoll; i++) {
		mbot_link_poll *p = &l->poll[i];
		int len;
		if (p->inflight || p->next_ms > now_ms)
			continue;
		len = poll_frame(p, 0, out + n, cap - n);
		if (len < 0)
			break; /* no room left in out: the next call */
		if (track(l, out + n, (size_t)len, MBOT_GET, p->device, i, now_ms, p->timeout_ms,
			  NULL) < 0)
			break; /* the firmware's buffer is full: once replies come */
		p->inflight = 1;
		/* the period counts from the request; a late one does not make the next ones
		 * come in a burst */
		p->next_ms += p->period_ms;
		if (p->next_ms <= now_ms)
			p->next_ms = now_ms + p->period_ms;
		n += (size_t)len;
	}
	return n;
}

/* Release the metadata of the settled request pd; returns the poll it served (-1: a command). */
static int settle(mbot_link *l, const mbot_pending *pd)
{
	for (int i = 0; i < MBOT_MAX_PENDING; i++)
		if (l->meta[i].len > 0 && l->meta[i].seq == pd->seq) {
			int poll = l->meta[i].poll;
			l->inflight_bytes -= l->meta[i].len;
			l->meta[i].len = 0;
			l->meta[i].poll = -1;
			if (poll >= 0 && poll < l->npoll)
				l->poll[poll].inflight = 0;
			return poll;
		}
	return -1;
}

/* An event about the settled request pd, its fields from pd. */
static mbot_event ev_of(const mbot_pending *pd, int poll, mbot_ev_kind kind)
{
	mbot_event ev;

	memset(&ev, 0, sizeof ev);
	ev.kind = kind;
	ev.poll = poll;
	ev.tag = pd->seq;
	ev.device = pd->device;
	ev.action = pd->action;
	return ev;
}

/* Report every request lost or late at now_ms. Never fails. */
void mbot_link_expire(mbot_link *l, int64_t now_ms, mbot_link_cb cb, void *ctx)
{
	mbot_pending pd;

	while (mbot_track_expire(&l->tracker, now_ms, &pd)) {
		int poll = settle(l, &pd);
		mbot_event ev = ev_of(&pd, poll, MBOT_EV_LOST);
		ev.timeout = !pd.lost;
		if (pd.lost)
			l->lost++;
		else
			l->timeouts++;
		cb(ctx, &ev);
	}
}

/* Handle one message from the robot. */
static void on_msg(mbot_link *l, const mbot_msg *m, int64_t now_ms, mbot_link_cb cb, void *ctx)
{
	mbot_pending pd;
	mbot_event ev;
	int poll;

	if (m->kind == MBOT_MSG_BANNER) {
		mbot_track_match(&l->tracker, m, &pd); /* marks every request lost */
		memset(&ev, 0, sizeof ev);
		ev.kind = MBOT_EV_BANNER;
		ev.poll = -1;
		ev.text = m->text;
		ev.tlen = m->tlen;
		cb(ctx, &ev);
		return;
	}
	if (m->kind == MBOT_MSG_VALUE && m->idx == MBOT_IDX_EVENT) {
		memset(&ev, 0, sizeof ev);
		ev.kind = MBOT_EV_BUTTON;
		ev.poll = -1;
		ev.type = m->type;
		ev.value = m->number;
		l->events++;
		cb(ctx, &ev);
		return;
	}
	if (!mbot_track_match(&l->tracker, m, &pd)) {
		l->stray++; /* an answer nobody waits for (its request expired, or noise) */
		return;
	}
	l->replies++;
	poll = settle(l, &pd);
	ev = ev_of(&pd, poll,
		   m->kind == MBOT_MSG_EMPTY ? MBOT_EV_EMPTY
		   : poll >= 0		     ? MBOT_EV_VALUE
					     : MBOT_EV_DONE);
	ev.type = m->kind == MBOT_MSG_VALUE ? m->type : 0;
	ev.value = m->number;
	ev.text = m->text;
	ev.tlen = m->tlen;
	cb(ctx, &ev);
	(void)now_ms;
}

/* Take bytes from the robot. Never fails. */
void mbot_link_input(mbot_link *l, const uint8_t *data, size_t n, int64_t now_ms, mbot_link_cb cb,
		     void *ctx)
{
	mbot_msg m;

	while (n > 0) {
		size_t k = mbot_parser_feed(&l->parser, data, n);
		data += k;
		n -= k;
		while (mbot_parser_next(&l->parser, &m) == 1) {
			on_msg(l, &m, now_ms, cb, ctx);
			/* requests an answer overtook are reported at once, in order; none for its
			 * deadline: its answer may be next in what was read (the reader ran late)
			 */
			mbot_link_expire(l, INT64_MIN, cb, ctx);
		}
	}
}

/* The next time the link wants a call, or -1. */
int64_t mbot_link_deadline(const mbot_link *l)
{
	int64_t t = -1, d;

	if (mbot_track_next_deadline(&l->tracker, &d))
		t = d;
	for (int i = 0; i < l->npoll && l->polling; i++)
		if (!l->poll[i].inflight && (t < 0 || l->poll[i].next_ms < t))
			t = l->poll[i].next_ms;
	return t;
}

/* Forget everything in flight. Never fails. */
void mbot_link_reset(mbot_link *l, int64_t now_ms)
{
	memset(&l->tracker, 0, sizeof l->tracker);
	mbot_parser_reset(&l->parser);
	for (int i = 0; i < MBOT_MAX_PENDING; i++) {
		l->meta[i].len = 0;
		l->meta[i].poll = -1;
	}
	l->inflight_bytes = 0;
	for (int i = 0; i < l->npoll; i++) {
		l->poll[i].inflight = 0;
		l->poll[i].next_ms = now_ms;
	}
}
