/* node.c - one Aseba node as the Thymio driver sees it: listing, description, variables, events,
 * execution state, errors; pure (no I/O, no clock), fed with the frames the link brings. */
#include "node.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Start over (see node.h); never fails. */
void thymio_node_reset(thymio_node *n, uint16_t want_id)
{
	memset(n, 0, sizeof *n);
	n->id = want_id;
	n->have_id = want_id != 0;
	aseba_desc_init(&n->desc, want_id);
}

/* The name of a variable holding address pc-relative data is unknown here: errors name the pc. */
static void vm_error_text(const aseba_msg *m, char *out, size_t cap)
{
	switch (m->type) {
	case ASEBA_MSG_ARRAY_ACCESS_OUT_OF_BOUNDS:
		snprintf(out, cap, "array access out of bounds at pc %u: index %u, size %u",
			 (unsigned)m->pc, (unsigned)m->index, (unsigned)m->size);
		break;
	case ASEBA_MSG_DIVISION_BY_ZERO:
		snprintf(out, cap, "division by zero at pc %u", (unsigned)m->pc);
		break;
	case ASEBA_MSG_EVENT_EXECUTION_KILLED:
		snprintf(out, cap,
			 "an event handler ran too long and was killed by a new event at pc %u",
			 (unsigned)m->pc);
		break;
	default:
		snprintf(out, cap, "node error at pc %u: %.*s", (unsigned)m->pc, (int)m->name.len,
			 m->name.s ? m->name.s : "");
	}
}

/* Take one frame (see node.h); never fails: a bad frame is a MALFORMED note. */
void thymio_node_take(thymio_node *n, const aseba_frame *f, thymio_note *note)
{
	aseba_msg *mp = &n->scratch; /* large (natives' parameters): not on the stack */
	int rc;
#define m (*mp)

	note->kind = THYMIO_NOTE_NONE;
	note->nargs = 0;
	note->name = NULL;
	if ((rc = aseba_decode(f, &m)) < 0) {
		note->kind = THYMIO_NOTE_MALFORMED;
		snprintf(note->text, sizeof note->text, "frame type 0x%04x from node %u: %s",
			 f->type, f->source, aseba_strerror(rc));
		return;
	}
	if (m.type == ASEBA_MSG_NODE_PRESENT) {
		if (n->have_id && m.source != n->id)
			return;
		n->have_id = 1;
		n->id = m.source;
		n->version = m.version;
		if (!n->desc.have_head)
			aseba_desc_init(&n->desc, n->id);
		note->kind = THYMIO_NOTE_PRESENT;
		return;
	}
	if (m.type == ASEBA_MSG_DESCRIPTION && !n->have_id) {
		/* a protocol 4 node answers GET_DESCRIPTION, never LIST_NODES */
		n->have_id = 1;
		n->id = m.source;
		n->version = m.version;
		aseba_desc_init(&n->desc, n->id);
	}
	if (!n->have_id || m.source != n->id)
		return; /* another node of the network, or the host's echo */
	switch (m.type) {
	case ASEBA_MSG_DESCRIPTION:
	case ASEBA_MSG_NAMED_VARIABLE_DESCRIPTION:
	case ASEBA_MSG_LOCAL_EVENT_DESCRIPTION:
	case ASEBA_MSG_NATIVE_FUNCTION_DESCRIPTION:
		if (m.type == ASEBA_MSG_DESCRIPTION && m.version < 5) {
			n->version = m.version;
			note->kind = THYMIO_NOTE_OLD_NODE;
			return;
		}
		rc = aseba_desc_feed(&n->desc, &m);
		if (rc == 1) {
			note->kind = THYMIO_NOTE_DESCRIBED;
		} else if (rc < 0) {
			note->kind = THYMIO_NOTE_MALFORMED;
			snprintf(note->text, sizeof note->text, "description of node %u: %s", n->id,
				 aseba_strerror(rc));
		}
		return;
	case ASEBA_MSG_VARIABLES:
		for (size_t i = 0; i < m.nwords; i++) {
			size_t a = (size_t)m.start + i;
			if (a >= THYMIO_MAX_VARS)
				break;
			n->mem[a] = aseba_word(&m, i);
			n->fresh[a / 8] |= (uint8_t)(1u << (a % 8));
		}
		note->kind = THYMIO_NOTE_VARIABLES;
		note->start = m.start;
		note->count = (uint16_t)m.nwords;
		return;
	case ASEBA_MSG_EXECUTION_STATE_CHANGED:
		n->flags = m.flags;
		n->state_known = 1;
		note->kind = THYMIO_NOTE_STATE;
		note->flags = m.flags;
		note->pc = m.pc;
		return;
	case ASEBA_MSG_ARRAY_ACCESS_OUT_OF_BOUNDS:
	case ASEBA_MSG_DIVISION_BY_ZERO:
	case ASEBA_MSG_EVENT_EXECUTION_KILLED:
	case ASEBA_MSG_NODE_SPECIFIC_ERROR:
		note->kind = THYMIO_NOTE_VM_ERROR;
		note->pc = m.pc;
		vm_error_text(&m, note->text, sizeof note->text);
		/* the VM stops on an error (vm.c sets STEP_BY_STEP) */
		n->flags = ASEBA_VM_STEP_BY_STEP;
		n->state_known = 1;
		return;
	case ASEBA_MSG_DISCONNECTED: note->kind = THYMIO_NOTE_DISCONNECTED; return;
	default: break;
	}
	if (m.type <= ASEBA_MSG_USER_MAX) {
		note->kind = THYMIO_NOTE_USER_EVENT;
		if (m.type < n->nevents) {
			note->name = n->events[m.type].name;
		} else {
			snprintf(n->unnamed, sizeof n->unnamed, "event%u", (unsigned)m.type);
			note->name = n->unnamed;
		}
		for (size_t i = 0; i < m.nwords && i < ASEBA_MAX_EVENT_ARGS; i++)
			note->args[i] = aseba_word(&m, i);
		note->nargs = m.nwords < ASEBA_MAX_EVENT_ARGS ? m.nwords : ASEBA_MAX_EVENT_ARGS;
	}
#undef m
}

