/* test_thymio.c - the Thymio driver's protocol handling: framing through noise, the node's
 * description, variables, events and errors, speed scaling, and the Aseba compiler's C interface.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../drivers/thymio/compile.h"
#include "../../drivers/thymio/node.h"
#include "check.h"

#define NODE 48621

/* Frames a node sends, concatenated into out; returns the length. The frame boundaries are
 * written to ends[] (*nends). */
static size_t node_stream(uint8_t *out, size_t *ends, size_t *nends)
{
	static const int16_t vals[4] = {1, -2, 300, -32768};
	static const int16_t args[2] = {7, -7};
	size_t n = 0;

	*nends = 0;
	n += aseba_enc_node_present(out + n, ASEBA_MAX_FRAME, NODE, 5);
	ends[(*nends)++] = n;
	n += aseba_enc_variables(out + n, ASEBA_MAX_FRAME, NODE, 40, vals, 4);
	ends[(*nends)++] = n;
	n += aseba_enc_user_event(out + n, ASEBA_MAX_FRAME, NODE, 1, args, 2);
	ends[(*nends)++] = n;
	n += aseba_enc_execution_state(out + n, ASEBA_MAX_FRAME, NODE, 12, 0);
	ends[(*nends)++] = n;
	return n;
}

/* Push bytes in pieces of step and collect the frames' types. */
static size_t frame_types(thymio_framer *fr, const uint8_t *data, size_t n, size_t step, int source,
			  uint16_t *types, size_t cap)
{
	size_t off = 0, k = 0;
	aseba_frame f;

	while (off < n) {
		size_t piece = n - off < step ? n - off : step;
		off += thymio_framer_push(fr, data + off, piece);
		while (k < cap && thymio_framer_next(fr, source, &f) == 1)
			types[k++] = f.type;
	}
	return k;
}

static void test_framer_clean(void)
{
	uint8_t s[4 * ASEBA_MAX_FRAME];
	size_t ends[8], nends, n = node_stream(s, ends, &nends);
	static const uint16_t want[4] = {ASEBA_MSG_NODE_PRESENT, ASEBA_MSG_VARIABLES, 1,
					 ASEBA_MSG_EXECUTION_STATE_CHANGED};

	for (size_t step = 1; step <= n; step = step * 2 + 1) {
		static thymio_framer fr;
		uint16_t types[8];
		memset(&fr, 0, sizeof fr);
		CHECK_EQ_UINT(frame_types(&fr, s, n, step, -1, types, 8), 4);
		CHECK(memcmp(types, want, sizeof want) == 0);
		CHECK_EQ_UINT(fr.dropped, 0);
	}
}

/* Noise between the frames (as the emulator's garbage fault, and worse) is dropped and every
 * frame of the node still comes out, in order. */
static void test_framer_noise(void)
{
	uint8_t s[4 * ASEBA_MAX_FRAME], noisy[8 * ASEBA_MAX_FRAME];
	size_t ends[8], nends, n = node_stream(s, ends, &nends), m = 0, prev = 0;
	uint64_t rng = 12345;
	static thymio_framer fr;
	uint16_t types[8];

	for (size_t i = 0; i < nends; i++) {
		for (int k = 0; k < 37; k++) {
			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			noisy[m++] = (uint8_t)(rng >> 56);
		}
		memcpy(noisy + m, s + prev, ends[i] - prev);
		m += ends[i] - prev;
		prev = ends[i];
	}
	memset(&fr, 0, sizeof fr);
	CHECK_EQ_UINT(frame_types(&fr, noisy, m, 7, NODE, types, 8), 4);
	CHECK_EQ_UINT(types[0], ASEBA_MSG_NODE_PRESENT);
	CHECK_EQ_UINT(types[2], 1);
	CHECK_EQ_UINT(fr.dropped, 4 * 37);
	(void)n;
}

