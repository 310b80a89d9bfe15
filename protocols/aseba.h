/* aseba.h - the Aseba protocol of the Thymio II (and Aseba simulators) as pure functions over
 * bytes. */
#ifndef LB_PROTO_ASEBA_H
#define LB_PROTO_ASEBA_H

/*
 * Sources: Mobsya/aseba aseba/common/consts.h (message numbers, limits, protocol versions),
 * aseba/common/msg/msg.cpp (how each message is (de)serialized, sendBytecode's chunking),
 * aseba/transport/buffer/vm-buffer.c (what a node sends: the description, VARIABLES) and
 * aseba/vm/vm.c (AsebaVMDebugMessage: what a node answers, and to which protocol versions).
 *
 * Framing (the same on serial and TCP, default port 33333): three uint16 little-endian: the
 * payload length (type and header excluded, at most 516 = ASEBA_MAX_EVENT_ARG_SIZE), the source
 * node id (the host uses 0, ASEBA_DEST_DEBUG), the message type; then the payload. Strings are a
 * uint8 length and that many bytes (UTF-8, no NUL). There is no sync marker: a corrupted length
 * desynchronises a stream, so a parser error is a reason for the driver to reopen the link.
 *
 * Types below 0x8000 are user events: the payload is int16 words (an odd length is an error in
 * msg.cpp). 0x8000-0x8006 are the bootloader's (decoded as raw payloads here). 0x9000-0x900E come
 * from a node, 0xA000-0xA015 go to nodes; the commands (all 0xA0xx but GET_DESCRIPTION and
 * LIST_NODES, which go to every node) start with the destination node id.
 *
 * Version differences (vm.c): nodes up to protocol 4 answer GET_DESCRIPTION (0xA000, carrying
 * the host's protocol version) by sending their description; from protocol 5 they ignore it
 * when the version is above 4: the host sends LIST_NODES (version), each node answers
 * NODE_PRESENT (its protocol version), then GET_NODE_DESCRIPTION (dest, version) per node.
 * Protocol 6 adds GET/SET_DEVICE_INFO and DEVICE_INFO (uuid, friendly name), 7
 * GET_CHANGED_VARIABLES/CHANGED_VARIABLES, 8 GET_NODE_DESCRIPTION_FRAGMENT (dest, version,
 * fragment: one item of the description; -1 the head and everything). Minimum target protocol: 4.
 *
 * Description: DESCRIPTION (name, protocol version, bytecode size, stack size, variables size,
 * the number of named variables, local events and native functions), then one
 * NAMED_VARIABLE_DESCRIPTION (uint16 size, name) per variable, in memory order from address 0,
 * one LOCAL_EVENT_DESCRIPTION (name, doc) per local event, one NATIVE_FUNCTION_DESCRIPTION (name,
 * doc, uint16 count, then count times int16 size (negative: a template size shared by the
 * parameters with the same value) and name) per native. aseba_desc collects them.
 *
 * Quirks: SET_BYTECODE is followed by a RESET on the node (vm.c falls through), and msg.cpp sends
 * the bytecode in chunks of ASEBA_MAX_EVENT_ARG_COUNT - 2 = 256 words (dest and start fill the
 * rest of the 516 bytes); a VARIABLES answer may come split in several messages of at most 47
 * words from a node behind the wireless dongle (ASEBA_LIMITED_MESSAGE_SIZE in vm-buffer.c); STOP
 * only halts the VM (the motors keep their targets); a node ignores a command whose dest is not
 * its id, and a user event whose type its program does not handle.
 *
 * Everything here is pure: no I/O, no globals, no logging, no allocation.
 */

#include <stddef.h>
#include <stdint.h>

