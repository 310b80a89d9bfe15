/* modbus_map.h - Modbus register maps: channel descriptions and register decoding (pure). */
#ifndef LB_PROTO_MODBUS_MAP_H
#define LB_PROTO_MODBUS_MAP_H

/*
 * A channel of a Modbus sensor is described by one line of the configuration, the value of
 * `channel.NAME = ...` in a [modbus.NAME] section:
 *
 *     TABLE ADDRESS TYPE [order=ORDER] [scale=X] [offset=X] [quantity=Q] [unit=U] [period=MS]
 *
 * TABLE     input    input registers (function 4, read-only)
 *           holding  holding registers (function 3; written with functions 6 and 16)
 *           discrete discrete inputs, one bit each (function 2, read-only): a door contact
 *           coil     coils, one bit each (function 1; written with function 5): a relay
 * ADDRESS   the register's (or bit's) address in the protocol, 0..65535, decimal or 0x hex. It
 *           is 0-based: a datasheet's "register 30001" is `input 0`, "40001" is `holding 0`,
 *           "10001" is `discrete 0` and "00001" is `coil 0`.
 * TYPE      int16, uint16          one register
 *           int32, uint32, float32 two registers, ADDRESS and ADDRESS + 1 (float32: IEEE 754)
 *           bool                   one bit: the type of coils and discrete inputs (and theirs
 *                                  only); the value is 0 or 1, so order=, scale= and offset=
 *                                  do not apply
 * order=    where the value's bytes lie, A the most significant ... D the least, listed in the
 *           order they come on the wire (register ADDRESS first, high byte first):
 *             abcd  big-endian, high word first: the Modbus convention (default)
 *             cdab  low word first ("word swap", many PLCs and meters)
 *             badc  bytes swapped within each word
 *             dcba  little-endian
 *           A one-register type takes ab (default) or ba (bytes swapped).
 * scale=    the value is raw * scale + offset (defaults 1 and 0); scale is finite and non-zero
 * offset=
 * quantity= what the stream measures and its unit, as announced in stream headers (default
 * unit=     none): UTF-8 without spaces or control characters, at most 31 and 15 bytes
 * period=   poll period of this channel in ms, 10..3600000 (default: the device's period_ms)
 *
 * Tokens are separated by spaces or tabs; TABLE ADDRESS TYPE come first in that order, then the
 * options in any order, each at most once. Example:
 *
 *     channel.temperature = input 3 float32 order=cdab scale=0.1 offset=-40 quantity=temperature
 * unit=°C
 *
 * Everything here is pure: no I/O, no globals, no logging, no allocation.
 */

#include <stddef.h>
#include <stdint.h>

#define MODBUS_MAP_QUANTITY_MAX 32 /* bytes, with the NUL */
#define MODBUS_MAP_UNIT_MAX 16
#define MODBUS_MAP_PERIOD_MIN 10
#define MODBUS_MAP_PERIOD_MAX 3600000
#define MODBUS_MAP_MAX_READ 125 /* registers in one read request (the protocol's limit) */

/* Tables; the values are the read function codes. Coils and discrete inputs hold bits. */
typedef enum modbus_map_table {
	MODBUS_MAP_COIL = 1,
	MODBUS_MAP_DISCRETE = 2,
	MODBUS_MAP_HOLDING = 3,
	MODBUS_MAP_INPUT = 4
} modbus_map_table;

typedef enum modbus_map_type {
	MODBUS_MAP_INT16,
	MODBUS_MAP_UINT16,
	MODBUS_MAP_INT32,
	MODBUS_MAP_UINT32,
	MODBUS_MAP_FLOAT32,
	MODBUS_MAP_BOOL, /* one bit of a coil or discrete input, read as 0 or 1 */
} modbus_map_type;

/* Byte orders; for one-register types ABCD is "ab" and BADC is "ba". */
typedef enum modbus_map_order {
	MODBUS_MAP_ABCD,
	MODBUS_MAP_CDAB,
	MODBUS_MAP_BADC,
	MODBUS_MAP_DCBA,
} modbus_map_order;

