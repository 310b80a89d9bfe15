/* board.c - MicroPython boards as robots: programs wrapped for checking, motor and display code
 * per robot kind, console text made clean UTF-8. Pure: no I/O, no clock. */
#include "board.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const robot_names[] = {"none", "maqueen", "bitbot", "bitbot-classic"};

int mpb_robot_parse(const char *name, mpb_robot *out)
{
	for (size_t i = 0; name && i < sizeof robot_names / sizeof *robot_names; i++)
		if (strcmp(name, robot_names[i]) == 0) {
			*out = (mpb_robot)i;
			return 0;
		}
	return -1;
}

const char *mpb_robot_name(mpb_robot r)
{
	return (unsigned)r < sizeof robot_names / sizeof *robot_names ? robot_names[r] : "none";
}

int mpb_robot_microbit(mpb_robot r)
{
	return r == MPB_ROBOT_MAQUEEN || r == MPB_ROBOT_BITBOT || r == MPB_ROBOT_BITBOT_CLASSIC;
}

/* v clamped to -1..1 (NaN: 0) scaled to 0..full, with its direction (1 = backwards). */
static int scale(double v, int full, int *backwards)
{
	if (!(v == v))
		v = 0;
	if (v > 1)
		v = 1;
	if (v < -1)
		v = -1;
	*backwards = v < 0;
	return (int)lround(fabs(v) * full);
}

size_t mpb_move_code(mpb_robot r, double left, double right, char *out, size_t cap)
{
	int lb, rb, ls, rs, n;

	switch (r) {
	case MPB_ROBOT_MAQUEEN:
		/* DFRobot's MicroPython driver: i2c.write(0x10, [motor register, direction
		 * (0 forward, 1 backward), speed 0..255]), register 0 left (M1), 2 right (M2) */
		ls = scale(left, 255, &lb);
		rs = scale(right, 255, &rb);
		n = snprintf(out, cap,
			     "from microbit import i2c\n"
			     "i2c.write(16,bytes([0,%d,%d]))\n"
			     "i2c.write(16,bytes([2,%d,%d]))\n",
			     lb, ls, rb, rs);
		break;
	case MPB_ROBOT_BITBOT:
	case MPB_ROBOT_BITBOT_CLASSIC: {
		/* 4tronix's driver: each motor has a forward and a reverse pin, PWM 0..1023 on one
		 * of them and 0 on the other (XL: P16/P8 and P14/P12; classic: P0/P8, P1/P12) */
		int xl = r == MPB_ROBOT_BITBOT;
		ls = scale(left, 1023, &lb);
		rs = scale(right, 1023, &rb);
		n = snprintf(out, cap,
			     "from microbit import pin%d,pin8,pin%d,pin12\n"
			     "pin%d.write_analog(%d)\npin8.write_analog(%d)\n"
			     "pin%d.write_analog(%d)\npin12.write_analog(%d)\n",
			     xl ? 16 : 0, xl ? 14 : 1, xl ? 16 : 0, lb ? 0 : ls, lb ? ls : 0,
			     xl ? 14 : 1, rb ? 0 : rs, rb ? rs : 0);
		break;
	}
	default: return 0;
	}
	if (n < 0 || (size_t)n >= cap)
		return 0;
	return (size_t)n;
}

/* Append the bytes literal body of data[0..len) at out+o (cap counted); -1 when it does not fit.
 * Printable ASCII but \ and ' as is, \n \r \t short, everything else \xNN. */
static int literal(const uint8_t *data, size_t len, char *out, size_t cap, size_t *o)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		uint8_t c = data[i];
		char e = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : 0;
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
			if (*o + 1 >= cap)
				return -1;
			out[(*o)++] = (char)c;
		} else if (e) {
			if (*o + 2 >= cap)
				return -1;
			out[(*o)++] = '\\';
			out[(*o)++] = e;
		} else {
			if (*o + 4 >= cap)
				return -1;
			out[(*o)++] = '\\';
			out[(*o)++] = 'x';
			out[(*o)++] = hex[c >> 4];
			out[(*o)++] = hex[c & 15];
		}
	}
	return 0;
}

/* out[0..o) + the printf text; returns the new length, or 0 when it does not fit. */
static size_t append(char *out, size_t cap, size_t o, const char *text)
{
	size_t n = strlen(text);

	if (o + n + 1 > cap)
		return 0;
	memcpy(out + o, text, n + 1);
	return o + n;
}

size_t mpb_display_code(const char *text, size_t len, char *out, size_t cap)
{
	size_t o;

	if (cap < 64)
		return 0;
	o = (size_t)snprintf(out, cap, "from microbit import display\n_t=str(b'");
	if (literal((const uint8_t *)text, len, out, cap, &o) < 0)
		return 0;
	return append(out, cap, o,
		      "','utf-8')\nif len(_t)==1:display.show(_t)\n"
		      "else:display.scroll(_t,wait=False)\ndel _t\n");
}

