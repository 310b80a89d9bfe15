/* glue.h - a device without a thread for driver glue tests: the test plays the device's thread,
 * passes made-up times to open/start/run, and reads what the driver published. */
#ifndef LB_TEST_GLUE_H
#define LB_TEST_GLUE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../bridge/core/device.h"

#define MS 1000000LL
#define SEC 1000000000LL
/* Made-up clocks: far from the real ones, so that a real reading would show. */
#define T0_MONO (1000 * SEC)
#define T0_REAL (1700000000LL * SEC)

/* The device under test and where its messages go. */
typedef struct glue {
	lb_upwake wake;
	lb_upq q;
	lb_device *dev;
	lb_up *pending; /* taken from the queue, not yet given to the test (oldest first) */
} glue;

/* One published data message, decoded. */
typedef struct glue_msg {
	char topic[128];
	int64_t t_host, t_dev;
	uint64_t seq;
	long count;
	double last;
} glue_msg;

/* A moment ms after the made-up start. */
static inline lb_now glue_at(int64_t ms)
{
	lb_now n = {T0_MONO + ms * MS, T0_REAL + ms * MS};
	return n;
}

/* Make a device of driver drv with that id, kind and params (taken over). 0 or -1. */
static inline int glue_init(glue *g, const char *drv, const char *id, const char *kind,
			    json_t *params)
{
	memset(g, 0, sizeof *g);
	g->wake.efd = eventfd(0, EFD_NONBLOCK);
	lb_upq_init(&g->q, &g->wake);
	g->dev = calloc(1, sizeof *g->dev);
	if (!g->dev || !(g->dev->driver = lb_driver_find(drv))) {
		json_decref(params);
		return -1;
	}
	snprintf(g->dev->spec.id, sizeof g->dev->spec.id, "%s", id);
	snprintf(g->dev->spec.kind, sizeof g->dev->spec.kind, "%s", kind);
	g->dev->spec.params = params;
	memcpy(g->dev->epoch, "0123456789abcdef", 17);
	g->dev->upq = &g->q;
	return 0;
}

/* Take the oldest data messages published and not yet taken into out (at most max: the others
 * wait for the next call); how many. */
static inline int glue_take(glue *g, glue_msg *out, int max)
{
	int n = 0;
	lb_up *m;

	if (!g->pending)
		g->pending = lb_upq_take(&g->q);
	else {
		lb_up *t = g->pending;
		while (t->next)
			t = t->next;
		t->next = lb_upq_take(&g->q);
	}
	while ((m = g->pending) != NULL && n < max) {
		g->pending = m->next;
		if (m->meta.type == LB_CHAN_DATA && m->nframes >= 2) {
			glue_msg *o = &out[n++];
			char h[LB_HEADER_MAX + 1];
			json_t *j;
			snprintf(o->topic, sizeof o->topic, "%.*s", (int)zmq_msg_size(&m->frame[0]),
				 (const char *)zmq_msg_data(&m->frame[0]));
			snprintf(h, sizeof h, "%.*s", (int)zmq_msg_size(&m->frame[1]),
				 (const char *)zmq_msg_data(&m->frame[1]));
			j = json_loads(h, 0, NULL);
			o->t_host = json_integer_value(json_object_get(j, "t_host"));
			o->t_dev = json_integer_value(json_object_get(j, "t_dev"));
			o->seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
			o->count = (long)json_integer_value(json_object_get(j, "count"));
			o->last = m->meta.last;
			json_decref(j);
		}
		lb_up_free(m);
	}
	return n;
}

/* Drop every message published so far. */
static inline void glue_drain(glue *g)
{
	glue_msg m[16];

	while (glue_take(g, m, 16) > 0 || g->pending)
		;
}

/* The message of that topic's stream name ("sensor/ID/NAME/"), or NULL. */
static inline const glue_msg *glue_find(const glue_msg *v, int n, const char *name)
{
	for (int i = 0; i < n; i++) {
		const char *s = strstr(v[i].topic, name);
		if (s && s > v[i].topic && s[-1] == '/' && s[strlen(name)] == '/')
			return &v[i];
	}
	return NULL;
}

/* Close the device (if opened) and free everything. */
static inline void glue_fini(glue *g, int opened)
{
	if (opened && g->dev && g->dev->driver->close)
		g->dev->driver->close(g->dev);
	for (lb_up *m = g->pending, *next; m; m = next) {
		next = m->next;
		lb_up_free(m);
	}
	g->pending = NULL;
	lb_device_destroy(&g->dev);
	lb_upq_fini(&g->q);
	close(g->wake.efd);
}

#endif
