/* topics.c - who may receive which stream topics: public families, and those of a device's owner
 * (pure logic). */
#include "topics.h"

#include <stdio.h>
#include <string.h>

/* The streams only a device's owner and teachers receive (topics.h). */
static const struct {
	const char *kind, *stream;
} restricted[] = {
    {"robot", "console"}, {"robot", "event"},	   {"printer", "console"},
    {"scanner", "image"}, {"scanner3d", "points"},
};
#define NRESTRICTED (sizeof restricted / sizeof restricted[0])

/* Kinds public as a whole, offered when a narrowed prefix covers them. */
static const char *const public_kinds[] = {"sensor/", "bridge/"};

/* Public topics a service publishes under a device, beside the device's own streams. */
static const struct {
	const char *kind, *stream;
} service_public[] = {
    {"robot", "state"},
    {"scanner", "progress"},
    {"scanner3d", "progress"},
    {"printer", "status"},
};
#define NSERVICE (sizeof service_public / sizeof service_public[0])

/* Whether s (n bytes) equals the NUL-terminated word w. */
static bool same(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

/* Whether kind (n bytes) has restricted streams. */
static bool kind_restricted(const char *kind, size_t n)
{
	for (size_t i = 0; i < NRESTRICTED; i++)
		if (same(kind, n, restricted[i].kind))
			return true;
	return false;
}

/* Whether stream (n bytes) of kind (kn bytes) is restricted. */
static bool stream_restricted(const char *kind, size_t kn, const char *stream, size_t n)
{
	for (size_t i = 0; i < NRESTRICTED; i++)
		if (same(kind, kn, restricted[i].kind) && same(stream, n, restricted[i].stream))
			return true;
	return false;
}

/* Whether a restricted stream of kind (kn bytes) starts with part (n bytes, no '/'). */
static bool stream_covers(const char *kind, size_t kn, const char *part, size_t n)
{
	for (size_t i = 0; i < NRESTRICTED; i++)
		if (same(kind, kn, restricted[i].kind) && strlen(restricted[i].stream) >= n &&
		    memcmp(restricted[i].stream, part, n) == 0)
			return true;
	return false;
}

/* Position of the first '/' of s (n bytes) from `from`, or n. */
static size_t slash(const char *s, size_t n, size_t from)
{
	while (from < n && s[from] != '/')
		from++;
	return from;
}

bool lb_topic_restricted(const char *topic, size_t len)
{
	size_t k = slash(topic, len, 0), i = k < len ? slash(topic, len, k + 1) : len,
	       st = i < len ? slash(topic, len, i + 1) : len;

	if (st >= len)
		return false;
	return stream_restricted(topic, k, topic + i + 1, st - i - 1);
}

/* The state of one narrowing: the prefix narrowed and where its replacements go. */
typedef struct narrow {
	const char *p;
	size_t len;
	lb_topic_emit *emit;
	void *arg;
	size_t n; /* prefixes emitted */
} narrow;

/* Offer topic t (tn bytes): if the prefix and t overlap, emit the longer of the two. */
static void offer(narrow *nw, const char *t, size_t tn)
{
	size_t m = nw->len < tn ? nw->len : tn;

	if (tn > LB_TOPIC_MAX || memcmp(nw->p, t, m) != 0)
		return;
	if (nw->emit)
		nw->emit(nw->arg, nw->len > tn ? nw->p : t, nw->len > tn ? nw->len : tn);
	nw->n++;
}

/* Whether stream j of device i appears earlier in its list, or is a service topic of kind. */
static bool stream_seen(const lb_topic_view *v, size_t i, size_t j, const char *name)
{
	for (size_t k = 0; k < j; k++) {
		const char *o = v->stream(v->arg, i, k);
		if (o && strcmp(o, name) == 0)
			return true;
	}
	return false;
}

/* Emit what a narrowed prefix becomes for this subscriber. */
static void narrow_prefix(narrow *nw, const lb_topic_view *v, bool student, const char *user)
{
	char t[LB_TOPIC_MAX + 1];
	size_t ndev = v ? v->count(v->arg) : 0;

	for (size_t k = 0; k < sizeof public_kinds / sizeof *public_kinds; k++)
		offer(nw, public_kinds[k], strlen(public_kinds[k]));
	for (size_t i = 0; i < ndev; i++) {
		const char *kind = NULL, *id = NULL, *name;
		bool dup = false;
		int n;

		v->device(v->arg, i, &kind, &id);
		if (!kind || !id)
			continue;
		if (!kind_restricted(kind, strlen(kind))) {
			/* a kind with no restricted stream: whole, once */
			n = snprintf(t, sizeof t, "%s/", kind);
			for (size_t k = 0; k < sizeof public_kinds / sizeof *public_kinds; k++)
				dup = dup || strcmp(public_kinds[k], t) == 0;
			for (size_t e = 0; e < i && !dup; e++) {
				const char *ek = NULL, *eid = NULL;
				v->device(v->arg, e, &ek, &eid);
				dup = ek && strcmp(ek, kind) == 0;
			}
			if (!dup && n > 0 && (size_t)n < sizeof t)
				offer(nw, t, (size_t)n);
			continue;
		}
		n = snprintf(t, sizeof t, "%s/%s/", kind, id);
		if (n < 0 || (size_t)n >= sizeof t)
			continue;
		if (student && user && v->owns(v->arg, i, user)) {
			offer(nw, t, (size_t)n);
			continue;
		}
		for (size_t j = 0; (name = v->stream(v->arg, i, j)) != NULL; j++) {
			int m;
			if (stream_restricted(kind, strlen(kind), name, strlen(name)) ||
			    stream_seen(v, i, j, name))
				continue;
			m = snprintf(t, sizeof t, "%s/%s/%s/", kind, id, name);
			if (m > 0 && (size_t)m < sizeof t)
				offer(nw, t, (size_t)m);
		}
		for (size_t s = 0; s < NSERVICE; s++) {
			int m;
			name = service_public[s].stream;
			if (strcmp(service_public[s].kind, kind) != 0)
				continue;
			dup = false;
			for (size_t j = 0; !dup && v->stream(v->arg, i, j); j++)
				dup = strcmp(v->stream(v->arg, i, j), name) == 0;
			m = snprintf(t, sizeof t, "%s/%s/%s/", kind, id, name);
			if (!dup && m > 0 && (size_t)m < sizeof t)
				offer(nw, t, (size_t)m);
		}
	}
}

/* The device of kind (kn bytes) and id (idn bytes) in the view, or (size_t)-1. */
static size_t find_device(const lb_topic_view *v, const char *kind, size_t kn, const char *id,
			  size_t idn)
{
	size_t n = v ? v->count(v->arg) : 0;

	for (size_t i = 0; i < n; i++) {
		const char *k = NULL, *d = NULL;
		v->device(v->arg, i, &k, &d);
		if (k && d && same(kind, kn, k) && same(id, idn, d))
			return i;
	}
	return (size_t)-1;
}

lb_topic_verdict lb_topic_check(lb_role role, const char *user, const char *prefix, size_t len,
				const lb_topic_view *view, lb_topic_emit *emit, void *arg,
				bool *owned, char *why, size_t cap)
{
	bool student = role == LB_ROLE_STUDENT, covers = false;
	size_t k, i, st;
	narrow nw = {prefix, len, emit, arg, 0};

	if (owned)
		*owned = false;
	if (why && cap)
		why[0] = '\0';
	if (role >= LB_ROLE_TEACHER)
		return LB_TOPIC_ALLOW;
	k = slash(prefix, len, 0);
	if (k >= len) {
		/* a partial kind ("", "r"): does it cover a kind with restricted streams? */
		for (size_t r = 0; r < NRESTRICTED && !covers; r++)
			covers = strlen(restricted[r].kind) >= len &&
				 memcmp(restricted[r].kind, prefix, len) == 0;
	} else if (!kind_restricted(prefix, k)) {
		return LB_TOPIC_ALLOW;
	} else if ((i = slash(prefix, len, k + 1)) >= len) {
		covers = true; /* a partial device id: any device of the kind */
	} else if ((st = slash(prefix, len, i + 1)) >= len) {
		covers = stream_covers(prefix, k, prefix + i + 1, len - i - 1);
		/* within one device: the whole of it for its owner */
		if (covers && student && user) {
			size_t d = find_device(view, prefix, k, prefix + k + 1, i - k - 1);
			if (d != (size_t)-1 && view->owns(view->arg, d, user)) {
				if (owned)
					*owned = true;
				return LB_TOPIC_ALLOW;
			}
		}
	} else if (stream_restricted(prefix, k, prefix + i + 1, st - i - 1)) {
		size_t d = find_device(view, prefix, k, prefix + k + 1, i - k - 1);
		if (owned)
			*owned = student; /* an observer never owns anything */
		if (student && user && d != (size_t)-1 && view->owns(view->arg, d, user))
			return LB_TOPIC_ALLOW;
		if (why && cap)
			snprintf(why, cap,
				 "'%.*s' is a restricted topic (consoles, program events, scan "
				 "images, point batches): only the device's owner (the holder of "
				 "its lease or of its job) and teachers receive it; you are %s, %s",
				 (int)(len > 96 ? 96 : len), prefix, user ? user : "anonymous",
				 lb_role_name(role));
		return LB_TOPIC_REFUSE;
	}
	if (!covers)
		return LB_TOPIC_ALLOW;
	if (owned)
		*owned = true; /* the devices present, and their owners, decide */
	narrow_prefix(&nw, view, student, user);
	if (why && cap)
		snprintf(why, cap,
			 "'%.*s' also covers restricted topics (consoles, program events, scan "
			 "images, point batches) of devices %s: narrowed to %zu prefixes",
			 (int)(len > 96 ? 96 : len), prefix,
			 student ? "you do not own" : "an observer may not see", nw.n);
	return LB_TOPIC_NARROW;
}
