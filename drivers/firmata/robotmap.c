/* robotmap.c - a Firmata board's pins mapped to a robot's wheels and outputs (pure functions). */
#include "robotmap.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set why (printf-style) and *badkey; returns -1. */
__attribute__((format(printf, 5, 6))) static int fail(const char **badkey, const char *key,
						      char *why, size_t cap, const char *fmt, ...);

static int fail(const char **badkey, const char *key, char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	*badkey = key;
	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* The next token of *s (separated by commas and blanks) into tok; 0 when there is none left. */
static int next_token(const char **s, char *tok, size_t cap)
{
	const char *p = *s;
	size_t n = 0;

	while (*p == ',' || *p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return 0;
	while (*p && *p != ',' && *p != ' ' && *p != '\t') {
		if (n + 1 < cap)
			tok[n++] = *p;
		p++;
	}
	tok[n] = '\0';
	*s = p;
	return 1;
}

/* "prefix:PIN" -> the pin, or -1 when tok is not that. */
static int prefixed_pin(const char *tok, const char *prefix)
{
	size_t n = strlen(prefix);

	if (strncmp(tok, prefix, n) != 0 || tok[n] != ':')
		return -1;
	return firmata_parse_pin(tok + n + 1, strlen(tok + n + 1));
}

/* One wheel: "servo:9 [reversed]" or "pwm:5,dir:4 [reversed]". */
static int parse_wheel(const char *key, const char *s, fm_wheels kind, fm_wheel *w,
		       const char **badkey, char *why, size_t cap)
{
	static const char usage[] = "write servo:PIN [reversed] or pwm:PIN,dir:PIN [reversed]";
	char tok[32];
	const char *all = s;
	int seen = 0; /* 1: servo:PIN, 2: pwm:PIN */

	w->pin = w->dir = -1;
	w->reversed = 0;
	if (!s)
		return fail(badkey, key, why, cap, "the robot has no %s wheel: %s", key, usage);
	while (next_token(&s, tok, sizeof tok)) {
		int servo = prefixed_pin(tok, "servo"), pwm = prefixed_pin(tok, "pwm");
		int dir = prefixed_pin(tok, "dir");
		if (strcmp(tok, "reversed") == 0 && !w->reversed)
			w->reversed = 1;
		else if (servo >= 0 && !seen)
			w->pin = servo, seen = 1;
		else if (pwm >= 0 && !seen)
			w->pin = pwm, seen = 2;
		else if (dir >= 0 && w->dir < 0)
			w->dir = dir;
		else
			return fail(badkey, key, why, cap, "'%s' is not understood in '%s': %s",
				    tok, all, usage);
	}
	if (!seen)
		return fail(badkey, key, why, cap, "no wheel pin in '%s': %s", all, usage);
	if (kind == FM_WHEELS_SERVO && (seen != 1 || w->dir >= 0))
		return fail(badkey, key, why, cap,
			    "robot = servo-wheels takes servo:PIN [reversed] (a "
			    "continuous-rotation servo), not PWM and direction pins");
	if (kind == FM_WHEELS_PWM && (seen != 2 || w->dir < 0))
		return fail(badkey, key, why, cap,
			    "robot = pwm-wheels takes pwm:PIN,dir:PIN [reversed] (a motor driver "
			    "board's speed and direction pins)");
	return 0;
}

/* A positive number of at most max; -1 when s is not one. */
static double positive(const char *s, double max)
{
	char *end;
	double v;

	if (!s)
		return 0;
	v = strtod(s, &end);
	while (*end == ' ')
		end++;
	if (end == s || *end || !(v > 0) || v > max)
		return -1;
	return v;
}

int fm_robot_parse(const fm_robot_conf *c, fm_robot_map *m, const char **badkey, char *why,
		   size_t cap)
{
	const char *s = c->outputs;
	char tok[48];

	memset(m, 0, sizeof *m);
	if (!c->robot) {
		if (c->left || c->right || c->outputs)
			return fail(badkey,
				    c->left    ? "left"
				    : c->right ? "right"
					       : "outputs",
				    why, cap,
				    "wheels or outputs without robot = servo-wheels or "
				    "pwm-wheels");
		return 0;
	}
	if (strcmp(c->robot, "servo-wheels") == 0)
		m->wheels = FM_WHEELS_SERVO;
	else if (strcmp(c->robot, "pwm-wheels") == 0 || strcmp(c->robot, "motor-wheels") == 0)
		m->wheels = FM_WHEELS_PWM;
	else
		return fail(badkey, "robot", why, cap,
			    "robot = %s: the mappings are servo-wheels (continuous-rotation "
			    "servos) and pwm-wheels (a motor driver board)",
			    c->robot);
	if (parse_wheel("left", c->left, m->wheels, &m->left, badkey, why, cap) < 0 ||
	    parse_wheel("right", c->right, m->wheels, &m->right, badkey, why, cap) < 0)
		return -1;
	while (s && next_token(&s, tok, sizeof tok)) {
		char *colon = strchr(tok, ':');
		fm_output *o = &m->outputs[m->noutputs];
		size_t len = colon ? (size_t)(colon - tok) : 0;
		int pin = colon ? firmata_parse_pin(colon + 1, strlen(colon + 1)) : -1;
		if (!colon || !len || len >= sizeof o->name || pin < 0 ||
		    strspn(tok, "abcdefghijklmnopqrstuvwxyz0123456789_") != len)
			return fail(badkey, "outputs", why, cap,
				    "'%s' is not NAME:PIN (e.g. led:13, buzzer:8; names of "
				    "lower-case letters, digits and _)",
				    tok);
		for (int k = 0; k < m->noutputs; k++)
			if (strncmp(m->outputs[k].name, tok, len) == 0 && !m->outputs[k].name[len])
				return fail(badkey, "outputs", why, cap,
					    "the output '%.*s' is named twice", (int)len, tok);
		if (m->noutputs == FM_MAX_OUTPUTS)
			return fail(badkey, "outputs", why, cap, "at most %d outputs",
				    FM_MAX_OUTPUTS);
		memcpy(o->name, tok, len);
		o->name[len] = '\0';
		o->pin = pin;
		m->noutputs++;
	}
	if ((m->max_speed = positive(c->max_speed, 10)) < 0)
		return fail(badkey, "max_speed_m_s", why, cap,
			    "max_speed_m_s = %s is not a speed in m/s (above 0, at most 10)",
			    c->max_speed);
	if ((m->wheel_base = positive(c->wheel_base, 5)) < 0)
		return fail(badkey, "wheel_base_m", why, cap,
			    "wheel_base_m = %s is not a distance in m (above 0, at most 5)",
			    c->wheel_base);
	return 0;
}

/* Check one pin of the mapping: it exists, has mode, and serves nothing else yet. */
static int check_pin(const firmata_pin *pins, int npins, int pin, int mode, const char *use,
		     const char *key, int used[FIRMATA_MAX_PINS], const char **badkey, char *why,
		     size_t cap)
{
	static const char *const names[] = {"input", "output", "analog", "PWM", "SERVO"};

	if (pin >= npins)
		return fail(badkey, key, why, cap,
			    "D%d (%s): the board has pins D0 to D%d (its capability query)", pin,
			    use, npins - 1);
	if (!(pins[pin].modes & (1u << mode))) {
		static const int shown[] = {FIRMATA_MODE_OUTPUT, FIRMATA_MODE_PWM,
					    FIRMATA_MODE_SERVO, FIRMATA_MODE_ANALOG};
		char has[64] = "";
		for (size_t k = 0; k < sizeof shown / sizeof shown[0]; k++)
			if (pins[pin].modes & (1u << shown[k]))
				snprintf(has + strlen(has), sizeof has - strlen(has), "%s%s",
					 has[0] ? ", " : "", names[shown[k]]);
		return fail(badkey, key, why, cap,
			    "D%d (%s) cannot be a %s pin on this board (its capabilities: %s)", pin,
			    use, names[mode], has[0] ? has : "none, the firmware keeps it");
	}
	if (used[pin])
		return fail(badkey, key, why, cap, "D%d (%s) is used twice", pin, use);
	used[pin] = 1;
	return 0;
}

int fm_robot_check(const fm_robot_map *m, const firmata_pin *pins, int npins, const char **badkey,
		   char *why, size_t cap)
{
	int used[FIRMATA_MAX_PINS] = {0};
	int mode = m->wheels == FM_WHEELS_SERVO ? FIRMATA_MODE_SERVO : FIRMATA_MODE_PWM;
	const char *wmode = m->wheels == FM_WHEELS_SERVO ? "servo" : "PWM";
	char use[48];

	if (m->wheels == FM_WHEELS_NONE)
		return 0;
	for (int k = 0; k < 2; k++) {
		const fm_wheel *w = k ? &m->right : &m->left;
		const char *key = k ? "right" : "left";
		snprintf(use, sizeof use, "the %s wheel's %s", key, wmode);
		if (check_pin(pins, npins, w->pin, mode, use, key, used, badkey, why, cap) < 0)
			return -1;
		snprintf(use, sizeof use, "the %s wheel's direction", key);
		if (w->dir >= 0 && check_pin(pins, npins, w->dir, FIRMATA_MODE_OUTPUT, use, key,
					     used, badkey, why, cap) < 0)
			return -1;
	}
	for (int k = 0; k < m->noutputs; k++) {
		snprintf(use, sizeof use, "output %s", m->outputs[k].name);
		if (check_pin(pins, npins, m->outputs[k].pin, FIRMATA_MODE_OUTPUT, use, "outputs",
			      used, badkey, why, cap) < 0)
			return -1;
	}
	return 0;
}

void fm_robot_wheel_value(const fm_robot_map *m, const fm_wheel *w, double speed, int pwm_max,
			  int *value, int *dir_level)
{
	double s = isnan(speed) ? 0 : speed < -1 ? -1 : speed > 1 ? 1 : speed;

	if (w->reversed)
		s = -s;
	if (m->wheels == FM_WHEELS_SERVO) {
		*value = (int)lround(FM_SERVO_STILL + 90 * s);
		*dir_level = -1;
	} else {
		*value = (int)lround(fabs(s) * pwm_max);
		*dir_level = s > 0 && *value > 0;
	}
}

int fm_robot_uses(const fm_robot_map *m, int pin, char *what, size_t cap)
{
	if (m->wheels == FM_WHEELS_NONE)
		return 0;
	for (int k = 0; k < 2; k++) {
		const fm_wheel *w = k ? &m->right : &m->left;
		if (w->pin == pin || w->dir == pin) {
			snprintf(what, cap, "the robot's %s wheel%s", k ? "right" : "left",
				 w->dir == pin ? " direction" : "");
			return 1;
		}
	}
	for (int k = 0; k < m->noutputs; k++)
		if (m->outputs[k].pin == pin) {
			snprintf(what, cap, "the robot's output %s", m->outputs[k].name);
			return 1;
		}
	return 0;
}