#define ASEBA_TCP_PORT 33333
#define ASEBA_HEADER_SIZE 6
#define ASEBA_MAX_PAYLOAD 516 /* ASEBA_MAX_EVENT_ARG_SIZE: bytes after the type */
#define ASEBA_MAX_FRAME (ASEBA_HEADER_SIZE + ASEBA_MAX_PAYLOAD)
#define ASEBA_MAX_EVENT_ARGS 258    /* ASEBA_MAX_EVENT_ARG_COUNT: int16 words of a user event */
#define ASEBA_BYTECODE_CHUNK 256    /* words per SET_BYTECODE (msg.cpp sendBytecode) */
#define ASEBA_MAX_SET_WORDS 256	    /* SET_VARIABLES/SET_BYTECODE: dest, start and 256 words */
#define ASEBA_MAX_NATIVE_PARAMS 172 /* 3 bytes at least per parameter in 516 bytes */
#define ASEBA_PROTOCOL_VERSION 5    /* what the host announces (LIST_NODES, GET_NODE_DESCRIPTION) */
#define ASEBA_MIN_PROTOCOL 4
#define ASEBA_HOST_ID 0 /* ASEBA_DEST_DEBUG: the source id the host uses */

/* Message types (consts.h AsebaSystemMessagesTypes). */
enum {
	ASEBA_MSG_USER_MAX = 0x7FFF,
	ASEBA_MSG_BOOTLOADER_FIRST = 0x8000,
	ASEBA_MSG_BOOTLOADER_LAST = 0x8006,
	/* from a node */
	ASEBA_MSG_DESCRIPTION = 0x9000,
	ASEBA_MSG_NAMED_VARIABLE_DESCRIPTION = 0x9001,
	ASEBA_MSG_LOCAL_EVENT_DESCRIPTION = 0x9002,
	ASEBA_MSG_NATIVE_FUNCTION_DESCRIPTION = 0x9003,
	ASEBA_MSG_DISCONNECTED = 0x9004,
	ASEBA_MSG_VARIABLES = 0x9005,
	ASEBA_MSG_ARRAY_ACCESS_OUT_OF_BOUNDS = 0x9006,
	ASEBA_MSG_DIVISION_BY_ZERO = 0x9007,
	ASEBA_MSG_EVENT_EXECUTION_KILLED = 0x9008,
	ASEBA_MSG_NODE_SPECIFIC_ERROR = 0x9009,
	ASEBA_MSG_EXECUTION_STATE_CHANGED = 0x900A,
	ASEBA_MSG_BREAKPOINT_SET_RESULT = 0x900B,
	ASEBA_MSG_NODE_PRESENT = 0x900C,
	ASEBA_MSG_DEVICE_INFO = 0x900D,	      /* v6 */
	ASEBA_MSG_CHANGED_VARIABLES = 0x900E, /* v7 */
	/* to every node */
	ASEBA_MSG_GET_DESCRIPTION = 0xA000, /* answered by protocol <= 4 nodes only */
	/* to one node (dest first) */
	ASEBA_MSG_SET_BYTECODE = 0xA001,
	ASEBA_MSG_RESET = 0xA002,
	ASEBA_MSG_RUN = 0xA003,
	ASEBA_MSG_PAUSE = 0xA004,
	ASEBA_MSG_STEP = 0xA005,
	ASEBA_MSG_STOP = 0xA006,
	ASEBA_MSG_GET_EXECUTION_STATE = 0xA007,
	ASEBA_MSG_BREAKPOINT_SET = 0xA008,
	ASEBA_MSG_BREAKPOINT_CLEAR = 0xA009,
	ASEBA_MSG_BREAKPOINT_CLEAR_ALL = 0xA00A,
	ASEBA_MSG_GET_VARIABLES = 0xA00B,
	ASEBA_MSG_SET_VARIABLES = 0xA00C,
	ASEBA_MSG_WRITE_BYTECODE = 0xA00D, /* save the program to flash */
	ASEBA_MSG_REBOOT = 0xA00E,
	ASEBA_MSG_SUSPEND_TO_RAM = 0xA00F,
	ASEBA_MSG_GET_NODE_DESCRIPTION = 0xA010,
	ASEBA_MSG_LIST_NODES = 0xA011,			  /* to every node */
	ASEBA_MSG_GET_DEVICE_INFO = 0xA012,		  /* v6 */
	ASEBA_MSG_SET_DEVICE_INFO = 0xA013,		  /* v6 */
	ASEBA_MSG_GET_CHANGED_VARIABLES = 0xA014,	  /* v7 */
	ASEBA_MSG_GET_NODE_DESCRIPTION_FRAGMENT = 0xA015, /* v8 */
};

