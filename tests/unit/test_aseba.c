/* test_aseba.c - the Aseba codec against byte vectors from Mobsya/aseba's sources. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/aseba.h"
#include "check.h"

/* Parse one whole frame from b (all of it must be consumed) and decode it; m points into a
 * parser that lives until the next call. */
static int parse_one(const uint8_t *b, size_t n, aseba_msg *m)
{
	static aseba_parser p;
	aseba_frame f;
	size_t used = 0;
	int r;

	memset(&p, 0, sizeof p);
	r = aseba_parse(&p, b, n, &used, &f);

	if (r != 1 || used != n)
		return -100;
	return aseba_decode(&f, m);
}

/* encode(decode(b)) == b */
static int round_trips(const uint8_t *b, size_t n)
{
	aseba_msg m;
	uint8_t out[ASEBA_MAX_FRAME];
	size_t k;

	if (parse_one(b, n, &m) != 0)
		return 0;
	k = aseba_encode(out, sizeof out, &m);
	return k == n && memcmp(out, b, n) == 0;
}

static void test_list_nodes_and_node_present(void)
{
	/* msg.cpp ListNodes::serializeSpecific adds the version; Message::serialize writes len,
	 * source, type as uint16 LE. Host id 0, protocol 5: */
	const uint8_t list[] = {0x02, 0x00, 0x00, 0x00, 0x11, 0xA0, 0x05, 0x00};
	/* vm.c answers LIST_NODES with NODE_PRESENT carrying its ASEBA_PROTOCOL_VERSION (9 in
	 * consts.h at Mobsya/aseba HEAD), node 1: */
	const uint8_t present[] = {0x02, 0x00, 0x01, 0x00, 0x0C, 0x90, 0x09, 0x00};
	uint8_t buf[ASEBA_MAX_FRAME];
	aseba_msg m;

	CHECK_EQ_UINT(aseba_enc_list_nodes(buf, sizeof buf, ASEBA_HOST_ID, 5), sizeof list);
	CHECK(memcmp(buf, list, sizeof list) == 0);
	CHECK_EQ_INT(parse_one(present, sizeof present, &m), 0);
	CHECK_EQ_INT(m.type, ASEBA_MSG_NODE_PRESENT);
	CHECK_EQ_INT(m.source, 1);
	CHECK_EQ_INT(m.version, 9);
	CHECK_EQ_UINT(aseba_enc_node_present(buf, sizeof buf, 1, 9), sizeof present);
	CHECK(memcmp(buf, present, sizeof present) == 0);
	CHECK(round_trips(list, sizeof list));
	CHECK(round_trips(present, sizeof present));
}

static void test_description_requests_by_version(void)
{
	/* protocol <= 4: GET_DESCRIPTION (0xA000) to every node, version only (msg.cpp
	 * GetDescription); vm.c answers it only when that version is <= 4 */
	const uint8_t old[] = {0x02, 0x00, 0x00, 0x00, 0x00, 0xA0, 0x04, 0x00};
	/* protocol 5+: GET_NODE_DESCRIPTION (0xA010) dest then version (GetNodeDescription) */
	const uint8_t node[] = {0x04, 0x00, 0x00, 0x00, 0x10, 0xA0, 0x01, 0x00, 0x05, 0x00};
	/* protocol 8: GET_NODE_DESCRIPTION_FRAGMENT dest, version, int16 fragment (vm.c) */
	const uint8_t frag[] = {0x06, 0x00, 0x00, 0x00, 0x15, 0xA0,
				0x01, 0x00, 0x08, 0x00, 0xFF, 0xFF};
	uint8_t buf[ASEBA_MAX_FRAME];
	aseba_msg m;

	CHECK_EQ_UINT(aseba_enc_get_description(buf, sizeof buf, 0, 4), sizeof old);
	CHECK(memcmp(buf, old, sizeof old) == 0);
	CHECK_EQ_UINT(aseba_enc_get_node_description(buf, sizeof buf, 0, 1, 5), sizeof node);
	CHECK(memcmp(buf, node, sizeof node) == 0);
	CHECK_EQ_UINT(aseba_enc_get_node_description_fragment(buf, sizeof buf, 0, 1, 8, -1),
		      sizeof frag);
	CHECK(memcmp(buf, frag, sizeof frag) == 0);
	CHECK_EQ_INT(parse_one(frag, sizeof frag, &m), 0);
	CHECK_EQ_INT(m.fragment, -1);
	CHECK_EQ_INT(m.dest, 1);
	CHECK(round_trips(old, sizeof old));
	CHECK(round_trips(node, sizeof node));
	CHECK(round_trips(frag, sizeof frag));
}

