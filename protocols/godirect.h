/* godirect.h - the Vernier Go Direct (GDX) USB HID protocol as pure functions over byte buffers. */
#ifndef LB_PROTO_GODIRECT_H
#define LB_PROTO_GODIRECT_H

/*
 * Sources: VernierST/godirect-py (godirect/device.py, device_usb.py, backend_usb.py), the
 * reference; VernierST/godirect-js (Device.js, WebUsbDeviceAdapter.js) and VernierST/GDXLib (the
 * packed C structs of the command parameters and replies) where it is silent.
 *
 * Packets. Every packet is [0] kind, [1] total length (header included, at most 255), [2] a
 * rolling counter, [3] a checksum: the sum of every byte of the packet except byte 3, modulo
 * 256; then [4] the command (or measurement type) and its payload.
 *   - The host's commands start with 0x58. The counter is reset to 0xFF with INIT and
 *     decremented before each packet, so INIT carries 0xFE, the next command 0xFD... (as in
 *     godirect-py and godirect-js; it wraps from 0x00 to 0xFF).
 *   - The device's reply to a command echoes the command at [4]; [5] is the echoed counter as
 *     godirect-js reads it (not checked: not every firmware echoes it) and the reply's payload
 *     starts at [6]. Any first byte other than 0x20 is a reply (godirect-py, godirect-js).
 *   - Measurement packets start with 0x20; [4] is the measurement type (GDX_MEAS_*).
 *
 * USB framing. The device is a HID device (08f7:0010) with 64-byte reports without report ids.
 * A report is [0] the number of packet bytes it carries (1..63), then those bytes, then zero
 * padding; a packet longer than 63 bytes spans several reports (a device info reply, 158 bytes,
 * takes three). hidapi's write buffer has a leading 0 (the report id hidapi strips) before the
 * length byte: [0, len, packet..., 0...] is 65 bytes for hidapi, 64 on the wire.
 *
 * Everything here is pure: no I/O, no globals, no logging, no allocation.
 */

#include <stddef.h>
#include <stdint.h>

#define GDX_VID 0x08F7
#define GDX_PID 0x0010
#define GDX_REPORT_SIZE 64
#define GDX_REPORT_DATA 63 /* packet bytes one report can carry */
#define GDX_PACKET_MAX 255 /* the length byte */
#define GDX_HEADER_SIZE 5  /* kind, length, counter, checksum, command */
#define GDX_MAX_SENSORS 32 /* sensor masks are 32 bits */
#define GDX_COUNTER_INIT 0xFF

#define GDX_KIND_COMMAND 0x58	  /* host -> device, and the replies our emulations send */
#define GDX_KIND_MEASUREMENT 0x20 /* device -> host */

/* Commands (godirect-py CMD_ID_*). */
enum {
	GDX_CMD_GET_STATUS = 0x10,
	GDX_CMD_START = 0x18,
	GDX_CMD_STOP = 0x19,
	GDX_CMD_INIT = 0x1A,
	GDX_CMD_SET_PERIOD = 0x1B,
	GDX_CMD_GET_SENSOR_INFO = 0x50,
	GDX_CMD_GET_AVAILABLE_MASK = 0x51,
	GDX_CMD_DISCONNECT = 0x54,
	GDX_CMD_GET_DEVICE_INFO = 0x55,
	GDX_CMD_GET_DEFAULT_MASK = 0x56,
};

/* Measurement packet types (byte 4 of a 0x20 packet). */
enum {
	GDX_MEAS_NORMAL_REAL32 = 0x06,	  /* u16 mask @5, count @7, f32 values @9 */
	GDX_MEAS_WIDE_REAL32 = 0x07,	  /* u32 mask @5, count @9, f32 values @11 */
	GDX_MEAS_SINGLE_REAL32 = 0x08,	  /* sensor @6, count @7, f32 values @8 */
	GDX_MEAS_SINGLE_INT32 = 0x09,	  /* sensor @6, count @7, i32 values @8 */
	GDX_MEAS_APERIODIC_REAL32 = 0x0A, /* as 0x08, values at irregular times */
	GDX_MEAS_APERIODIC_INT32 = 0x0B,  /* as 0x09, values at irregular times */
	GDX_MEAS_START_TIME = 0x0C,	  /* i64 start time (us since 1970) @6 */
	GDX_MEAS_DROPPED = 0x0D,	  /* u32 number of dropped measurements @6 */
	GDX_MEAS_PERIOD = 0x0E,		  /* u64 period (us) @6 */
};

