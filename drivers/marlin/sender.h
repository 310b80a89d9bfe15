/* sender.h - the host side of Marlin's line protocol: numbering, flow window, resends (no I/O). */
#ifndef LB_MARLIN_SENDER_H
#define LB_MARLIN_SENDER_H

#include <stdint.h>

#include "../../protocols/gcode.h"
#include "../../protocols/marlin.h"

/* Lines kept for resend requests. Marlin only asks again for a line it has not acknowledged, so
 * for one of the lines in flight: twice the widest window is plenty (OctoPrint keeps 50). */
#define MK_HISTORY 128
#define MK_WINDOW_MAX 64 /* lines in flight at most */
_Static_assert(MK_HISTORY >= 2 * MK_WINDOW_MAX, "the history covers every line in flight");
#define MK_MAX_RETRIES 5 /* a line rejected more often than this ends the job */
#define MK_QUIET_NS                                                                                \
	20000000LL /* after a resend request, lines already on their way are answered              \
		     within this (default; more on slow links) before lines go again */

/*
 * Whether the firmware prints an "ok" after "Resend:" (Marlin 1.x and forks do, Marlin 2.1's
 * flush_and_request_resend does not). Not known at first: an "ok" right after a request, within
 * the hold, is taken for that one (it acknowledges nothing). Two requests in a row with no "ok"
 * between them show that it does not; from then on an "ok" after a request acknowledges a line
 * (one of those queued before the bad one), as it does. A first lone request on such firmware
 * stays ambiguous with plain oks (ADVANCED_OK's N is not), and the ok of a line's tail that a
 * flush left (run as a command) can hide the pattern: the configuration can say it
 * ([marlin.NAME] resend_ok = yes | no; set resend_ok after mk_sender_reset, which keeps it), and
 * the M105 after each request (below) puts the count right whatever was guessed.
 */
#define MK_RESEND_OK_UNKNOWN 0
#define MK_RESEND_OK_YES 1
#define MK_RESEND_OK_NO 2

/* What a line is, for progress and timeouts. */
typedef struct mk_tag {
	long file_line;	  /* 1-based line of the job file, or -1 for the bridge's own commands */
	long long offset; /* byte offset in the file just after this line */
	gcode_class cls;
} mk_tag;

typedef struct mk_hist {
	long n;
	mk_tag tag;
	uint32_t gen; /* the numbering (rewinds) when it last went on the wire */
	uint8_t m105; /* the line is an M105: its answer "ok T:..." says which line it is */
	uint16_t len;
	char frame[GCODE_FRAME_MAX];
} mk_hist;

typedef struct mk_flight {
	long n;
	uint32_t gen;
	uint16_t bytes;
	mk_tag tag;
	int64_t sent;
} mk_flight;

/* The sender's state: zero it, then mk_sender_reset. */
typedef struct mk_sender {
	int window_lines; /* lines in flight at most (1: one at a time) */
	int window_bytes; /* bytes in flight at most (the firmware's receive buffer) */
	long next_n;	  /* number of the next new line */
	long send_n;	  /* next number to put on the wire: < next_n while resending */
	mk_hist hist[MK_HISTORY];
	mk_flight fl[MK_WINDOW_MAX];
	int fl_head, fl_count, fl_bytes;
	uint32_t gen;	    /* incremented at each rewind */
	int after_resend;   /* the last ok or resend request was a resend request */
	int resend_ok;	    /* the firmware prints "ok" after a resend request: MK_RESEND_OK_* */
	int owed;	    /* oks still to come for lines known accepted (acked_n - ok_n) */
	long ok_n;	    /* the line the last ok was for: oks come in the order lines were
			       accepted, one each, so a plain ok is for ok_n + 1 */
	int advanced;	    /* an "ok N" was seen (ADVANCED_OK): an ok without N is no line's */
	int64_t quiet_ns;   /* how long answers to lines sent before a rewind may take */
	int64_t hold_until; /* after a rewind: answers until then are about stale lines */
	long fail_n;
	int fail_count;
	mk_tag acked; /* the last acknowledged line of the file */
	long acked_n;
	long resends, timeouts; /* counters */
	int64_t last_rx;	/* the last ok, resend request or busy */
	int64_t last_tx;	/* the last line put on the wire */
	int probe_due;		/* plain oks after a resend request: an M105 goes next */
	long probe_n;		/* the last M105 line whose "ok T:" came */
	long req_k;		/* the line the last resend request asked for */
	long probes;		/* counter: M105 probes sent */
} mk_sender;

/*
 * Start numbering at n (after "M110 N<n-1>" was acknowledged, or 0 to send M110 itself).
 * quiet_ns: how long the link may take to deliver what is in flight (0: MK_QUIET_NS).
 */
void mk_sender_reset(mk_sender *s, long n, int window_lines, int window_bytes, int64_t quiet_ns);

/*
 * Plain oks cannot be told apart: an ok of a line queued before a bad one, the ok some firmware
 * print after "Resend:", the ok of the tail of a line a flush cut (Marlin runs it as a command).
 * So after a resend request, with plain oks, the sender puts an M105 on the wire after the lines
 * it sends again (mk_sender_resend_next; new lines wait for it): Marlin answers M105 with its own
 * "ok T:..." (no separate ok) once every command before it has run, and accepts numbered lines
 * only in order, so that answer proves every line up to the M105 has run: the count starts again
 * from it (MK_ACK). It goes even past a full window once nothing has come for the quiet time
 * (lines counted in flight may all have been answered already).
 */

/* Whether a new line of len command bytes may be sent now (window free, no resend or probe
 * pending). */
int mk_sender_can_push(const mk_sender *s, size_t len, int64_t now);

/*
 * Number and frame a cleaned command, keep it for resends, count it in flight. Writes the bytes
 * to put on the wire to out[cap] and returns their length, or -1 when the command does not fit a
 * frame (an over-long line).
 */
int mk_sender_push(mk_sender *s, const char *cmd, size_t len, const mk_tag *tag, int64_t now,
		   char *out, size_t cap);

/*
 * While resending: the next line to put on the wire again into out[cap] and its length, or 0
 * when there is none (or the window is full); then the M105 probe when one is due.
 */
int mk_sender_resend_next(mk_sender *s, int64_t now, char *out, size_t cap);

/* What a reply meant to the sender. */
typedef enum mk_event {
	MK_NONE = 0,  /* nothing for the sender (temperatures, echo...) */
	MK_ACK,	      /* a line was acknowledged */
	MK_REWIND,    /* a resend request: lines will go again from the one asked for, once the
			 answers to the lines already on their way are in */
	MK_DUPLICATE, /* a resend request about a line sent before the rewind: ignored */
	MK_BUSY,      /* the firmware is busy: its line's timeout starts again */
	MK_FAIL,      /* the stream cannot go on: why says why */
} mk_event;

/* Account for one parsed reply; writes a reason to why[cap] for MK_FAIL. */
mk_event mk_sender_on_reply(mk_sender *s, const marlin_reply *r, int64_t now, char *why,
			    size_t cap);

/*
 * Timeouts (ns) by command class: when the oldest line in flight has waited longer than its
 * class allows with nothing from the firmware, its "ok" is taken as lost (returns 1, counted in
 * s->timeouts); 0 otherwise. *deadline receives when to look again (-1: nothing in flight).
 */
int mk_sender_check_timeout(mk_sender *s, const int64_t timeout_ns[4], int64_t now,
			    int64_t *deadline);

/* Lines in flight. */
static inline int mk_sender_inflight(const mk_sender *s)
{
	return s->fl_count;
}

#endif