static void test_description_head(void)
{
	/* vm-buffer.c AsebaSendDescriptionHead: name, ASEBA_PROTOCOL_VERSION, bytecode, stack and
	 * variables sizes, then the counts. The playground Thymio (Thymio2.cpp): "thymio-II",
	 * bytecode 766 + 768 = 1534 words, stack 32 (Thymio2.cpp); 30 named variables
	 * (Thymio2-descriptions.c); 1024 variables, 13 local events and 20 natives are example
	 * values (the playground's are sizeof its variables struct and its own tables). */
	const uint8_t head[] = {0x18, 0x00, 0x01, 0x00, 0x00, 0x90, 0x09, 't',	'h',  'y',
				'm',  'i',  'o',  '-',	'I',  'I',  0x09, 0x00, 0xFE, 0x05,
				0x20, 0x00, 0x00, 0x04, 0x1E, 0x00, 0x0D, 0x00, 0x14, 0x00};
	uint8_t buf[ASEBA_MAX_FRAME];
	aseba_msg m;

	CHECK_EQ_INT(parse_one(head, sizeof head, &m), 0);
	CHECK_EQ_INT(m.type, ASEBA_MSG_DESCRIPTION);
	CHECK_EQ_UINT(m.name.len, 9);
	CHECK(memcmp(m.name.s, "thymio-II", 9) == 0);
	CHECK_EQ_INT(m.version, 9);
	CHECK_EQ_INT(m.bytecode_size, 1534);
	CHECK_EQ_INT(m.stack_size, 32);
	CHECK_EQ_INT(m.variables_size, 1024);
	CHECK_EQ_INT(m.n_variables, 30);
	CHECK_EQ_INT(m.n_events, 13);
	CHECK_EQ_INT(m.n_natives, 20);
	CHECK_EQ_UINT(
	    aseba_enc_description(buf, sizeof buf, 1, "thymio-II", 9, 1534, 32, 1024, 30, 13, 20),
	    sizeof head);
	CHECK(memcmp(buf, head, sizeof head) == 0);
	CHECK(round_trips(head, sizeof head));
	/* every cut of the payload is a truncated message, one byte more is trailing garbage */
	for (size_t cut = ASEBA_HEADER_SIZE; cut < sizeof head; cut++) {
		uint8_t b[sizeof head];
		memcpy(b, head, cut);
		b[0] = (uint8_t)(cut - ASEBA_HEADER_SIZE);
		CHECK_EQ_INT(parse_one(b, cut, &m), ASEBA_E_TRUNCATED);
	}
	{
		uint8_t b[sizeof head + 1];
		memcpy(b, head, sizeof head);
		b[0]++;
		b[sizeof head] = 0;
		CHECK_EQ_INT(parse_one(b, sizeof b, &m), ASEBA_E_TRAILING);
	}
}

static void test_description_items(void)
{
	/* NAMED_VARIABLE_DESCRIPTION {32, "event.args"}: uint16 size then the string */
	const uint8_t var[] = {0x0D, 0x00, 0x01, 0x00, 0x01, 0x90, 0x20, 0x00, 0x0A, 'e',
			       'v',  'e',  'n',	 't',  '.',  'a',  'r',	 'g',  's'};
	/* LOCAL_EVENT_DESCRIPTION {"button.backward", "Backward button status changed"}
	 * (playground Thymio2.cpp) */
	static const char doc[] = "Backward button status changed";
	/* NATIVE_FUNCTION_DESCRIPTION sound.freq "Play frequency" (Hz<1>, ds<1>) from
	 * Thymio2-descriptions.c; parameters are int16 size then name (vm-buffer.c) */
	const uint8_t nat[] = {0x26, 0x00, 0x01, 0x00, 0x03, 0x90, 0x0A, 's',  'o',  'u', 'n',
			       'd',  '.',  'f',	 'r',  'e',  'q',  0x0E, 'P',  'l',  'a', 'y',
			       ' ',  'f',  'r',	 'e',  'q',  'u',  'e',	 'n',  'c',  'y', 0x02,
			       0x00, 0x01, 0x00, 0x02, 'H',  'z',  0x01, 0x00, 0x02, 'd', 's'};
	const int16_t sizes[] = {1, 1};
	const char *const names[] = {"Hz", "ds"};
	uint8_t buf[ASEBA_MAX_FRAME];
	aseba_msg m;
	size_t n;

	CHECK_EQ_INT(parse_one(var, sizeof var, &m), 0);
	CHECK_EQ_INT(m.var_size, 32);
	CHECK_EQ_UINT(m.name.len, 10);
	CHECK_EQ_UINT(aseba_enc_named_variable(buf, sizeof buf, 1, 32, "event.args"), sizeof var);
	CHECK(memcmp(buf, var, sizeof var) == 0);

	n = aseba_enc_local_event(buf, sizeof buf, 1, "button.backward", doc);
	CHECK_EQ_UINT(n, ASEBA_HEADER_SIZE + 1 + 15 + 1 + strlen(doc));
	CHECK_EQ_INT(buf[6], 15);
	CHECK_EQ_INT(parse_one(buf, n, &m), 0);
	CHECK_EQ_UINT(m.doc.len, strlen(doc));
	CHECK(memcmp(m.doc.s, doc, m.doc.len) == 0);

	CHECK_EQ_INT(parse_one(nat, sizeof nat, &m), 0);
	CHECK_EQ_UINT(m.nparams, 2);
	CHECK_EQ_INT(m.params[0].size, 1);
	CHECK(m.params[1].name.len == 2 && memcmp(m.params[1].name.s, "ds", 2) == 0);
	CHECK_EQ_UINT(aseba_enc_native_function(buf, sizeof buf, 1, "sound.freq", "Play frequency",
						sizes, names, 2),
		      sizeof nat);
	CHECK(memcmp(buf, nat, sizeof nat) == 0);
	CHECK(round_trips(var, sizeof var));
	CHECK(round_trips(nat, sizeof nat));

	/* a template parameter (negative size, natives.c math.fill's "dest<-1>") round-trips */
	{
		const int16_t ts[] = {-1, 1};
		const char *const tn[] = {"dest", "value"};
		n = aseba_enc_native_function(buf, sizeof buf, 1, "math.fill", "", ts, tn, 2);
		CHECK(n > 0);
		CHECK_EQ_INT(parse_one(buf, n, &m), 0);
		CHECK_EQ_INT(m.params[0].size, -1);
		CHECK(round_trips(buf, n));
	}
	/* a string length beyond the payload, and a parameter count that cannot fit */
	{
		uint8_t b[sizeof var];
		memcpy(b, var, sizeof var);
		b[8] = 11;
		CHECK_EQ_INT(parse_one(b, sizeof b, &m), ASEBA_E_TRUNCATED);
		uint8_t c[] = {0x04, 0x00, 0x01, 0x00, 0x03, 0x90, 0x00, 0x00, 0xFF, 0x7F};
		CHECK_EQ_INT(parse_one(c, sizeof c, &m), ASEBA_E_TRUNCATED);
	}
}

