/* board.c - the Ciclop/Horus board (horus-fw) as a pure model: G-code words, queued moves, lasers.
 */
#include "board.h"

#include "../../protocols/ciclop.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append text to out[cap] at *n, cut to fit, NUL-terminated. */
static void emit(char *out, size_t cap, size_t *n, const char *text)
{
	size_t l = strlen(text);

	if (cap == 0)
		return;
	if (*n + l >= cap)
		l = cap - 1 - *n;
	memcpy(out + *n, text, l);
	*n += l;
	out[*n] = 0;
}

size_t ciclop_board_reset(ciclop_board *b, double now_ms, char *out, size_t cap)
{
	size_t n = 0;
	long executed = b->executed, refused = b->refused;

	memset(b, 0, sizeof *b);
	b->executed = executed, b->refused = refused;
	b->speed = 0; /* gc_init: no feed rate until an F word */
	b->start_ms = b->end_ms = now_ms;
	for (int i = 0; i < 8; i++)
		b->sensor[i] = 512;
	if (cap)
		out[0] = 0;
	emit(out, cap, &n, "\r\n" CICLOP_BOARD_VERSION " ['$' for help]\r\n");
	return n;
}

double ciclop_board_angle(const ciclop_board *b, double now_ms)
{
	if (now_ms >= b->end_ms)
		return b->to_deg;
	if (now_ms <= b->start_ms)
		return b->from_deg;
	return b->from_deg +
	       (b->to_deg - b->from_deg) * (now_ms - b->start_ms) / (b->end_ms - b->start_ms);
}

double ciclop_board_reply_ms(const ciclop_board *b)
{
	return b->end_ms;
}

int ciclop_board_moving(const ciclop_board *b, double now_ms)
{
	return now_ms < b->end_ms && b->from_deg != b->to_deg;
}

/* A refusal: counted, "error: why". */
static size_t refuse(ciclop_board *b, const char *why, char *out, size_t cap)
{
	size_t n = 0;
	char msg[64];

	b->refused++;
	snprintf(msg, sizeof msg, "error: %s\r\n", why);
	emit(out, cap, &n, msg);
	return n;
}

/* Read a G-code number (sign, digits, one '.'; no exponent) at s[*i]: 1 and *v, else 0. */
static int read_num(const char *s, size_t len, size_t *i, double *v)
{
	char tmp[32];
	size_t k = 0, digits = 0;
	int dot = 0;

	if (*i < len && (s[*i] == '-' || s[*i] == '+'))
		tmp[k++] = s[(*i)++];
	while (*i < len && k < sizeof tmp - 1) {
		char c = s[*i];
		if (c >= '0' && c <= '9')
			digits++;
		else if (c == '.' && !dot)
			dot = 1;
		else
			break;
		tmp[k++] = c, (*i)++;
	}
	if (!digits || k >= sizeof tmp - 1)
		return 0;
	tmp[k] = 0;
	*v = strtod(tmp, NULL);
	return isfinite(*v);
}

size_t ciclop_board_line(ciclop_board *b, const char *line, size_t len, double now_ms, char *out,
			 size_t cap)
{
	char s[128];
	size_t n = 0, k = 0, out_n = 0;
	int g = -1, m = -1, has_x = 0, has_f = 0, has_t = 0, depth = 0, linear = b->linear;
	double x = 0, f = 0, t = 0, v;

	if (cap)
		out[0] = 0;
	/* protocol.c: drop blanks, control bytes and (comments), upper-case, bounded */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '(')
			depth = 1;
		else if (c == ')')
			depth = 0;
		else if (!depth && c > ' ' && c < 0x7f) {
			if (n + 1 >= CICLOP_BOARD_LINE_MAX)
				return refuse(b, "Line overflow", out, cap);
			s[n++] = (char)toupper(c);
		}
	}
	if (n == 0)
		return 0;
	while (k < n) {
		char letter = s[k++];
		if (letter < 'A' || letter > 'Z')
			return refuse(b, "Expected command letter", out, cap);
		if (!read_num(s, n, &k, &v))
			return refuse(b, "Bad number format", out, cap);
		switch (letter) {
		case 'G':
			/* gcode.c: G1 and G50 only; the mantissa is checked after the number */
			if (trunc(v) != 1 && trunc(v) != 50)
				return refuse(b, "Unsupported command", out, cap);
			if (v != floor(v))
				return refuse(b, "Invalid gcode ID:23", out, cap);
			if (g >= 0 && g == 1 && v == 1)
				return refuse(b, "Invalid gcode ID:24", out,
					      cap); /* axis conflict */
			g = (int)v;
			if (g == 1)
				linear = 1;
			break;
		case 'M':
			if (v != floor(v))
				return refuse(b, "Invalid gcode ID:23", out, cap);
			if (v != 0 && v != 2 && v != 17 && v != 18 && v != 50 && v != 70 && v != 71)
				return refuse(b, "Unsupported command", out, cap);
			m = (int)v;
			break;
		case 'X':
			if (has_x++)
				return refuse(b, "Invalid gcode ID:25", out, cap);
			x = v;
			break;
		case 'F':
			if (has_f++)
				return refuse(b, "Invalid gcode ID:25", out, cap);
			if (v < 0)
				return refuse(b, "Value < 0", out, cap);
			f = v;
			break;
		case 'T':
			if (has_t++)
				return refuse(b, "Invalid gcode ID:25", out, cap);
			if (v < 0)
				return refuse(b, "Value < 0", out, cap);
			t = v;
			break;
		default: return refuse(b, "Unsupported command", out, cap);
		}
	}
	/* gcode.c: F is deg/s, kept from block to block; the planner caps it at $110 */
	double speed = has_f ? f * 60 : b->speed;
	if (speed > CICLOP_FW_MAX_RATE)
		speed = CICLOP_FW_MAX_RATE;
	if (has_x && g != 50 && linear && !(speed > 0))
		return refuse(b, "Undefined feed rate", out, cap);
	b->speed = speed, b->linear = linear;
	if (g == 50) {
		b->fw_deg = 0;
		b->from_deg = b->to_deg = 0;
		b->start_ms = b->end_ms = now_ms;
	}
	if (has_x && g != 50) {
		if (fabs(x) > 1e6)
			return refuse(b, "Bad number format", out, cap);
		double start = now_ms > b->end_ms ? now_ms : b->end_ms; /* queued after the last */
		/* a rapid (X alone after a reset: G0's mode) runs at the maximum rate */
		double dur = ciclop_move_ms(x - b->fw_deg, linear ? b->speed : CICLOP_FW_MAX_RATE);
		/* the stepper driver is enabled for the move even without M17 (st_wake_up) */
		b->fw_deg = x;
		b->from_deg = ciclop_board_angle(b, start);
		b->to_deg = x;
		b->start_ms = start, b->end_ms = start + dur;
	}
	int lt = t <= 100 ? (int)t : 0; /* T is truncated, as on the board */
	switch (m) { /* laser_control.c: a laser outside 1..4 is ignored (answered ok) */
	case 17: b->motors = 1; break;
	case 18: b->motors = 0; break;
	case 70:
		if (lt >= 1 && lt <= 4)
			b->lasers &= ~(1 << (lt - 1));
		break;
	case 71:
		if (lt >= 1 && lt <= 4)
			b->lasers |= 1 << (lt - 1);
		break;
	case 50: {
		char num[24];
		snprintf(num, sizeof num, "%d\r\n", b->sensor[lt & 7]);
		emit(out, cap, &out_n, num);
		break;
	}
	default: break;
	}
	b->executed++;
	emit(out, cap, &out_n, "ok\r\n");
	return out_n;
}
