/* link.h - the mBot driver's protocol handling: sensor polling, requests in flight, replies. */
#ifndef LB_MBOT_LINK_H
#define LB_MBOT_LINK_H

/*
 * What sits between the codec (protocols/mbot.h) and the glue (mbot.c): the glue hands it the
 * bytes it reads and the time, it hands back the frames to write and events (a poll's value, a
 * command done, a request lost). Pure: no I/O, no clock, no allocation; times in milliseconds
 * of any monotonic epoch.
 *
 * - Polls: sensors read with GET at their own period while polling is on; one request per poll
 *   in flight, each with its own timeout. A reply is matched to its request by index; a reply
 *   with an index nobody waits for is dropped (counted in stray).
 * - Commands (RUN, RESET, START, a one-off GET): tracked like the polls; the firmware's ack has
 *   no index and settles the oldest command (the firmware answers in order).
 * - A reply that overtakes an older request means that request's answer was lost on the line:
 *   it is reported lost at once (counted in lost), a request past its deadline as well (counted
 *   in timeouts); a lost poll is simply asked again at its next period.
 * - The firmware reads from a 64-byte receive buffer one byte per loop pass, and reads nothing
 *   while it is busy (an ultrasonic echo awaited, a tone played): what arrives beyond the buffer
 *   is lost. The requests in flight never add up to more than MBOT_LINK_INFLIGHT_MAX bytes, which
 *   leaves MBOT_LINK_HALT_RESERVE bytes for the frames an emergency stop writes out of band at any
 *   moment (mbot_link_adopt), so that a busy board still has room for them.
 * - Deadlines are judged after the input: a reply already read is never reported late because
 *   the reader ran late (mbot_link_input reports only the requests an answer overtook).
 */

#include <stddef.h>
#include <stdint.h>

#include "../../protocols/mbot.h"

#define MBOT_LINK_POLLS 8
#define MBOT_LINK_RX_BUFFER 64	  /* the ATmega328's serial receive buffer */
#define MBOT_LINK_HALT_RESERVE 16 /* an out-of-band stop: RUN JOYSTICK 0 0 (10) and RESET (5) */
/* bytes of requests unanswered the driver may have on the line by itself */
#define MBOT_LINK_INFLIGHT_MAX (MBOT_LINK_RX_BUFFER - MBOT_LINK_HALT_RESERVE)

typedef struct mbot_link_poll {
	int device, port, slot; /* slot < 0: the request has none */
	int period_ms, timeout_ms;
	int64_t next_ms; /* when it is asked next */
	int inflight;	 /* its request is waiting for a reply */
} mbot_link_poll;

typedef enum mbot_ev_kind {
	MBOT_EV_VALUE = 1, /* a poll's reply: poll, value (or text for a string) */
	MBOT_EV_DONE,	   /* a command answered: tag; value/text for a GET's reply */
	MBOT_EV_LOST,	   /* a request without answer: poll (or -1 and tag), timeout 1 if late */
	MBOT_EV_BUTTON,	   /* the firmware's unasked button event: value 1 pressed, 0 released */
	MBOT_EV_BANNER,	   /* "Version: x": the board has (re)started; text */
	MBOT_EV_EMPTY,	   /* a GET answered without a value: poll or tag */
} mbot_ev_kind;

typedef struct mbot_event {
	mbot_ev_kind kind;
	int poll;	  /* the poll answered (-1: a command) */
	uint32_t tag;	  /* the command's tag, as mbot_link_send gave it */
	int device;	  /* the request's device (-1 if none) */
	int action;	  /* the request's action */
	int type;	  /* the reply's MBOT_TYPE_* (0 when none) */
	double value;	  /* numeric replies */
	const char *text; /* string replies and banners; not NUL-terminated */
	size_t tlen;
	int timeout; /* LOST: 1 past its deadline, 0 overtaken by a later answer */
} mbot_event;

typedef void (*mbot_link_cb)(void *ctx, const mbot_event *ev);

