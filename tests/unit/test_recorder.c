/* test_recorder.c - CSV rows and headers of recordings, and the SQLite store. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "../../bridge/services/sensing/recorder.h"
#include "../../bridge/services/sensing/store.h"

static void test_csv_rows(void)
{
	lb_csv_opts en = {',', 0}, fr = {';', 1};
	char buf[128];
	/* 2026-11-22T10:00:00.250000Z = 1795341600.25 s */
	int64_t t0 = 1795341600000000000LL, t = t0 + 250000000LL;

	CHECK(lb_csv_row(buf, sizeof buf, &en, t, t0, 21.53) > 0);
	CHECK_STR(buf, "0.250000,2026-11-22T10:00:00.250000Z,21.53\n");
	CHECK(lb_csv_row(buf, sizeof buf, &fr, t, t0, 21.53) > 0);
	CHECK_STR(buf, "0,250000;2026-11-22T10:00:00,250000Z;21,53\n");
	CHECK(lb_csv_row(buf, sizeof buf, &en, t0 + 61500000000LL, t0, -0.000125) > 0);
	CHECK_STR(buf, "61.500000,2026-11-22T10:01:01.500000Z,-0.000125\n");
	CHECK_EQ_INT(lb_csv_row(buf, 10, &en, t, t0, 1.0), -1);
}

static void test_csv_header(void)
{
	lb_csv_opts en = {',', 0}, fr = {';', 1};
	char buf[256];

	CHECK(lb_csv_header(buf, sizeof buf, &fr, "temperature", "°C") > 0);
	CHECK_STR(buf, "t (s);time (UTC);temperature (°C)\n");
	/* a separator or a quote in the column is quoted (RFC 4180) */
	CHECK(lb_csv_header(buf, sizeof buf, &en, "a,b", "\"x\"") > 0);
	CHECK_STR(buf, "t (s),time (UTC),\"a,b (\"\"x\"\")\"\n");
	CHECK_EQ_INT(lb_csv_header(buf, 8, &en, "temperature", "°C"), -1);
}

static void test_store(void)
{
	char dir[] = "/tmp/lbtest-store-XXXXXX";
	char sub[64];
	lb_error err = {0};
	lb_store *st;
	json_t *c, *rec, *list;
	long long id;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(sub, sizeof sub, "%s/a/b", dir);
	st = lb_store_new(sub, &err); /* creates the directories */
	CHECK(st != NULL);
	if (!st)
		return;
	CHECK_EQ_INT(lb_store_calib_set(st, "firmata-123", "a0", 2.0, -1.5, 1, &err), 0);
	CHECK_EQ_INT(lb_store_calib_set(st, "firmata-123", "a0", 3.0, 0.5, 2, &err),
		     0); /* replace */
	CHECK_EQ_INT(lb_store_calib_set(st, "firmata-123", "a1", 1.0, 1.0, 2, &err), 0);
	c = lb_store_calib_get(st, "firmata-123");
	CHECK_EQ_INT((int)json_object_size(c), 2);
	CHECK_NEAR(json_number_value(json_object_get(json_object_get(c, "a0"), "gain")), 3.0,
		   1e-12);
	CHECK_NEAR(json_number_value(json_object_get(json_object_get(c, "a0"), "offset")), 0.5,
		   1e-12);
	json_decref(c);
	CHECK_EQ_INT(lb_store_calib_clear(st, "firmata-123", "a1", &err), 0);
	c = lb_store_calib_get(st, "firmata-123");
	CHECK_EQ_INT((int)json_object_size(c), 1);
	json_decref(c);
	c = lb_store_calib_get(st, "nobody");
	CHECK_EQ_INT((int)json_object_size(c), 0);
	json_decref(c);

	rec = json_pack("{s:s,s:s,s:I,s:s,s:[s],s:s,s:b}", "name", "TP", "owner", "alice",
			"started", (json_int_t)5, "dir", "", "streams", "sensor/x/", "sep", ";",
			"decimal_comma", 1);
	id = lb_store_recording_add(st, rec, &err);
	json_decref(rec);
	CHECK(id > 0);
	CHECK_EQ_INT(lb_store_recording_dir(st, id, "/tmp/x", &err), 0);
	lb_store_destroy(&st);
	CHECK(st == NULL);

	/* reopening after a "crash" marks the running recording interrupted; data persisted */
	st = lb_store_new(sub, &err);
	CHECK(st != NULL);
	if (!st)
		return;
	list = lb_store_recordings(st, 0);
	CHECK_EQ_INT((int)json_array_size(list), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "state")),
		  "interrupted");
	CHECK_STR(json_string_value(json_object_get(json_array_get(list, 0), "dir")), "/tmp/x");
	json_decref(list);
	CHECK_EQ_INT(lb_store_recording_state(st, id, "stopped", 9, &err), 0);
	rec = lb_store_recordings(st, id);
	CHECK_STR(json_string_value(json_object_get(rec, "state")), "stopped");
	CHECK_EQ_INT((int)json_integer_value(json_object_get(rec, "stopped_ns")), 9);
	json_decref(rec);
	CHECK(lb_store_recordings(st, id + 100) == NULL);
	c = lb_store_calib_get(st, "firmata-123");
	CHECK_EQ_INT((int)json_object_size(c), 1);
	json_decref(c);
	lb_store_destroy(&st);
	lb_store_destroy(&st); /* accepts NULL */

	/* an unusable directory is a clear error */
	CHECK(lb_store_new("/proc/nope/x", &err) == NULL);
	CHECK_CONTAINS(err.message, "/proc/nope");
	{
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		CHECK_EQ_INT(system(cmd), 0);
	}
}

int main(void)
{
	RUN(test_csv_rows);
	RUN(test_csv_header);
	RUN(test_store);
	return check_summary();
}