/* A header that claims more than 516 bytes, and a frame of another node, are never taken. */
static void test_framer_rejects(void)
{
	static thymio_framer fr;
	uint8_t b[ASEBA_MAX_FRAME], big[6] = {0x10, 0x27, NODE & 0xFF, NODE >> 8, 0x05, 0x90};
	aseba_frame f;
	size_t n = aseba_enc_node_present(b, sizeof b, 7, 5);

	memset(&fr, 0, sizeof fr);
	thymio_framer_push(&fr, big, sizeof big);
	thymio_framer_push(&fr, b, n);
	CHECK_EQ_INT(thymio_framer_next(&fr, NODE, &f), 0); /* node 7 is not ours */
	n = aseba_enc_node_present(b, sizeof b, NODE, 5);
	thymio_framer_push(&fr, b, n);
	CHECK_EQ_INT(thymio_framer_next(&fr, NODE, &f), 1);
	CHECK_EQ_UINT(f.source, NODE);
	CHECK_EQ_UINT(f.type, ASEBA_MSG_NODE_PRESENT);
}

/* Feed a frame of bytes to the node. */
static void take(thymio_node *n, const uint8_t *b, size_t len, thymio_note *note)
{
	aseba_frame f = {.len = len - 6, .payload = b + 6};

	f.source = (uint16_t)(b[2] | b[3] << 8);
	f.type = (uint16_t)(b[4] | b[5] << 8);
	thymio_node_take(n, &f, note);
}

/* A small Thymio-like description: 5 variables, 1 local event, the native leds.top. */
static void describe(thymio_node *n, uint16_t id)
{
	static const struct {
		int size;
		const char *name;
	} vars[] = {{1, "_id"},
		    {1, "event.source"},
		    {32, "event.args"},
		    {1, "motor.left.target"},
		    {1, "motor.right.target"},
		    {3, "acc"}};
	static const int16_t sizes[3] = {1, 1, 1};
	static const char *const names[3] = {"red", "green", "blue"};
	static thymio_note note;
	uint8_t b[ASEBA_MAX_FRAME];

	take(n, b, aseba_enc_description(b, sizeof b, id, "thymio-II", 5, 1534, 32, 620, 6, 1, 1),
	     &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_NONE);
	for (size_t i = 0; i < 6; i++) {
		take(
		    n, b,
		    aseba_enc_named_variable(b, sizeof b, id, (uint16_t)vars[i].size, vars[i].name),
		    &note);
		CHECK_EQ_INT(note.kind, THYMIO_NOTE_NONE);
	}
	take(n, b, aseba_enc_local_event(b, sizeof b, id, "button.center", "pressed"), &note);
	take(n, b,
	     aseba_enc_native_function(b, sizeof b, id, "leds.top", "top LED", sizes, names, 3),
	     &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_DESCRIBED);
}

static void test_node_handshake(void)
{
	thymio_node *n = malloc(sizeof *n);
	static thymio_note note;
	uint8_t b[ASEBA_MAX_FRAME];
	uint16_t off, size;

	thymio_node_reset(n, 0);
	/* the first node present is chosen; another's frames are ignored afterwards */
	take(n, b, aseba_enc_node_present(b, sizeof b, NODE, 5), &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_PRESENT);
	CHECK_EQ_UINT(n->id, NODE);
	take(n, b, aseba_enc_node_present(b, sizeof b, 3, 5), &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_NONE);
	CHECK_EQ_UINT(n->id, NODE);
	describe(n, NODE);
	CHECK(n->desc.complete);
	CHECK(aseba_desc_find_var(&n->desc, "motor.right.target", &off, &size) >= 0);
	CHECK_EQ_UINT(off, 35);
	/* a node asked by id ignores the others' NODE_PRESENT */
	thymio_node_reset(n, 3);
	take(n, b, aseba_enc_node_present(b, sizeof b, NODE, 5), &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_NONE);
	take(n, b, aseba_enc_node_present(b, sizeof b, 3, 6), &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_PRESENT);
	CHECK_EQ_UINT(n->version, 6);
	/* a protocol 4 node answers GET_DESCRIPTION with a version 4 DESCRIPTION */
	thymio_node_reset(n, 0);
	take(n, b, aseba_enc_description(b, sizeof b, 9, "thymio-II", 4, 1534, 32, 620, 1, 0, 0),
	     &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_OLD_NODE);
	CHECK_EQ_UINT(n->version, 4);
	free(n);
}

