/* mbot.h - the Makeblock mCore (mBot) serial protocol as pure functions over byte buffers. */
#ifndef LB_PROTO_MBOT_H
#define LB_PROTO_MBOT_H

/*
 * Sources: Makeblock-official/Makeblock-Libraries, the mBot firmware for mBlock
 * (firmware/mbot_firmware/mbot_firmware.ino, 06.01.030, and
 * examples/Firmware_For_mBlock/mbot_firmware/mbot_firmware.ino, 06.01.107), the factory firmware
 * mBots ship with (examples/Firmware_For_mBlock/mbot_factory_firmware, 06.01.009) and, for the
 * later boards, examples/Firmware_for_Auriga; the hosts: Makeblock-official/mBlock
 * (src/ext/libraries/mbot/js/mbot.js) and xeecos/python-for-mbot (lib/mBot.py).
 *
 * Requests (host -> robot), at 115200 baud:
 *	ff 55 len idx action device port [slot] data...
 * len counts the bytes after itself. Actions GET 1 (read a sensor: one reply carrying idx), RUN 2,
 * RESET 4 (motors and buzzer off), START 5 (RUN, RESET and START: one ack without an index). The
 * firmware collects a frame in a 52-byte buffer and silently drops one whose len exceeds 48
 * (MBOT_REQ_LEN_MAX); an unknown action gets no answer at all. Numbers are little-endian int16.
 * The firmware handles one frame at a time, in order, so answers come in the order of requests.
 * It reads one byte per loop() pass, between blocking sensor reads and tones, from the ATmega328's
 * 64-byte serial receive buffer: a host should keep fewer than 64 bytes of requests unanswered.
 *
 * Replies (robot -> host):
 *	ff 55 idx type value 0d 0a	a GET's value; type 1 byte, 2 float32, 3 int16, 4 string
 *					(a length byte then the characters), 5 double
 *	ff 55 idx 0d 0a			a GET with nothing to say (IR with no message, unknown
 *device) ff 55 0d 0a			the ack of RUN, RESET, START (no index) ff 55 80 01 b 0d 0a
 *06.01.107 only: the on-board button changed (b = 1 pressed), sent unasked (idx MBOT_IDX_EVENT,
 *never used by requests) Version: 06.01.107 0d 0a	printed as text when the board starts (DTR
 *resets it on open) Quirks of the mCore firmware (all three versions): sendShort writes 4 bytes
 *after the type (the int16, then 2 bytes read past its union), sendDouble writes 8 (an AVR double
 *is a float32, then 4 stray bytes). The Auriga/MegaPi firmware writes 2 and 4. The parser accepts
 *both: the value is the first 2 (4) bytes and the end is found by 0d 0a. A value is never searched
 *for 0d 0a: a float may contain those bytes; the type gives its length.
 *
 * Motors: M1 (port 9) is the left wheel and is mounted mirrored, so a forward move is M1 negative,
 * M2 positive (mBlock runBot, python-for-mbot doMove, factory firmware Forward()); speeds are
 * clamped to -255..255 by MeDCMotor::run. A tone (MeBuzzer::tone) is a busy loop: the robot does
 * nothing else, not even RESET, until it has played, so the encoder bounds its duration.
 *
 * Everything here is pure: no I/O, no globals, no logging, no allocation.
 */

#include <stddef.h>
#include <stdint.h>

#define MBOT_BAUD 115200
#define MBOT_REQ_LEN_MAX 48 /* largest len byte the firmware's 52-byte buffer takes */
#define MBOT_REQ_MAX (3 + MBOT_REQ_LEN_MAX)	 /* a whole request frame */
#define MBOT_REPLY_MAX (2 + 1 + 1 + 1 + 255 + 2) /* a string reply of 255 characters */
#define MBOT_PARSER_CAP 512
#define MBOT_IDX_EVENT 0x80 /* the index of the unasked button events */
#define MBOT_TONE_MAX_HZ 20000
#define MBOT_TONE_MAX_MS 3000 /* the robot is deaf while a tone plays */
#define MBOT_SPEED_MAX 255
#define MBOT_IR_MAX (MBOT_REQ_LEN_MAX - 3) /* characters of an IR message */
#define MBOT_BANNER_MAX 16		   /* characters of the version in the start banner */

/* Actions. */
enum { MBOT_GET = 1, MBOT_RUN = 2, MBOT_RESET = 4, MBOT_START = 5 };

