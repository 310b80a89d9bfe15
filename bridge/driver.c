/* driver.c - the registry of drivers, collected from the "lb_driver_list" linker section. */
#include "driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

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

void lb_spec_list_clear(lb_spec_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		json_decref(l->v[i].params);
	free(l->v);
	memset(l, 0, sizeof *l);
}