/* The playground Thymio's named variables (Thymio2-descriptions.c), in memory order. */
static const struct {
	uint16_t size;
	const char *name;
} thymio_vars[] = {
    {1, "_id"},
    {1, "event.source"},
    {32, "event.args"},
    {1, "_productId"},
    {2, "_fwversion"},
    {1, "button.backward"},
    {1, "button.left"},
    {1, "button.center"},
    {1, "button.forward"},
    {1, "button.right"},
    {7, "prox.horizontal"},
    {1, "prox.comm.rx"},
    {1, "prox.comm.tx"},
    {2, "prox.ground.ambiant"},
    {2, "prox.ground.reflected"},
    {2, "prox.ground.delta"},
    {1, "motor.left.target"},
    {1, "motor.right.target"},
    {1, "motor.left.speed"},
    {1, "motor.right.speed"},
    {1, "motor.left.pwm"},
    {1, "motor.right.pwm"},
    {3, "acc"},
    {1, "temperature"},
    {1, "rc5.address"},
    {1, "rc5.command"},
    {1, "mic.intensity"},
    {1, "mic.threshold"},
    {2, "timer.period"},
    {1, "sd.present"},
};
#define NVARS (sizeof thymio_vars / sizeof thymio_vars[0])

/* Feed an encoded frame to the accumulator; returns aseba_desc_feed's result. */
static int feed_frame(aseba_desc *d, const uint8_t *b, size_t n)
{
	aseba_msg m;
	int r = parse_one(b, n, &m);

	return r ? r - 1000 : aseba_desc_feed(d, &m);
}

/* Send the playground Thymio's description (vars, 1 event, 1 native) as a node would. */
static int send_thymio(aseba_desc *d, uint16_t node, uint16_t nvars)
{
	uint8_t b[ASEBA_MAX_FRAME];
	const int16_t sizes[] = {1, 1};
	const char *const names[] = {"Hz", "ds"};
	size_t n;
	int r;

	n = aseba_enc_description(b, sizeof b, node, "thymio-II", 9, 1534, 32, 1024, nvars, 1, 1);
	r = feed_frame(d, b, n);
	for (size_t i = 0; r == 0 && i < NVARS; i++) {
		n = aseba_enc_named_variable(b, sizeof b, node, thymio_vars[i].size,
					     thymio_vars[i].name);
		r = feed_frame(d, b, n);
	}
	if (r)
		return r;
	n = aseba_enc_local_event(b, sizeof b, node, "button.backward",
				  "Backward button status changed");
	if ((r = feed_frame(d, b, n)) != 0)
		return r;
	n = aseba_enc_native_function(b, sizeof b, node, "sound.freq", "Play frequency", sizes,
				      names, 2);
	return feed_frame(d, b, n);
}

