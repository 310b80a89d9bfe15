/* test_driver.c - unit tests of bridge/sdk/driver.c: spec lists, absent devices, lb_scan_port. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "../../bridge/util/config.h"
#include "../../bridge/sdk/driver.h"

/* Write text to a new temporary file; its path in path (cap bytes). 0 or -1. */
static int write_conf(char *path, size_t cap, const char *text)
{
	const char *dir = getenv("TMPDIR");
	FILE *f;
	int fd;

	snprintf(path, cap, "%s/labbridge-test-driver-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -1;
	}
	fputs(text, f);
	return fclose(f);
}

/* The configuration text as a config object (written to a temporary file at path, which the
 * caller unlinks), or NULL after a failed check. */
static json_t *load_conf(char *path, size_t cap, const char *text)
{
	lb_error err;
	json_t *cfg;

	CHECK_EQ_INT(write_conf(path, cap, text), 0);
	cfg = lb_config_load(path, &err);
	CHECK(cfg != NULL);
	return cfg;
}

/* A configured port that exists is returned; one that does not, or no port at all, leaves an
 * absent entry with the reason and the section's file:line. */
static void test_scan_port(void)
{
	static const char ini[] = "[firmata.here]\n"	   /* 1 */
				  "port = /dev/null\n"	   /* 2 */
				  "[firmata.nope]\n"	   /* 3 */
				  "port = /dev/ttyNOPE0\n" /* 4 */
				  "[firmata.none]\n"	   /* 5 */
				  "title = Bench 3\n";	   /* 6 */
	char path[512], want[600];
	lb_spec_list out = {0};
	json_t *cfg;
	lb_scan_ctx ctx = {0};

	cfg = load_conf(path, sizeof path, ini);
	if (!cfg)
		goto out;
	ctx.config = cfg;
	CHECK_STR(lb_scan_port(&ctx, "firmata.here", "port", &out, "firmata-here", "B", "sensor"),
		  "/dev/null");
	CHECK_EQ_UINT(out.nabsent, 0);
	CHECK(lb_scan_port(&ctx, "firmata.nope", "port", &out, "firmata-nope", "B", "sensor") ==
	      NULL);
	CHECK(lb_scan_port(&ctx, "firmata.none", "port", &out, "firmata-none", "Bench 3",
			   "sensor") == NULL);
	CHECK_EQ_UINT(out.nabsent, 2);
	CHECK_EQ_UINT(out.n, 0);
	if (out.nabsent == 2) {
		CHECK_STR(out.absent[0].id, "firmata-nope");
		CHECK_CONTAINS(out.absent[0].reason, "port /dev/ttyNOPE0 does not exist");
		snprintf(want, sizeof want, "%s:3", path);
		CHECK_STR(out.absent[0].where, want);
		CHECK_STR(out.absent[1].name, "Bench 3");
		CHECK_STR(out.absent[1].kind, "sensor");
		CHECK_CONTAINS(out.absent[1].reason, "[firmata.none] has no port");
		snprintf(want, sizeof want, "%s:5", path);
		CHECK_STR(out.absent[1].where, want);
	}
	/* a present device and an absent one side by side; clear frees both lists */
	CHECK_EQ_INT(lb_spec_list_add(&out, "a", "A", "sensor", false, json_object()), 0);
	CHECK_EQ_INT(lb_spec_list_absent(&out, "b", "B", "printer", cfg, NULL, "why"), 0);
	CHECK_EQ_UINT(out.n, 1);
	CHECK_EQ_UINT(out.nabsent, 3);
	CHECK_STR(out.absent[2].where, "");
	lb_spec_list_clear(&out);
	CHECK_EQ_UINT(out.n + out.nabsent, 0);
	CHECK(out.absent == NULL);
	json_decref(cfg);
out:
	unlink(path);
}

/* Ids: the prefix, then the tail's characters outside LB_NAME_CHARS made '_', truncated. */
static void test_make_id(void)
{
	char id[32];

	lb_make_id(id, sizeof id, "firmata-", "bench 3/B");
	CHECK_STR(id, "firmata-bench_3_B");
	lb_make_id(id, sizeof id, "modbus-", "a.b-c_d");
	CHECK_STR(id, "modbus-a.b-c_d");
	lb_make_id(id, 6, "printer-", "x");
	CHECK_STR(id, "print");
	lb_make_id(id, sizeof id, "lines-", "\xc3\xa9t\xc3\xa9");
	CHECK_STR(id, "lines-__t__");
}

/* The [FAMILY.NAME] walk: only that family's sections with a name, in file order, with id,
 * name, title (or the default) and options; a family that is a prefix of another is not it. */
static void test_scan_sections(void)
{
	static const char ini[] = "[lines.b 2]\n"
				  "port = /dev/null\n"
				  "title = Bench 2\n"
				  "[linesx.no]\n"
				  "port = /dev/null\n"
				  "[firmata.x]\n"
				  "port = /dev/null\n"
				  "[lines]\n"
				  "baud = 9600\n"
				  "[lines.]\n"
				  "port = /dev/null\n"
				  "[lines.a]\n"
				  "channels = t\n";
	char path[512];
	json_t *cfg;
	lb_scan_ctx ctx = {0};
	lb_config_device d = {0};
	int n = 0;

	cfg = load_conf(path, sizeof path, ini);
	if (!cfg)
		goto out;
	ctx.config = cfg;
	while (lb_scan_sections(&ctx, "lines", "lines-", "Serial board", &d)) {
		n++;
		if (n == 1) {
			CHECK_STR(d.section, "lines.b 2");
			CHECK_STR(d.name, "b 2");
			CHECK_STR(d.id, "lines-b_2");
			CHECK_STR(d.title, "Bench 2");
			CHECK_STR(json_string_value(json_object_get(d.options, "port")),
				  "/dev/null");
		} else if (n == 2) {
			CHECK_STR(d.section, "lines.a");
			CHECK_STR(d.id, "lines-a");
			CHECK_STR(d.title, "Serial board");
			CHECK_STR(json_string_value(json_object_get(d.options, "channels")), "t");
		}
	}
	CHECK_EQ_INT(n, 2);
	/* an ended walk starts again from the first section */
	CHECK(lb_scan_sections(&ctx, "lines", "lines-", "Serial board", &d));
	CHECK_STR(d.section, "lines.b 2");
	memset(&d, 0, sizeof d);
	n = 0;
	while (lb_scan_sections(&ctx, "firmata", "firmata-", "F", &d))
		n++;
	CHECK_EQ_INT(n, 1);
	CHECK(!lb_scan_sections(&ctx, "marlin", "printer-", "P", &(lb_config_device){0}));
	json_decref(cfg);
out:
	unlink(path);
}

int main(void)
{
	RUN(test_scan_sections);
	RUN(test_make_id);
	RUN(test_scan_port);
	return check_summary();
}
