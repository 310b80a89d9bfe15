/* config.c - the configuration file (INI, read with inih) as a JSON object of sections. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/access.h"
#include "log.h"

typedef struct load_ctx {
	json_t *root;
	FILE *f;
	int line;	    /* the line inih is handling (counted by the reader) */
	int indented;	    /* it starts with blanks: inih reads it as a continuation line */
	char last_key[128]; /* the section's last key ("" after a header), as inih's prev_name */
	const char *path;
	lb_error *err;
	int failed; /* line of the first error found here, 0 if none */
} load_ctx;

static const char *const bridge_keys[] = {"pub",
					  "rpc",
					  "ws",
					  "net_pub",
					  "net_rpc",
					  "simulate",
					  "heartbeat_ms",
					  "log_level",
					  "data_dir",
					  "pub_hwm",
					  "subscriber_max_mb",
					  "request_timeout_ms",
					  "emulate",
					  "client_timeout_ms",
					  "http",
					  "www",
					  "announce",
					  "name",
					  "audit_days",
					  NULL};
static const char *const access_keys[] = {
    "teachers",		"local_role",	     "remote_role", "default_role",
    "student_max_rate", "student_max_batch", NULL};
/* The [access] keys whose value is a role. */
static const char *const role_keys[] = {"local_role", "remote_role", "default_role", NULL};

/* Whether key is in the NULL-terminated list. */
static int in_list(const char *const *list, const char *key)
{
	for (; *list; list++)
		if (strcmp(*list, key) == 0)
			return 1;
	return 0;
}

/* Record the first error (at line); returns 0, what inih expects from a failing handler. */
static int fail(load_ctx *c, int line, const char *what)
{
	if (!c->failed) {
		lb_error_set(c->err, LB_ERR_INVALID_PARAMS, "%s:%d: %s", c->path, line, what);
		c->failed = line;
	}
	return 0;
}

/* The object of section name, created (starting at line) if new; NULL after an error. */
static json_t *section_get(load_ctx *c, const char *name, int line)
{
	json_t *sec = json_object_get(c->root, name);

	if (sec)
		return sec;
	sec = json_pack("{s:i,s:{}}", "_line", line, "_lines");
	if (!sec) {
		fail(c, line, "out of memory");
		return NULL;
	}
	/* On failure json_object_set_new frees sec. */
	if (json_object_set_new(c->root, name, sec) < 0) {
		fail(c, line, "the section name is not valid UTF-8 (save the file as UTF-8)");
		return NULL;
	}
	return sec;
}

/* inih callback: store one key; returns 0 (inih records the line) on an invalid entry. */
static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	load_ctx *c = user;
	int lineno = c->line;
	char msg[200];
	json_t *sec, *str;

	if (c->failed)
		return 1;
	if (!section[0]) {
		snprintf(msg, sizeof msg, "'%s' is outside any [section]", key ? key : "");
		return fail(c, lineno, msg);
	}
	if (key && c->indented && c->last_key[0] && strcmp(key, c->last_key) == 0)
		return fail(c, lineno,
			    "an indented line continues the previous value, which is not "
			    "supported: remove the blanks at its start");
	sec = section_get(c, section, lineno);
	if (!sec)
		return 0;
	if (!key)
		return 1; /* a section header alone */
	if ((strcmp(section, "bridge") == 0 && !in_list(bridge_keys, key)) ||
	    (strcmp(section, "access") == 0 && !in_list(access_keys, key))) {
		snprintf(msg, sizeof msg, "unknown key '%s' in [%s]", key, section);
		return fail(c, lineno, msg);
	}
	if (strcmp(section, "access") == 0 && in_list(role_keys, key)) {
		lb_role r;
		if (lb_role_parse(value, &r) < 0) {
			snprintf(msg, sizeof msg,
				 "%s must be observer, student or teacher, not '%s'", key, value);
			return fail(c, lineno, msg);
		}
	}
	if (key[0] == '_')
		return fail(c, lineno, "keys may not start with '_'");
	str = json_string(value);
	if (!str)
		return fail(c, lineno, "the value is not valid UTF-8 (save the file as UTF-8)");
	if (json_object_set_new(sec, key, str) < 0)
		return fail(c, lineno, "the key is not valid UTF-8 (save the file as UTF-8)");
	json_object_set_new(json_object_get(sec, "_lines"), key, json_integer(lineno));
	snprintf(c->last_key, sizeof c->last_key, "%s", key);
	return 1;
}

