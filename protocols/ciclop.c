/* ciclop.c - the Ciclop/Horus 3D-scanner board's serial protocol: command encoding, reply parsing.
 */
#include "ciclop.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Copy a formatted command into buf[cap]; returns its length, or -1 when it does not fit. */
static int put(char *buf, size_t cap, const char *text)
{
	size_t n = strlen(text);

	if (!buf || n + 1 > cap)
		return -1;
	memcpy(buf, text, n + 1);
	return (int)n;
}

/* A G-code number the board's read_float takes (digits, '.', sign; no exponent). */
static int put_num(char *buf, size_t cap, const char *prefix, double v)
{
	char tmp[CICLOP_CMD_MAX];
	int n = snprintf(tmp, sizeof tmp, "%s%.3f\n", prefix, v);

	if (n < 0 || (size_t)n >= sizeof tmp)
		return -1;
	return put(buf, cap, tmp);
}

int ciclop_encode_move(char *buf, size_t cap, double degrees)
{
	if (!isfinite(degrees) || fabs(degrees) > CICLOP_ANGLE_MAX)
		return -1;
	if (degrees == 0)
		degrees = 0; /* no "-0.000" */
	return put_num(buf, cap, "G1X", degrees);
}

int ciclop_encode_speed(char *buf, size_t cap, double deg_per_min)
{
	if (!isfinite(deg_per_min) || deg_per_min <= 0 || deg_per_min > CICLOP_SPEED_MAX)
		return -1; /* the board refuses negative F; zero would stall every move */
	return put_num(buf, cap, "G1F", deg_per_min / 60); /* horus-fw's F is deg/s */
}

double ciclop_move_ms(double deg, double deg_per_min)
{
	double d = fabs(deg), v, a = CICLOP_FW_ACCEL / 3600.0; /* deg/s^2 */

	if (!(d > 0) || !(deg_per_min > 0) || !isfinite(d))
		return 0;
	v = (deg_per_min < CICLOP_FW_MAX_RATE ? deg_per_min : CICLOP_FW_MAX_RATE) / 60; /* deg/s */
	if (d >= v * v / a)
		return (d / v + v / a) * 1000.0; /* accelerate, cruise at v, decelerate */
	return 2 * sqrt(d / a) * 1000.0;	 /* accelerate half way, decelerate */
}

int ciclop_encode_zero(char *buf, size_t cap)
{
	return put(buf, cap, "G50\n");
}

int ciclop_encode_motor(char *buf, size_t cap, int on)
{
	return put(buf, cap, on ? "M17\n" : "M18\n");
}

int ciclop_encode_laser(char *buf, size_t cap, int laser, int on)
{
	char tmp[16];

	if (laser < 1 || laser > CICLOP_LASERS_MAX)
		return -1;
	snprintf(tmp, sizeof tmp, "M%dT%d\n", on ? 71 : 70, laser);
	return put(buf, cap, tmp);
}

int ciclop_encode_sensor(char *buf, size_t cap, int sensor)
{
	char tmp[16];

	if (sensor < 0 || sensor > 7)
		return -1;
	snprintf(tmp, sizeof tmp, "M50T%d\n", sensor);
	return put(buf, cap, tmp);
}

/* Copy s[0..len) into out->text, cut, printable ASCII only, with leading/trailing blanks dropped.
 */
static void set_text(ciclop_reply *out, const char *s, size_t len)
{
	size_t n = 0;

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		len--;
	for (size_t i = 0; i < len && n + 1 < sizeof out->text; i++) {
		unsigned char c = (unsigned char)s[i];
		out->text[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out->text[n] = 0;
}

/* Does s[0..len) start with the prefix p? */
static int starts(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);
	return len >= n && memcmp(s, p, n) == 0;
}

/* A bare optionally signed decimal integer of at most 9 digits, whole line: 1 and *v, else 0. */
static int bare_int(const char *s, size_t len, long *v)
{
	size_t i = 0, digits = 0;
	long x = 0;
	int neg = 0;

	while (len && (s[len - 1] == ' ' || s[len - 1] == '\r'))
		len--;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || ++digits > 9)
			return 0;
		x = x * 10 + (s[i] - '0');
	}
	if (!digits)
		return 0;
	*v = neg ? -x : x;
	return 1;
}

ciclop_kind ciclop_parse(const char *s, size_t len, ciclop_reply *out)
{
	const char *help;
	size_t trimmed = len;

	memset(out, 0, sizeof *out);
	if (!s)
		len = trimmed = 0;
	while (trimmed && (s[trimmed - 1] == ' ' || s[trimmed - 1] == '\r'))
		trimmed--;
	if (trimmed == 2 && memcmp(s, "ok", 2) == 0) {
		out->kind = CICLOP_OK;
	} else if (starts(s, len, "error:")) {
		out->kind = CICLOP_ERROR;
		set_text(out, s + 6, len - 6);
	} else if (starts(s, len, "ALARM:")) {
		out->kind = CICLOP_ALARM;
		set_text(out, s + 6, len - 6);
	} else if ((starts(s, len, "Horus ") || starts(s, len, "Grbl ")) &&
		   (help = memchr(s, '[', len)) != NULL &&
		   starts(help, len - (size_t)(help - s), "['$'")) {
		out->kind = CICLOP_GREETING;
		set_text(out, s, (size_t)(help - s));
	} else if (trimmed >= 2 && s[0] == '[' && s[trimmed - 1] == ']') {
		out->kind = CICLOP_FEEDBACK;
		set_text(out, s + 1, trimmed - 2);
	} else if (bare_int(s, len, &out->value)) {
		out->kind = CICLOP_VALUE;
	} else {
		out->kind = CICLOP_OTHER;
		set_text(out, s, len);
	}
	return out->kind;
}

int ciclop_next_line(ciclop_splitter *sp, const char *data, size_t len, size_t *used,
		     const char **line, size_t *linelen)
{
	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (c == '\n' && sp->after_cr) {
			sp->after_cr = 0; /* the "\n" of a "\r\n" */
			continue;
		}
		sp->after_cr = 0;
		if (c == '\n' || c == '\r') {
			sp->after_cr = c == '\r';
			sp->buf[sp->len] = 0;
			*line = sp->buf;
			*linelen = sp->len;
			sp->len = 0;
			sp->overflow = 0;
			*used = i + 1;
			return 1;
		}
		if (sp->len < CICLOP_LINE_MAX)
			sp->buf[sp->len++] = c;
		else
			sp->overflow = 1; /* cut: the rest of the line is dropped */
	}
	*used = len;
	return 0;
}