/*
 * EXECUTION_STATE_CHANGED flags (consts.h AsebaExecutionStates). vm.c: RUN clears STEP_BY_STEP,
 * PAUSE sets it, STOP and RESET (and SET_BYTECODE) set flags to STEP_BY_STEP alone: the VM runs
 * freely exactly when STEP_BY_STEP is clear.
 */
enum {
	ASEBA_VM_EVENT_ACTIVE = 0x1,  /* a thread (event handler) is executing */
	ASEBA_VM_STEP_BY_STEP = 0x2,  /* paused or stopped: not running freely */
	ASEBA_VM_EVENT_RUNNING = 0x4, /* inside the debugger's fast loop */
};

/* DEVICE_INFO kinds (consts.h DeviceInfoType). */
enum { ASEBA_DEVICE_INFO_UUID = 1, ASEBA_DEVICE_INFO_NAME = 2 };

/* Errors (negative), as aseba_strerror names them. */
enum {
	ASEBA_E_OVERSIZE = -1,	/* a frame announces more than ASEBA_MAX_PAYLOAD bytes */
	ASEBA_E_TRUNCATED = -2, /* a payload ends inside a field */
	ASEBA_E_TRAILING = -3,	/* bytes left after the last field (msg.cpp rejects those too) */
	ASEBA_E_ODD = -4,	/* an odd number of bytes where int16 words are expected */
	ASEBA_E_RANGE = -5,	/* an argument out of range, or the buffer too small */
	ASEBA_E_ORDER = -6,	/* a description item before its DESCRIPTION, or one too many */
	ASEBA_E_TOO_MANY = -7,	/* a description larger than aseba_desc holds */
	ASEBA_E_BAD_DESC = -8,	/* a description that contradicts itself */
};

/* What a node of a protocol version (NODE_PRESENT, DESCRIPTION) understands (vm.c, consts.h). */
typedef struct aseba_features {
	int supported;	     /* ASEBA_MIN_PROTOCOL (4) .. 100 (ASEBA_MAX_TARGET_PROTOCOL_VERSION) */
	int list_nodes;	     /* answers LIST_NODES and GET_NODE_DESCRIPTION (5+) */
	int get_description; /* answers GET_DESCRIPTION (4 only: the way to list it) */
	int device_info;     /* GET/SET_DEVICE_INFO (6+) */
	int changed_variables; /* GET_CHANGED_VARIABLES (7+) */
	int fragments;	       /* GET_NODE_DESCRIPTION_FRAGMENT (8+) */
} aseba_features;

/* The features of protocol version v; all zero when v is outside 4..100. */
aseba_features aseba_features_of(uint16_t v);

/* A short English text for an ASEBA_E_* code ("unknown error" for others). */
const char *aseba_strerror(int code);

/* A complete frame; payload points into the parser and is valid until its next call. */
typedef struct aseba_frame {
	uint16_t source, type;
	const uint8_t *payload;
	size_t len;
} aseba_frame;

/* An incremental parser with a bounded buffer; zero it to start. */
typedef struct aseba_parser {
	uint8_t header[ASEBA_HEADER_SIZE];
	size_t nheader;
	uint8_t payload[ASEBA_MAX_PAYLOAD];
	size_t npayload, want;
	size_t skip;	      /* bytes of an oversized frame still to drop, unbuffered */
	unsigned long frames; /* complete frames returned */
	unsigned long errors; /* oversized frames */
} aseba_parser;

