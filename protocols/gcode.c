/* gcode.c - G-code as the host sends it: numbered lines, cleaning, codes, policy, metadata. */
#include "gcode.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Whether c is a blank inside a line (space or tab). */
static int gc_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Whether c is an ASCII digit (locale-free). */
static int gc_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether c is an ASCII letter (locale-free). */
static int gc_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* c in upper case when it is an ASCII letter, else c itself. */
static char gc_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* A control byte (NUL included) other than tab: never part of a command. */
static int gc_control(char c)
{
	unsigned char u = (unsigned char)c;
	return (u < 0x20 && c != '\t') || u == 0x7f;
}

/*
 * Parse a plain decimal [+-]digits[.digits] (or [+-].digits) at the start of [p, e), locale-free,
 * at most 40 bytes. Returns the position after it and sets *v, or NULL when there is none (no
 * digit, or too long).
 */
static const char *gc_num(const char *p, const char *e, double *v)
{
	const char *s = p;
	double x = 0, div = 1;
	int neg = 0, digits = 0, frac = 0;

	if (p < e && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	for (; p < e; p++) {
		if (gc_digit(*p)) {
			x = x * 10 + (*p - '0');
			digits++;
			if (frac)
				div *= 10;
		} else if (*p == '.' && !frac) {
			frac = 1;
		} else {
			break;
		}
	}
	if (!digits || p - s > 40)
		return NULL;
	x /= div; /* exact operands for up to 15 digits: correctly rounded */
	*v = neg ? -x : x;
	return p;
}

/* Parse an unsigned integer of at most maxdig digits at the start of [p, e); NULL if none. */
static const char *gc_uint(const char *p, const char *e, int maxdig, long *v)
{
	long x = 0;
	int n = 0;

	while (p < e && gc_digit(*p)) {
		if (++n > maxdig)
			return NULL;
		x = x * 10 + (*p++ - '0');
	}
	if (!n)
		return NULL;
	*v = x;
	return p;
}

/* Promises the XOR of s[0..len) (0 for len 0); cannot fail. */
uint8_t gcode_checksum(const char *s, size_t len)
{
	uint8_t cs = 0;

	for (size_t i = 0; i < len; i++)
		cs ^= (uint8_t)s[i];
	return cs;
}

/*
 * Promises "N<line> <cmd>*<cs>\n", NUL-terminated, in out[cap]. Fails (-1, out empty when cap > 0)
 * when cmd is empty, holds a line end, '*' or NUL (the firmware would cut the line there), line
 * is negative, or the frame does not fit.
 */
int gcode_frame(char *out, size_t cap, long line, const char *cmd, size_t len)
{
	char head[32], tail[8];
	int hn, tn;
	size_t total;

	if (!out || cap == 0)
		return -1;
	out[0] = '\0';
	if (!cmd || len == 0 || line < 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (cmd[i] == '\n' || cmd[i] == '\r' || cmd[i] == '*' || cmd[i] == '\0')
			return -1;
	hn = snprintf(head, sizeof head, "N%ld ", line);
	tn = snprintf(tail, sizeof tail, "*%u\n",
		      (unsigned)(gcode_checksum(head, (size_t)hn) ^ gcode_checksum(cmd, len)));
	if (len > cap || (size_t)hn + (size_t)tn >= cap - len || len > 0x7fffff00)
		return -1;
	total = (size_t)hn + len + (size_t)tn;
	memcpy(out, head, (size_t)hn);
	memcpy(out + hn, cmd, len);
	memcpy(out + hn + len, tail, (size_t)tn);
	out[total] = '\0';
	return (int)total;
}

/*
 * Promises the firmware's reading of one received line: leading blanks and trailing blanks / line
 * ends are ignored; "N<n> <cmd>*<cs>" with cs the XOR of everything from 'N' to before '*'. On
 * failure *line is n when it was read (else -1) and *cmdlen 0.
 */
int gcode_unframe(const char *s, size_t len, long *line, const char **cmd, size_t *cmdlen)
{
	const char *p = s, *e, *star = NULL, *c, *ce;
	long n, cs;

	*line = -1;
	*cmd = s;
	*cmdlen = 0;
	if (!s || len == 0)
		return GCODE_FRAME_OK;
	e = s + len;
	while (p < e && gc_blank(*p))
		p++;
	while (e > p && (gc_blank(e[-1]) || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	if (p < e)
		star = memchr(p, '*', (size_t)(e - p));
	if (p == e || *p != 'N') {
		if (star)
			return GCODE_FRAME_NO_NUMBER;
		if (e - p > GCODE_CMD_MAX)
			return GCODE_FRAME_SYNTAX;
		*cmd = p;
		*cmdlen = (size_t)(e - p);
		return GCODE_FRAME_OK;
	}
	c = gc_uint(p + 1, star ? star : e, sizeof(long) >= 8 ? 18 : 9, &n);
	if (!c)
		return GCODE_FRAME_SYNTAX;
	*line = n;
	if (!star)
		return GCODE_FRAME_NO_CHECKSUM;
	ce = gc_uint(star + 1, e, 3, &cs);
	if (!ce || ce != e || cs > 255)
		return GCODE_FRAME_SYNTAX;
	if (gcode_checksum(p, (size_t)(star - p)) != (uint8_t)cs)
		return GCODE_FRAME_BAD_CHECKSUM;
	while (c < star && gc_blank(*c))
		c++;
	ce = star;
	while (ce > c && gc_blank(ce[-1]))
		ce--;
	if (ce - c > GCODE_CMD_MAX)
		return GCODE_FRAME_SYNTAX;
	*cmd = c;
	*cmdlen = (size_t)(ce - c);
	return GCODE_FRAME_OK;
}

/*
 * Promises the command without comments or surrounding blanks; blanks inside it are kept, a tab
 * becoming a space. Control bytes inside comments are ignored. Fails (-1, out empty) when the
 * command does not fit or holds a control byte.
 */
int gcode_clean(const char *in, size_t len, char *out, size_t cap)
{
	size_t n = 0, pend = 0;
	int paren = 0;

	if (!out || cap == 0)
		return -1;
	out[0] = '\0';
	if (!in)
		return 0;
	while (len && (in[len - 1] == '\r' || in[len - 1] == '\n'))
		len--;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (paren) {
			paren = c != ')';
			continue;
		}
		if (c == ';')
			break;
		if (c == '(') {
			paren = 1;
			continue;
		}
		if (gc_control(c)) {
			out[0] = '\0';
			return -1;
		}
		if (gc_blank(c)) {
			pend += n > 0; /* leading blanks are dropped, inner ones wait */
			continue;
		}
		if (n + pend + 1 >= cap) {
			out[0] = '\0';
			return -1;
		}
		for (; pend; pend--)
			out[n++] = ' ';
		out[n++] = c;
	}
	out[n] = '\0';
	return (int)n;
}

/* Promises as gcode.h says: the file's own "N<n> ... *<cs>" taken off, checked. */
int gcode_strip_frame(char *cmd)
{
	const char *inner;
	size_t n, len;
	long line;
	char first;
	int r;

	if (!cmd)
		return -1;
	len = strlen(cmd);
	first = cmd[0];
	if ((first != 'N' && first != 'n') || !gc_digit(cmd[1]))
		return (int)len;
	cmd[0] = 'N'; /* unframe reads an upper-case N, as Marlin */
	r = gcode_unframe(cmd, len, &line, &inner, &n);
	if (r == GCODE_FRAME_NO_CHECKSUM) { /* "N12 G1 X5": the number only */
		const char *p = cmd + 1;
		while (gc_digit(*p))
			p++;
		while (gc_blank(*p))
			p++;
		inner = p;
		n = strlen(p);
	} else if (r != GCODE_FRAME_OK) {
		cmd[0] = first;
		return -1;
	}
	memmove(cmd, inner, n);
	cmd[n] = '\0';
	return (int)n;
}

/*
 * Read a code word at p (NUL-terminated): blanks, an optional "N<n>" line number, then G/M/T,
 * optional blanks (as Marlin), a number and an optional ".sub". Returns the position after the
 * code (after the line number only when there is no G/M/T), or NULL when the code is malformed.
 */
static const char *gc_code(const char *p, gcode_code *out)
{
	const char *e = p + strlen(p), *q;
	long v;
	char l;

	out->letter = 0;
	out->number = 0;
	out->sub = -1;
	while (p < e && gc_blank(*p))
		p++;
	if ((*p == 'N' || *p == 'n') && gc_digit(p[1])) {
		p += 2;
		while (gc_digit(*p))
			p++;
		while (gc_blank(*p))
			p++;
	}
	l = gc_upper(*p);
	if (l != 'G' && l != 'M' && l != 'T')
		return p;
	q = p + 1;
	while (gc_blank(*q))
		q++;
	q = gc_uint(q, e, 6, &v);
	if (!q)
		return NULL;
	out->letter = l;
	out->number = (int)v;
	if (*q == '.') {
		q = gc_uint(q + 1, e, 6, &v);
		if (!q)
			return NULL;
		out->sub = (int)v;
	}
	if (gc_digit(*q) || *q == '.')
		return NULL;
	return q;
}

/* Promises 0 and *out (letter 0 when the command starts with no G/M/T); -1 when empty/malformed. */
int gcode_code_parse(const char *cmd, gcode_code *out)
{
	const char *p;

	if (!cmd || !out)
		return -1;
	p = cmd;
	while (gc_blank(*p))
		p++;
	if (!*p) {
		out->letter = 0;
		out->number = 0;
		out->sub = -1;
		return -1;
	}
	if (!gc_code(p, out)) {
		out->letter = 0;
		out->number = 0;
		out->sub = -1;
		return -1;
	}
	return 0;
}

/* Promises 1 when cmd starts with a well-formed (numbered or not) G/M/T code, else 0. */
int gcode_is_command(const char *cmd)
{
	gcode_code c;

	return cmd && gcode_code_parse(cmd, &c) == 0 && c.letter != 0;
}

/*
 * The next parameter word at or after p: skips non-letters, then *letter (upper case) and its
 * number (blanks allowed before it, as Marlin) in [*vs, *ve), empty when it has none. Returns the
 * position after the word, or NULL at the end of the command.
 */
static const char *gc_word(const char *p, char *letter, const char **vs, const char **ve)
{
	const char *q, *e;
	double v;

	while (*p && !gc_alpha(*p))
		p++;
	if (!*p)
		return NULL;
	*letter = gc_upper(*p++);
	q = p;
	while (gc_blank(*q))
		q++;
	e = q + strnlen(q, 64);
	*vs = q;
	*ve = gc_num(q, e, &v);
	if (!*ve)
		*vs = *ve = p;
	return *ve;
}

/* The parameters of cmd start after its code (or at the start when it has none). */
static const char *gc_params(const char *cmd)
{
	gcode_code c;
	const char *p = gc_code(cmd, &c);

	if (!p) { /* malformed code: skip its word */
		p = cmd;
		while (gc_blank(*p))
			p++;
		while (*p && !gc_blank(*p))
			p++;
	}
	return p;
}

/* Promises 1 and *value for the first `letter` word (case-insensitive); 0 if none or no number. */
int gcode_param(const char *cmd, char letter, double *value)
{
	const char *p, *vs, *ve;
	char l;

	if (!cmd)
		return 0;
	letter = gc_upper(letter);
	for (p = gc_params(cmd); (p = gc_word(p, &l, &vs, &ve));) {
		if (l != letter)
			continue;
		return vs < ve && gc_num(vs, ve, value) ? 1 : 0;
	}
	return 0;
}

/* Promises a class for any code (QUICK for NULL or unknown ones). */
gcode_class gcode_classify(const gcode_code *code)
{
	if (!code)
		return GCODE_CLASS_QUICK;
	if (code->letter == 'G') {
		switch (code->number) {
		case 28:
		case 29:
		case 30:
		case 31:
		case 32:
		case 33:
		case 34:
		case 35: /* tramming assistant: probes */
		case 76: /* probe temperature calibration */ return GCODE_CLASS_HOMING;
		case 4: return GCODE_CLASS_WAIT;
		default: return GCODE_CLASS_QUICK;
		}
	}
	if (code->letter == 'M') {
		switch (code->number) {
		case 109:
		case 190:
		case 191:
		case 116:
		case 303: /* PID autotune: heats and cools for minutes */
			return GCODE_CLASS_HEATING;
		case 48: /* probe repeatability test */ return GCODE_CLASS_HOMING;
		case 0:
		case 1:
		case 400:
		case 600:
		case 226: /* wait for a pin */
		case 701: /* load filament */
		case 702: /* unload filament */ return GCODE_CLASS_WAIT;
		default: return GCODE_CLASS_QUICK;
		}
	}
	return GCODE_CLASS_QUICK;
}

/* Write a code as text ("M500", "G29.1") into buf[cap]. */
static void gc_code_text(const gcode_code *c, char *buf, size_t cap)
{
	if (c->sub >= 0)
		snprintf(buf, cap, "%c%d.%d", c->letter, c->number, c->sub);
	else
		snprintf(buf, cap, "%c%d", c->letter, c->number);
}

/* Set why[cap] (when given) from a format. */
static void gc_why(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Promises why[cap] NUL-terminated (truncated) when why and cap are set; else does nothing. */
static void gc_why(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!why || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
}

/*
 * Promises p->forbidden replaced by the codes of list (duplicates kept once; an empty or NULL list
 * forbids nothing). Fails (-1, p unchanged, why set) on an entry that is not exactly a G, M or T
 * code, or more than GCODE_POLICY_MAX entries.
 */
int gcode_policy_forbid(gcode_policy *p, const char *list, char *why, size_t cap)
{
	gcode_code codes[GCODE_POLICY_MAX];
	int n = 0;
	const char *s = list;

	if (!p)
		return -1;
	gc_why(why, cap, "%s", "");
	while (s && *s) {
		const char *t = s, *end;
		char tok[32];
		size_t tl;
		gcode_code c;
		int dup = 0;

		while (*s && *s != ',' && !gc_blank(*s))
			s++;
		tl = (size_t)(s - t);
		if (*s)
			s++;
		if (tl == 0)
			continue;
		if (tl >= sizeof tok) {
			gc_why(why, cap, "\"%.20s...\" is not a G, M or T code", t);
			return -1;
		}
		memcpy(tok, t, tl);
		tok[tl] = '\0';
		end = gc_code(tok, &c);
		if (!end || *end || !c.letter ||
		    (tok[0] != c.letter && gc_upper(tok[0]) != c.letter)) {
			gc_why(why, cap, "\"%s\" is not a G, M or T code", tok);
			return -1;
		}
		for (int i = 0; i < n; i++)
			dup |= codes[i].letter == c.letter && codes[i].number == c.number &&
			       codes[i].sub == c.sub;
		if (dup)
			continue;
		if (n == GCODE_POLICY_MAX) {
			gc_why(why, cap, "more than %d forbidden commands", GCODE_POLICY_MAX);
			return -1;
		}
		codes[n++] = c;
	}
	memcpy(p->forbidden, codes, (size_t)n * sizeof codes[0]);
	p->nforbidden = n;
	return 0;
}

/* What a command is for, when it is one a policy is likely to forbid; NULL otherwise. */
static const char *gc_purpose(const gcode_code *c)
{
	static const struct {
		char letter;
		int number;
		const char *what;
	} known[] = {
	    {'M', 500, "EEPROM write"},
	    {'M', 501, "EEPROM read"},
	    {'M', 502, "EEPROM write: factory settings"},
	    {'M', 504, "EEPROM check"},
	    {'M', 997, "firmware update"},
	    {'M', 303, "PID autotune"},
	    {'M', 306, "MPC autotune"},
	    {'M', 928, "SD card logging"},
	    {'M', 540, "abort on endstop hit"},
	    {'M', 112, "emergency stop"},
	    {'M', 999, "restart after a stop"},
	    {'M', 80, "power supply on"},
	    {'M', 81, "power supply off"},
	    {'M', 28, "SD card write"},
	    {'M', 29, "SD card write"},
	    {'M', 30, "SD card file delete"},
	    {'M', 92, "steps per unit"},
	    {'M', 206, "home offsets"},
	    {'M', 211, "software endstops"},
	    {'M', 302, "cold extrusion"},
	    {'M', 42, "pin write"},
	    {'M', 43, "pin debugging"},
	    {'M', 851, "probe offsets"},
	    {'M', 906, "stepper motor current"},
	    {'M', 907, "stepper motor current"},
	    {'M', 260, "I2C write"},
	    {'M', 350, "microstepping"},
	    {'M', 552, "network"},
	    {'M', 587, "WiFi credentials"},
	    {'M', 575, "serial baud rate"},
	    {'G', 29, "bed levelling"},
	};

	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (known[i].letter == c->letter && known[i].number == c->number)
			return known[i].what;
	return NULL;
}

/*
 * Whether a number may end at c for the firmware to read the same value: the end, a blank or the
 * next parameter, but not what strtod would read on ('.', digits, "0x..." hex, "e" exponents).
 */
static int gc_value_end(char c)
{
	return !c || gc_blank(c) || (gc_alpha(c) && c != 'x' && c != 'X' && c != 'e' && c != 'E');
}

/* Which heater a temperature-setting command addresses, and which of its letters are °C. */
typedef struct gc_heat {
	char letter;
	int number;
	int heater; /* 0 hotend, 1 bed, 2 chamber */
	const char *params;
} gc_heat;

static const gc_heat gc_heats[] = {
    {'M', 104, 0, "SRB"}, /* B: AUTOTEMP's maximum */
    {'M', 109, 0, "SRB"}, /* the same, waiting */
    {'M', 568, 0, "SR"},  /* RepRapFirmware tool temperatures */
    {'G', 10, 0, "SR"},	  /* RepRapFirmware tool temperatures (Marlin's retract ignores them) */
    {'M', 303, 0, "S"},	  /* PID autotune target; E-1: bed, E-2: chamber */
    {'M', 140, 1, "SR"},  /* bed */
    {'M', 190, 1, "SR"},  /* bed, waiting */
    {'M', 141, 2, "SR"},  /* chamber */
    {'M', 191, 2, "SR"},  /* chamber, waiting */
};

/*
 * Promises 0 when cmd uses no forbidden code and sets no temperature above its limit. Fails (-1,
 * why set) naming the command and its purpose, or the heater, the value and the limit; a limited
 * temperature that is not a plain decimal ("S0x12C", "S3e2": firmware reads those differently)
 * is refused too. An empty, NULL or code-less command passes.
 */
int gcode_policy_check(const gcode_policy *p, const char *cmd, char *why, size_t cap)
{
	static const char *const names[] = {"hotend", "bed", "chamber"};
	gcode_code c;
	char ct[24];
	const char *s, *vs, *ve;
	char l;

	gc_why(why, cap, "%s", "");
	if (p && p->refuse_all) {
		gc_why(why, cap, "%s",
		       "the safety policy ([print]) is misconfigured: nothing is sent");
		return -1;
	}
	if (!p || !cmd || gcode_code_parse(cmd, &c) < 0 || !c.letter)
		return 0;
	gc_code_text(&c, ct, sizeof ct);
	for (int i = 0; i < p->nforbidden && i < GCODE_POLICY_MAX; i++) {
		const gcode_code *f = &p->forbidden[i];
		const char *what;
		if (f->letter != c.letter || f->number != c.number ||
		    (f->sub >= 0 && f->sub != c.sub))
			continue;
		what = gc_purpose(&c);
		if (what)
			gc_why(why, cap, "%s is not allowed (%s)", ct, what);
		else
			gc_why(why, cap, "%s is not allowed", ct);
		return -1;
	}
	for (size_t h = 0; h < sizeof gc_heats / sizeof gc_heats[0]; h++) {
		const gc_heat *t = &gc_heats[h];
		int heater = t->heater;
		double limit, v;

		if (t->letter != c.letter || t->number != c.number)
			continue;
		if (c.letter == 'M' && c.number == 303 && gcode_param(cmd, 'E', &v))
			heater = v <= -2 ? 2 : v <= -1 ? 1 : 0;
		limit = heater == 0 ? p->max_hotend : heater == 1 ? p->max_bed : p->max_chamber;
		if (limit <= 0)
			return 0;
		for (s = gc_params(cmd); (s = gc_word(s, &l, &vs, &ve));) {
			const char *te = s;
			if (!strchr(t->params, l))
				continue;
			while (*te && !gc_blank(*te))
				te++;
			if (vs == ve && te == s)
				continue; /* "M104 S": no value, the firmware reads 0 */
			if (vs == ve || !gc_num(vs, ve, &v) || !gc_value_end(*s)) {
				const char *ts = vs == ve ? s : vs;
				gc_why(why, cap,
				       "%s %c%.*s: %s temperature \"%.*s\" is not a plain number",
				       ct, l, (int)(te - ts > 20 ? 20 : te - ts), ts, names[heater],
				       (int)(te - ts > 20 ? 20 : te - ts), ts);
				return -1;
			}
			if (v > limit) {
				gc_why(why, cap, "%s %c%.*s: %s %g °C is above the limit of %g °C",
				       ct, l, (int)(ve - vs), vs, names[heater], v, limit);
				return -1;
			}
		}
		return 0;
	}
	return 0;
}

/* Promises an empty record: unknown figures are -1, counters 0. */
void gcode_meta_init(gcode_meta *m)
{
	if (!m)
		return;
	memset(m, 0, sizeof *m);
	m->time_s = -1;
	m->filament_mm = -1;
	m->filament_g = -1;
	m->layer_count = -1;
}

/* Case-insensitive: [*p, e) starts with lit; on a match *p moves past it. */
static int gc_prefix(const char **p, const char *e, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(e - *p) < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (gc_upper((*p)[i]) != gc_upper(lit[i]))
			return 0;
	*p += n;
	return 1;
}

/* The first position in [p, e) that is not a blank (e when none). */
static const char *gc_skip_blanks(const char *p, const char *e)
{
	while (p < e && gc_blank(*p))
		p++;
	return p;
}

/* A duration such as "1d 2h 3m 4s", "1 hours 2 minutes", "45m": seconds, or -1. */
static double gc_duration(const char *p, const char *e)
{
	double total = 0, v;
	int n = 0;

	for (;;) {
		const char *q;
		p = gc_skip_blanks(p, e);
		if (p < e && *p == ',')
			p = gc_skip_blanks(p + 1, e);
		q = gc_num(p, e, &v);
		if (!q)
			break;
		p = gc_skip_blanks(q, e);
		switch (p < e ? gc_upper(*p) : 0) {
		case 'D': total += v * 86400; break;
		case 'H': total += v * 3600; break;
		case 'M': total += v * 60; break;
		case 'S': total += v; break;
		default: return -1;
		}
		while (p < e && gc_alpha(*p))
			p++;
		n++;
	}
	return n ? total : -1;
}

/*
 * A list of numbers "1234.5, 56.7" (each optionally followed by unit, e.g. Cura's "m"): their
 * sum, or -1 when there is none.
 */
static double gc_sum(const char *p, const char *e, const char *unit)
{
	double sum = 0, v;
	int n = 0;

	for (;;) {
		const char *q;
		p = gc_skip_blanks(p, e);
		q = gc_num(p, e, &v);
		if (!q)
			break;
		sum += v;
		n++;
		p = gc_skip_blanks(q, e);
		if (unit)
			gc_prefix(&p, e, unit);
		p = gc_skip_blanks(p, e);
		if (p >= e || *p != ',')
			break;
		p++;
	}
	return n ? sum : -1;
}

/* Copy a slicer name [p, e) into m->slicer (control bytes as '?'), trimmed. */
static void gc_set_slicer(gcode_meta *m, const char *prefix, const char *p, const char *e)
{
	size_t n = 0, cap = sizeof m->slicer;

	if (m->slicer[0])
		return;
	p = gc_skip_blanks(p, e);
	while (e > p && gc_blank(e[-1]))
		e--;
	for (; prefix && *prefix && n + 1 < cap; prefix++)
		m->slicer[n++] = *prefix;
	for (; p < e && n + 1 < cap; p++)
		m->slicer[n++] = gc_control(*p) ? '?' : *p;
	m->slicer[n] = '\0';
}

/*
 * A thumbnail marker body "thumbnail begin ..." / "thumbnail_QOI end": on a match of word
 * (begin/end), returns the position after it; NULL otherwise.
 */
static const char *gc_thumb_marker(const char *p, const char *e, const char *word)
{
	if (!gc_prefix(&p, e, "thumbnail"))
		return NULL;
	if (p < e && *p == '_')
		for (p++; p < e && (gc_alpha(*p) || gc_digit(*p));)
			p++;
	if (p >= e || !gc_blank(*p))
		return NULL;
	p = gc_skip_blanks(p, e);
	if (!gc_prefix(&p, e, word) || (p < e && !gc_blank(*p)))
		return NULL;
	return p;
}

/* Start a thumbnail from "WxH LEN" at [p, e) (malformed: ignored). */
static void gc_thumb_begin(gcode_meta *m, const char *p, const char *e)
{
	long w, h, n;
	gcode_thumb *t;

	p = gc_skip_blanks(p, e);
	if (!(p = gc_uint(p, e, 6, &w)) || p >= e || (*p != 'x' && *p != 'X') ||
	    !(p = gc_uint(p + 1, e, 6, &h)))
		return;
	p = gc_skip_blanks(p, e);
	if (!(p = gc_uint(p, e, 9, &n)) || gc_skip_blanks(p, e) != e)
		return;
	if (m->nthumbs >= GCODE_THUMBS_MAX || m->nthumbs < 0) {
		m->in_thumb = 2; /* no room: skip the block */
		return;
	}
	t = &m->thumbs[m->nthumbs];
	t->width = (int)w;
	t->height = (int)h;
	t->length = n;
	t->first_line = -1;
	t->begin_offset = -1;
	t->end_offset = -1;
	m->in_thumb = 1;
}

/*
 * Promises the record updated from one line; never reads past len, accepts any bytes. A
 * thumbnail counts once its "end" line is seen after at least one base64 line; a command line
 * inside a block abandons it.
 */
void gcode_meta_line(gcode_meta *m, const char *line, size_t len, long offset)
{
	const char *p = line, *e, *c, *q;
	double v;
	long n;

	if (!m)
		return;
	m->lines++;
	if (!line)
		return;
	e = line + len;
	while (e > p && (gc_blank(e[-1]) || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	p = gc_skip_blanks(p, e);
	if (p == e)
		return;
	if (*p != ';') {
		m->in_thumb = 0; /* a command inside a thumbnail: the block is broken */
		if (*p != '(')
			m->commands++;
		return;
	}
	c = gc_skip_blanks(p + 1, e);
	if (m->in_thumb) {
		if (gc_thumb_marker(c, e, "end")) {
			if (m->in_thumb == 1 && m->nthumbs >= 0 && m->nthumbs < GCODE_THUMBS_MAX &&
			    m->thumbs[m->nthumbs].first_line > 0) {
				m->thumbs[m->nthumbs].end_offset = offset;
				m->nthumbs++;
			}
			m->in_thumb = 0;
			return;
		}
		if (!gc_thumb_marker(c, e, "begin")) {
			if (m->in_thumb == 1 && m->nthumbs >= 0 && m->nthumbs < GCODE_THUMBS_MAX &&
			    m->thumbs[m->nthumbs].first_line < 0) {
				m->thumbs[m->nthumbs].first_line = m->lines;
				m->thumbs[m->nthumbs].begin_offset = offset;
			}
			return;
		}
		m->in_thumb = 0; /* a new block: the open one had no end */
	}
	if ((q = gc_thumb_marker(c, e, "begin"))) {
		gc_thumb_begin(m, q, e);
		return;
	}
	q = c;
	if (gc_prefix(&q, e, "generated by ")) { /* Prusa/Super/OrcaSlicer, Slic3r */
		const char *on = q, *t = q;
		while (on < e && !gc_prefix(&t, e, " on "))
			t = ++on;
		gc_set_slicer(m, NULL, q, on);
	} else if (gc_prefix(&q, e, "generated with ") || gc_prefix(&q, e, "sliced by ")) {
		gc_set_slicer(m, NULL, q, e); /* Cura, ideaMaker */
	} else if (gc_prefix(&q, e, "G-Code generated by ")) {
		if (gc_prefix(&q, e, "Simplify3D(R) Version "))
			gc_set_slicer(m, "Simplify3D ", q, e);
		else
			gc_set_slicer(m, NULL, q, e);
	} else if (gc_prefix(&q, e, "estimated printing time")) {
		int silent;
		q = gc_skip_blanks(q, e);
		silent = gc_prefix(&q, e, "(silent mode)");
		if (!silent)
			gc_prefix(&q, e, "(normal mode)");
		q = gc_skip_blanks(q, e);
		if (q < e && *q == '=' && (v = gc_duration(q + 1, e)) >= 0 &&
		    (!silent || m->time_s < 0))
			m->time_s = v;
	} else if (gc_prefix(&q, e, "TIME:") || gc_prefix(&q, e, "PRINT.TIME:")) {
		q = gc_skip_blanks(q, e);
		if (gc_num(q, e, &v) && v >= 0)
			m->time_s = v;
	} else if (gc_prefix(&q, e, "Build time:")) { /* Simplify3D */
		if ((v = gc_duration(q, e)) >= 0)
			m->time_s = v;
	} else if (gc_prefix(&q, e, "filament used [mm] =")) {
		if ((v = gc_sum(q, e, NULL)) >= 0)
			m->filament_mm = v;
	} else if (gc_prefix(&q, e, "filament used [g] =") ||
		   gc_prefix(&q, e, "total filament used [g] =")) {
		if ((v = gc_sum(q, e, NULL)) >= 0)
			m->filament_g = v;
	} else if (gc_prefix(&q, e, "Filament used:")) { /* Cura: metres */
		if ((v = gc_sum(q, e, "m")) >= 0)
			m->filament_mm = v * 1000;
	} else if (gc_prefix(&q, e, "Filament length:")) { /* Simplify3D */
		if ((v = gc_sum(q, e, "mm")) >= 0)
			m->filament_mm = v;
	} else if (gc_prefix(&q, e, "Plastic weight:")) { /* Simplify3D */
		if ((v = gc_sum(q, e, "g")) >= 0)
			m->filament_g = v;
	} else if (gc_prefix(&q, e, "LAYER_COUNT:") || gc_prefix(&q, e, "total layers count =") ||
		   gc_prefix(&q, e, "total layer number:")) {
		q = gc_skip_blanks(q, e);
		if (gc_uint(q, e, 9, &n))
			m->layer_count = n;
	} else if (gc_prefix(&q, e, "LAYER:")) { /* Cura, from ;LAYER:0 (rafts: negative) */
		q = gc_skip_blanks(q, e);
		if (q < e && *q == '-')
			q++;
		if (gc_uint(q, e, 9, &n))
			m->layers_seen++;
	} else if (gc_prefix(&q, e, "LAYER_CHANGE")) {
		if (q == e)
			m->layers_seen++;
	} else if (gc_prefix(&q, e, "layer ")) { /* Simplify3D: "; layer 1, Z = 0.200" */
		if (gc_uint(q, e, 9, &n) && memchr(q, ',', (size_t)(e - q)))
			m->layers_seen++;
	} else {
		/* OrcaSlicer: "; model printing time: 1h 2m; total estimated time: 1h 5m 10s" */
		const char *t = c;
		for (; t < e; t++) {
			const char *u = t;
			if (gc_prefix(&u, e, "total estimated time:")) {
				const char *end = memchr(u, ';', (size_t)(e - u));
				if ((v = gc_duration(u, end ? end : e)) >= 0)
					m->time_s = v;
				break;
			}
		}
	}
}

/* Promises layer_count from the counted markers when none was declared; an open block is dropped.
 */
void gcode_meta_finish(gcode_meta *m)
{
	if (!m)
		return;
	if (m->layer_count < 0 && m->layers_seen > 0)
		m->layer_count = m->layers_seen;
	m->in_thumb = 0;
}