static void test_node_variables(void)
{
	thymio_node *n = malloc(sizeof *n);
	static thymio_note note;
	uint8_t b[ASEBA_MAX_FRAME];
	static const int16_t first[3] = {10, 20, 30}, second[2] = {-40, 50};

	thymio_node_reset(n, NODE);
	thymio_node_want(n, 100, 5);
	CHECK(!thymio_node_covered(n, 100, 5));
	/* the answer split in two (the wireless dongle's limited messages) */
	take(n, b, aseba_enc_variables(b, sizeof b, NODE, 100, first, 3), &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_VARIABLES);
	CHECK(!thymio_node_covered(n, 100, 5));
	take(n, b, aseba_enc_variables(b, sizeof b, NODE, 103, second, 2), &note);
	CHECK(thymio_node_covered(n, 100, 5));
	CHECK_EQ_INT(n->mem[103], -40);
	thymio_node_want(n, 102, 1);
	CHECK(!thymio_node_covered(n, 100, 5));
	CHECK(thymio_node_covered(n, 100, 2));
	CHECK(!thymio_node_covered(n, THYMIO_MAX_VARS - 1, 2));
	/* another node's VARIABLES do not count */
	thymio_node_want(n, 100, 3);
	take(n, b, aseba_enc_variables(b, sizeof b, 5, 100, first, 3), &note);
	CHECK(!thymio_node_covered(n, 100, 3));
	free(n);
}

static void test_node_events_errors(void)
{
	thymio_node *n = malloc(sizeof *n);
	static thymio_note note;
	uint8_t b[ASEBA_MAX_FRAME];
	static const int16_t args[3] = {1, 2, -3};
	const char *names[3] = {"ping", "pong", "ping"};
	int sizes[3] = {0, 3, 1};

	thymio_node_reset(n, NODE);
	CHECK_EQ_INT(thymio_node_set_events(n, names, sizes, 3), -1); /* "ping" twice */
	CHECK_EQ_INT(thymio_node_set_events(n, names, sizes, 2), 0);
	CHECK_EQ_INT(thymio_node_event_id(n, "pong"), 1);
	CHECK_EQ_INT(thymio_node_event_id(n, "nope"), -1);
	take(n, b, aseba_enc_user_event(b, sizeof b, NODE, 1, args, 3), &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_USER_EVENT);
	CHECK_STR(note.name, "pong");
	CHECK_EQ_UINT(note.nargs, 3);
	CHECK_EQ_INT(note.args[2], -3);
	take(n, b, aseba_enc_user_event(b, sizeof b, NODE, 7, args, 0), &note);
	CHECK_STR(note.name, "event7");
	/* execution state, then an error stops the VM */
	take(n, b, aseba_enc_execution_state(b, sizeof b, NODE, 0, 0), &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_STATE);
	CHECK(thymio_node_running(n));
	take(n, b, aseba_enc_pc_error(b, sizeof b, NODE, ASEBA_MSG_DIVISION_BY_ZERO, 17), &note);
	CHECK_EQ_INT(note.kind, THYMIO_NOTE_VM_ERROR);
	CHECK_CONTAINS(note.text, "division by zero at pc 17");
	CHECK(!thymio_node_running(n));
	take(n, b, aseba_enc_array_out_of_bounds(b, sizeof b, NODE, 5, 3, 9), &note);
	CHECK_CONTAINS(note.text, "index 9, size 3");
	take(n, b, aseba_enc_node_specific_error(b, sizeof b, NODE, 4, "overheat"), &note);
	CHECK_CONTAINS(note.text, "overheat");
	/* a payload that does not decode */
	{
		aseba_frame f = {
		    .source = NODE, .type = ASEBA_MSG_VARIABLES, .payload = b, .len = 3};
		thymio_node_take(n, &f, &note);
		CHECK_EQ_INT(note.kind, THYMIO_NOTE_MALFORMED);
	}
	free(n);
}