/* inih line reader: fgets that counts lines, so errors can name them, and sees headers. */
static char *read_line(char *buf, int size, void *user)
{
	load_ctx *c = user;
	char *r = fgets(buf, size, c->f);
	size_t n;

	if (!r)
		return NULL;
	c->line++;
	n = strlen(buf);
	if (n == (size_t)size - 1 && buf[n - 1] != '\n' && !feof(c->f)) {
		int ch;
		char msg[64];
		snprintf(msg, sizeof msg, "line too long (at most %d characters)", size - 2);
		fail(c, c->line, msg);
		while ((ch = fgetc(c->f)) != EOF && ch != '\n')
			;
	}
	c->indented = buf[0] == ' ' || buf[0] == '\t';
	if (buf[0] == '[') {
		/* A header: inih calls no handler for it (Debian builds it without
		 * INI_CALL_HANDLER_ON_NEW_SECTION), so create the section here. */
		char *end = strchr(buf + 1, ']');
		c->last_key[0] = '\0';
		if (end && !c->failed) {
			*end = '\0';
			section_get(c, buf + 1, c->line);
			*end = ']';
		}
	}
	return r;
}

json_t *lb_config_empty(void)
{
	return json_object();
}

json_t *lb_config_load(const char *path, lb_error *err)
{
	load_ctx c = {.root = json_object(), .path = path, .err = err};
	int rc;

	if (!c.root) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	json_object_set_new(c.root, "_path", json_string(path));
	c.f = fopen(path, "r");
	rc = c.f ? ini_parse_stream(read_line, &c, on_entry, &c) : -1;
	if (c.f)
		fclose(c.f);
	if (rc == -1)
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s: cannot open: %s", path,
			     strerror(errno));
	else if (rc == -2)
		lb_error_set(err, LB_ERR_INTERNAL, "%s: out of memory", path);
	else if (rc > 0 && (!c.failed || rc < c.failed)) /* the first error is the cause */
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "%s:%d: syntax error (expected [section] or key = value)", path, rc);
	if (rc != 0 || c.failed) {
		json_decref(c.root);
		return NULL;
	}
	return c.root;
}

const char *lb_config_str(const json_t *cfg, const char *section, const char *key, const char *def)
{
	const char *v = json_string_value(json_object_get(json_object_get(cfg, section), key));

	return v ? v : def;
}

int lb_config_num(const json_t *cfg, const char *section, const char *key, double min, double max,
		  double def, double *out, lb_error *err)
{
	json_t *sec = json_object_get(cfg, section);
	const char *v = json_string_value(json_object_get(sec, key));
	json_int_t line = json_integer_value(json_object_get(json_object_get(sec, "_lines"), key));
	const char *path = json_string_value(json_object_get(cfg, "_path"));
	char *end;
	double x;

	if (!v) {
		*out = def;
		return 0;
	}
	errno = 0;
	x = strtod(v, &end);
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == v || *end || errno || !isfinite(x) || x < min || x > max) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "%s:%lld: [%s] %s = '%s' must be a number from %g to %g",
			     path ? path : "(command line)", (long long)line, section, key, v, min,
			     max);
		return LB_EINVAL;
	}
	*out = x;
	return 0;
}

int lb_config_set(json_t *cfg, const char *section, const char *key, const char *value)
{
	json_t *sec = json_object_get(cfg, section);

	if (!sec) {
		sec = json_pack("{s:i,s:{}}", "_line", 0, "_lines");
		if (!sec || json_object_set_new(cfg, section, sec) < 0)
			return LB_ENOMEM;
	}
	return json_object_set_new(sec, key, json_string(value)) < 0 ? LB_ENOMEM : 0;
}