static void test_accumulator(void)
{
	aseba_desc *d = malloc(sizeof *d);
	uint16_t off = 0, size = 0;
	uint8_t b[ASEBA_MAX_FRAME];
	aseba_msg m;
	size_t n;

	aseba_desc_init(d, 1);
	CHECK_EQ_INT(send_thymio(d, 1, NVARS), 1);
	CHECK(d->complete);
	CHECK_STR(aseba_desc_str(d, d->name), "thymio-II");
	CHECK_EQ_INT(d->bytecode_size, 1534);
	CHECK_EQ_INT(d->protocol_version, 9);
	/* offsets follow the declaration order from 0 */
	CHECK_EQ_INT(aseba_desc_find_var(d, "event.args", &off, &size), 2);
	CHECK_EQ_INT(off, 2);
	CHECK_EQ_INT(size, 32);
	CHECK(aseba_desc_find_var(d, "motor.left.target", &off, &size) >= 0);
	CHECK_EQ_INT(off, 57);
	CHECK_EQ_INT(size, 1);
	CHECK(aseba_desc_find_var(d, "prox.horizontal", &off, &size) >= 0);
	CHECK_EQ_INT(off, 42);
	CHECK_EQ_INT(size, 7);
	CHECK_EQ_INT(aseba_desc_find_var(d, "nope", NULL, NULL), -1);
	CHECK_EQ_INT(aseba_desc_var_at(d, 45), aseba_desc_find_var(d, "prox.horizontal", 0, 0));
	CHECK_EQ_INT(aseba_desc_var_at(d, 1000), -1);
	CHECK_EQ_INT(aseba_desc_find_event(d, "button.backward"), 0);
	CHECK_STR(aseba_desc_str(d, d->events[0].doc), "Backward button status changed");
	CHECK_EQ_INT(aseba_desc_find_native(d, "sound.freq"), 0);
	CHECK_EQ_INT(d->natives[0].nparams, 2);
	CHECK_STR(aseba_desc_str(d, d->params[d->natives[0].first_param + 1].name), "ds");

	/* the stop-all write: motor targets (57, 58) to 0 (SET_VARIABLES dest, start, values) */
	{
		const int16_t zero[2] = {0, 0};
		const uint8_t want[] = {0x08, 0x00, 0x00, 0x00, 0x0C, 0xA0, 0x01,
					0x00, 0x39, 0x00, 0x00, 0x00, 0x00, 0x00};
		aseba_desc_find_var(d, "motor.left.target", &off, NULL);
		CHECK_EQ_UINT(aseba_enc_set_variables(b, sizeof b, 0, 1, off, zero, 2),
			      sizeof want);
		CHECK(memcmp(b, want, sizeof want) == 0);
	}

	/* another node's messages are ignored; a new head restarts */
	aseba_desc_init(d, 2);
	CHECK_EQ_INT(send_thymio(d, 1, NVARS), 0);
	CHECK(!d->have_head);
	CHECK_EQ_INT(send_thymio(d, 2, NVARS), 1);
	CHECK_EQ_INT(send_thymio(d, 2, NVARS), 1);
	CHECK_EQ_INT(d->nvars, NVARS);

	/* an item before the head; more items than announced */
	aseba_desc_init(d, 1);
	n = aseba_enc_named_variable(b, sizeof b, 1, 1, "_id");
	CHECK_EQ_INT(feed_frame(d, b, n), ASEBA_E_ORDER);
	CHECK_EQ_INT(send_thymio(d, 1, NVARS - 1), ASEBA_E_ORDER);
	CHECK(!d->have_head);
	/* beyond the bounds */
	n = aseba_enc_description(b, sizeof b, 1, "x", 5, 10, 10, 10, ASEBA_DESC_MAX_VARS + 1, 0,
				  0);
	CHECK_EQ_INT(feed_frame(d, b, n), ASEBA_E_TOO_MANY);
	/* named variables beyond variables_size */
	n = aseba_enc_description(b, sizeof b, 1, "x", 5, 10, 10, 4, 2, 0, 0);
	CHECK_EQ_INT(feed_frame(d, b, n), 0);
	n = aseba_enc_named_variable(b, sizeof b, 1, 3, "a");
	CHECK_EQ_INT(feed_frame(d, b, n), 0);
	n = aseba_enc_named_variable(b, sizeof b, 1, 2, "b");
	CHECK_EQ_INT(feed_frame(d, b, n), ASEBA_E_BAD_DESC);
	/* an empty name, a name with a NUL */
	n = aseba_enc_description(b, sizeof b, 1, "x", 5, 10, 10, 4, 2, 0, 0);
	feed_frame(d, b, n);
	n = aseba_enc_named_variable(b, sizeof b, 1, 1, "");
	CHECK_EQ_INT(feed_frame(d, b, n), ASEBA_E_BAD_DESC);
	n = aseba_enc_description(b, sizeof b, 1, "x", 5, 10, 10, 4, 2, 0, 0);
	feed_frame(d, b, n);
	n = aseba_enc_named_variable(b, sizeof b, 1, 1, "ab");
	b[n - 1] = 0;
	CHECK_EQ_INT(feed_frame(d, b, n), ASEBA_E_BAD_DESC);
	/* an empty description is complete at once */
	n = aseba_enc_description(b, sizeof b, 1, "empty", 5, 10, 10, 4, 0, 0, 0);
	CHECK_EQ_INT(feed_frame(d, b, n), 1);
	/* the name pool fills: many long docs */
	{
		char longdoc[256];
		int r = 0;
		memset(longdoc, 'd', 255);
		longdoc[255] = 0;
		n = aseba_enc_description(b, sizeof b, 1, "x", 5, 10, 10, 4, 0, 128, 0);
		feed_frame(d, b, n);
		for (int i = 0; i < 128 && r == 0; i++) {
			char name[256];
			memset(name, 'a' + i % 26, 255);
			name[255] = 0;
			n = aseba_enc_local_event(b, sizeof b, 1, name, longdoc);
			r = feed_frame(d, b, n);
		}
		CHECK_EQ_INT(r, ASEBA_E_TOO_MANY);
	}
	(void)m;
	free(d);
}

