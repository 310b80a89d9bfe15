/* node.h - one Aseba node as the Thymio driver sees it: listing, description, variables, events,
 * execution state, errors; pure (no I/O, no clock), fed with the frames the link brings. */
#ifndef LB_THYMIO_NODE_H
#define LB_THYMIO_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "../../protocols/aseba.h"
#include "compile.h"

#define THYMIO_MAX_VARS 4096 /* words of variables mirrored (a Thymio has 620) */
#define THYMIO_MAX_USER_EVENTS 32

/* What a frame told the driver (thymio_node_take). */
typedef enum thymio_note_kind {
	THYMIO_NOTE_NONE,	  /* nothing for the driver (another node, a description item) */
	THYMIO_NOTE_PRESENT,	  /* NODE_PRESENT of the node chosen (or the first seen) */
	THYMIO_NOTE_OLD_NODE,	  /* a protocol 4 node (DESCRIPTION to GET_DESCRIPTION only) */
	THYMIO_NOTE_DESCRIBED,	  /* the description just became complete */
	THYMIO_NOTE_VARIABLES,	  /* VARIABLES: the mirror got start..start+count */
	THYMIO_NOTE_USER_EVENT,	  /* a user event the node emitted: name (or "event<id>"), args */
	THYMIO_NOTE_STATE,	  /* EXECUTION_STATE_CHANGED: flags, pc */
	THYMIO_NOTE_VM_ERROR,	  /* 0x9006-0x9009: text says what and where */
	THYMIO_NOTE_DISCONNECTED, /* the node said it disconnects */
	THYMIO_NOTE_MALFORMED,	  /* a frame that does not decode or a description that contradicts
				     itself: text says which */
} thymio_note_kind;

typedef struct thymio_note {
	thymio_note_kind kind;
	uint16_t start, count; /* VARIABLES */
	uint16_t flags, pc;    /* STATE, VM_ERROR */
	const char *name;      /* USER_EVENT: the event's name */
	int16_t args[ASEBA_MAX_EVENT_ARGS];
	size_t nargs;
	char text[320]; /* VM_ERROR, MALFORMED */
} thymio_note;

/* The node the driver talks to and what it knows of it. Allocate it (the description is large). */
typedef struct thymio_node {
	int have_id;
	uint16_t id, version; /* from NODE_PRESENT (or DESCRIPTION) */
	aseba_desc desc;      /* complete when desc.complete */
	int16_t mem[THYMIO_MAX_VARS];
	uint8_t fresh[THYMIO_MAX_VARS / 8]; /* words received since thymio_node_want */
	uint16_t flags;			    /* the last execution state flags */
	int state_known;
	/* the global events of the program loaded (the compiler's CommonDefinitions) */
	thymio_event_decl events[THYMIO_MAX_USER_EVENTS];
	size_t nevents;
	char unnamed[16];
	aseba_msg scratch; /* the message being decoded */
} thymio_node;

/* Start over: no node chosen yet (want_id 0: the first node present), nothing known. */
void thymio_node_reset(thymio_node *n, uint16_t want_id);

/* Take one frame from the link; fills *note (kind NONE when nothing for the driver). */
void thymio_node_take(thymio_node *n, const aseba_frame *f, thymio_note *note);

/* Forget which words of [start, start+count) were received (before a GET_VARIABLES). */
void thymio_node_want(thymio_node *n, uint16_t start, uint16_t count);

/* Whether every word of [start, start+count) came since thymio_node_want. */
int thymio_node_covered(const thymio_node *n, uint16_t start, uint16_t count);

/*
 * Declare the program's global events from a JSON-like list already checked by the caller:
 * names[i] (1..63 bytes of [A-Za-z0-9._-]) and sizes[i] (0..32). 0, or -1 when there are more
 * than THYMIO_MAX_USER_EVENTS or a name repeats.
 */
int thymio_node_set_events(thymio_node *n, const char *const *names, const int *sizes,
			   size_t count);

/* The id of the global event called name, or -1. */
int thymio_node_event_id(const thymio_node *n, const char *name);

/* Whether the VM runs freely (the last state known says so). */
int thymio_node_running(const thymio_node *n);

/*
 * Frames out of a byte stream that may carry noise. Aseba has no sync marker: a frame is taken
 * only when its header is plausible (payload <= 516 bytes, the node's id as source when known,
 * a type a node sends: a user event with an even length, or 0x9000-0x900E) and it decodes;
 * otherwise one byte is dropped and the search goes on, so the stream resynchronises after
 * garbage instead of staying lost.
 */
typedef struct thymio_framer {
	uint8_t buf[2 * ASEBA_MAX_FRAME];
	size_t n;
	unsigned long dropped;	      /* bytes dropped as noise */
	uint8_t out[ASEBA_MAX_FRAME]; /* the frame last returned */
	aseba_msg scratch;
} thymio_framer;

/* Append up to n bytes (as many as fit); returns how many were taken. */
size_t thymio_framer_push(thymio_framer *fr, const uint8_t *data, size_t n);

/*
 * The next frame of the bytes pushed, with source == source when source >= 0: 1 with *f set
 * (its payload points into fr, valid until the next call), 0 when more bytes are needed.
 */
int thymio_framer_next(thymio_framer *fr, int source, aseba_frame *f);

/* Scale a wheel speed from -1..1 to the Thymio's -500..500 motor target (rounded, clamped). */
int16_t thymio_speed_target(double v);

#endif