/* Devices (the firmware's #defines). */
enum {
	MBOT_DEV_VERSION = 0,
	MBOT_DEV_ULTRASONIC = 1,
	MBOT_DEV_LIGHT = 3,
	MBOT_DEV_JOYSTICK = 5, /* RUN: both motors, int16 M1 then int16 M2 */
	MBOT_DEV_RGBLED = 8,
	MBOT_DEV_MOTOR = 10,
	MBOT_DEV_SERVO = 11,
	MBOT_DEV_IR = 13,	/* GET: a received IR message (string); RUN: send one */
	MBOT_DEV_IRREMOTE = 14, /* GET with a key code: byte 1 if that key is held */
	MBOT_DEV_LINEFOLLOWER = 17,
	MBOT_DEV_IRREMOTECODE = 18, /* GET: the code of the last remote key (byte, 0 if none) */
	MBOT_DEV_ANALOG = 31,
	MBOT_DEV_TONE = 34,
	MBOT_DEV_BUTTON_INNER = 35,
	MBOT_DEV_TIMER = 50,
};

/* Ports of the mCore (MeMCore.h mePort, MePort.h). */
enum {
	MBOT_PORT_1 = 1,
	MBOT_PORT_2 = 2, /* the line follower, as an mBot is assembled */
	MBOT_PORT_3 = 3, /* the ultrasonic sensor, as an mBot is assembled */
	MBOT_PORT_4 = 4,
	MBOT_PORT_LIGHT = 6,   /* on-board light sensor (A6) */
	MBOT_PORT_ONBOARD = 7, /* on-board button (A7) and RGB LEDs (pin 13, slot 2) */
	MBOT_PORT_M1 = 9,      /* left motor */
	MBOT_PORT_M2 = 10,     /* right motor */
	MBOT_SLOT_ONBOARD_LED = 2,
};

/* Reply value types. */
enum {
	MBOT_TYPE_BYTE = 1,
	MBOT_TYPE_FLOAT = 2,
	MBOT_TYPE_SHORT = 3,
	MBOT_TYPE_STRING = 4,
	MBOT_TYPE_DOUBLE = 5,
};

/* Errors (all negative). */
enum {
	MBOT_ERR_RANGE = -1,  /* an argument is out of range */
	MBOT_ERR_SPACE = -2,  /* the output buffer is too small */
	MBOT_ERR_SHORT = -3,  /* the frame is truncated */
	MBOT_ERR_HEADER = -4, /* not ff 55 (nor the start banner) */
	MBOT_ERR_LENGTH = -5, /* a length byte is out of range or disagrees with the frame */
	MBOT_ERR_TYPE = -6,   /* an unknown value type */
	MBOT_ERR_END = -7,    /* 0d 0a missing where the frame must end */
	MBOT_ERR_VALUE = -8,  /* a value that is not what the request expects */
	MBOT_ERR_FULL = -9,   /* every slot of the pending table is taken */
};

/* A short English description of an MBOT_ERR_* code. Never fails. */
const char *mbot_strerror(int err);

/*
 * Encoders. Each writes one complete request into buf (cap bytes) and returns its length, or
 * MBOT_ERR_SPACE when cap is too small, MBOT_ERR_RANGE when an argument is out of range.
 */

/* Any request: ff 55 len idx action [device] data (device < 0: none, as mBlock's RESET). */
int mbot_enc_request(uint8_t *buf, size_t cap, uint8_t idx, int action, int device,
		     const uint8_t *data, size_t n);
/* GET device port: ultrasonic, light, line follower, version (port 0), IR (no port: port < 0). */
int mbot_enc_get(uint8_t *buf, size_t cap, uint8_t idx, int device, int port);
/* GET device port slot: IR remote key (port 0, slot = key code), analog with a parameter. */
int mbot_enc_get_slot(uint8_t *buf, size_t cap, uint8_t idx, int device, int port, int slot);
/* GET the on-board button: the reply byte is 1 while it is pressed. */
int mbot_enc_button(uint8_t *buf, size_t cap, uint8_t idx);
/* RUN JOYSTICK with raw motor speeds (-255..255 each; M1 negative drives the left wheel forward).
 */
int mbot_enc_motors(uint8_t *buf, size_t cap, uint8_t idx, int m1, int m2);
/* RUN JOYSTICK with wheel speeds, forward positive (-255..255): M1 = -left, M2 = right. */
int mbot_enc_move(uint8_t *buf, size_t cap, uint8_t idx, int left, int right);
/* RUN MOTOR: one motor, port M1 or M2, raw speed -255..255. */
int mbot_enc_motor(uint8_t *buf, size_t cap, uint8_t idx, int port, int speed);
/* RUN RGBLED: port, slot, led (0 = all, 1.. one), colour 0..255 each. */
int mbot_enc_rgb(uint8_t *buf, size_t cap, uint8_t idx, int port, int slot, int led, int r, int g,
		 int b);