/*
 * Consume bytes from data[0..n) until a frame completes or the input ends; *used says how many
 * were consumed (call again with the rest). Returns 1 with *f filled when a frame completes, 0
 * when every byte was consumed without completing one, or ASEBA_E_OVERSIZE when a header
 * announces more than ASEBA_MAX_PAYLOAD bytes: that frame's payload is then dropped as it
 * arrives, never buffered, and the stream is probably desynchronised (reconnect).
 */
int aseba_parse(aseba_parser *p, const uint8_t *data, size_t n, size_t *used, aseba_frame *f);

/* A string inside a payload (not NUL-terminated); valid as long as the payload. */
typedef struct aseba_str {
	const char *s;
	size_t len;
} aseba_str;

typedef struct aseba_param {
	int16_t size; /* negative: a template size */
	aseba_str name;
} aseba_param;

/* A decoded message; the fields the type has are set, the others zero. */
typedef struct aseba_msg {
	uint16_t source, type;
	uint16_t dest; /* commands to one node */
	uint16_t
	    version; /* LIST_NODES, NODE_PRESENT, GET_(NODE_)DESCRIPTION(_FRAGMENT), DESCRIPTION */
	int16_t fragment;			  /* GET_NODE_DESCRIPTION_FRAGMENT */
	uint16_t start;				  /* VARIABLES, GET/SET_VARIABLES, SET_BYTECODE */
	uint16_t length;			  /* GET_VARIABLES */
	uint16_t pc, flags, size, index, success; /* errors, EXECUTION_STATE_CHANGED, breakpoints */
	const uint8_t
	    *words; /* LE words: user event args, VARIABLES, SET_VARIABLES, SET_BYTECODE */
	size_t nwords;
	aseba_str name, doc; /* descriptions; NODE_SPECIFIC_ERROR's message is in name */
	uint16_t bytecode_size, stack_size, variables_size; /* DESCRIPTION */
	uint16_t n_variables, n_events, n_natives;	    /* DESCRIPTION */
	uint16_t var_size;				    /* NAMED_VARIABLE_DESCRIPTION */
	size_t nparams;					    /* NATIVE_FUNCTION_DESCRIPTION */
	aseba_param params[ASEBA_MAX_NATIVE_PARAMS];
	uint16_t info;	     /* DEVICE_INFO, GET/SET_DEVICE_INFO */
	const uint8_t *data; /* DEVICE_INFO, SET_DEVICE_INFO bytes; unknown types' payload */
	size_t ndata;
} aseba_msg;

/* Word i of m->words (i < m->nwords), as int16. */
int16_t aseba_word(const aseba_msg *m, size_t i);

/*
 * Decode a frame of either direction into *m. Returns 0, or ASEBA_E_TRUNCATED, ASEBA_E_TRAILING,
 * ASEBA_E_ODD (a malformed payload: the message must be dropped). Unknown types (bootloader,
 * future ones) decode with their raw payload in data/ndata. CHANGED_VARIABLES keeps its raw
 * payload in data too (see aseba_changed_next).
 */
int aseba_decode(const aseba_frame *f, aseba_msg *m);

/*
 * CHANGED_VARIABLES holds blocks of (uint16 start, uint16 count, count int16 values). Reads the
 * block at *pos of m->data and advances *pos. Returns 1 with *start, *values and *count set, 0 at
 * the end, or ASEBA_E_TRUNCATED if a block is cut (msg.cpp stops there; so should the caller).
 */
int aseba_changed_next(const aseba_msg *m, size_t *pos, uint16_t *start, const uint8_t **values,
		       size_t *count);

/*
 * Encoders: each writes a whole frame (header included) into buf of cap bytes and returns its
 * length, or 0 if cap is too small or an argument is out of range. ASEBA_MAX_FRAME bytes are
 * always enough. source is the sender's node id (ASEBA_HOST_ID for the host).
 */

/* Host to nodes. */
size_t aseba_enc_list_nodes(uint8_t *buf, size_t cap, uint16_t source, uint16_t version);
size_t aseba_enc_get_description(uint8_t *buf, size_t cap, uint16_t source, uint16_t version);
size_t aseba_enc_get_node_description(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
				      uint16_t version);