static void test_bytecode_chunks(void)
{
	/* msg.cpp sendBytecode: ASEBA_MAX_EVENT_ARG_COUNT - 2 = 256 words per SET_BYTECODE, start
	 * advancing by 256; the last chunk holds the rest (an empty program: one empty chunk) */
	uint16_t prog[600];
	uint8_t b[ASEBA_MAX_FRAME];
	aseba_msg m;
	size_t n;

	for (size_t i = 0; i < 600; i++)
		prog[i] = (uint16_t)(0x1000 + i);
	CHECK_EQ_UINT(aseba_bytecode_chunks(600), 3);
	CHECK_EQ_UINT(aseba_bytecode_chunks(512), 2);
	CHECK_EQ_UINT(aseba_bytecode_chunks(0), 1);
	n = aseba_enc_bytecode_chunk(b, sizeof b, 0, 1, prog, 600, 0);
	CHECK_EQ_UINT(n, ASEBA_MAX_FRAME); /* 4 + 512 = 516 payload bytes: the maximum */
	CHECK_EQ_INT(b[0], 0x04);
	CHECK_EQ_INT(b[1], 0x02);
	CHECK_EQ_INT(b[4], 0x01);
	CHECK_EQ_INT(b[5], 0xA0);
	n = aseba_enc_bytecode_chunk(b, sizeof b, 0, 1, prog, 600, 2);
	CHECK_EQ_UINT(n, ASEBA_HEADER_SIZE + 4 + 2 * 88);
	CHECK_EQ_INT(parse_one(b, n, &m), 0);
	CHECK_EQ_INT(m.dest, 1);
	CHECK_EQ_INT(m.start, 512);
	CHECK_EQ_UINT(m.nwords, 88);
	CHECK_EQ_INT((uint16_t)aseba_word(&m, 0), 0x1000 + 512);
	CHECK_EQ_UINT(aseba_enc_bytecode_chunk(b, sizeof b, 0, 1, prog, 600, 3), 0);
	n = aseba_enc_bytecode_chunk(b, sizeof b, 0, 1, prog, 0, 0);
	CHECK_EQ_UINT(n, ASEBA_HEADER_SIZE + 4);
	CHECK_EQ_UINT(aseba_enc_set_bytecode(b, sizeof b, 0, 1, 0, prog, 257), 0);
	CHECK_EQ_UINT(aseba_enc_set_bytecode(b, sizeof b, 0, 1, 0xFFFF, prog, 2), 0);
	CHECK_EQ_UINT(aseba_enc_set_bytecode(b, 100, 0, 1, 0, prog, 256), 0); /* cap */
	/* an odd SET_BYTECODE payload */
	{
		const uint8_t odd[] = {0x05, 0x00, 0x00, 0x00, 0x01, 0xA0,
				       0x01, 0x00, 0x00, 0x00, 0x07};
		CHECK_EQ_INT(parse_one(odd, sizeof odd, &m), ASEBA_E_ODD);
	}
}

static void test_commands(void)
{
	/* CmdMessage: dest only. vm.c: STOP sets flags to STEP_BY_STEP and sends
	 * EXECUTION_STATE_CHANGED (pc, flags) */
	const uint8_t stop[] = {0x02, 0x00, 0x00, 0x00, 0x06, 0xA0, 0x01, 0x00};
	const uint8_t state[] = {0x04, 0x00, 0x01, 0x00, 0x0A, 0x90, 0x00, 0x00, 0x02, 0x00};
	const uint16_t types[] = {
	    ASEBA_MSG_RESET,	      ASEBA_MSG_RUN,	ASEBA_MSG_PAUSE,
	    ASEBA_MSG_STEP,	      ASEBA_MSG_STOP,	ASEBA_MSG_GET_EXECUTION_STATE,
	    ASEBA_MSG_WRITE_BYTECODE, ASEBA_MSG_REBOOT, ASEBA_MSG_GET_CHANGED_VARIABLES};
	uint8_t b[ASEBA_MAX_FRAME];
	aseba_msg m;
	size_t n;

	CHECK_EQ_UINT(aseba_enc_cmd(b, sizeof b, 0, ASEBA_MSG_STOP, 1), sizeof stop);
	CHECK(memcmp(b, stop, sizeof stop) == 0);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		n = aseba_enc_cmd(b, sizeof b, 0, types[i], 7);
		CHECK_EQ_UINT(n, 8);
		CHECK_EQ_INT(parse_one(b, n, &m), 0);
		CHECK_EQ_INT(m.type, types[i]);
		CHECK_EQ_INT(m.dest, 7);
	}
	CHECK_EQ_UINT(aseba_enc_cmd(b, sizeof b, 0, ASEBA_MSG_SET_VARIABLES, 1), 0);
	CHECK_EQ_UINT(aseba_enc_cmd(b, 7, 0, ASEBA_MSG_RUN, 1), 0);
	CHECK_EQ_INT(parse_one(state, sizeof state, &m), 0);
	CHECK_EQ_INT(m.flags, ASEBA_VM_STEP_BY_STEP);
	CHECK_EQ_UINT(aseba_enc_execution_state(b, sizeof b, 1, 0, ASEBA_VM_STEP_BY_STEP),
		      sizeof state);
	CHECK(memcmp(b, state, sizeof state) == 0);
	/* a command without its dest */
	{
		const uint8_t nodest[] = {0x00, 0x00, 0x00, 0x00, 0x03, 0xA0};
		CHECK_EQ_INT(parse_one(nodest, sizeof nodest, &m), ASEBA_E_TRUNCATED);
	}
	/* breakpoints */
	n = aseba_enc_breakpoint(b, sizeof b, 0, ASEBA_MSG_BREAKPOINT_SET, 1, 12);
	CHECK_EQ_UINT(n, 10);
	CHECK(round_trips(b, n));
	CHECK_EQ_UINT(aseba_enc_breakpoint(b, sizeof b, 0, ASEBA_MSG_RUN, 1, 12), 0);
}

