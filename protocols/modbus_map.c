/* modbus_map.c - Modbus register maps: channel descriptions and register decoding (pure). */
#include "modbus_map.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_SHOWN 40 /* bytes of a bad token quoted in an error message */

static const char *const table_names[] = {[MODBUS_MAP_COIL] = "coil",
					  [MODBUS_MAP_DISCRETE] = "discrete",
					  [MODBUS_MAP_HOLDING] = "holding",
					  [MODBUS_MAP_INPUT] = "input"};
static const char *const type_names[] = {"int16", "uint16", "int32", "uint32", "float32", "bool"};
static const char *const order_names[] = {"abcd", "cdab", "badc", "dcba"};

/* Write a printf-style message to err (if any); always returns -1. */
static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!err || !cap)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not valid there. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

/*
 * Copy a token for an error message: at most TOKEN_SHOWN bytes, cut on a character boundary,
 * invalid UTF-8 and control characters shown as '?'. out has at least TOKEN_SHOWN + 4 bytes.
 */
static void show_token(char *out, const char *tok, size_t len)
{
	const unsigned char *s = (const unsigned char *)tok;
	size_t i = 0, o = 0;

	while (i < len) {
		size_t k = utf8_len(s + i, len - i);
		if (o + (k ? k : 1) > TOKEN_SHOWN) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (k == 0 || (k == 1 && (s[i] < 0x20 || s[i] == 0x7F))) {
			out[o++] = '?';
			i++;
		} else {
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
		}
	}
	out[o] = '\0';
}

/* Whether s[0..len) is valid UTF-8 without control characters or spaces. */
static int printable_utf8(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t k = utf8_len(u + i, len - i);
		if (k == 0 || (k == 1 && (u[i] <= 0x20 || u[i] == 0x7F)))
			return 0;
		i += k;
	}
	return 1;
}

/* Whether tok[0..len) equals the C string word. */
static int token_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(tok, word, len) == 0;
}

/* A token copied to a NUL-terminated buffer of cap bytes; -1 if it does not fit. */
static int token_copy(char *buf, size_t cap, const char *tok, size_t len)
{
	if (len >= cap)
		return -1;
	memcpy(buf, tok, len);
	buf[len] = '\0';
	return 0;
}