size_t mpb_image_code(const char *name, char *out, size_t cap)
{
	size_t n = name ? strlen(name) : 0;
	int w;

	if (n == 0 || n > 24 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") != n ||
	    (name[0] >= '0' && name[0] <= '9'))
		return 0;
	w = snprintf(out, cap, "from microbit import display,Image\ndisplay.show(Image.%s)\n",
		     name);
	return w < 0 || (size_t)w >= cap ? 0 : (size_t)w;
}

void mpb_sums(const uint8_t *data, size_t len, uint32_t *a, uint32_t *b)
{
	uint32_t x = 1, y = 0;

	for (size_t i = 0; i < len; i++) {
		x = (x + data[i]) % 65521;
		y = (y + x) % 65521;
	}
	*a = x;
	*b = y;
}

size_t mpb_wrap_size(size_t len)
{
	return 4 * len + 256;
}

size_t mpb_wrap(const uint8_t *src, size_t len, char *out, size_t cap)
{
	uint32_t a, b;
	int n;
	size_t o;

	if (cap < 8 || (len && !src))
		return 0;
	mpb_sums(src, len, &a, &b);
	/* one expression statement: cut anywhere, it does not compile; no number is followed by a
	 * space and a letter (a space lost there is only a warning in CPython 3.11+) */
	n = snprintf(out, cap,
		     "(lambda s:exec(s,globals())if(len(s)==%zu)and((1+sum(s))%%65521==%u)and("
		     "(len(s)+sum((len(s)-i)*x for i,x in enumerate(s)))%%65521==%u)else "
		     "exec(\"raise OSError('" MPB_CORRUPTED "')\"))(b'",
		     len, (unsigned)a, (unsigned)b);
	if (n < 0 || (size_t)n >= cap)
		return 0;
	o = (size_t)n;
	if (literal(src, len, out, cap, &o) < 0)
		return 0;
	return append(out, cap, o, "')\n");
}

/* The length of the UTF-8 sequence a lead byte starts (0: not a lead byte). */
static size_t seq_len(uint8_t c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Whether s[0..n) (n = seq_len(s[0])) is a valid sequence (no overlong, surrogate, > U+10FFFF),
 * looking only at the k bytes present (k <= n): 1 valid so far, 0 invalid. */
static int seq_ok(const uint8_t *s, size_t n, size_t k)
{
	for (size_t i = 1; i < k; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (k >= 2) {
		if (n == 3 && s[0] == 0xe0 && s[1] < 0xa0)
			return 0;
		if (n == 3 && s[0] == 0xed && s[1] > 0x9f)
			return 0;
		if (n == 4 && s[0] == 0xf0 && s[1] < 0x90)
			return 0;
		if (n == 4 && s[0] == 0xf4 && s[1] > 0x8f)
			return 0;
	}
	return 1;
}

/* Put one byte of input through t; appends to out at *o. */
static void text_byte(mpb_text *t, uint8_t c, char *out, size_t *o)
{
	static const char fffd[] = "\xef\xbf\xbd";

	if (t->nheld == 1 && t->held[0] == '\r') {
		t->nheld = 0;
		if (c == '\n') {
			out[(*o)++] = '\n';
			return;
		}
		out[(*o)++] = '\r';
	}
	if (t->nheld) { /* inside a multi-byte sequence */
		size_t n = seq_len(t->held[0]);
		t->held[t->nheld] = c;
		if (seq_ok(t->held, n, t->nheld + 1)) {
			if (++t->nheld == n) {
				memcpy(out + *o, t->held, n);
				*o += n;
				t->nheld = 0;
			}
			return;
		}
		memcpy(out + *o, fffd, 3); /* the sequence so far is invalid; c starts anew */
		*o += 3;
		t->nheld = 0;
	}
	if (c == '\r') {
		t->held[0] = c;
		t->nheld = 1;
	} else if (c < 0x80) {
		out[(*o)++] = (char)c;
	} else if (seq_len(c) >= 2) {
		t->held[0] = c;
		t->nheld = 1;
	} else {
		memcpy(out + *o, fffd, 3);
		*o += 3;
	}
}

size_t mpb_text_feed(mpb_text *t, const uint8_t *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++)
		text_byte(t, in[i], out, &o);
	out[o] = '\0';
	return o;
}

size_t mpb_text_flush(mpb_text *t, char *out)
{
	size_t o = 0;

	if (t->nheld == 1 && t->held[0] == '\r')
		out[o++] = '\r';
	else if (t->nheld) {
		memcpy(out, "\xef\xbf\xbd", 3);
		o = 3;
	}
	t->nheld = 0;
	out[o] = '\0';
	return o;
}

size_t mpb_last_line(const char *text, size_t len, char *out, size_t cap)
{
	size_t end = len, start, n;

	if (cap == 0)
		return 0;
	while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' ' ||
			   text[end - 1] == '\t'))
		end--;
	start = end;
	while (start > 0 && text[start - 1] != '\n' && text[start - 1] != '\r')
		start--;
	while (start < end && (text[start] == ' ' || text[start] == '\t'))
		start++;
	n = end - start < cap - 1 ? end - start : cap - 1;
	memcpy(out, text + start, n);
	out[n] = '\0';
	return n;
}