/* The two on-board LEDs (port 7, slot 2): led 0 both, 1 or 2 one of them. */
int mbot_enc_led(uint8_t *buf, size_t cap, uint8_t idx, int led, int r, int g, int b);
/* RUN SERVO: port 1..4, slot 1..2, angle 0..180. */
int mbot_enc_servo(uint8_t *buf, size_t cap, uint8_t idx, int port, int slot, int angle);
/* RUN TONE: hz 0 (silence) or 1..MBOT_TONE_MAX_HZ, for ms 0..MBOT_TONE_MAX_MS (the ack comes
 * after the tone has played). */
int mbot_enc_tone(uint8_t *buf, size_t cap, uint8_t idx, int hz, int ms);
/* RUN IR: send a message of n (1..MBOT_IR_MAX) bytes with the on-board IR LED. */
int mbot_enc_ir_send(uint8_t *buf, size_t cap, uint8_t idx, const char *text, size_t n);
/* RESET (ff 55 02 idx 04, as mBlock sends it): motors and buzzer off. */
int mbot_enc_reset(uint8_t *buf, size_t cap, uint8_t idx);
/* START (ff 55 02 idx 05): only acknowledged; a cheap liveness probe. */
int mbot_enc_start(uint8_t *buf, size_t cap, uint8_t idx);

/* A request as the firmware reads it (for emulators and tests); pointers into the frame. */
typedef struct mbot_request {
	uint8_t idx;
	uint8_t action;
	int device;	     /* -1 when the frame stops after the action */
	const uint8_t *data; /* the bytes after device: port, slot, values */
	size_t n;
} mbot_request;

/*
 * Parse one request frame at the start of buf. Returns the frame's length, MBOT_ERR_SHORT when
 * buf holds less than the whole frame, MBOT_ERR_HEADER when it does not start with ff 55,
 * MBOT_ERR_LENGTH when len is below 2 (no idx and action) or above MBOT_REQ_LEN_MAX (a frame the
 * firmware drops).
 */
int mbot_parse_request(const uint8_t *buf, size_t len, mbot_request *out);

/* The little-endian int16 at data[off] of a request, or 0 when it lies beyond n. Never fails. */
int mbot_req_short(const mbot_request *r, size_t off);

/* What the robot sent. */
typedef enum mbot_msg_kind {
	MBOT_MSG_ACK = 1, /* ff 55 0d 0a: RUN, RESET or START done */
	MBOT_MSG_VALUE,	  /* a GET's value (or an unasked event when idx is MBOT_IDX_EVENT) */
	MBOT_MSG_EMPTY,	  /* a GET answered without a value */
	MBOT_MSG_BANNER,  /* "Version: x\r\n": the board has just started */
} mbot_msg_kind;

typedef struct mbot_msg {
	mbot_msg_kind kind;
	uint8_t idx;	  /* VALUE, EMPTY */
	uint8_t type;	  /* VALUE: MBOT_TYPE_* */
	double number;	  /* VALUE of a numeric type (a byte is 0..255) */
	const char *text; /* STRING value, BANNER version; not NUL-terminated; into the frame */
	size_t tlen;
	int padded; /* a short of 4 bytes or a double of 8 (the mCore firmware), else 0 */
	size_t len; /* bytes of the frame */
} mbot_msg;

/*
 * Decode the robot's frame at the start of buf (n bytes). Returns its length (> 0) with out
 * filled, 0 when buf is a valid beginning that needs more bytes, or a negative error when buf
 * cannot start a frame: MBOT_ERR_HEADER, MBOT_ERR_TYPE, MBOT_ERR_END (what follows the value is
 * not 0d 0a), MBOT_ERR_LENGTH (a banner whose version is empty or longer than MBOT_BANNER_MAX or
 * not printable).
 */
int mbot_decode_reply(const uint8_t *buf, size_t n, mbot_msg *out);

/*
 * Incremental parser of the robot's byte stream, in arbitrary pieces. Zero it to start. Bytes that
 * start no frame, and the first byte of anything that turns out not to be a frame, are dropped and
 * counted in garbage; parsing resumes at the next ff (or V of a banner).
 */