static void test_variables(void)
{
	/* GET_VARIABLES dest, start, length (msg.cpp GetVariables); the answer VARIABLES start,
	 * values (vm-buffer.c AsebaSendVariables) */
	const uint8_t get[] = {0x06, 0x00, 0x00, 0x00, 0x0B, 0xA0,
			       0x01, 0x00, 0x2A, 0x00, 0x07, 0x00};
	const uint8_t vars[] = {0x06, 0x00, 0x01, 0x00, 0x05, 0x90,
				0x2A, 0x00, 0xE8, 0x03, 0x18, 0xFC};
	uint8_t b[ASEBA_MAX_FRAME];
	const int16_t v[] = {1000, -1000};
	int16_t big[258] = {0};
	aseba_msg m;

	CHECK_EQ_UINT(aseba_enc_get_variables(b, sizeof b, 0, 1, 42, 7), sizeof get);
	CHECK(memcmp(b, get, sizeof get) == 0);
	CHECK_EQ_INT(parse_one(vars, sizeof vars, &m), 0);
	CHECK_EQ_INT(m.start, 42);
	CHECK_EQ_UINT(m.nwords, 2);
	CHECK_EQ_INT(aseba_word(&m, 0), 1000);
	CHECK_EQ_INT(aseba_word(&m, 1), -1000);
	CHECK_EQ_UINT(aseba_enc_variables(b, sizeof b, 1, 42, v, 2), sizeof vars);
	CHECK(memcmp(b, vars, sizeof vars) == 0);
	CHECK(round_trips(get, sizeof get));
	CHECK_EQ_UINT(aseba_enc_set_variables(b, sizeof b, 0, 1, 0, big, 256), ASEBA_MAX_FRAME);
	CHECK_EQ_UINT(aseba_enc_set_variables(b, sizeof b, 0, 1, 0, big, 257), 0);
	CHECK_EQ_UINT(aseba_enc_variables(b, sizeof b, 1, 0, big, 257), ASEBA_MAX_FRAME);
	CHECK_EQ_UINT(aseba_enc_variables(b, sizeof b, 1, 0, big, 258), 0);

	/* CHANGED_VARIABLES (v7): blocks of start, count, values (vm-buffer.c) */
	{
		const uint8_t ch[] = {0x0E, 0x00, 0x01, 0x00, 0x0E, 0x90, 0x02, 0x00, 0x01, 0x00,
				      0x05, 0x00, 0x39, 0x00, 0x02, 0x00, 0x64, 0x00, 0x9C, 0xFF};
		size_t pos = 0, count = 0;
		uint16_t start = 0;
		const uint8_t *vals = NULL;
		CHECK_EQ_INT(parse_one(ch, sizeof ch, &m), 0);
		CHECK_EQ_INT(aseba_changed_next(&m, &pos, &start, &vals, &count), 1);
		CHECK_EQ_INT(start, 2);
		CHECK_EQ_UINT(count, 1);
		CHECK_EQ_INT(aseba_changed_next(&m, &pos, &start, &vals, &count), 1);
		CHECK_EQ_INT(start, 57);
		CHECK_EQ_UINT(count, 2);
		CHECK_EQ_INT((int16_t)(vals[2] | vals[3] << 8), -100);
		CHECK_EQ_INT(aseba_changed_next(&m, &pos, &start, &vals, &count), 0);
		CHECK(round_trips(ch, sizeof ch));
		/* a block announcing more values than there are */
		uint8_t cut[sizeof ch];
		memcpy(cut, ch, sizeof ch);
		cut[14] = 3;
		CHECK_EQ_INT(parse_one(cut, sizeof cut, &m), 0);
		pos = 0;
		CHECK_EQ_INT(aseba_changed_next(&m, &pos, &start, &vals, &count), 1);
		CHECK_EQ_INT(aseba_changed_next(&m, &pos, &start, &vals, &count),
			     ASEBA_E_TRUNCATED);
	}
}

