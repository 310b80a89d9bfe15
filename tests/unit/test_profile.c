/* test_profile.c - printer profiles and presets as PrusaSlicer INI files, `--info` parsed, the
 * fit check's messages; then the real prusa-slicer with each preset on a 20 mm cube (its G-code
 * passing the print check) and a model larger than the bed refused with its size. */
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bridge/services/print/gcheck.h"
#include "../../bridge/services/print/profile.h"
#include "../../bridge/services/print/slicer.h"
#include "../../bridge/util/clock.h"
#include "check.h"
#include "stl_box.h"

#define WAIT_S 60

static char root[] = "/tmp/lbtest-profile-XXXXXX";

static const char info_text[] =
    "[2026-12-03 17:25:42.468410] [0x00007fb87a73ed80] [trace]   Initializing StaticPrintConfigs\n"
    "[cube.stl]\nsize_x = 20.000000\nsize_y = 30.500000\nsize_z = 10.000000\nmin_x = 0.000000\n"
    "min_y = -5.000000\nmin_z = 0.000000\nmax_x = 20.000000\nmax_y = 25.500000\n"
    "max_z = 10.000000\nnumber_of_facets = 12\nmanifold = yes\nnumber_of_parts =  1\n"
    "volume = 6100.000488\n";

static void test_info_parse(void)
{
	model_info mi;

	CHECK_EQ_INT(model_info_parse(info_text, strlen(info_text), &mi), 0);
	CHECK_NEAR(mi.size[0], 20, 1e-9);
	CHECK_NEAR(mi.size[1], 30.5, 1e-9);
	CHECK_NEAR(mi.size[2], 10, 1e-9);
	CHECK_NEAR(mi.min[1], -5, 1e-9);
	CHECK_EQ_INT(mi.facets, 12);
	CHECK_EQ_INT(mi.parts, 1);
	CHECK_EQ_INT(mi.manifold, 1);
	CHECK_NEAR(mi.volume, 6100.000488, 1e-6);
	CHECK_EQ_INT(model_info_parse("size_x = 1\nsize_y = 2\nmanifold = no\n", 36, &mi), -1);
	CHECK_EQ_INT(mi.manifold, 0);
	CHECK_NEAR(mi.size[2], -1, 0);
	CHECK_EQ_INT(model_info_parse("size_x = 1\nsize_y = nan\nsize_z = 3\n", 34, &mi), -1);
	CHECK_EQ_INT(model_info_parse("size_x = 1\nsize_y = -2\nsize_z = 3\n", 33, &mi), -1);
	CHECK_EQ_INT(model_info_parse("size_xx = 1\nsize_y = 2\nsize_z = 3\n", 34, &mi), -1);
	CHECK_EQ_INT(model_info_parse(NULL, 0, &mi), -1);
}

