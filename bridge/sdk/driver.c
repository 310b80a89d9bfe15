/* driver.c - the registry of drivers, collected from the "lb_driver_list" linker section. */
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <unistd.h>

#include "../util/config.h"
#include "device.h"
#include "../util/grow.h"

/* A placeholder keeps the section present even in a binary without drivers (unit tests). */
static const lb_driver *lb_driver_none
    __attribute__((section("lb_driver_list"), used, aligned(sizeof(void *)))) = NULL;

extern const lb_driver *__start_lb_driver_list[];
extern const lb_driver *__stop_lb_driver_list[];

const lb_driver *const *lb_drivers(size_t *n)
{
	static const lb_driver *list[64];
	static size_t count;

	if (!count) {
		for (const lb_driver **p = __start_lb_driver_list; p < __stop_lb_driver_list; p++)
			if (*p && count < 64)
				list[count++] = *p;
	}
	(void)lb_driver_none;
	*n = count;
	return list;
}

const lb_driver *lb_driver_find(const char *name)
{
	size_t n;
	const lb_driver *const *d = lb_drivers(&n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(d[i]->name, name) == 0)
			return d[i];
	return NULL;
}

void lb_make_id(char *out, size_t cap, const char *prefix, const char *tail)
{
	size_t n;

	if (cap == 0)
		return;
	n = (size_t)snprintf(out, cap, "%s", prefix);
	if (n >= cap)
		n = cap - 1;
	for (; *tail && n + 1 < cap; tail++)
		out[n++] = strchr(LB_NAME_CHARS, *tail) ? *tail : '_';
	out[n] = '\0';
}

const char *lb_cap_name(unsigned bit)
{
	static const char *const names[] = {"stream", "halt",	 "program", "job",
					    "upload", "actions", "events"};

	for (unsigned k = 0; k < sizeof names / sizeof names[0]; k++)
		if (bit == 1u << k)
			return names[k];
	return NULL;
}

const lb_action *lb_driver_event(const lb_driver *drv, const char *name)
{
	for (const lb_action *a = drv->events; a && a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

const lb_action *lb_driver_action(const lb_driver *drv, const char *name)
{
	for (const lb_action *a = drv ? drv->actions : NULL; a && a->name; a++)
		if (strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

int lb_spec_list_add(lb_spec_list *l, const char *id, const char *name, const char *kind,
		     bool simulated, json_t *params)
{
	lb_device_spec *s;

	if (lb_grow(&l->v, &l->cap, l->n, sizeof *l->v) < 0) {
		json_decref(params);
		return LB_ENOMEM;
	}
	s = &l->v[l->n++];
	memset(s, 0, sizeof *s);
	snprintf(s->id, sizeof s->id, "%s", id);
	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(s->kind, sizeof s->kind, "%s", kind);
	s->simulated = simulated;
	s->params = params;
	return 0;
}

int lb_spec_list_absent(lb_spec_list *l, const char *id, const char *name, const char *kind,
			const json_t *cfg, const char *section, const char *reason)
{
	lb_absent_spec *a;

	if (lb_grow(&l->absent, &l->capabsent, l->nabsent, sizeof *l->absent) < 0)
		return LB_ENOMEM;
	a = &l->absent[l->nabsent++];
	memset(a, 0, sizeof *a);
	snprintf(a->id, sizeof a->id, "%s", id);
	snprintf(a->name, sizeof a->name, "%s", name);
	snprintf(a->kind, sizeof a->kind, "%s", kind);
	snprintf(a->reason, sizeof a->reason, "%s", reason);
	if (section)
		lb_config_where(cfg, section, NULL, a->where, sizeof a->where);
	return 0;
}

const char *lb_scan_port(const lb_scan_ctx *ctx, const char *section, const char *key,
			 lb_spec_list *out, const char *id, const char *name, const char *kind)
{
	const char *path = lb_config_str(ctx->config, section, key, NULL);
	char reason[256];

	if (!path || !*path) {
		snprintf(reason, sizeof reason, "[%s] has no %s (e.g. %s = /dev/ttyACM0)", section,
			 key, key);
		lb_spec_list_absent(out, id, name, kind, ctx->config, section, reason);
		return NULL;
	}
	if (access(path, F_OK) == 0)
		return path;
	if (errno == ENOENT)
		snprintf(reason, sizeof reason, "port %s does not exist (not plugged in?)", path);
	else
		snprintf(reason, sizeof reason, "port %s cannot be checked: %s", path,
			 strerror(errno));
	lb_spec_list_absent(out, id, name, kind, ctx->config, section, reason);
	return NULL;
}

bool lb_scan_sections(const lb_scan_ctx *ctx, const char *family, const char *id_prefix,
		      const char *def_title, lb_config_device *d)
{
	json_t *cfg = (json_t *)ctx->config;
	size_t flen = strlen(family);
	void *it = d->iter_ ? json_object_iter_next(cfg, d->iter_) : json_object_iter(cfg);

	for (; it; it = json_object_iter_next(cfg, it)) {
		const char *section = json_object_iter_key(it);
		json_t *sec = json_object_iter_value(it);
		if (strncmp(section, family, flen) != 0 || section[flen] != '.' ||
		    !section[flen + 1] || !json_is_object(sec))
			continue;
		d->section = section;
		d->name = section + flen + 1;
		d->options = sec;
		d->title = lb_config_str(ctx->config, section, "title", def_title);
		lb_make_id(d->id, sizeof d->id, id_prefix, d->name);
		d->iter_ = it;
		return true;
	}
	d->iter_ = NULL;
	return false;
}

void lb_spec_list_clear(lb_spec_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		json_decref(l->v[i].params);
	free(l->v);
	free(l->absent);
	memset(l, 0, sizeof *l);
}