/* Errors of the checks and decoders (all negative). */
enum {
	GDX_ERR_SHORT = -1,    /* too short, or the length byte does not match */
	GDX_ERR_CHECKSUM = -2, /* the checksum byte does not match the sum */
	GDX_ERR_KIND = -3,     /* a measurement where a reply was expected, or the reverse */
	GDX_ERR_COMMAND = -4,  /* a reply to another command */
	GDX_ERR_FORMAT = -5,   /* a field is out of range (count, sensor number, sizes) */
	GDX_ERR_TYPE = -6,     /* an unknown measurement type */
	GDX_ERR_SPACE = -7,    /* the output buffer is too small, or an argument is out of range */
};

/* The checksum of a packet of len bytes: the sum of every byte except byte 3, modulo 256. */
uint8_t gdx_checksum(const uint8_t *pkt, size_t len);

/*
 * Check a received packet: len >= 5, pkt[1] == len and the checksum. Returns 0, GDX_ERR_SHORT or
 * GDX_ERR_CHECKSUM.
 */
int gdx_packet_check(const uint8_t *pkt, size_t len);

/*
 * Build a command packet: 0x58, length, counter, checksum, cmd, payload. *counter is decremented
 * first and its new value used (see above). Returns the length, or 0 (GDX_ERR_SPACE situations:
 * the packet exceeds cap or 255 bytes; *counter then stays as it was).
 */
size_t gdx_build_command(uint8_t *out, size_t cap, uint8_t *counter, uint8_t cmd,
			 const uint8_t *payload, size_t plen);

/* The commands, built with gdx_build_command (out needs 32 bytes); their length or 0. */
size_t gdx_enc_init(uint8_t *out, size_t cap, uint8_t *counter); /* resets *counter first */
size_t gdx_enc_simple(uint8_t *out, size_t cap, uint8_t *counter, uint8_t cmd); /* no payload */
size_t gdx_enc_sensor_info(uint8_t *out, size_t cap, uint8_t *counter, int sensor);
size_t gdx_enc_set_period(uint8_t *out, size_t cap, uint8_t *counter, uint64_t period_us);
size_t gdx_enc_start(uint8_t *out, size_t cap, uint8_t *counter, uint32_t mask);
size_t gdx_enc_stop(uint8_t *out, size_t cap, uint8_t *counter);

/*
 * Wrap a packet into 64-byte reports (length byte, up to 63 packet bytes, zero padding) written
 * one after the other in out. Returns the number of reports, or GDX_ERR_SPACE when len is 0 or
 * more than 255 or out holds fewer than the reports needed.
 */
int gdx_wrap_reports(const uint8_t *pkt, size_t len, uint8_t *out, size_t cap);

/*
 * Reassembly of the packets the device sends, from its 64-byte input reports. Zero it to start.
 * A packet starts at the beginning of a report and may continue in the following reports; the
 * bytes a report carries are given by its length byte (a length byte of 0 or above 63 is read as
 * 63, the whole report, as godirect-js does). Bytes left in a report after a complete packet
 * start the next packet. A packet whose length byte is below 5 is garbage: the rest of its report
 * is dropped and counted in errors.
 */
typedef struct gdx_reasm {
	uint8_t buf[GDX_PACKET_MAX + GDX_REPORT_DATA];
	size_t have;	     /* bytes of the packet being assembled */
	const uint8_t *next; /* unread bytes of the current report */
	size_t left;
	unsigned long errors; /* reports or bytes dropped as garbage */
} gdx_reasm;

