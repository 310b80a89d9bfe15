/* assign.c - device assignments to groups: the table, the lease rule and the file's text (pure). */
#include "assign.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool lb_assign_group_ok(const char *group)
{
	const unsigned char *p = (const unsigned char *)group;
	size_t len = strlen(group);

	if (len < 1 || len > LB_ASSIGN_GROUP_MAX)
		return false;
	while (*p) {
		unsigned cp, need;
		if (*p < 0x80) {
			if (*p < 0x20 || *p == 0x7f)
				return false;
			p++;
			continue;
		}
		if (*p >= 0xC2 && *p <= 0xDF) {
			cp = *p & 0x1F;
			need = 1;
		} else if (*p >= 0xE0 && *p <= 0xEF) {
			cp = *p & 0x0F;
			need = 2;
		} else if (*p >= 0xF0 && *p <= 0xF4) {
			cp = *p & 0x07;
			need = 3;
		} else {
			return false;
		}
		p++;
		for (unsigned k = 0; k < need; k++, p++) {
			if ((*p & 0xC0) != 0x80) /* also stops at the terminating zero */
				return false;
			cp = (cp << 6) | (*p & 0x3F);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0x80 && cp <= 0x9F))
			return false;
	}
	return true;
}

/* The index of device in t, or where it would go (*found says which). */
static size_t locate(const lb_assigns *t, const char *device, bool *found)
{
	size_t lo = 0, hi = t->n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->v[mid].device, device);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const lb_assignment *lb_assigns_find(const lb_assigns *t, const char *device)
{
	bool found;
	size_t i = locate(t, device, &found);

	return found ? &t->v[i] : NULL;
}

int lb_assigns_set(lb_assigns *t, const char *device, const char *group, int64_t since)
{
	bool found;
	size_t i, len = strlen(device);

	if (len < 1 || len > LB_ASSIGN_ID_MAX || (group && !lb_assign_group_ok(group)))
		return LB_ASSIGN_EBAD;
	i = locate(t, device, &found);
	if (!group) {
		if (!found)
			return 0;
		memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof *t->v);
		t->n--;
		return 1;
	}
	if (found) {
		if (strcmp(t->v[i].group, group) == 0)
			return 0;
		snprintf(t->v[i].group, sizeof t->v[i].group, "%s", group);
		t->v[i].since = since;
		return 1;
	}
	if (t->n >= LB_ASSIGN_MAX)
		return LB_ASSIGN_EFULL;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		lb_assignment *v = realloc(t->v, cap * sizeof *v);
		if (!v)
			return LB_ASSIGN_EFULL;
		t->v = v;
		t->cap = cap;
	}
	memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof *t->v);
	memset(&t->v[i], 0, sizeof t->v[i]);
	snprintf(t->v[i].device, sizeof t->v[i].device, "%s", device);
	snprintf(t->v[i].group, sizeof t->v[i].group, "%s", group);
	t->v[i].since = since;
	t->n++;
	return 1;
}

bool lb_assigns_allow(const lb_assigns *t, const char *device, const char *group, const char *user)
{
	const lb_assignment *a = lb_assigns_find(t, device);

	if (!a)
		return true;
	return (group[0] && strcmp(a->group, group) == 0) ||
	       (user[0] && strcmp(a->group, user) == 0);
}

int lb_assigns_parse(const char *text, size_t len, lb_assigns *t, char *why, size_t cap)
{
	json_error_t jerr;
	json_t *o = NULL, *list, *e;
	size_t i;
	int rc = LB_ASSIGN_EBAD;

	lb_assigns_clear(t);
	if (len > LB_ASSIGN_FILE_MAX) {
		snprintf(why, cap, "over %d bytes", LB_ASSIGN_FILE_MAX);
		goto out;
	}
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o) {
		snprintf(why, cap, "line %d: %s", jerr.line, jerr.text);
		goto out;
	}
	list = json_object_get(o, "assignments");
	if (!json_is_object(o) || json_integer_value(json_object_get(o, "v")) != 1 ||
	    !json_is_array(list)) {
		snprintf(why, cap, "not {\"v\": 1, \"assignments\": [...]}");
		goto out;
	}
	json_array_foreach(list, i, e)
	{
		const char *device = json_string_value(json_object_get(e, "device"));
		const char *group = json_string_value(json_object_get(e, "group"));
		json_t *since = json_object_get(e, "since_ns");
		int r;
		if (!device || !group || !json_is_integer(since)) {
			snprintf(why, cap, "entry %zu: needs device, group and since_ns", i);
			goto out;
		}
		if (lb_assigns_find(t, device)) {
			snprintf(why, cap, "entry %zu: %.64s assigned twice", i, device);
			goto out;
		}
		r = lb_assigns_set(t, device, group, (int64_t)json_integer_value(since));
		if (r < 0) {
			snprintf(why, cap, "entry %zu: %s", i,
				 r == LB_ASSIGN_EBAD ? "a bad device id or group name"
						     : "too many assignments");
			goto out;
		}
	}
	rc = 0;
out:
	if (rc < 0)
		lb_assigns_clear(t);
	json_decref(o);
	return rc;
}

char *lb_assigns_dump(const lb_assigns *t)
{
	json_t *list = json_array(), *o;
	char *text = NULL, *nl = NULL;

	for (size_t i = 0; list && i < t->n; i++)
		if (json_array_append_new(list, json_pack("{s:s,s:s,s:I}", "device", t->v[i].device,
							  "group", t->v[i].group, "since_ns",
							  (json_int_t)t->v[i].since)) < 0)
			goto out;
	o = list ? json_pack("{s:i,s:O}", "v", 1, "assignments", list) : NULL;
	text = o ? json_dumps(o, JSON_INDENT(1)) : NULL;
	json_decref(o);
	if (text && asprintf(&nl, "%s\n", text) < 0)
		nl = NULL;
out:
	free(text);
	json_decref(list);
	return nl;
}

void lb_assigns_clear(lb_assigns *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}