/* Forget which words of the range arrived (see node.h). */
void thymio_node_want(thymio_node *n, uint16_t start, uint16_t count)
{
	for (size_t a = start; a < (size_t)start + count && a < THYMIO_MAX_VARS; a++)
		n->fresh[a / 8] &= (uint8_t) ~(1u << (a % 8));
}

/* Whether the range arrived since (see node.h); a range beyond the mirror never does. */
int thymio_node_covered(const thymio_node *n, uint16_t start, uint16_t count)
{
	if ((size_t)start + count > THYMIO_MAX_VARS)
		return 0;
	for (size_t a = start; a < (size_t)start + count; a++)
		if (!(n->fresh[a / 8] & (1u << (a % 8))))
			return 0;
	return 1;
}

/* Declare the program's events (see node.h); -1 leaves the previous list. */
int thymio_node_set_events(thymio_node *n, const char *const *names, const int *sizes, size_t count)
{
	if (count > THYMIO_MAX_USER_EVENTS)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (!names[i][0] || strlen(names[i]) >= sizeof n->events[0].name || sizes[i] < 0 ||
		    sizes[i] > 32)
			return -1;
		for (size_t k = 0; k < i; k++)
			if (strcmp(names[k], names[i]) == 0)
				return -1;
	}
	for (size_t i = 0; i < count; i++) {
		snprintf(n->events[i].name, sizeof n->events[i].name, "%s", names[i]);
		n->events[i].size = sizes[i];
	}
	n->nevents = count;
	return 0;
}

/* The id of an event of the program (see node.h). */
int thymio_node_event_id(const thymio_node *n, const char *name)
{
	for (size_t i = 0; i < n->nevents; i++)
		if (strcmp(n->events[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Whether the VM runs freely (see node.h). */
int thymio_node_running(const thymio_node *n)
{
	return n->state_known && !(n->flags & ASEBA_VM_STEP_BY_STEP);
}

/* -1..1 to -500..500 (see node.h); NaN gives 0. */
int16_t thymio_speed_target(double v)
{
	if (!(v == v))
		return 0;
	if (v > 1)
		v = 1;
	if (v < -1)
		v = -1;
	return (int16_t)lround(v * 500);
}

/* Append bytes (see node.h); the caller keeps what did not fit for later. */
size_t thymio_framer_push(thymio_framer *fr, const uint8_t *data, size_t n)
{
	size_t room = sizeof fr->buf - fr->n, take = n < room ? n : room;

	memcpy(fr->buf + fr->n, data, take);
	fr->n += take;
	return take;
}

/* Whether a header could start a frame a node sends. */
static int plausible(const uint8_t *h, int source)
{
	unsigned len = h[0] | (unsigned)h[1] << 8, src = h[2] | (unsigned)h[3] << 8;
	unsigned type = h[4] | (unsigned)h[5] << 8;

	if (len > ASEBA_MAX_PAYLOAD || (source >= 0 && src != (unsigned)source))
		return 0;
	if (type <= ASEBA_MSG_USER_MAX)
		return len % 2 == 0;
	return type >= ASEBA_MSG_DESCRIPTION && type <= ASEBA_MSG_CHANGED_VARIABLES;
}

/* The next plausible frame that decodes (see node.h). */
int thymio_framer_next(thymio_framer *fr, int source, aseba_frame *f)
{
	static const size_t H = ASEBA_HEADER_SIZE;

	for (;;) {
		size_t skip = 0, len;
		while (skip + H <= fr->n && !plausible(fr->buf + skip, source))
			skip++;
		if (skip) {
			memmove(fr->buf, fr->buf + skip, fr->n - skip);
			fr->n -= skip;
			fr->dropped += skip;
		}
		if (fr->n < H)
			return 0;
		len = fr->buf[0] | (size_t)fr->buf[1] << 8;
		if (fr->n < H + len)
			return 0;
		f->len = len;
		f->source = (uint16_t)(fr->buf[2] | fr->buf[3] << 8);
		f->type = (uint16_t)(fr->buf[4] | fr->buf[5] << 8);
		f->payload = fr->buf + H;
		if (aseba_decode(f, &fr->scratch) == 0) {
			/* consumed at the next call: move the frame out of the way then */
			fr->n -= H + len;
			memmove(fr->out, fr->buf, H + len);
			memmove(fr->buf, fr->buf + H + len, fr->n);
			f->payload = fr->out + H;
			return 1;
		}
		/* it does not decode: noise that looked like a header */
		memmove(fr->buf, fr->buf + 1, fr->n - 1);
		fr->n--;
		fr->dropped++;
	}
}