/* Take one input report (len <= 64; the first byte is its length byte). Replaces any unread rest
 * of the previous report (call gdx_reasm_next until it returns 0 first). */
void gdx_reasm_feed(gdx_reasm *r, const uint8_t *report, size_t len);

/*
 * The next complete packet of the reports fed so far: returns 1 and sets *pkt and *len (valid
 * until the next call of gdx_reasm_next or gdx_reasm_feed, and while the report lives), or 0 when
 * more reports are needed. Never fails; garbage is counted in r->errors. The packet is not
 * checked: use gdx_packet_check.
 */
int gdx_reasm_next(gdx_reasm *r, const uint8_t **pkt, size_t *len);

/* Forget a partial packet (after a timeout, or when the device is restarted). */
void gdx_reasm_reset(gdx_reasm *r);

/* A reply: the command it answers, the counter it echoes and its payload (into the packet). */
typedef struct gdx_reply {
	uint8_t cmd;
	uint8_t echo;
	const uint8_t *payload;
	size_t len;
} gdx_reply;

/*
 * Read a checked packet (gdx_packet_check) as the reply to cmd. Returns 0, GDX_ERR_KIND (a
 * measurement packet), GDX_ERR_SHORT (fewer than 6 bytes) or GDX_ERR_COMMAND (another command;
 * out is filled anyway, so the caller can tell which).
 */
int gdx_parse_reply(const uint8_t *pkt, size_t len, uint8_t cmd, gdx_reply *out);

/* GET_STATUS reply payload (12 bytes). */
typedef struct gdx_status {
	uint8_t status;		    /* D2PIO_MASK_STATUS_* error bits */
	uint8_t fw_major, fw_minor; /* main CPU */
	uint16_t fw_build;
	uint8_t fw2_major, fw2_minor; /* radio CPU */
	uint16_t fw2_build;
	uint8_t battery_percent;
	uint8_t charger_state; /* 0 idle, 1 charging, 2 complete, 3 error */
} gdx_status;
#define GDX_STATUS_SIZE 12
int gdx_decode_status(const uint8_t *payload, size_t len, gdx_status *out);

/* GET_DEVICE_INFO reply payload (152 bytes). Strings are NUL-terminated and made printable. */
typedef struct gdx_device_info {
	char order_code[17];
	char serial[17];
	char name[33];
	uint16_t manufacturer_id;
	uint16_t year;
	uint8_t month, day;
	uint8_t fw_major, fw_minor;
	uint16_t fw_build;
	uint8_t fw2_major, fw2_minor;
	uint16_t fw2_build;
	uint8_t ble_address[6]; /* [5]:[4]:[3]:[2]:[1]:[0] when shown */
	uint32_t nvmem_size;
	char description[65];
} gdx_device_info;
#define GDX_DEVICE_INFO_SIZE 152
int gdx_decode_device_info(const uint8_t *payload, size_t len, gdx_device_info *out);

/* GET_AVAILABLE_MASK and GET_DEFAULT_MASK reply payload: a little-endian u32 (4 bytes). */
int gdx_decode_mask(const uint8_t *payload, size_t len, uint32_t *mask);

/* GET_SENSOR_INFO reply payload (148 bytes). */
typedef struct gdx_sensor_info {
	int number;	       /* 0..31 */
	uint32_t id;	       /* Vernier's sensor id; 0 means no sensor (godirect-js skips it) */
	uint8_t numeric_type;  /* 0 real, 1 int32 */
	uint8_t sampling_mode; /* 0 periodic, 1 aperiodic */
	char description[61];
	char units[33]; /* UTF-8, e.g. "°C" */
	double uncertainty, min, max;
	uint32_t min_period_us;
	uint64_t max_period_us;
	uint32_t typ_period_us;
	uint32_t granularity_us; /* valid periods are multiples of it */
	uint32_t exclusion_mask; /* sensors that cannot run together with this one */
} gdx_sensor_info;
#define GDX_SENSOR_INFO_SIZE 148
int gdx_decode_sensor_info(const uint8_t *payload, size_t len, gdx_sensor_info *out);