static void test_user_events_and_errors(void)
{
	/* UserMessage: type < 0x8000, int16 words; an odd length is fatal in msg.cpp */
	const uint8_t ev[] = {0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0xFF, 0xFF};
	const uint8_t odd[] = {0x03, 0x00, 0x01, 0x00, 0x02, 0x00, 0x01, 0x00, 0xFF};
	/* ArrayAccessOutOfBounds pc, size, index; DivisionByZero pc */
	const uint8_t oob[] = {0x06, 0x00, 0x01, 0x00, 0x06, 0x90,
			       0x10, 0x00, 0x05, 0x00, 0x07, 0x00};
	const uint8_t div0[] = {0x02, 0x00, 0x01, 0x00, 0x07, 0x90, 0x22, 0x00};
	const int16_t args[] = {1, -1};
	int16_t big[259] = {0};
	uint8_t b[ASEBA_MAX_FRAME];
	aseba_msg m;
	size_t n;

	CHECK_EQ_UINT(aseba_enc_user_event(b, sizeof b, 0, 0, args, 2), sizeof ev);
	CHECK(memcmp(b, ev, sizeof ev) == 0);
	CHECK_EQ_INT(parse_one(ev, sizeof ev, &m), 0);
	CHECK_EQ_UINT(m.nwords, 2);
	CHECK_EQ_INT(aseba_word(&m, 1), -1);
	CHECK_EQ_INT(parse_one(odd, sizeof odd, &m), ASEBA_E_ODD);
	CHECK_EQ_UINT(aseba_enc_user_event(b, sizeof b, 0, 0x8000, args, 2), 0);
	CHECK_EQ_UINT(aseba_enc_user_event(b, sizeof b, 0, 3, big, 258), ASEBA_MAX_FRAME);
	CHECK_EQ_UINT(aseba_enc_user_event(b, sizeof b, 0, 3, big, 259), 0);
	CHECK_EQ_INT(parse_one(oob, sizeof oob, &m), 0);
	CHECK_EQ_INT(m.pc, 16);
	CHECK_EQ_INT(m.size, 5);
	CHECK_EQ_INT(m.index, 7);
	CHECK_EQ_UINT(aseba_enc_array_out_of_bounds(b, sizeof b, 1, 16, 5, 7), sizeof oob);
	CHECK(memcmp(b, oob, sizeof oob) == 0);
	CHECK_EQ_INT(parse_one(div0, sizeof div0, &m), 0);
	CHECK_EQ_INT(m.pc, 0x22);
	CHECK_EQ_UINT(aseba_enc_pc_error(b, sizeof b, 1, ASEBA_MSG_DIVISION_BY_ZERO, 0x22),
		      sizeof div0);
	CHECK(memcmp(b, div0, sizeof div0) == 0);
	CHECK_EQ_UINT(aseba_enc_pc_error(b, sizeof b, 1, ASEBA_MSG_RUN, 1), 0);
	n = aseba_enc_node_specific_error(b, sizeof b, 1, 3, "I2C failure");
	CHECK_EQ_INT(parse_one(b, n, &m), 0);
	CHECK(m.name.len == 11 && memcmp(m.name.s, "I2C failure", 11) == 0);
	CHECK(round_trips(b, n));
	/* DISCONNECTED has no payload; with one it is trailing garbage */
	{
		const uint8_t dis[] = {0x00, 0x00, 0x01, 0x00, 0x04, 0x90};
		const uint8_t dis2[] = {0x01, 0x00, 0x01, 0x00, 0x04, 0x90, 0x00};
		CHECK_EQ_INT(parse_one(dis, sizeof dis, &m), 0);
		CHECK_EQ_INT(parse_one(dis2, sizeof dis2, &m), ASEBA_E_TRAILING);
	}
	/* a string longer than 255 bytes cannot be sent */
	{
		char s[300];
		memset(s, 'x', 299);
		s[299] = 0;
		CHECK_EQ_UINT(aseba_enc_local_event(b, sizeof b, 1, s, ""), 0);
	}
}

static void test_device_info(void)
{
	/* v6 DEVICE_INFO: uint8 info, uint8 size, bytes (msg.cpp DeviceInfo, firmware
	 * AsebaHandleDeviceInfoMessages). The Thymio node emulations (node.h send_friendly_name)
	 * count the name's NUL in the size: the driver must strip it. */
	const uint8_t name[] = {0x09, 0x00, 0x01, 0x00, 0x0D, 0x90, 0x02, 0x07,
				'T',  'h',  'y',  'm',	'i',  'o',  0x00};
	/* GET_DEVICE_INFO: dest, uint16 info (msg.cpp GetDeviceInfo::serializeSpecific) */
	const uint8_t get[] = {0x04, 0x00, 0x00, 0x00, 0x12, 0xA0, 0x01, 0x00, 0x01, 0x00};
	uint8_t b[ASEBA_MAX_FRAME];
	aseba_msg m;
	size_t n;

	CHECK_EQ_INT(parse_one(name, sizeof name, &m), 0);
	CHECK_EQ_INT(m.info, ASEBA_DEVICE_INFO_NAME);
	CHECK_EQ_UINT(m.ndata, 7);
	CHECK_EQ_INT(m.data[6], 0);
	CHECK(round_trips(name, sizeof name));
	CHECK_EQ_UINT(aseba_enc_get_device_info(b, sizeof b, 0, 1, ASEBA_DEVICE_INFO_UUID),
		      sizeof get);
	CHECK(memcmp(b, get, sizeof get) == 0);
	n = aseba_enc_set_device_info(b, sizeof b, 0, 1, ASEBA_DEVICE_INFO_NAME,
				      (const uint8_t *)"Bob", 3);
	CHECK_EQ_UINT(n, ASEBA_HEADER_SIZE + 6 + 3);
	CHECK(round_trips(b, n));
	{
		uint8_t cut[sizeof name];
		memcpy(cut, name, sizeof name);
		cut[7] = 8;
		CHECK_EQ_INT(parse_one(cut, sizeof cut, &m), ASEBA_E_TRUNCATED);
		cut[7] = 6;
		CHECK_EQ_INT(parse_one(cut, sizeof cut, &m), ASEBA_E_TRAILING);
	}
}