static void test_speed(void)
{
	CHECK_EQ_INT(thymio_speed_target(1), 500);
	CHECK_EQ_INT(thymio_speed_target(-1), -500);
	CHECK_EQ_INT(thymio_speed_target(0.5), 250);
	CHECK_EQ_INT(thymio_speed_target(0.0031), 2);
	CHECK_EQ_INT(thymio_speed_target(3), 500);
	CHECK_EQ_INT(thymio_speed_target(NAN), 0);
}

/* The compiler against a description the node sent: bytecode, errors with line and column,
 * global events declared. */
static void test_compile(void)
{
	thymio_node *n = malloc(sizeof *n);
	thymio_compiled c;
	thymio_event_decl ev[2] = {{"ping", 0}, {"pong", 2}};
	int rc;

	thymio_node_reset(n, 0);
	describe(n, NODE);
	rc = thymio_compile(&n->desc, NULL, 0, "motor.left.target = 200\n", 1534, &c);
	CHECK_EQ_INT(rc, 0);
	CHECK(c.nwords > 3);
	/* the event vector table first: its size in words (1 + 2 per handler: the init code is
	 * the handler of ASEBA_EVENT_INIT, 0xFFFF), then (event, address) pairs */
	CHECK_EQ_UINT(c.words[0], 3);
	CHECK_EQ_UINT(c.words[1], 0xFFFF);
	CHECK_EQ_UINT(c.words[2], 3);
	free(c.words);
	rc = thymio_compile(&n->desc, NULL, 0, "var x\nx = = 2\n", 1534, &c);
	CHECK_EQ_INT(rc, 1);
	CHECK_EQ_UINT(c.line, 2);
	CHECK_EQ_UINT(c.column, 5);
	CHECK(c.words == NULL);
	CHECK(strlen(c.message) > 0);
	rc = thymio_compile(&n->desc, NULL, 0, "nosuchvar = 1", 1534, &c);
	CHECK_EQ_INT(rc, 1);
	CHECK_CONTAINS(c.message, "nosuchvar");
	/* events: undeclared, then declared with their sizes */
	rc = thymio_compile(&n->desc, NULL, 0, "onevent ping\nemit pong [1, 2]\n", 1534, &c);
	CHECK_EQ_INT(rc, 1);
	rc = thymio_compile(&n->desc, ev, 2, "onevent ping\nemit pong [1, 2]\n", 1534, &c);
	CHECK_EQ_INT(rc, 0);
	free(c.words);
	rc = thymio_compile(&n->desc, ev, 2, "onevent ping\nemit pong [1, 2, 3]\n", 1534, &c);
	CHECK_EQ_INT(rc, 1);
	/* a native of the description, and a local event */
	rc = thymio_compile(&n->desc, NULL, 0, "onevent button.center\ncall leds.top(32, 0, 0)\n",
			    1534, &c);
	CHECK_EQ_INT(rc, 0);
	free(c.words);
	/* a program larger than the robot holds */
	rc = thymio_compile(&n->desc, NULL, 0, "motor.left.target = 200\n", 3, &c);
	CHECK_EQ_INT(rc, 1);
	CHECK_CONTAINS(c.message, "holds");
	/* UTF-8 in comments and an invalid byte do not break it */
	rc = thymio_compile(&n->desc, NULL, 0, "# été \xff\nacc[0] = 1\n", 1534, &c);
	CHECK_EQ_INT(rc, 0);
	free(c.words);
	free(n);
}

int main(void)
{
	RUN(test_framer_clean);
	RUN(test_framer_noise);
	RUN(test_framer_rejects);
	RUN(test_node_handshake);
	RUN(test_node_variables);
	RUN(test_node_events_errors);
	RUN(test_speed);
	RUN(test_compile);
	return check_summary();
}
