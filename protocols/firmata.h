/* firmata.h - the Firmata 2.x wire protocol as pure functions over byte buffers. */
#ifndef LB_PROTO_FIRMATA_H
#define LB_PROTO_FIRMATA_H

#include <stddef.h>
#include <stdint.h>

#define FIRMATA_BAUD 57600
#define FIRMATA_MAX_PINS 128
#define FIRMATA_MAX_SYSEX 512

/* Status bytes and sysex commands (firmata/protocol, protocol.md 2.5/2.6). */
enum {
	FIRMATA_DIGITAL_MESSAGE = 0x90,
	FIRMATA_ANALOG_MESSAGE = 0xE0,
	FIRMATA_REPORT_ANALOG = 0xC0,
	FIRMATA_REPORT_DIGITAL = 0xD0,
	FIRMATA_START_SYSEX = 0xF0,
	FIRMATA_SET_PIN_MODE = 0xF4,
	FIRMATA_SET_DIGITAL_PIN_VALUE = 0xF5,
	FIRMATA_END_SYSEX = 0xF7,
	FIRMATA_PROTOCOL_VERSION = 0xF9,
	FIRMATA_SYSTEM_RESET = 0xFF,
	FIRMATA_ANALOG_MAPPING_QUERY = 0x69,
	FIRMATA_ANALOG_MAPPING_RESPONSE = 0x6A,
	FIRMATA_CAPABILITY_QUERY = 0x6B,
	FIRMATA_CAPABILITY_RESPONSE = 0x6C,
	FIRMATA_PIN_STATE_QUERY = 0x6D,
	FIRMATA_PIN_STATE_RESPONSE = 0x6E,
	FIRMATA_EXTENDED_ANALOG = 0x6F,
	FIRMATA_SERVO_CONFIG = 0x70,
	FIRMATA_STRING_DATA = 0x71,
	FIRMATA_REPORT_FIRMWARE = 0x79,
	FIRMATA_SAMPLING_INTERVAL = 0x7A,
};

/* Pin modes. */
enum {
	FIRMATA_MODE_INPUT = 0x00,
	FIRMATA_MODE_OUTPUT = 0x01,
	FIRMATA_MODE_ANALOG = 0x02,
	FIRMATA_MODE_PWM = 0x03,
	FIRMATA_MODE_SERVO = 0x04,
	FIRMATA_MODE_PULLUP = 0x0B,
};

/* What a complete message from the board is. */
typedef enum firmata_msg_type {
	FIRMATA_MSG_ANALOG = 1, /* pin, value (14 bits) */
	FIRMATA_MSG_DIGITAL,	/* port, value (8 pins as bits) */
	FIRMATA_MSG_VERSION,	/* major, minor */
	FIRMATA_MSG_SYSEX,	/* command, data[len] (7-bit bytes between command and END) */
	/* messages a board receives (parsed with from_host set) */
	FIRMATA_MSG_VERSION_QUERY,
	FIRMATA_MSG_REPORT_ANALOG,  /* pin = channel, value = on/off */
	FIRMATA_MSG_REPORT_DIGITAL, /* pin = port, value = on/off */
	FIRMATA_MSG_PIN_MODE,	    /* pin, value = mode */
	FIRMATA_MSG_DIGITAL_WRITE,  /* pin, value */
	FIRMATA_MSG_RESET,
} firmata_msg_type;

typedef struct firmata_msg {
	firmata_msg_type type;
	int pin; /* analog channel, or digital port */
	int value;
	int major, minor;
	uint8_t command;     /* sysex command */
	const uint8_t *data; /* sysex payload, valid until the next feed */
	size_t len;
} firmata_msg;

/* A byte-at-a-time parser; zero it to start. */
typedef struct firmata_parser {
	int from_host;	/* set to parse what a host sends (emulators); 0 to parse a board */
	uint8_t status; /* status byte of the message being read, 0 if none */
	uint8_t data[2];
	int ndata;
	int in_sysex;
	uint8_t sysex[FIRMATA_MAX_SYSEX];
	size_t nsysex;
	int overflow;
	unsigned long errors; /* bytes or messages dropped: data without status, overflows */
} firmata_parser;

/*
 * Feed one byte from the board. Returns 1 and fills msg when it completes a message, 0 when more
 * bytes are needed. Garbage (data bytes with no status, unknown status bytes, sysex longer than
 * FIRMATA_MAX_SYSEX) is skipped and counted in p->errors; the parser resynchronises on the next
 * status byte.
 */
int firmata_feed(firmata_parser *p, uint8_t byte, firmata_msg *msg);

/* REPORT_FIRMWARE reply payload: version and name (7-bit pairs). Returns 0 or -1 if malformed. */
int firmata_decode_firmware(const uint8_t *data, size_t len, int *major, int *minor, char *name,
			    size_t namecap);

/* Pin capabilities from a CAPABILITY_RESPONSE payload. */
typedef struct firmata_pin {
	uint32_t modes;		/* bit m set: mode m supported */
	uint8_t resolution[16]; /* bits of resolution per mode (modes 0..15) */
	uint8_t analog_channel; /* from ANALOG_MAPPING_RESPONSE; 127 = not analog */
} firmata_pin;

/* Decode capabilities into pins[0..max); returns the number of pins, or -1 if malformed. */
int firmata_decode_capabilities(const uint8_t *data, size_t len, firmata_pin *pins, int max);

/* Apply an ANALOG_MAPPING_RESPONSE payload to pins[0..npins); returns 0 or -1. */
int firmata_decode_analog_mapping(const uint8_t *data, size_t len, firmata_pin *pins, int npins);