/* An unsigned integer token (decimal, or 0x hex) up to max; 0 or -1. */
static int parse_uint(const char *tok, size_t len, unsigned long max, unsigned long *out)
{
	char buf[24];
	char *end;
	unsigned long v;
	int base = 10;

	if (token_copy(buf, sizeof buf, tok, len) < 0 || !len)
		return -1;
	if (len > 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'))
		base = 16;
	if (!(buf[base == 16 ? 2 : 0] >= '0' && buf[base == 16 ? 2 : 0] <= '9') &&
	    !(base == 16 && strchr("abcdefABCDEF", buf[2])))
		return -1; /* no sign, no spaces */
	errno = 0;
	v = strtoul(buf, &end, base);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A finite number token; 0 or -1. */
static int parse_number(const char *tok, size_t len, double *out)
{
	char buf[64];
	char *end;
	double v;

	if (!len || token_copy(buf, sizeof buf, tok, len) < 0)
		return -1;
	errno = 0;
	v = strtod(buf, &end);
	if (*end || !isfinite(v) || errno == ERANGE)
		return -1;
	*out = v == 0 ? 0.0 : v; /* -0 is 0: the canonical form leaves it out */
	return 0;
}

/* 1 or 2 registers per type; 0 for a value outside the enum. */
int modbus_map_registers(modbus_map_type type)
{
	switch (type) {
	case MODBUS_MAP_INT16:
	case MODBUS_MAP_UINT16: return 1;
	case MODBUS_MAP_INT32:
	case MODBUS_MAP_UINT32:
	case MODBUS_MAP_FLOAT32: return 2;
	case MODBUS_MAP_BOOL: return 1;
	}
	return 0;
}

/* Coils and discrete inputs hold bits. */
int modbus_map_bits(modbus_map_table table)
{
	return table == MODBUS_MAP_COIL || table == MODBUS_MAP_DISCRETE;
}

/* "input", "holding", "discrete" or "coil"; "?" for anything else. */
const char *modbus_map_table_name(modbus_map_table table)
{
	return table >= MODBUS_MAP_COIL && table <= MODBUS_MAP_INPUT ? table_names[table] : "?";
}

/* "int16"..."bool"; "?" for anything else. */
const char *modbus_map_type_name(modbus_map_type type)
{
	return (unsigned)type <= MODBUS_MAP_BOOL ? type_names[type] : "?";
}

/* "abcd"... ("ab"/"ba" for one-register types); "?" for anything else. */
const char *modbus_map_order_name(modbus_map_order order, modbus_map_type type)
{
	if ((unsigned)order > MODBUS_MAP_DCBA)
		return "?";
	if (modbus_map_registers(type) == 1)
		return order == MODBUS_MAP_BADC || order == MODBUS_MAP_DCBA ? "ba" : "ab";
	return order_names[order];
}

/* The order option: the four names, and ab/ba for one-register types. */
static int parse_order(const char *v, size_t len, modbus_map_type type, modbus_map_order *out,
		       char *err, size_t cap)
{
	char shown[TOKEN_SHOWN + 4];
	int one = modbus_map_registers(type) == 1;

	for (int o = MODBUS_MAP_ABCD; o <= MODBUS_MAP_DCBA; o++)
		if (token_is(v, len, order_names[o])) {
			if (one && (o == MODBUS_MAP_CDAB || o == MODBUS_MAP_DCBA))
				return fail(err, cap,
					    "order=%s swaps words but %s is one register (use "
					    "order=ab or order=ba)",
					    order_names[o], type_names[type]);
			*out = (modbus_map_order)o;
			return 0;
		}
	if (token_is(v, len, "ab") || token_is(v, len, "ba")) {
		if (!one)
			return fail(
			    err, cap,
			    "order=%.2s is for one-register types; %s takes abcd, cdab, badc "
			    "or dcba",
			    v, type_names[type]);
		*out = v[0] == 'a' ? MODBUS_MAP_ABCD : MODBUS_MAP_BADC;
		return 0;
	}
	show_token(shown, v, len);
	return fail(err, cap, "unknown order '%s' (expected %s)", shown,
		    one ? "ab or ba" : "abcd, cdab, badc or dcba");
}

/* A quantity or unit: printable UTF-8 of at most cap - 1 bytes. */
static int parse_label(const char *key, const char *v, size_t len, char *out, size_t outcap,
		       char *err, size_t cap)
{
	char shown[TOKEN_SHOWN + 4];

	show_token(shown, v, len);
	if (!printable_utf8(v, len))
		return fail(err, cap, "%s='%s' is not printable UTF-8 text", key, shown);
	if (len >= outcap)
		return fail(err, cap, "%s='%s' is too long (at most %zu bytes)", key, shown,
			    outcap - 1);
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

/* One key=value option (tok[0..len) with its '=' at eq); 0 or -1. seen: options already given. */
static int parse_option(modbus_map_channel *ch, const char *tok, size_t len, size_t eq,
			unsigned *seen, char *err, size_t cap)
{
	static const char *const keys[] = {"order",    "scale", "offset",
					   "quantity", "unit",	"period"};
	const char *v = tok + eq + 1;
	size_t vlen = len - eq - 1;
	char shown[TOKEN_SHOWN + 4];
	unsigned long ms;
	int k;

	for (k = 0; k < 6 && !token_is(tok, eq, keys[k]); k++)
		;
	if (k == 6) {
		show_token(shown, tok, len);
		return fail(err, cap,
			    "unknown option '%s' (options: order, scale, offset, quantity, unit, "
			    "period)",
			    shown);
	}
	if (*seen & (1u << k))
		return fail(err, cap, "%s= is given twice", keys[k]);
	if (ch->type == MODBUS_MAP_BOOL && k <= 2)
		return fail(err, cap,
			    "%s= does not apply to a bool: a coil or discrete input is one bit, "
			    "0 or 1",
			    keys[k]);
	*seen |= 1u << k;
	if (!vlen)
		return fail(err, cap, "%s= has no value", keys[k]);
	show_token(shown, v, vlen);
	switch (k) {
	case 0: return parse_order(v, vlen, ch->type, &ch->order, err, cap);
	case 1:
		if (parse_number(v, vlen, &ch->scale) < 0)
			return fail(err, cap, "scale='%s' is not a finite number", shown);
		if (ch->scale == 0)
			return fail(err, cap,
				    "scale=0 would make every value the same (the offset)");
		return 0;
	case 2:
		if (parse_number(v, vlen, &ch->offset) < 0)
			return fail(err, cap, "offset='%s' is not a finite number", shown);
		return 0;
	case 3:
		return parse_label("quantity", v, vlen, ch->quantity, sizeof ch->quantity, err,
				   cap);
	case 4: return parse_label("unit", v, vlen, ch->unit, sizeof ch->unit, err, cap);
	default:
		if (parse_uint(v, vlen, MODBUS_MAP_PERIOD_MAX, &ms) < 0 ||
		    ms < MODBUS_MAP_PERIOD_MIN)
			return fail(err, cap, "period='%s' must be an integer of ms from %d to %d",
				    shown, MODBUS_MAP_PERIOD_MIN, MODBUS_MAP_PERIOD_MAX);
		ch->period_ms = (int)ms;
		return 0;
	}
}

/* Whether c separates tokens. */
static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* See modbus_map.h: TABLE ADDRESS TYPE then options; -1 with a message naming the bad token. */
int modbus_map_parse(const char *text, modbus_map_channel *ch, char *err, size_t errcap)
{
	char shown[TOKEN_SHOWN + 4];
	const char *p = text;
	unsigned seen = 0;
	unsigned long addr;
	int ntok = 0;

	if (err && errcap)
		err[0] = '\0';
	memset(ch, 0, sizeof *ch);
	ch->scale = 1.0;
	if (!text)
		return fail(err, errcap, "no channel description");
	for (;;) {
		const char *tok;
		size_t len, eq;
		int t;

		while (is_space(*p))
			p++;
		if (!*p)
			break;
		tok = p;
		while (*p && !is_space(*p))
			p++;
		len = (size_t)(p - tok);
		show_token(shown, tok, len);
		switch (ntok++) {
		case 0:
			for (t = MODBUS_MAP_COIL;
			     t <= MODBUS_MAP_INPUT && !token_is(tok, len, table_names[t]); t++)
				;
			if (t > MODBUS_MAP_INPUT)
				return fail(
				    err, errcap,
				    "unknown register table '%s' (expected input, holding, "
				    "discrete or coil, then the address and the type: input 3 "
				    "float32, discrete 0 bool)",
				    shown);
			ch->table = (modbus_map_table)t;
			break;
		case 1:
			if (parse_uint(tok, len, 65535, &addr) < 0)
				return fail(
				    err, errcap,
				    "'%s' is not a register address (0 to 65535, decimal or "
				    "0x hex, 0-based)",
				    shown);
			ch->address = (uint16_t)addr;
			break;
		case 2:
			for (t = 0; t <= MODBUS_MAP_BOOL && !token_is(tok, len, type_names[t]); t++)
				;
			if (t > MODBUS_MAP_BOOL)
				return fail(
				    err, errcap,
				    "unknown type '%s' (expected int16, uint16, int32, uint32, "
				    "float32, or bool for coils and discrete inputs)",
				    shown);
			if (modbus_map_bits(ch->table) && t != MODBUS_MAP_BOOL)
				return fail(
				    err, errcap,
				    "'%s': a %s is one bit, its type is bool (e.g. %s %u "
				    "bool)",
				    shown, ch->table == MODBUS_MAP_COIL ? "coil" : "discrete input",
				    table_names[ch->table], (unsigned)ch->address);
			if (!modbus_map_bits(ch->table) && t == MODBUS_MAP_BOOL)
				return fail(
				    err, errcap,
				    "bool is the type of coils and discrete inputs; %s "
				    "registers take int16, uint16, int32, uint32 or float32",
				    table_names[ch->table]);
			ch->type = (modbus_map_type)t;
			if (ch->address + modbus_map_registers(ch->type) - 1 > 65535)
				return fail(err, errcap,
					    "%s at %u needs registers %u and %u: beyond the last "
					    "address 65535",
					    type_names[t], (unsigned)ch->address,
					    (unsigned)ch->address, (unsigned)ch->address + 1);
			break;
		default:
			for (eq = 0; eq < len && tok[eq] != '='; eq++)
				;
			if (eq == len)
				return fail(err, errcap,
					    "unexpected '%s' (options are key=value: order, scale, "
					    "offset, quantity, unit, period)",
					    shown);
			if (parse_option(ch, tok, len, eq, &seen, err, errcap) < 0)
				return -1;
		}
	}
	if (ntok < 3)
		return fail(err, errcap,
			    "%s (expected TABLE ADDRESS TYPE [options], e.g. "
			    "input 3 float32 scale=0.1 unit=°C)",
			    ntok == 0	? "empty channel description"
			    : ntok == 1 ? "the register address and type are missing"
					: "the type is missing");
	return 0;
}

/* Append printf-style text to buf (cap bytes) at *n; *n counts what did not fit too. */
static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(*n < cap ? buf + *n : NULL, *n < cap ? cap - *n : 0, fmt, ap);
	va_end(ap);
	*n += (size_t)(len > 0 ? len : 0);
}

/* A number in its shortest form that reads back exactly (num has 40 bytes). */
static const char *shortest(char *num, double v)
{
	snprintf(num, 40, "%.15g", v);
	if (strtod(num, NULL) != v)
		snprintf(num, 40, "%.17g", v);
	return num;
}

/* See modbus_map.h: the canonical text; -1 (buf truncated, NUL-ended) if cap is too small. */
int modbus_map_format(const modbus_map_channel *ch, char *buf, size_t cap)
{
	char num[40];
	size_t n = 0;

	if (cap)
		buf[0] = '\0';
	put(buf, cap, &n, "%s %u %s", modbus_map_table_name(ch->table), (unsigned)ch->address,
	    modbus_map_type_name(ch->type));
	if (ch->order != MODBUS_MAP_ABCD)
		put(buf, cap, &n, " order=%s", modbus_map_order_name(ch->order, ch->type));
	if (ch->scale != 1.0)
		put(buf, cap, &n, " scale=%s", shortest(num, ch->scale));
	if (ch->offset != 0.0)
		put(buf, cap, &n, " offset=%s", shortest(num, ch->offset));
	if (ch->quantity[0])
		put(buf, cap, &n, " quantity=%.*s", (int)sizeof ch->quantity - 1, ch->quantity);
	if (ch->unit[0])
		put(buf, cap, &n, " unit=%.*s", (int)sizeof ch->unit - 1, ch->unit);
	if (ch->period_ms)
		put(buf, cap, &n, " period=%d", ch->period_ms);
	return n < cap ? (int)n : -1;
}

/* The two bytes of a register exchanged. */
static inline uint16_t swap16(uint16_t v)
{
	return (uint16_t)(v >> 8 | v << 8);
}

/* The 32 bits of a two-register value, A the most significant byte. */
static inline uint32_t bits32(modbus_map_order order, const uint16_t *r)
{
	switch (order) {
	case MODBUS_MAP_CDAB: return (uint32_t)r[1] << 16 | r[0];
	case MODBUS_MAP_BADC: return (uint32_t)swap16(r[0]) << 16 | swap16(r[1]);
	case MODBUS_MAP_DCBA: return (uint32_t)swap16(r[1]) << 16 | swap16(r[0]);
	default: return (uint32_t)r[0] << 16 | r[1];
	}
}

/* The 16 bits of a one-register value. */
static inline uint16_t bits16(modbus_map_order order, const uint16_t *r)
{
	return order == MODBUS_MAP_BADC || order == MODBUS_MAP_DCBA ? swap16(r[0]) : r[0];
}

/* The raw value of ch's registers (NaN for a type outside the enum). Never fails otherwise. */
double modbus_map_raw(const modbus_map_channel *ch, const uint16_t *regs)
{
	uint32_t b;
	float f;

	switch (ch->type) {
	case MODBUS_MAP_INT16: return (double)(int16_t)bits16(ch->order, regs);
	case MODBUS_MAP_UINT16: return (double)bits16(ch->order, regs);
	case MODBUS_MAP_INT32: return (double)(int32_t)bits32(ch->order, regs);
	case MODBUS_MAP_UINT32: return (double)bits32(ch->order, regs);
	case MODBUS_MAP_FLOAT32:
		b = bits32(ch->order, regs);
		memcpy(&f, &b, sizeof f);
		return (double)f;
	case MODBUS_MAP_BOOL: return regs[0] ? 1.0 : 0.0;
	}
	return NAN;
}

/* raw * scale + offset. */
double modbus_map_value(const modbus_map_channel *ch, const uint16_t *regs)
{
	return modbus_map_raw(ch, regs) * ch->scale + ch->offset;
}

/* ch's value from a block read at base; -1 if ch is not wholly inside the block. */
int modbus_map_decode_at(const modbus_map_channel *ch, uint16_t base, const uint16_t *regs,
			 size_t nregs, double *out)
{
	int n = modbus_map_registers(ch->type);

	if (n == 0 || ch->address < base || (size_t)(ch->address - base) + (size_t)n > nregs)
		return -1;
	*out = modbus_map_value(ch, regs + (ch->address - base));
	return 0;
}

/* The registers that read back as value; -1 with err when not finite or out of range. */
int modbus_map_encode(const modbus_map_channel *ch, double value, uint16_t *regs, char *err,
		      size_t errcap)
{
	static const double lo[] = {-32768.0, 0.0, -2147483648.0, 0.0};
	static const double hi[] = {32767.0, 65535.0, 2147483647.0, 4294967295.0};
	double raw;
	uint32_t b;
	float f;

	if (modbus_map_registers(ch->type) == 0 || ch->scale == 0 || !isfinite(ch->scale))
		return fail(err, errcap, "invalid channel");
	if (ch->type == MODBUS_MAP_BOOL) {
		if (value != 0 && value != 1)
			return fail(err, errcap, "%g is not a bit value: a coil is 0 or 1", value);
		regs[0] = value == 1;
		return 1;
	}
	raw = (value - ch->offset) / ch->scale;
	if (!isfinite(value) || !isfinite(raw))
		return fail(err, errcap, "%g is not a finite value", value);
	if (ch->type == MODBUS_MAP_FLOAT32) {
		if (fabs(raw) > FLT_MAX)
			return fail(err, errcap, "%g is beyond the range of a float32", value);
		f = (float)raw;
		memcpy(&b, &f, sizeof b);
	} else {
		raw = nearbyint(raw);
		if (raw < lo[ch->type] || raw > hi[ch->type])
			return fail(
			    err, errcap,
			    "%g is out of range: it would be %.0f, beyond a %s (%.0f to %.0f)",
			    value, raw, type_names[ch->type], lo[ch->type], hi[ch->type]);
		b = ch->type == MODBUS_MAP_INT16 || ch->type == MODBUS_MAP_INT32
			? (uint32_t)(int32_t)raw
			: (uint32_t)raw;
	}
	if (modbus_map_registers(ch->type) == 1) {
		uint16_t v = (uint16_t)(b & 0xFFFF);
		regs[0] =
		    ch->order == MODBUS_MAP_BADC || ch->order == MODBUS_MAP_DCBA ? swap16(v) : v;
		return 1;
	}
	switch (ch->order) {
	case MODBUS_MAP_CDAB:
		regs[0] = (uint16_t)(b & 0xFFFF), regs[1] = (uint16_t)(b >> 16);
		break;
	case MODBUS_MAP_BADC:
		regs[0] = swap16((uint16_t)(b >> 16)), regs[1] = swap16((uint16_t)(b & 0xFFFF));
		break;
	case MODBUS_MAP_DCBA:
		regs[0] = swap16((uint16_t)(b & 0xFFFF)), regs[1] = swap16((uint16_t)(b >> 16));
		break;
	default: regs[0] = (uint16_t)(b >> 16), regs[1] = (uint16_t)(b & 0xFFFF);
	}
	return 2;
}

/* Whether channel a comes before channel b in a plan: table, then address. */
static int plan_before(const modbus_map_channel *a, const modbus_map_channel *b)
{
	return a->table != b->table ? a->table < b->table : a->address < b->address;
}

/* See modbus_map.h: sorted, grouped reads; -1 on bad arguments or too few reads. */
int modbus_map_plan(const modbus_map_channel *ch, int *idx, int n, int max_gap, int max_regs,
		    modbus_map_read *reads, int max)
{
	int k = 0;
	long end = 0;

	if (n < 0 || max_gap < 0 || max_regs < 2 || max_regs > MODBUS_MAP_MAX_READ || max < 0)
		return -1;
	for (int i = 1; i < n; i++) {
		/* insertion sort: stable, and n is the number of a device's channels */
		int v = idx[i], j = i;
		while (j > 0 && plan_before(&ch[v], &ch[idx[j - 1]])) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = v;
	}
	for (int i = 0; i < n; i++) {
		const modbus_map_channel *c = &ch[idx[i]];
		long a = c->address, b = a + modbus_map_registers(c->type);
		modbus_map_read *r = k ? &reads[k - 1] : NULL;

		if (b == a)
			return -1; /* not a type */
		if (r && r->table == c->table && a <= end + max_gap &&
		    (b > end ? b : end) - r->address <= max_regs) {
			if (b > end)
				end = b;
			r->count = (uint16_t)(end - r->address);
			r->n++;
			continue;
		}
		if (k == max)
			return -1;
		r = &reads[k++];
		r->table = c->table;
		r->address = c->address;
		r->count = (uint16_t)(b - a);
		r->first = i;
		r->n = 1;
		end = b;
	}
	return k;
}