/* The fit check's verdicts and messages: sizes in mm, the bed, and the unit guesses. */
static void test_fit(void)
{
	const lb_printer_profile *ender = lb_printer_profile_find("ender-3");
	const lb_printer_profile *mk3 = lb_printer_profile_find("prusa-mk3");
	model_info mi = {{20, 20, 20}, {0, 0, 0}, 12, 1, 1, 8000};
	lb_error err = {0};

	if (!ender || !mk3) {
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(lb_profile_check_fit(ender, &mi, &err), 0);
	mi.size[0] = mi.size[1] = mi.size[2] = 300;
	CHECK_EQ_INT(lb_profile_check_fit(ender, &mi, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message, "the model is 300.0 x 300.0 x 300.0 mm: larger than the bed of "
			       "Creality Ender-3 (220 x 220 mm, 250 mm high)");
	/* turned by 90° it fits: the slicer may place it so */
	mi.size[0] = 200, mi.size[1] = 240, mi.size[2] = 100;
	CHECK_EQ_INT(lb_profile_check_fit(mk3, &mi, &err), 0);
	mi.size[2] = 211;
	CHECK_EQ_INT(lb_profile_check_fit(mk3, &mi, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "210 mm high");
	/* inches: a 20 mm cube drawn in inches reads 0.79 mm */
	mi.size[0] = mi.size[1] = mi.size[2] = 20 / 25.4;
	CHECK_EQ_INT(lb_profile_check_fit(ender, &mi, &err), LB_EFAIL);
	CHECK_STR(err.message, "the model is 0.79 x 0.79 x 0.79 mm: too small to print; drawn in "
			       "inches? x 25.4 it is 20.0 x 20.0 x 20.0 mm");
	/* metres */
	mi.size[0] = 50000, mi.size[1] = 20000, mi.size[2] = 10000;
	CHECK_EQ_INT(lb_profile_check_fit(ender, &mi, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "drawn in metres? / 1000 it is 50.0 x 20.0 x 10.0 mm");
	mi.size[0] = -1;
	CHECK_EQ_INT(lb_profile_check_fit(ender, &mi, &err), LB_EFAIL);
}

/* The INI of each printer with each preset; values out of range refused. */
static void test_ini(void)
{
	char path[PATH_MAX], text[8192];
	lb_error err = {0};
	lb_printer_profile bad;
	lb_preset thick;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "%s/p.ini", root);
	for (int i = 0; lb_printer_profile_at(i); i++)
		for (int k = 0; lb_preset_at(k); k++)
			CHECK_MSG(lb_profile_write_ini(lb_printer_profile_at(i), lb_preset_at(k),
						       path, &err) == 0,
				  err.message);
	CHECK(lb_printer_profile_at(4) != NULL && lb_printer_profile_find("sim") != NULL);
	CHECK(lb_preset_find("brouillon") && lb_preset_find("normal") && lb_preset_find("fin"));
	CHECK(lb_preset_find("ultra") == NULL && lb_printer_profile_find(NULL) == NULL);
	CHECK_EQ_INT(lb_profile_write_ini(lb_printer_profile_find("ender-3"), lb_preset_find("fin"),
					  path, &err),
		     0);
	f = fopen(path, "r");
	n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	text[n] = '\0';
	if (f)
		fclose(f);
	CHECK_CONTAINS(text, "bed_shape = 0x0,220x0,220x220,0x220\n");
	CHECK_CONTAINS(text, "max_print_height = 250\n");
	CHECK_CONTAINS(text, "gcode_flavor = marlin\n");
	CHECK_CONTAINS(text, "layer_height = 0.12\nfirst_layer_height = 0.2\n");
	CHECK_CONTAINS(text, "fill_density = 20%\n");
	CHECK_CONTAINS(text, "perimeters = 3\n");
	CHECK_CONTAINS(text, "support_material = 1\n");
	CHECK_CONTAINS(text, "brim_width = 5\n");
	CHECK_CONTAINS(text, "start_gcode = M140 S[first_layer_bed_temperature]\\nM104");
	bad = *lb_printer_profile_find("ender-3");
	bad.start_gcode = "G28\\nM500";
	CHECK_EQ_INT(lb_profile_write_ini(&bad, lb_preset_find("fin"), path, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "backslash");
	bad.start_gcode = "G28";
	bad.bed_x = 0;
	CHECK_EQ_INT(lb_profile_write_ini(&bad, lb_preset_find("fin"), path, &err), LB_EFAIL);
	thick = *lb_preset_find("brouillon");
	thick.layer_mm = 0.4;
	CHECK_EQ_INT(lb_profile_write_ini(lb_printer_profile_find("ender-3"), &thick, path, &err),
		     LB_EFAIL);
	CHECK_STR(err.message, "preset brouillon: a value is out of range for ender-3 (layer "
			       "height at most 0.32 mm with a 0.40 mm nozzle)");
	CHECK_EQ_INT(lb_profile_write_ini(NULL, &thick, path, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_profile_write_ini(lb_printer_profile_find("ender-3"), lb_preset_find("fin"),
					  "/nonexistent/dir/p.ini", &err),
		     LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INTERNAL);
}

/* Run one spec to its end with the real clock: its status (state QUEUED when it timed out). */
static lb_slice_status run(lb_slice_spec *sp, char *out, size_t cap)
{
	lb_error err = {0};
	lb_slicer *p = lb_slicer_new(1, &err);
	lb_slice_status st = {0};
	long long id;
	int64_t end = lb_now_read().mono + (int64_t)WAIT_S * 1000000000LL;

	if (!p)
		return st;
	id = lb_slicer_submit(p, sp, &err);
	for (;;) {
		struct pollfd fds[8];
		int timeout = 200, n;
		int64_t now = lb_now_read().mono;

		lb_slicer_step(p, NULL, 0, now);
		if (lb_slicer_status(p, id, &st) < 0 || st.state >= LB_SLICE_DONE || now > end)
			break;
		n = lb_slicer_pollfds(p, fds, 8, &timeout, now);
		poll(fds, (nfds_t)n, timeout < 0 || timeout > 200 ? 200 : timeout);
	}
	if (out)
		snprintf(out, cap, "%s", lb_slicer_output(p, id) ? lb_slicer_output(p, id) : "");
	lb_slicer_destroy(&p);
	return st;
}

/* The whole chain with the real slicer: --info, fit, INI per preset, slice, print check. */
static void test_real_slicer_with_presets(void)
{
	const lb_printer_profile *pr = lb_printer_profile_find("generic-220");
	char model[PATH_MAX], big[PATH_MAX], ini[PATH_MAX], dir[PATH_MAX], want[128];
	static char out[LB_SLICER_TAIL + 1];
	lb_slice_spec sp = {0};
	lb_slice_status st;
	lb_error err = {0};
	model_info mi;
	gcode_policy pol = {.max_hotend = GCODE_POLICY_MAX_HOTEND, .max_bed = GCODE_POLICY_MAX_BED};
	char why[128];

	if (access("/usr/bin/prusa-slicer", X_OK) != 0) {
		CHECK_MSG(0, "prusa-slicer is not installed (Debian: apt-get install prusa-slicer; "
			     "make test-deps)");
		return;
	}
	CHECK_EQ_INT(gcode_policy_forbid(&pol, GCODE_POLICY_FORBIDDEN, why, sizeof why), 0);
	snprintf(model, sizeof model, "%s/cube.stl", root);
	snprintf(big, sizeof big, "%s/big.stl", root);
	CHECK_EQ_INT(stl_write_box(model, 20, 20, 20), 0);
	CHECK_EQ_INT(stl_write_box(big, 300, 40, 20), 0);
	/* --info, then the fit */
	snprintf(dir, sizeof dir, "%s/info", root);
	sp.program = "prusa-slicer";
	sp.model = big;
	sp.workdir = dir;
	sp.info = 1;
	st = run(&sp, out, sizeof out);
	CHECK_MSG(st.state == LB_SLICE_DONE, st.error.message);
	CHECK_EQ_INT(model_info_parse(out, strlen(out), &mi), 0);
	CHECK_EQ_INT(mi.manifold, 1);
	CHECK_EQ_INT(lb_profile_check_fit(pr, &mi, &err), LB_EFAIL);
	CHECK_STR(err.message, "the model is 300.0 x 40.0 x 20.0 mm: larger than the bed of "
			       "Generic Marlin 220 x 220 (220 x 220 mm, 250 mm high)");
	/* sliced all the same, the slicer refuses it in its own words */
	snprintf(ini, sizeof ini, "%s/normal.ini", root);
	CHECK_EQ_INT(lb_profile_write_ini(pr, lb_preset_find("normal"), ini, &err), 0);
	snprintf(dir, sizeof dir, "%s/big", root);
	sp.info = 0;
	sp.args[0] = "--load";
	sp.args[1] = ini;
	st = run(&sp, NULL, 0);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED);
	CHECK_STR(st.error.message,
		  "the slicer refused the model: Objects could not fit on the bed");
	/* each preset on the cube: its settings in the G-code, which passes the print check */
	sp.model = model;
	for (int k = 0; lb_preset_at(k); k++) {
		const lb_preset *ps = lb_preset_at(k);
		json_t *meta = NULL;
		char *text = NULL;
		size_t len = 0;
		FILE *f;

		snprintf(ini, sizeof ini, "%s/%s.ini", root, ps->name);
		snprintf(dir, sizeof dir, "%s/run-%s", root, ps->name);
		CHECK_EQ_INT(lb_profile_write_ini(pr, ps, ini, &err), 0);
		st = run(&sp, NULL, 0);
		CHECK_MSG(st.state == LB_SLICE_DONE, st.error.message);
		if (st.state != LB_SLICE_DONE)
			continue;
		CHECK_MSG(lb_gcode_check_file(&pol, st.gcode, &meta, &err) == 0, err.message);
		CHECK(json_integer_value(json_object_get(meta, "commands")) > 100);
		json_decref(meta);
		f = fopen(st.gcode, "r");
		if (f) {
			text = malloc(1 << 22);
			len = text ? fread(text, 1, (1 << 22) - 1, f) : 0;
			fclose(f);
		}
		if (!text)
			continue;
		text[len] = '\0';
		snprintf(want, sizeof want, "; layer_height = %g\n", ps->layer_mm);
		CHECK_CONTAINS(text, want);
		snprintf(want, sizeof want, "; fill_density = %d%%\n", ps->infill_pct);
		CHECK_CONTAINS(text, want);
		snprintf(want, sizeof want, "; perimeters = %d\n", ps->perimeters);
		CHECK_CONTAINS(text, want);
		CHECK_CONTAINS(text, "; bed_shape = 0x0,220x0,220x220,0x220\n");
		free(text);
	}
}

int main(void)
{
	char cmd[128];
	int rc;

	if (!mkdtemp(root)) {
		fprintf(stderr, "cannot make %s\n", root);
		return 1;
	}
	RUN(test_info_parse);
	RUN(test_fit);
	RUN(test_ini);
	RUN(test_real_slicer_with_presets);
	rc = check_summary();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	return rc;
}