/* STRING_DATA payload to text (7-bit pairs); returns 0 or -1. */
int firmata_decode_string(const uint8_t *data, size_t len, char *out, size_t cap);

/*
 * Encoders: each writes a complete message into buf (at least 8 bytes, more for strings/sysex)
 * and returns its length, or 0 if an argument is out of range.
 */
size_t firmata_enc_query(uint8_t *buf, uint8_t sysex_command); /* F0 cmd F7 */
size_t firmata_enc_version_query(uint8_t *buf);
size_t firmata_enc_report_analog(uint8_t *buf, int channel, int on);
size_t firmata_enc_report_digital(uint8_t *buf, int port, int on);
size_t firmata_enc_pin_mode(uint8_t *buf, int pin, int mode);
size_t firmata_enc_digital_write(uint8_t *buf, int pin, int value);
size_t firmata_enc_analog_write(uint8_t *buf, int pin, int value); /* 14-bit, pins 0-15 */
size_t firmata_enc_sampling_interval(uint8_t *buf, int ms);
size_t firmata_enc_reset(uint8_t *buf);

/*
 * A value for an analog output (PWM duty, servo angle): ANALOG_MESSAGE (E0|pin, 14 bits) for pins
 * 0-15 and values below 16384, else EXTENDED_ANALOG (F0 6F pin LSB MSB [bits 14-20] F7), which
 * StandardFirmata 2.3+ takes for any pin. Returns 3 to 7, or 0 if pin is not 0..127 or value not
 * 0..2^21-1.
 */
size_t firmata_enc_analog_out(uint8_t *buf, int pin, int value);

/*
 * SERVO_CONFIG (F0 70 pin minLSB minMSB maxLSB maxMSB F7): attach a servo to pin with those
 * pulse widths (us; the Arduino Servo library's 544..2400 by default) and put the pin in SERVO
 * mode. Returns 8, or 0 if pin is not 0..127 or a width not 0..16383.
 */
size_t firmata_enc_servo_config(uint8_t *buf, int pin, int min_us, int max_us);

/* PIN_STATE_QUERY (F0 6D pin F7). Returns 4, or 0 if pin is not 0..127. */
size_t firmata_enc_pin_state_query(uint8_t *buf, int pin);

/*
 * A PIN_STATE_RESPONSE payload (what follows 6E: pin, mode, state as 1 to 5 7-bit bytes, least
 * significant first): the pin, its mode and its state (an output's level, a servo's angle, a PWM
 * duty). Returns 0, or -1 if malformed (shorter than pin and mode, or more than 5 state bytes).
 * The pin alone (a pin the board does not have) is malformed too.
 */
int firmata_decode_pin_state(const uint8_t *data, size_t len, int *pin, int *mode, long *state);

/* Board-side PIN_STATE_RESPONSE (for emulators): state in as few 7-bit bytes as it needs (at
 * least one). buf needs 10 bytes. Returns the length, or 0 if pin or mode is out of range. */
size_t firmata_enc_pin_state(uint8_t *buf, int pin, int mode, long state);

/*
 * DIGITAL_MESSAGE from the host: set the output levels of a whole port (pins 8 * port + k from the
 * bits k of value). Every StandardFirmata version obeys it (2.3 and 2.4 ignore
 * SET_DIGITAL_PIN_VALUE, a 2.5 addition); it writes the port's OUTPUT pins and, on INPUT pins, a 1
 * enables the pull-up (the AVR's PORT bit). So value must carry the level of every output pin of
 * the port and the wanted pull-up of every input pin. Returns 3, or 0 if out of range.
 */
size_t firmata_enc_digital_port(uint8_t *buf, int port, int value);

/* What a firmware version can do, from the StandardFirmata sources of each release. */
typedef struct firmata_features {
	int min_interval_ms;  /* MINIMUM_SAMPLING_INTERVAL: 10 up to 2.4, 1 from 2.5 */
	int set_pin_value;    /* SET_DIGITAL_PIN_VALUE (F5) is obeyed (2.5+; OUTPUT pins only) */
	int report_on_enable; /* REPORT_ANALOG/REPORT_DIGITAL send the value at once (2.4+) */
	int pullup_mode;      /* PIN_MODE_PULLUP (0x0B) exists (2.5+; see the capabilities too) */
} firmata_features;

/*
 * The features of protocol version major.minor (the PROTOCOL_VERSION reply). Versions before
 * 2.3 and unknown majors get the most conservative set (those of 2.3).
 */
firmata_features firmata_features_of(int major, int minor);

/*
 * A pin name as teachers write it: "D2".."D127" (case-insensitive) or a bare number. Leading and
 * trailing blanks are allowed. Returns the pin number, or -1 if s is not such a name.
 */
int firmata_parse_pin(const char *s, size_t len);

/*
 * A list of pin names separated by commas or blanks ("D2, D3 D7"): sets bit p of mask[p / 32]
 * for each pin p (mask has FIRMATA_MAX_PINS / 32 words, zeroed by the caller). Returns the number
 * of pins, or -1 - (offset of the bad name) if one is not a pin name.
 */
int firmata_parse_pin_list(const char *s, uint32_t mask[FIRMATA_MAX_PINS / 32]);

/* Board-side encoders (for emulators and tests). */
size_t firmata_enc_analog(uint8_t *buf, int channel, int value);
size_t firmata_enc_digital(uint8_t *buf, int port, int value);
size_t firmata_enc_version(uint8_t *buf, int major, int minor);
/* REPORT_FIRMWARE reply; buf needs 5 + 2 * strlen(name) bytes. */
size_t firmata_enc_firmware(uint8_t *buf, size_t cap, int major, int minor, const char *name);

#endif