static void test_stream_parsing(void)
{
	/* several frames split at every possible place give the same frames */
	uint8_t stream[64];
	size_t len = 0, n;
	const int16_t v[] = {5};

	len += aseba_enc_node_present(stream + len, sizeof stream - len, 1, 5);
	len += aseba_enc_variables(stream + len, sizeof stream - len, 1, 3, v, 1);
	len += aseba_enc_cmd(stream + len, sizeof stream - len, 0, ASEBA_MSG_RUN, 1);
	for (size_t piece = 1; piece <= len; piece++) {
		aseba_parser p = {0};
		aseba_frame f;
		uint16_t types[4];
		int nf = 0;
		for (size_t i = 0; i < len; i += piece) {
			size_t k = len - i < piece ? len - i : piece, off = 0;
			while (off < k) {
				size_t used;
				int r = aseba_parse(&p, stream + i + off, k - off, &used, &f);
				off += used;
				if (r == 1 && nf < 4)
					types[nf++] = f.type;
				if (r == 0)
					break;
			}
		}
		CHECK_EQ_INT(nf, 3);
		if (nf == 3) {
			CHECK_EQ_INT(types[0], ASEBA_MSG_NODE_PRESENT);
			CHECK_EQ_INT(types[1], ASEBA_MSG_VARIABLES);
			CHECK_EQ_INT(types[2], ASEBA_MSG_RUN);
		}
	}

	/* an oversized frame (517 bytes announced) is reported, dropped unbuffered, and the
	 * next frame is read */
	{
		uint8_t big[6 + 517 + 8];
		aseba_parser p = {0};
		aseba_frame f;
		size_t used, off = 0;
		memset(big, 0xAA, sizeof big);
		big[0] = 0x05;
		big[1] = 0x02;
		n = aseba_enc_node_present(big + 6 + 517, 8, 2, 6);
		CHECK_EQ_UINT(n, 8);
		CHECK_EQ_INT(aseba_parse(&p, big, sizeof big, &used, &f), ASEBA_E_OVERSIZE);
		CHECK_EQ_UINT(used, 6);
		off += used;
		CHECK_EQ_INT(aseba_parse(&p, big + off, sizeof big - off, &used, &f), 1);
		CHECK_EQ_INT(f.type, ASEBA_MSG_NODE_PRESENT);
		CHECK_EQ_INT(f.source, 2);
		CHECK_EQ_UINT(p.errors, 1);
		CHECK_EQ_UINT(p.frames, 1);
		/* 516 is the largest accepted */
		aseba_parser q = {0};
		uint8_t max[6 + 516];
		memset(max, 0, sizeof max);
		max[0] = 0x04;
		max[1] = 0x02;
		CHECK_EQ_INT(aseba_parse(&q, max, sizeof max, &used, &f), 1);
		CHECK_EQ_UINT(f.len, 516);
	}
	/* a truncated stream gives nothing, and no error */
	{
		aseba_parser p = {0};
		aseba_frame f;
		size_t used;
		CHECK_EQ_INT(aseba_parse(&p, stream, 7, &used, &f), 0);
		CHECK_EQ_UINT(used, 7);
	}
}

static void test_versions_and_garbage(void)
{
	/* consts.h: ASEBA_MIN_TARGET_PROTOCOL_VERSION 4, ASEBA_MAX_TARGET_PROTOCOL_VERSION 100;
	 * vm.c answers GET_DESCRIPTION only up to 4; DEVICE_INFO v6, CHANGED_VARIABLES v7,
	 * fragments v8 */
	aseba_features f = aseba_features_of(3);
	aseba_parser p = {0};
	aseba_frame fr;
	const char text[] = "hello world\r\n";
	size_t used;

	CHECK(!f.supported);
	f = aseba_features_of(4);
	CHECK(f.supported && f.get_description && !f.list_nodes);
	f = aseba_features_of(5);
	CHECK(f.supported && !f.get_description && f.list_nodes && !f.device_info);
	f = aseba_features_of(6);
	CHECK(f.device_info && !f.changed_variables);
	f = aseba_features_of(9);
	CHECK(f.device_info && f.changed_variables && f.fragments);
	CHECK(!aseba_features_of(101).supported);
	/* text on the line (a serial port that is not a Thymio): "he" announces 0x6568 bytes */
	CHECK_EQ_INT(aseba_parse(&p, (const uint8_t *)text, strlen(text), &used, &fr),
		     ASEBA_E_OVERSIZE);
	CHECK_EQ_UINT(used, 6);
	CHECK_EQ_INT(aseba_parse(&p, (const uint8_t *)text + 6, strlen(text) - 6, &used, &fr), 0);
	CHECK_EQ_UINT(p.skip, 0x6568 - (strlen(text) - 6));
}

static void test_unknown_types(void)
{
	/* bootloader ACK (0x8006) and future types keep their raw payload and round-trip */
	const uint8_t ack[] = {0x02, 0x00, 0x01, 0x00, 0x06, 0x80, 0x00, 0x00};
	const uint8_t fut[] = {0x03, 0x00, 0x01, 0x00, 0x0F, 0x90, 0x01, 0x02, 0x03};
	aseba_msg m;

	CHECK_EQ_INT(parse_one(ack, sizeof ack, &m), 0);
	CHECK_EQ_UINT(m.ndata, 2);
	CHECK(round_trips(ack, sizeof ack));
	CHECK(round_trips(fut, sizeof fut));
	CHECK(strcmp(aseba_strerror(ASEBA_E_OVERSIZE), "unknown error") != 0);
	CHECK_STR(aseba_strerror(42), "unknown error");
}

int main(void)
{
	RUN(test_list_nodes_and_node_present);
	RUN(test_description_requests_by_version);
	RUN(test_description_head);
	RUN(test_description_items);
	RUN(test_accumulator);
	RUN(test_bytecode_chunks);
	RUN(test_commands);
	RUN(test_variables);
	RUN(test_user_events_and_errors);
	RUN(test_device_info);
	RUN(test_stream_parsing);
	RUN(test_versions_and_garbage);
	RUN(test_unknown_types);
	return check_summary();
}