size_t aseba_enc_get_node_description_fragment(uint8_t *buf, size_t cap, uint16_t source,
					       uint16_t dest, uint16_t version, int16_t fragment);
/*
 * A command whose payload is only dest: RESET, RUN, PAUSE, STEP, STOP, GET_EXECUTION_STATE,
 * BREAKPOINT_CLEAR_ALL, WRITE_BYTECODE, REBOOT, SUSPEND_TO_RAM, GET_CHANGED_VARIABLES; 0 for
 * any other type.
 */
size_t aseba_enc_cmd(uint8_t *buf, size_t cap, uint16_t source, uint16_t type, uint16_t dest);
/* BREAKPOINT_SET or BREAKPOINT_CLEAR (dest, pc); 0 for another type. */
size_t aseba_enc_breakpoint(uint8_t *buf, size_t cap, uint16_t source, uint16_t type, uint16_t dest,
			    uint16_t pc);
size_t aseba_enc_get_variables(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
			       uint16_t start, uint16_t length);
/* values[0..n), n <= ASEBA_MAX_SET_WORDS (and start + n within 16 bits). */
size_t aseba_enc_set_variables(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
			       uint16_t start, const int16_t *values, size_t n);
/* One SET_BYTECODE: words[0..n) at address start, n <= ASEBA_BYTECODE_CHUNK. */
size_t aseba_enc_set_bytecode(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
			      uint16_t start, const uint16_t *words, size_t n);
/* How many SET_BYTECODE frames a program of nwords takes (1 for an empty one, as msg.cpp). */
size_t aseba_bytecode_chunks(size_t nwords);
/* Chunk i (< aseba_bytecode_chunks(nwords)) of a program, as msg.cpp sendBytecode cuts it. */
size_t aseba_enc_bytecode_chunk(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
				const uint16_t *program, size_t nwords, size_t i);
size_t aseba_enc_get_device_info(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
				 uint16_t info);
/* SET_DEVICE_INFO: dest, uint16 info, uint16 n, n bytes (the firmware reads words). */
size_t aseba_enc_set_device_info(uint8_t *buf, size_t cap, uint16_t source, uint16_t dest,
				 uint16_t info, const uint8_t *data, size_t n);

/* Either way: a user event, type <= ASEBA_MSG_USER_MAX, args[0..n), n <= ASEBA_MAX_EVENT_ARGS. */
size_t aseba_enc_user_event(uint8_t *buf, size_t cap, uint16_t source, uint16_t type,
			    const int16_t *args, size_t n);

/* Node to host (emulators, tests). Strings longer than 255 bytes are refused. */
size_t aseba_enc_node_present(uint8_t *buf, size_t cap, uint16_t source, uint16_t version);
size_t aseba_enc_description(uint8_t *buf, size_t cap, uint16_t source, const char *name,
			     uint16_t version, uint16_t bytecode_size, uint16_t stack_size,
			     uint16_t variables_size, uint16_t n_variables, uint16_t n_events,
			     uint16_t n_natives);
size_t aseba_enc_named_variable(uint8_t *buf, size_t cap, uint16_t source, uint16_t size,
				const char *name);
size_t aseba_enc_local_event(uint8_t *buf, size_t cap, uint16_t source, const char *name,
			     const char *doc);
size_t aseba_enc_native_function(uint8_t *buf, size_t cap, uint16_t source, const char *name,
				 const char *doc, const int16_t *sizes, const char *const *names,
				 size_t nparams);
size_t aseba_enc_variables(uint8_t *buf, size_t cap, uint16_t source, uint16_t start,
			   const int16_t *values, size_t n);
size_t aseba_enc_execution_state(uint8_t *buf, size_t cap, uint16_t source, uint16_t pc,
				 uint16_t flags);
size_t aseba_enc_array_out_of_bounds(uint8_t *buf, size_t cap, uint16_t source, uint16_t pc,
				     uint16_t size, uint16_t index);
