/* config.c - the configuration file (INI, read with inih) as a JSON object of sections. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"

typedef struct load_ctx {
	json_t *root;
	FILE *f;
	int line; /* the line inih is handling (counted by the reader) */
	const char *path;
	lb_error *err;
	int failed;
} load_ctx;

static const char *const bridge_keys[] = {"pub", "rpc", "ws", "simulate", "heartbeat_ms",
					  "log_level", "data_dir", "pub_hwm",
					  "request_timeout_ms", "emulate", NULL};
static const char *const access_keys[] = {"default_role", "remote_role", NULL};

/* Whether key is in the NULL-terminated list. */
static int in_list(const char *const *list, const char *key)
{
	for (; *list; list++)
		if (strcmp(*list, key) == 0)
			return 1;
	return 0;
}

/* inih callback: store one key; returns 0 (inih records the line) on an invalid entry. */
static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	load_ctx *c = user;
	int lineno = c->line;
	json_t *sec, *lines;

	if (c->failed)
		return 1;
	if (!section[0]) {
		lb_error_set(c->err, LB_ERR_INVALID_PARAMS, "%s:%d: '%s' is outside any [section]",
			     c->path, lineno, key ? key : "");
		return c->failed = 1, 0;
	}
	sec = json_object_get(c->root, section);
	if (!sec) {
		sec = json_pack("{s:i,s:{}}", "_line", lineno, "_lines");
		json_object_set_new(c->root, section, sec);
	}
	if (!key)
		return 1; /* a section header alone */
	if ((strcmp(section, "bridge") == 0 && !in_list(bridge_keys, key)) ||
	    (strcmp(section, "access") == 0 && !in_list(access_keys, key))) {
		lb_error_set(c->err, LB_ERR_INVALID_PARAMS, "%s:%d: unknown key '%s' in [%s]",
			     c->path, lineno, key, section);
		return c->failed = 1, 0;
	}
	if (strcmp(section, "access") == 0) {
		lb_role r;
		if (lb_role_parse(value, &r) < 0) {
			lb_error_set(c->err, LB_ERR_INVALID_PARAMS,
				     "%s:%d: %s must be observer, student or teacher, not '%s'",
				     c->path, lineno, key, value);
			return c->failed = 1, 0;
		}
	}
	if (key[0] == '_') {
		lb_error_set(c->err, LB_ERR_INVALID_PARAMS, "%s:%d: keys may not start with '_'",
			     c->path, lineno);
		return c->failed = 1, 0;
	}
	json_object_set_new(sec, key, json_string(value));
	lines = json_object_get(sec, "_lines");
	json_object_set_new(lines, key, json_integer(lineno));
	return 1;
}

/* inih line reader: fgets that counts lines, so errors can name them. */
static char *read_line(char *buf, int size, void *user)
{
	load_ctx *c = user;
	char *r = fgets(buf, size, c->f);

	if (r)
		c->line++;
	return r;
}

json_t *lb_config_empty(void)
{
	return json_object();
}

json_t *lb_config_load(const char *path, lb_error *err)
{
	load_ctx c = {json_object(), NULL, 0, path, err, 0};
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
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s: cannot open: %s", path, strerror(errno));
	else if (rc == -2)
		lb_error_set(err, LB_ERR_INTERNAL, "%s: out of memory", path);
	else if (rc > 0 && !c.failed)
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "%s:%d: syntax error (expected [section] or key = value)", path, rc);
	if (rc != 0) {
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
			     path ? path : "(command line)", (long long)line, section, key, v, min, max);
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