/*
 * A measurement packet, decoded without copying. Values are 32-bit little-endian, row after row:
 * the value of the k-th sensor of the mask (in ascending sensor number) in row r is at
 * values + 4 * (r * nsensors + k).
 */
typedef struct gdx_meas {
	uint8_t type;	 /* GDX_MEAS_* */
	uint8_t counter; /* byte 2, the device's rolling counter */
	uint32_t mask;	 /* sensors of the values: the packet's mask, or 1 << sensor */
	int sensor;	 /* single-channel and aperiodic types: the sensor number; else -1 */
	int nsensors;	 /* bits set in mask */
	int count;	 /* rows */
	int is_int;	 /* values are int32 (0x09, 0x0B), else float32 */
	int aperiodic;	 /* 0x0A, 0x0B: each value at its own, irregular, time */
	const uint8_t *values;
	int has_value;	       /* 0x0C, 0x0D, 0x0E: the value below is present */
	int64_t start_time_us; /* 0x0C */
	uint32_t dropped;      /* 0x0D */
	uint64_t period_us;    /* 0x0E */
} gdx_meas;

/*
 * Decode a measurement packet (the checksum is not checked here: see gdx_packet_check). Returns 0,
 * GDX_ERR_KIND (not 0x20), GDX_ERR_SHORT, GDX_ERR_TYPE or GDX_ERR_FORMAT (a negative count, a
 * sensor number above 31, values beyond the packet). For 0x0C/0x0D/0x0E, whose payload layout
 * Vernier has not published (godirect-py, godirect-js and GDXLib skip them), a packet too short
 * for the value decodes with has_value 0: the event is known, its size is not.
 */
int gdx_decode_measurement(const uint8_t *pkt, size_t len, gdx_meas *out);

/*
 * Copy the count values of the k-th sensor of a decoded measurement (0 <= k < nsensors) into out
 * as floats (int32 values converted). Returns count, or GDX_ERR_FORMAT for a bad k.
 */
int gdx_meas_extract(const gdx_meas *m, int k, float *out);

/* The bit number of the k-th set bit of mask (k from 0), or -1. */
int gdx_mask_nth(uint32_t mask, int k);

/*
 * Device-side encoders, for emulations, tests and benchmarks. gdx_enc_reply builds a reply
 * (kind 0x58, counter and echo given); gdx_enc_normal a 0x06 packet of count rows of the sensors
 * of mask (values row after row); gdx_enc_wide a 0x07 packet; gdx_enc_single a 0x08-0x0B packet
 * (values: count floats, or int32 bit patterns for the int types); gdx_enc_event a 0x0C/0x0D/0x0E
 * packet with its value. Each returns the length, or 0 when it does not fit cap or 255 bytes.
 */
size_t gdx_enc_reply(uint8_t *out, size_t cap, uint8_t counter, uint8_t cmd, uint8_t echo,
		     const uint8_t *payload, size_t plen);
size_t gdx_enc_normal(uint8_t *out, size_t cap, uint8_t counter, uint16_t mask, int count,
		      const float *values);
size_t gdx_enc_wide(uint8_t *out, size_t cap, uint8_t counter, uint32_t mask, int count,
		    const float *values);
size_t gdx_enc_single(uint8_t *out, size_t cap, uint8_t counter, uint8_t type, int sensor,
		      int count, const void *values);
size_t gdx_enc_event(uint8_t *out, size_t cap, uint8_t counter, uint8_t type, uint64_t value);

/* Reply payload encoders (the inverse of the decoders); the payload size, or 0 if cap is short. */
size_t gdx_enc_sensor_info_payload(uint8_t *out, size_t cap, const gdx_sensor_info *s);
size_t gdx_enc_device_info_payload(uint8_t *out, size_t cap, const gdx_device_info *d);

#endif