/* A parsed channel description. */
typedef struct modbus_map_channel {
	modbus_map_table table;
	uint16_t address;
	modbus_map_type type;
	modbus_map_order order;
	double scale, offset;
	int period_ms; /* 0: the device's period */
	char quantity[MODBUS_MAP_QUANTITY_MAX];
	char unit[MODBUS_MAP_UNIT_MAX];
} modbus_map_channel;

/*
 * Parse a channel description (syntax above) into *ch. Returns 0, or -1 with a one-line message
 * in err (valid UTF-8, naming the bad token: "unknown type 'flaot32' (expected int16, uint16,
 * int32, uint32 or float32)"). err may be NULL; *ch is unspecified after a failure.
 */
int modbus_map_parse(const char *text, modbus_map_channel *ch, char *err, size_t errcap);

/*
 * The canonical description of ch (defaults left out, numbers in their shortest exact form), so
 * that parsing it gives ch back. Returns its length, or -1 if it does not fit in cap bytes.
 */
int modbus_map_format(const modbus_map_channel *ch, char *buf, size_t cap);

/*
 * Number of addresses of its table a type takes: 1 or 2 registers, 1 bit for bool (0 for a
 * value outside the enum). A plan counts bits and registers alike, in their own tables.
 */
int modbus_map_registers(modbus_map_type type);

/* Whether a table holds bits (coils, discrete inputs) rather than 16-bit registers. */
int modbus_map_bits(modbus_map_table table);

/*
 * Names: "input"/"holding"/"discrete"/"coil", "int16"..."bool", and "abcd"... (or "ab"/"ba" for a
 * one-register type).
 */
const char *modbus_map_table_name(modbus_map_table table);
const char *modbus_map_type_name(modbus_map_type type);
const char *modbus_map_order_name(modbus_map_order order, modbus_map_type type);

/*
 * The value of ch in its registers regs[0..modbus_map_registers(ch->type)), as read (host order,
 * one uint16 per register; a bit as one uint16, any non-zero value being 1): raw (before scale
 * and offset) and scaled (raw * scale + offset). A
 * float32 may decode to NaN or an infinity, which the caller decides what to do with.
 */
double modbus_map_raw(const modbus_map_channel *ch, const uint16_t *regs);
double modbus_map_value(const modbus_map_channel *ch, const uint16_t *regs);

/*
 * The scaled value of ch from a block of nregs registers read from address base of ch's table.
 * Returns 0 with *out set, or -1 if ch's registers are not all inside the block.
 */
int modbus_map_decode_at(const modbus_map_channel *ch, uint16_t base, const uint16_t *regs,
			 size_t nregs, double *out);

/*
 * The inverse, to write a holding register or a coil: the registers that make ch read value
 * (integer types round to the nearest raw value; a bool takes exactly 0 or 1, written as 0 or 1
 * in regs[0]). Returns the number of registers written to regs (1 or 2), or -1 with a message in
 * err when value is not finite or out of the type's range after scaling.
 */
int modbus_map_encode(const modbus_map_channel *ch, double value, uint16_t *regs, char *err,
		      size_t errcap);

/* One read request of a plan: count registers of table from address, for idx[first..first+n). */
typedef struct modbus_map_read {
	modbus_map_table table;
	uint16_t address;
	uint16_t count;
	int first, n;
} modbus_map_read;

/*
 * Plan the requests that read the channels ch[idx[0]], ... ch[idx[n-1]]: sorts idx by table and
 * address (stable), then groups channels of one table whose registers overlap, touch, or are at
 * most max_gap registers apart, into one read of at most max_regs (2..125) registers. Fills
 * reads[0..k) and returns k, or -1 if max reads are not enough or an argument is out of range.
 */
int modbus_map_plan(const modbus_map_channel *ch, int *idx, int n, int max_gap, int max_regs,
		    modbus_map_read *reads, int max);

#endif