typedef struct mbot_parser {
	uint8_t buf[MBOT_PARSER_CAP];
	size_t n;	       /* bytes held */
	size_t consumed;       /* bytes of the message last returned, dropped on the next call */
	unsigned long garbage; /* bytes dropped */
} mbot_parser;

/* Take up to len bytes; returns how many were taken (fewer when the buffer is full: call
 * mbot_parser_next until it returns 0, then feed the rest). Never fails. */
size_t mbot_parser_feed(mbot_parser *p, const uint8_t *data, size_t len);

/* The next message: 1 with m filled (its text valid until the next feed or next), 0 when more
 * bytes are needed. Never fails. */
int mbot_parser_next(mbot_parser *p, mbot_msg *m);

/* Forget everything held (after a timeout or a reopen). Keeps the garbage count. */
void mbot_parser_reset(mbot_parser *p);

/*
 * Robot-side encoders (emulators, tests): the frames the firmware writes. Each returns the length,
 * MBOT_ERR_SPACE or MBOT_ERR_RANGE. mbot_enc_value takes a numeric type: BYTE (an integer
 * 0..255), FLOAT, SHORT (an integer -32768..32767) or DOUBLE (sent as a float32, as on the AVR);
 * padded writes the mCore's 4-byte short or 8-byte double (the stray bytes as 0).
 */
int mbot_enc_ack(uint8_t *buf, size_t cap);
int mbot_enc_empty(uint8_t *buf, size_t cap, uint8_t idx);
int mbot_enc_value(uint8_t *buf, size_t cap, uint8_t idx, int type, double number, int padded);
int mbot_enc_string(uint8_t *buf, size_t cap, uint8_t idx, const char *text, size_t n);
/* "Version: x\r\n"; RANGE unless n is 1..MBOT_BANNER_MAX printable characters without blanks. */
int mbot_enc_banner(uint8_t *buf, size_t cap, const char *version, size_t n);

/* The value type a GET of device answers with (the firmware's readSensor), or 0 if unknown. */
int mbot_expected_type(int device);

/*
 * The line follower's value (dRead1 * 2 + dRead2; a sensor reads 0 over the black line; sensor 1
 * is the left one, MeLineFollower.h and the factory firmware's modeC): sets *left and *right to 1
 * when that sensor sees the line. Returns 0, or MBOT_ERR_VALUE unless value is 0, 1, 2 or 3.
 */
int mbot_line_decode(double value, int *left, int *right);

/*
 * The requests awaiting an answer. GET replies are matched by index; acks carry none and go to
 * the oldest RUN/RESET/START. Because the firmware answers in order, an answer also settles every
 * older request still pending: its answer was lost (garbled on the line), and mbot_track_expire
 * reports it at once rather than at its deadline. Times are passed in (milliseconds, any epoch).
 */
#define MBOT_MAX_PENDING 16

typedef struct mbot_pending {
	int used;
	uint8_t idx;
	uint8_t action;
	int device;
	uint32_t seq;
	int64_t deadline_ms;
	int lost; /* a later request was answered first */
} mbot_pending;

typedef struct mbot_tracker {
	mbot_pending slot[MBOT_MAX_PENDING];
	uint32_t seq;
	uint8_t next_idx;
} mbot_tracker;

/*
 * Record a request about to be sent and choose its index (*idx): one no pending GET uses, never
 * MBOT_IDX_EVENT. Returns the slot (>= 0), MBOT_ERR_FULL, or MBOT_ERR_RANGE for an unknown action
 * or a negative timeout.
 */
int mbot_track_add(mbot_tracker *t, int action, int device, int64_t now_ms, int timeout_ms,
		   uint8_t *idx);

/*
 * Match a message from the robot. Returns 1 with *out the request it answers (removed from the
 * table), 0 when it answers nothing pending (an event, an ack or index nobody waits for). A BANNER
 * (the robot restarted) marks every pending request lost.
 */
int mbot_track_match(mbot_tracker *t, const mbot_msg *m, mbot_pending *out);

/* One request that is lost or past its deadline at now_ms: 1 with *out (removed), or 0. */
int mbot_track_expire(mbot_tracker *t, int64_t now_ms, mbot_pending *out);

/* The earliest deadline of the pending requests in *deadline_ms: 1, or 0 if none is pending. */
int mbot_track_next_deadline(const mbot_tracker *t, int64_t *deadline_ms);

/* The number of pending requests. */
int mbot_track_count(const mbot_tracker *t);

#endif