void lb_config_where(const json_t *cfg, const char *section, const char *key, char *buf, size_t n)
{
	const json_t *sec = json_object_get(cfg, section);
	const char *path = json_string_value(json_object_get(cfg, "_path"));
	json_int_t line =
	    key ? json_integer_value(json_object_get(json_object_get(sec, "_lines"), key))
		: json_integer_value(json_object_get(sec, "_line"));

	if (!path)
		snprintf(buf, n, "(command line)");
	else if (line > 0)
		snprintf(buf, n, "%s:%lld", path, (long long)line);
	else
		snprintf(buf, n, "%s", path);
}

int lb_config_report(const json_t *cfg, const char *section, const char *key, const char *fmt, ...)
{
	/* what was reported: "section\nkey\nmessage" -> true (the configuration is loaded once) */
	static json_t *reported;
	char where[600], msg[600], id[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(id, sizeof id, "%s\n%s\n%s", section, key ? key : "", msg);
	if (!reported)
		reported = json_object();
	if (json_object_get(reported, id))
		return 0;
	json_object_set_new(reported, id, json_true());
	lb_config_where(cfg, section, key, where, sizeof where);
	lb_warn("%s: [%s] %s", where, section, msg);
	return 1;
}

/* The edit distance between a[0..la) and b[0..lb), capped: words of up to 31 characters. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t row[32], prev, tmp;

	if (la > 31 || lb > 31)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			prev = tmp;
		}
	}
	return row[lb];
}

/* Whether section is one of known (a "PREFIX.*" entry matches [PREFIX.NAME]). */
static int section_known(const char *section, const char *const *known)
{
	for (; *known; known++) {
		size_t n = strlen(*known);
		if (n >= 2 && strcmp(*known + n - 2, ".*") == 0) {
			if (strncmp(section, *known, n - 1) == 0 && section[n - 1])
				return 1;
		} else if (strcmp(section, *known) == 0) {
			return 1;
		}
	}
	return 0;
}

int lb_config_check_sections(const json_t *cfg, const char *const *known)
{
	const char *section;
	json_t *sec;
	int unknown = 0;

	json_object_foreach((json_t *)cfg, section, sec)
	{
		const char *dot = strchr(section, '.');
		size_t head = dot ? (size_t)(dot - section) : strlen(section), best = 3;
		char guess[300] = "", list[600] = "";
		size_t used = 0;

		if (section[0] == '_' || !json_is_object(sec) || section_known(section, known))
			continue;
		for (const char *const *k = known; *k; k++) {
			size_t n = strlen(*k), d;
			int prefix = n >= 2 && strcmp(*k + n - 2, ".*") == 0;
			if (prefix)
				n -= 2;
			if (used < sizeof list)
				used += (size_t)snprintf(list + used, sizeof list - used,
							 "%s%.*s%s", used ? ", " : "", (int)n, *k,
							 prefix ? ".NAME" : "");
			/* [firmatta.x] for [firmata.x], [bridg] for [bridge], [firmata] alone */
			d = edit_distance(section, head, *k, n);
			if (d < best && (dot ? prefix : 1)) {
				best = d;
				if (prefix && dot)
					snprintf(guess, sizeof guess, "[%.*s%s]", (int)n, *k, dot);
				else if (prefix)
					snprintf(guess, sizeof guess, "[%.*s.NAME]", (int)n, *k);
				else
					snprintf(guess, sizeof guess, "[%s]", *k);
			}
		}
		unknown++;
		lb_config_report(
		    cfg, section, NULL,
		    "is not a section labbridge knows, so it is ignored%s%s%s (known: %s)",
		    guess[0] ? ": did you mean " : "", guess, guess[0] ? "?" : "", list);
	}
	return unknown;
}