/* DIVISION_BY_ZERO or EVENT_EXECUTION_KILLED (pc only); 0 for another type. */
size_t aseba_enc_pc_error(uint8_t *buf, size_t cap, uint16_t source, uint16_t type, uint16_t pc);
size_t aseba_enc_node_specific_error(uint8_t *buf, size_t cap, uint16_t source, uint16_t pc,
				     const char *message);
size_t aseba_enc_device_info(uint8_t *buf, size_t cap, uint16_t source, uint8_t info,
			     const uint8_t *data, size_t n);

/*
 * Re-encode a decoded message (either direction) into buf: encode(decode(frame)) gives the
 * frame back for every type this codec knows. Returns the length or 0 (cap too small).
 */
size_t aseba_encode(uint8_t *buf, size_t cap, const aseba_msg *m);

/* Description accumulator bounds. */
#define ASEBA_DESC_MAX_VARS 256
#define ASEBA_DESC_MAX_EVENTS 128
#define ASEBA_DESC_MAX_NATIVES 128
#define ASEBA_DESC_MAX_PARAMS 512
#define ASEBA_DESC_POOL 32768 /* bytes of names and docs */

typedef struct aseba_desc_var {
	uint32_t name; /* offset of the NUL-terminated name in pool */
	uint16_t offset, size;
} aseba_desc_var;

typedef struct aseba_desc_event {
	uint32_t name, doc;
} aseba_desc_event;

typedef struct aseba_desc_native {
	uint32_t name, doc;
	uint16_t first_param, nparams; /* in params[] */
} aseba_desc_native;

typedef struct aseba_desc_param {
	uint32_t name;
	int16_t size;
} aseba_desc_param;

/* A node's description as its messages arrive; aseba_desc_init it (about 41 KB: allocate it). */
typedef struct aseba_desc {
	uint16_t node;
	int have_head, complete;
	uint32_t name;
	uint16_t protocol_version, bytecode_size, stack_size, variables_size;
	uint16_t want_vars, want_events, want_natives;
	uint16_t nvars, nevents, nnatives, nparams;
	uint32_t next_offset; /* where the next named variable starts */
	aseba_desc_var vars[ASEBA_DESC_MAX_VARS];
	aseba_desc_event events[ASEBA_DESC_MAX_EVENTS];
	aseba_desc_native natives[ASEBA_DESC_MAX_NATIVES];
	aseba_desc_param params[ASEBA_DESC_MAX_PARAMS];
	uint32_t npool;
	char pool[ASEBA_DESC_POOL];
} aseba_desc;

/* Start collecting the description of node (messages of other nodes are ignored). */
void aseba_desc_init(aseba_desc *d, uint16_t node);

/*
 * Take one decoded message. A DESCRIPTION restarts the collection; the items must follow it.
 * Returns 1 when the description has just become complete, 0 when the message was taken or is
 * not for this accumulator (another node, another type), or an error: ASEBA_E_ORDER (an item
 * before the head or beyond the announced count), ASEBA_E_TOO_MANY (beyond the bounds above),
 * ASEBA_E_BAD_DESC (named variables beyond variables_size, an empty name). After an error the
 * accumulator waits for a new DESCRIPTION.
 */
int aseba_desc_feed(aseba_desc *d, const aseba_msg *m);

/* The NUL-terminated string at offset off of the pool. */
const char *aseba_desc_str(const aseba_desc *d, uint32_t off);

/* The named variable called name: index (>= 0) with *offset and *size set, or -1. */
int aseba_desc_find_var(const aseba_desc *d, const char *name, uint16_t *offset, uint16_t *size);

/* The named variable holding address addr: its index, or -1 (not in a named variable). */
int aseba_desc_var_at(const aseba_desc *d, uint16_t addr);

/* The local event called name: its index (the event id is 0xFFFE - index), or -1. */
int aseba_desc_find_event(const aseba_desc *d, const char *name);

/* The native function called name: its index, or -1. */
int aseba_desc_find_native(const aseba_desc *d, const char *name);

#endif