typedef struct mbot_link {
	mbot_parser parser;
	mbot_tracker tracker;
	mbot_link_poll poll[MBOT_LINK_POLLS];
	int npoll;
	int polling;
	struct {
		uint32_t seq; /* the tracker's seq of the request in that slot */
		int len;      /* its bytes */
		int poll;     /* the poll it serves, -1 for a command */
	} meta[MBOT_MAX_PENDING];
	int inflight_bytes;
	/* counters */
	unsigned long sent, replies, lost, timeouts, stray, events;
} mbot_link;

/* Start from nothing (no polls, polling off). Never fails. */
void mbot_link_init(mbot_link *l);

/*
 * Add a sensor polled with GET device port [slot] every period_ms, its reply awaited timeout_ms.
 * Returns its index, or MBOT_ERR_FULL when MBOT_LINK_POLLS are there, MBOT_ERR_RANGE for a
 * period or timeout below 1 ms or a request that does not encode.
 */
int mbot_link_add_poll(mbot_link *l, int device, int port, int slot, int period_ms, int timeout_ms);

/* Polling on (every poll due at now_ms) or off (replies still awaited are still matched). */
void mbot_link_polling(mbot_link *l, int on, int64_t now_ms);

/*
 * Track a command frame (an encoded request; its index byte is replaced by the one chosen) to be
 * written now: returns 0 with *tag set, MBOT_ERR_FULL when the table or the firmware's buffer
 * has no room for it now (write it once earlier requests are answered), MBOT_ERR_LENGTH when
 * frame is not a request, MBOT_ERR_RANGE for a frame larger than the firmware's buffer.
 */
int mbot_link_send(mbot_link *l, uint8_t *frame, size_t len, int64_t now_ms, int timeout_ms,
		   uint32_t *tag);

/*
 * Track a command frame another writer has already written (the halt hook's stop, written out of
 * band whatever the room): its index byte stays as written (a command's ack carries none), its
 * bytes count in flight even beyond MBOT_LINK_INFLIGHT_MAX (MBOT_LINK_HALT_RESERVE is kept for
 * them). 0 with *tag set, MBOT_ERR_FULL when the table is full, MBOT_ERR_LENGTH when frame is not
 * a request, MBOT_ERR_RANGE for a GET (its reply could not be matched) or a frame larger than the
 * firmware's buffer.
 */
int mbot_link_adopt(mbot_link *l, const uint8_t *frame, size_t len, int64_t now_ms, int timeout_ms,
		    uint32_t *tag);

/* Forget the command tag (tracked, never written after all: its write failed), reporting
 * nothing. 1 if it was pending, 0 if not. */
int mbot_link_cancel(mbot_link *l, uint32_t tag);

/*
 * The poll requests due at now_ms, written into out (cap bytes; the frames that do not fit wait
 * for the next call): returns the number of bytes to write. Never fails.
 */
size_t mbot_link_due(mbot_link *l, int64_t now_ms, uint8_t *out, size_t cap);

/* Take bytes read from the robot; cb gets each event (replies, then the requests an answer
 * overtook: lost). Requests past their deadline are left to mbot_link_expire, to be called once
 * everything that was there to read has been taken. */
void mbot_link_input(mbot_link *l, const uint8_t *data, size_t n, int64_t now_ms, mbot_link_cb cb,
		     void *ctx);

/* Report the requests past their deadline at now_ms (cb: MBOT_EV_LOST). Never fails. */
void mbot_link_expire(mbot_link *l, int64_t now_ms, mbot_link_cb cb, void *ctx);

/* The next time (ms) the link wants a call (a poll due, a deadline), or -1 for none. */
int64_t mbot_link_deadline(const mbot_link *l);

/* Forget every request in flight and every byte held (the board restarted, the port reopened),
 * reporting none. Polls are due again at now_ms. Never fails. */
void mbot_link_reset(mbot_link *l, int64_t now_ms);

#endif
