/* test_profile.c - printer profiles and presets as PrusaSlicer INI files, `--info` parsed, the
 * fit check's messages (with scale and rotation), profiles, presets and quotas from the
 * configuration with its mistakes reported by line; then the real prusa-slicer with each preset
 * on a 20 mm cube (its G-code passing the print check) and a model larger than the bed refused
 * with its size. */
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
#include "../../bridge/util/config.h"
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
			       "Creality Ender-3 (220 x 220 mm, 250 mm high); a teacher may scale "
			       "it (scale 73 % makes it 219.0 x 219.0 x 219.0 mm)");
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
			       "inches? x 25.4 it is 20.0 x 20.0 x 20.0 mm (a teacher may scale "
			       "it by 2540 %)");
	/* metres */
	mi.size[0] = 50000, mi.size[1] = 20000, mi.size[2] = 10000;
	CHECK_EQ_INT(lb_profile_check_fit(ender, &mi, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "drawn in metres? / 1000 it is 50.0 x 20.0 x 10.0 mm");
	mi.size[0] = -1;
	CHECK_EQ_INT(lb_profile_check_fit(ender, &mi, &err), LB_EFAIL);
}

/* The fit with a scale and a rotation about Z: the footprint's bounding box, the 90° turn the
 * slicer needs, the largest scale that fits. */
static void test_fit_ex(void)
{
	const lb_printer_profile *ender = lb_printer_profile_find("ender-3");
	const lb_printer_profile *mk3 = lb_printer_profile_find("prusa-mk3");
	model_info mi = {{300, 40, 20}, {0, 0, 0}, 12, 1, 1, 240000};
	lb_error err = {0};
	int turn = -1;

	if (!ender || !mk3) {
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 100, 0, &turn, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "scale 73 % makes it 219.0 x 29.2 x 14.6 mm");
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 73, 0, &turn, &err), 0);
	CHECK_EQ_INT(turn, 0);
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 74, 0, &turn, &err), LB_EFAIL);
	CHECK_STR(err.message,
		  "the model at 74 % is 222.0 x 29.6 x 14.8 mm: larger than the bed of "
		  "Creality Ender-3 (220 x 220 mm, 250 mm high); a teacher may scale "
		  "it (scale 73 % makes it 219.0 x 29.2 x 14.6 mm)");
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 200, 0, &turn, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "the model at 200 % is 600.0 x 80.0 x 40.0 mm");
	CHECK_CONTAINS(err.message, "scale 73 % makes it");
	/* a long thin bar fits along the bed's diagonal: 290 x 10 turned 45° is 212.1 square */
	mi.size[0] = 290, mi.size[1] = 10, mi.size[2] = 10;
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 100, 0, &turn, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "scale 75 % makes it 217.5 x 7.5 x 7.5 mm");
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 100, 45, &turn, &err), 0);
	CHECK_EQ_INT(turn, 0);
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 100, 30, &turn, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "the model turned 30° is 256.1 x 153.7 x 10.0 mm");
	/* 200 x 240 on the MK3S (250 x 210): only turned by 90° */
	mi.size[0] = 200, mi.size[1] = 240, mi.size[2] = 100;
	CHECK_EQ_INT(lb_profile_check_fit_ex(mk3, &mi, 100, 0, &turn, &err), 0);
	CHECK_EQ_INT(turn, 1);
	CHECK_EQ_INT(lb_profile_check_fit_ex(mk3, &mi, 100, 90, &turn, &err), 0);
	CHECK_EQ_INT(turn, 0);
	CHECK_EQ_INT(lb_profile_check_fit_ex(mk3, &mi, 100, -270, &turn, &err), 0);
	CHECK_EQ_INT(turn, 0);
	CHECK_EQ_INT(lb_profile_check_fit_ex(mk3, &mi, 100, 0, NULL, &err), 0);
	/* drawn in inches, scaled back */
	mi.size[0] = mi.size[1] = mi.size[2] = 20 / 25.4;
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 2540, 0, &turn, &err), 0);
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 0.5, 0, &turn, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "scale must be 1 to 10000 %");
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 100, NAN, &turn, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 10001, 0, &turn, &err), LB_EFAIL);
	/* too large even at 1 %: no scale suggested */
	mi.size[0] = 300000, mi.size[1] = 10, mi.size[2] = 10;
	CHECK_EQ_INT(lb_profile_check_fit_ex(ender, &mi, 100, 0, &turn, &err), LB_EFAIL);
	CHECK(strstr(err.message, "a teacher may") == NULL);
}

/* A configuration file of text, loaded (NULL with a failed check if it does not load); its path
 * in path. */
static json_t *conf(const char *text, char *path, size_t cap)
{
	static int n;
	lb_error err = {0};
	json_t *cfg;
	FILE *f;

	snprintf(path, cap, "%s/c%d.conf", root, n++);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		CHECK_MSG(0, "cannot write the configuration");
		return NULL;
	}
	cfg = lb_config_load(path, &err);
	CHECK_MSG(cfg != NULL, err.message);
	return cfg;
}

/* The error of lb_print_config_check on text is want, where "@" stands for the file's path. */
static void check_bad(const char *text, const char *want, int line)
{
	char path[PATH_MAX], expect[1024], *at;
	lb_error err = {0};
	json_t *cfg = conf(text, path, sizeof path);

	if (!cfg)
		return;
	at = strchr(want, '@');
	if (at)
		snprintf(expect, sizeof expect, "%.*s%.200s%.300s", (int)(at - want), want, path,
			 at + 1);
	else
		snprintf(expect, sizeof expect, "%.500s", want);
	if (!check_report(lb_print_config_check(cfg, &err) == LB_EFAIL, __FILE__, line,
			  "the configuration is refused"))
		fprintf(stderr, "  %s\n", text);
	else if (!check_report(strcmp(err.message, expect) == 0, __FILE__, line,
			       "message '%s' (expected '%s')", err.message, expect))
		;
	else
		check_report(err.code == LB_ERR_INVALID_PARAMS, __FILE__, line, "code %d",
			     err.code);
	json_decref(cfg);
}

static const char good_conf[] = "[print]\n"
				"profile = ender5\n"
				"profile.printer-mk3 = prusa-mk3\n"
				"profile.printer-big = big\n"
				"presets = brouillon, normal classe\n"
				"default_preset = classe\n"
				"quota_hours = 4\n"
				"quota_filament_g = 500\n"
				"\n"
				"[profile.ender5]\n"
				"base = ender-3\n"
				"label = Creality Ender-5\n"
				"bed_x = 350\n"
				"bed_y = 340.5\n"
				"max_z = 400\n"
				"nozzle = 0.6\n"
				"flavour = klipper\n"
				"hotend = 210\n"
				"bed = 65\n"
				"start_gcode = G28 | G1 Z5 F3000 |  M117 go \n"
				"end_gcode = M104 S0|M140 S0||\n"
				"\n"
				"[profile.big]\n"
				"bed_x = 500\n"
				"\n"
				"[preset.classe]\n"
				"base = fin\n"
				"layer_mm = 0.16\n"
				"infill = 25%\n"
				"supports = none\n"
				"\n"
				"[preset.normal]\n"
				"perimeters = 3\n"
				"\n"
				"[preset.vase]\n"
				"perimeters = 1\n"
				"infill = 0\n"
				"brim_mm = 3\n"
				"supports = everywhere\n";

/* Printer profiles from the configuration: which one a printer gets, their values, the INI. */
static void test_profile_config(void)
{
	char path[PATH_MAX], ini[PATH_MAX], text[8192];
	json_t *cfg = conf(good_conf, path, sizeof path), *empty = lb_config_empty(), *names;
	lb_profile_buf *b = malloc(sizeof *b);
	lb_error err = {0};
	FILE *f;
	size_t n;

	if (!cfg || !b || !empty)
		goto done;
	CHECK_MSG(lb_print_config_check(cfg, &err) == 0, err.message);
	CHECK_EQ_INT(lb_profile_config(cfg, NULL, false, b, &err), 0);
	CHECK_STR(b->p.name, "ender5");
	CHECK_STR(b->p.label, "Creality Ender-5");
	CHECK_NEAR(b->p.bed_x, 350, 0);
	CHECK_NEAR(b->p.bed_y, 340.5, 0);
	CHECK_NEAR(b->p.max_z, 400, 0);
	CHECK_NEAR(b->p.nozzle, 0.6, 0);
	CHECK_NEAR(b->p.filament, 1.75, 0);
	CHECK_STR(b->p.flavour, "klipper");
	CHECK_EQ_INT(b->p.hotend_c, 210);
	CHECK_EQ_INT(b->p.bed_c, 65);
	CHECK_STR(b->p.start_gcode, "G28\nG1 Z5 F3000\nM117 go");
	CHECK_STR(b->p.end_gcode, "M104 S0\nM140 S0");
	snprintf(ini, sizeof ini, "%s/e5.ini", root);
	CHECK_MSG(lb_profile_write_ini(&b->p, lb_preset_find("normal"), ini, &err) == 0,
		  err.message);
	f = fopen(ini, "r");
	n = f ? fread(text, 1, sizeof text - 1, f) : 0;
	text[n] = '\0';
	if (f)
		fclose(f);
	CHECK_CONTAINS(text, "gcode_flavor = marlin2\n");
	CHECK_CONTAINS(text, "bed_shape = 0x0,350x0,350x340.5,0x340.5\n");
	CHECK_CONTAINS(text, "start_gcode = G28\\nG1 Z5 F3000\\nM117 go\n");
	/* a printer of its own, one of the default, a section with its defaults */
	CHECK_EQ_INT(lb_profile_config(cfg, "printer-mk3", false, b, &err), 0);
	CHECK_STR(b->p.name, "prusa-mk3");
	CHECK_STR(b->p.label, "Prusa i3 MK3S");
	CHECK_EQ_INT(lb_profile_config(cfg, "printer-sim1", true, b, &err), 0);
	CHECK_STR(b->p.name, "ender5");
	CHECK_EQ_INT(lb_profile_config(cfg, "printer-big", false, b, &err), 0);
	CHECK_STR(b->p.name, "big");
	CHECK_STR(b->p.label, "big");
	CHECK_NEAR(b->p.bed_x, 500, 0);
	CHECK_NEAR(b->p.bed_y, 220, 0);
	CHECK_STR(b->p.flavour, "marlin2");
	/* no configuration: generic-220, sim for simulated printers */
	CHECK_EQ_INT(lb_profile_config(empty, NULL, false, b, &err), 0);
	CHECK_STR(b->p.name, "generic-220");
	CHECK_EQ_INT(lb_profile_config(empty, "printer-ender1", false, b, &err), 0);
	CHECK_STR(b->p.name, "generic-220");
	CHECK_EQ_INT(lb_profile_config(empty, "printer-sim2", false, b, &err), 0);
	CHECK_STR(b->p.name, "sim");
	CHECK_EQ_INT(lb_profile_config(empty, "printer-x", true, b, &err), 0);
	CHECK_STR(b->p.name, "sim");
	CHECK_EQ_INT(lb_print_config_check(empty, &err), 0);
	/* the names print.presets shows */
	names = lb_profile_names(cfg);
	CHECK_STR(json_string_value(json_object_get(names, "*")), "ender5");
	CHECK_STR(json_string_value(json_object_get(names, "printer-mk3")), "prusa-mk3");
	CHECK_EQ_INT(json_object_size(names), 3);
	json_decref(names);
	names = lb_profile_names(empty);
	CHECK_STR(json_string_value(json_object_get(names, "*")), "generic-220");
	json_decref(names);
done:
	free(b);
	json_decref(cfg);
	json_decref(empty);
}

/* Mistakes in profiles, each reported with its line. */
static void test_profile_config_bad(void)
{
	check_bad("[profile.ender5]\nbase = ender-3\nbed_x = 9000\n",
		  "[profile.ender5] bed_x = 9000: must be a number from 50 to 1000 mm (@:3)",
		  __LINE__);
	check_bad("[profile.e5]\nbedx = 300\n",
		  "unknown key 'bedx' in [profile.e5] (@:2); known: base, label, bed_x, bed_y, "
		  "max_z, nozzle, filament, flavour, hotend, bed, start_gcode, end_gcode",
		  __LINE__);
	check_bad("[print]\nmax_bed = 100\nprofile = nope\n",
		  "[print] profile = nope: no such printer profile (built in: prusa-mk3, "
		  "prusa-mini, ender-3, generic-220, sim; or a [profile.nope] section) (@:3)",
		  __LINE__);
	check_bad("[print]\nprofile.printer-x = nope\n",
		  "[print] profile.printer-x = nope: no such printer profile (built in: prusa-mk3, "
		  "prusa-mini, ender-3, generic-220, sim; or a [profile.nope] section) (@:2)",
		  __LINE__);
	check_bad("[profile.a]\nbase = ender-5\n",
		  "[profile.a] base = ender-5: not a built-in printer (prusa-mk3, prusa-mini, "
		  "ender-3, generic-220, sim) (@:2)",
		  __LINE__);
	check_bad("[profile.a]\n\nflavour = sailfish\n",
		  "[profile.a] flavour = sailfish: must be marlin, marlin2, reprap or klipper "
		  "(@:3)",
		  __LINE__);
	check_bad("[profile.a]\nhotend = 210.5\n",
		  "[profile.a] hotend = 210.5: must be a whole number from 150 to 320 °C (@:2)",
		  __LINE__);
	check_bad("[profile.a]\nnozzle = 0.4mm\n",
		  "[profile.a] nozzle = 0.4mm: must be a number from 0.1 to 2 mm (@:2)", __LINE__);
	check_bad("[profile.a]\nstart_gcode = G28 | M117 a\\nb\n",
		  "[profile.a] start_gcode = G28 | M117 a\\nb: holds a control character or a "
		  "backslash (@:2)",
		  __LINE__);
	check_bad("[print]\nmax_hotend = 250\n[profile.hot]\nhotend = 250\n",
		  "printer profile hot (@:3): hotend 250 °C (255 for the first layer) is above "
		  "[print] max_hotend = 250: every sliced job would be refused",
		  __LINE__);
	check_bad("[print]\nmax_bed = 50\nprofile.p1 = ender-3\n",
		  "printer profile ender-3 (@:3): bed 60 °C is above [print] max_bed = 50: every "
		  "sliced job would be refused",
		  __LINE__);
}

/* Presets from the configuration: redefined built-ins, new ones, what students are offered. */
static void test_preset_config(void)
{
	char path[PATH_MAX];
	json_t *cfg = conf(good_conf, path, sizeof path), *empty = lb_config_empty(), *arr;
	lb_preset_buf b;
	lb_error err = {0};

	if (!cfg || !empty)
		goto done;
	CHECK_EQ_INT(lb_preset_config(cfg, "classe", &b, &err), 0);
	CHECK_STR(b.p.name, "classe");
	CHECK_NEAR(b.p.layer_mm, 0.16, 0);
	CHECK_EQ_INT(b.p.infill_pct, 25);
	CHECK_EQ_INT(b.p.perimeters, 3); /* fin's */
	CHECK_EQ_INT(b.p.supports, LB_SUPPORTS_NONE);
	CHECK_NEAR(b.p.brim_mm, 5, 0);
	CHECK_EQ_INT(lb_preset_config(cfg, "normal", &b, &err), 0);
	CHECK_EQ_INT(b.p.perimeters, 3);
	CHECK_NEAR(b.p.layer_mm, 0.2, 0);
	CHECK_EQ_INT(lb_preset_config(cfg, "fin", &b, &err), 0);
	CHECK_NEAR(b.p.layer_mm, 0.12, 0);
	CHECK_EQ_INT(lb_preset_config(cfg, "vase", &b, &err), 0);
	CHECK_EQ_INT(b.p.supports, LB_SUPPORTS_EVERYWHERE);
	CHECK_EQ_INT(b.p.infill_pct, 0);
	CHECK_EQ_INT(lb_preset_config(cfg, "ultra", &b, &err), LB_EFAIL);
	CHECK_STR(err.message, "no preset 'ultra' (built in: brouillon, normal, fin; or a "
			       "[preset.ultra] section)");
	CHECK_EQ_INT(lb_preset_config(cfg, "Fin", &b, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_preset_config(cfg, NULL, &b, &err), LB_EFAIL);
	/* offered: students' list, teachers' every preset */
	arr = lb_presets_offered(cfg, false, &err);
	CHECK_EQ_INT(json_array_size(arr), 3);
	CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 2), "name")), "classe");
	CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 2), "supports")), "none");
	CHECK_NEAR(json_real_value(json_object_get(json_array_get(arr, 2), "layer_mm")), 0.16, 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(arr, 2), "infill")), 25);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(arr, 1), "perimeters")), 3);
	CHECK_NEAR(json_real_value(json_object_get(json_array_get(arr, 2), "brim_mm")), 5, 0);
	json_decref(arr);
	arr = lb_presets_offered(cfg, true, &err);
	CHECK_EQ_INT(json_array_size(arr), 5);
	CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 2), "name")), "fin");
	CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 4), "name")), "vase");
	json_decref(arr);
	arr = lb_presets_offered(empty, false, &err);
	CHECK_EQ_INT(json_array_size(arr), 3);
	CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "name")), "brouillon");
	CHECK_STR(json_string_value(json_object_get(json_array_get(arr, 0), "supports")), "none");
	json_decref(arr);
	/* default, allowed */
	CHECK_STR(lb_preset_default(cfg), "classe");
	CHECK_STR(lb_preset_default(empty), "normal");
	CHECK_EQ_INT(lb_preset_allowed(cfg, "classe", false, &err), 0);
	CHECK_EQ_INT(lb_preset_allowed(cfg, "fin", true, &err), 0);
	CHECK_EQ_INT(lb_preset_allowed(cfg, "fin", false, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_FORBIDDEN);
	CHECK_STR(err.message,
		  "preset 'fin' is not one of those offered: brouillon, normal, classe");
	CHECK_EQ_INT(lb_preset_allowed(cfg, "ultra", false, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message,
		  "preset 'ultra' is not one of those offered: brouillon, normal, classe");
	CHECK_EQ_INT(lb_preset_allowed(cfg, "ultra", true, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_STR(err.message, "preset 'ultra' is not one of those offered: brouillon, normal, "
			       "fin, classe, vase");
	CHECK_EQ_INT(lb_preset_allowed(empty, "fin", false, &err), 0);
	CHECK_EQ_INT(lb_preset_allowed(empty, NULL, false, &err), LB_EFAIL);
done:
	json_decref(cfg);
	json_decref(empty);
}

/* Mistakes in presets and the [print] choices, each reported with its line. */
static void test_preset_config_bad(void)
{
	check_bad("[preset.p]\nlayer_mm = 0.7\n",
		  "[preset.p] layer_mm = 0.7: must be a number from 0.05 to 0.6 mm (@:2)",
		  __LINE__);
	check_bad("[preset.p]\ninfill = 120%\n",
		  "[preset.p] infill = 120%: must be a whole number from 0 to 100% (@:2)",
		  __LINE__);
	check_bad("[preset.p]\nperimeters = 2.5\n",
		  "[preset.p] perimeters = 2.5: must be a whole number from 1 to 10 (@:2)",
		  __LINE__);
	check_bad("[preset.p]\nsupports = maybe\n",
		  "[preset.p] supports = maybe: must be none, auto or everywhere (@:2)", __LINE__);
	check_bad("[preset.p]\nbrim_mm = -1\n",
		  "[preset.p] brim_mm = -1: must be a number from 0 to 20 mm (@:2)", __LINE__);
	check_bad("[preset.p]\nbase = ultra\n",
		  "[preset.p] base = ultra: must be brouillon, normal or fin (@:2)", __LINE__);
	check_bad("[preset.p]\nlayer = 0.2\n",
		  "unknown key 'layer' in [preset.p] (@:2); known: base, layer_mm, infill, "
		  "perimeters, supports, brim_mm",
		  __LINE__);
	check_bad("\n[preset.Fine]\nlayer_mm = 0.1\n",
		  "[preset.Fine]: a preset name is 1 to 31 of a-z, 0-9, '-', '_' (@:2)", __LINE__);
	check_bad("[print]\npresets = normal ultra\n",
		  "[print] presets = normal ultra: no preset 'ultra' (the presets: brouillon, "
		  "normal, fin) (@:2)",
		  __LINE__);
	check_bad("[print]\npresets = , \n", "[print] presets = ,: names no preset (@:2)",
		  __LINE__);
	check_bad("[print]\npresets = normal\ndefault_preset = fin\n",
		  "[print] default_preset = fin: must be a preset offered to students (normal) "
		  "(@:3)",
		  __LINE__);
	check_bad("[print]\ndefault_preset = ultra\n",
		  "[print] default_preset = ultra: must be a preset offered to students "
		  "(brouillon, normal, fin) (@:2)",
		  __LINE__);
	check_bad("[print]\nquota_hours = lots\n",
		  "[print] quota_hours = lots: must be a number from 0 to 1000 h (@:2)", __LINE__);
	check_bad("[print]\nquota_filament_g = -5\n",
		  "[print] quota_filament_g = -5: must be a number from 0 to 100000 g (@:2)",
		  __LINE__);
}

/* The example of udev/labbridge.conf ([print], [profile.*], [preset.*] uncommented) is valid and
 * read as documented. Run from the repository's root (as make unit does). */
static void test_documented_example(void)
{
	char line[512], section[64] = "", path[PATH_MAX];
	FILE *in = fopen("udev/labbridge.conf", "r"), *out;
	lb_profile_buf *b = malloc(sizeof *b);
	lb_preset_buf ps;
	lb_error err = {0};
	json_t *cfg = NULL;
	int keys = 0;

	snprintf(path, sizeof path, "%s/doc.conf", root);
	out = fopen(path, "w");
	if (!in || !out || !b) {
		CHECK_MSG(0, "cannot read udev/labbridge.conf (run from the repository's root)");
		goto done;
	}
	while (fgets(line, sizeof line, in)) {
		char *p = line + 2;
		if (strncmp(line, "; [", 3) == 0) {
			snprintf(section, sizeof section, "%.*s", (int)strcspn(p + 1, "]"), p + 1);
			if (strcmp(section, "print") == 0 || strncmp(section, "profile.", 8) == 0 ||
			    strncmp(section, "preset.", 7) == 0)
				fputs(p, out);
		} else if (strncmp(line, "; ", 2) == 0 && p[0] >= 'a' && p[0] <= 'z' &&
			   strstr(p, " = ") && strcspn(p, " ") < strcspn(p, "=") &&
			   (strcmp(section, "print") == 0 || strncmp(section, "profile.", 8) == 0 ||
			    strncmp(section, "preset.", 7) == 0)) {
			fputs(p, out);
			keys++;
		} else if (line[0] != ';') {
			section[0] = '\0';
		}
	}
	fclose(out);
	out = NULL;
	CHECK(keys >= 30);
	cfg = lb_config_load(path, &err);
	CHECK_MSG(cfg != NULL, err.message);
	if (!cfg)
		goto done;
	CHECK_MSG(lb_print_config_check(cfg, &err) == 0, err.message);
	CHECK_EQ_INT(lb_profile_config(cfg, "printer-ender1", false, b, &err), 0);
	CHECK_STR(b->p.label, "Creality Ender-5");
	CHECK_NEAR(b->p.bed_x, 350, 0);
	CHECK_STR(b->p.end_gcode, "M104 S0\nM140 S0\nG91\nG1 Z10 F600\nG90\nM84");
	CHECK_EQ_INT(lb_profile_config(cfg, "printer-ender2", false, b, &err), 0);
	CHECK_STR(b->p.name, "generic-220");
	CHECK_EQ_INT(lb_preset_config(cfg, "solide", &ps, &err), 0);
	CHECK_EQ_INT(ps.p.infill_pct, 40);
	CHECK_EQ_INT(lb_preset_allowed(cfg, "solide", false, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_FORBIDDEN);
done:
	if (in)
		fclose(in);
	if (out)
		fclose(out);
	free(b);
	json_decref(cfg);
}

/* One print job as lb_printq_job gives it (the fields the quota reads). */
static json_t *job(const char *owner, const char *state, int64_t submitted, double time_s,
		   double grams)
{
	return json_pack("{s:s,s:s,s:I,s:{s:f,s:f}}", "owner", owner, "state", state, "submitted",
			 (json_int_t)submitted, "meta", "time_s", time_s, "filament_g", grams);
}

/* The weekly quota: what counts (owner, state, the last 7 days), the messages. */
static void test_quota(void)
{
	const int64_t h = 3600LL * 1000000000LL, now = 1796000000LL * 1000000000LL;
	json_t *jobs = json_array(), *cfg;
	lb_quota q = {4, 0};
	char why[160], path[PATH_MAX];
	lb_error err = {0};

	json_array_append_new(jobs, job("unix:alice", "done", now - 48 * h, 3 * 3600, 300));
	json_array_append_new(jobs, job("unix:alice", "queued", now - h, 40 * 60, 180));
	json_array_append_new(jobs, job("unix:alice", "cancelled", now - h, 5 * 3600, 900));
	json_array_append_new(jobs, job("unix:alice", "failed", now - h, 5 * 3600, 900));
	json_array_append_new(jobs, job("unix:alice", "done", now - 8 * 24 * h, 10 * 3600, 900));
	json_array_append_new(jobs, job("unix:bob", "done", now - h, 10 * 3600, 900));
	json_array_append_new(jobs, json_pack("{s:s,s:s,s:I,s:n}", "owner", "unix:alice", "state",
					      "slicing", "submitted", (json_int_t)now, "meta"));
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:alice", 35 * 60, 10, now, why, sizeof why), 1);
	CHECK_STR(why, "over the weekly quota of 4 h of printing: 3 h 40 min used, this job needs "
		       "35 min");
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:alice", 20 * 60, 10, now, why, sizeof why), 0);
	CHECK_STR(why, "");
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:alice", 20 * 60 + 1, 10, now, why, sizeof why),
		     1);
	CHECK_CONTAINS(why, "this job needs 21 min");
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:bob", 0, 0, now, why, sizeof why), 1);
	CHECK_STR(why, "over the weekly quota of 4 h of printing: 10 h used, this job needs 0 min");
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:carol", 4 * 3600, 0, now, why, sizeof why), 0);
	/* a week later alice's jobs no longer count */
	CHECK_EQ_INT(
	    lb_quota_check(&q, jobs, "unix:alice", 3 * 3600, 0, now + 7 * 24 * h, why, sizeof why),
	    0);
	/* a job failed or cancelled after it started: the part printed */
	json_array_append_new(jobs, json_pack("{s:s,s:s,s:I,s:I,s:{s:i},s:{s:f,s:f}}", "owner",
					      "unix:dan", "state", "cancelled", "submitted",
					      (json_int_t)(now - h), "started",
					      (json_int_t)(now - h), "progress", "percent", 25,
					      "meta", "time_s", 8.0 * 3600, "filament_g", 400.0));
	json_array_append_new(jobs, json_pack("{s:s,s:s,s:I,s:I,s:{s:f,s:f}}", "owner", "unix:dan",
					      "state", "failed", "submitted", (json_int_t)(now - h),
					      "started", (json_int_t)(now - h), "meta", "time_s",
					      1.0 * 3600, "filament_g", 50.0));
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:dan", 61 * 60, 0, now, why, sizeof why), 1);
	CHECK_STR(why,
		  "over the weekly quota of 4 h of printing: 3 h used, this job needs 1 h 1 min");
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:dan", 60 * 60, 0, now, why, sizeof why), 0);
	q.week_hours = 1.5;
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:carol", 2 * 3600, 0, now, why, sizeof why), 1);
	CHECK_STR(why,
		  "over the weekly quota of 1 h 30 min of printing: 0 min used, this job needs "
		  "2 h");
	q.week_hours = 0, q.week_filament_g = 500;
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:alice", 9 * 3600, 34.2, now, why, sizeof why),
		     1);
	CHECK_STR(why, "over the weekly quota of 500 g of filament: 480 g used, this job needs "
		       "35 g");
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:alice", 9 * 3600, 20, now, why, sizeof why), 0);
	q.week_filament_g = 0;
	CHECK_EQ_INT(lb_quota_check(&q, jobs, "unix:bob", 1e9, 1e9, now, why, sizeof why), 0);
	CHECK_EQ_INT(lb_quota_check(NULL, jobs, "unix:bob", 1e9, 1e9, now, why, sizeof why), 0);
	/* from the configuration */
	cfg = conf(good_conf, path, sizeof path);
	CHECK_EQ_INT(lb_quota_config(cfg, &q, &err), 0);
	CHECK_NEAR(q.week_hours, 4, 0);
	CHECK_NEAR(q.week_filament_g, 500, 0);
	json_decref(cfg);
	cfg = lb_config_empty();
	CHECK_EQ_INT(lb_quota_config(cfg, &q, &err), 0);
	CHECK_NEAR(q.week_hours, 0, 0);
	json_decref(cfg);
	json_decref(jobs);
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
			       "Generic Marlin 220 x 220 (220 x 220 mm, 250 mm high); a teacher "
			       "may scale it (scale 73 % makes it 219.0 x 29.2 x 14.6 mm)");
	/* at the scale suggested it slices (checked below, with the cube) */
	{
		int turn = -1;
		CHECK_EQ_INT(lb_profile_check_fit_ex(pr, &mi, 73, 0, &turn, &err), 0);
		CHECK_EQ_INT(turn, 0);
	}
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
	/* at the scale the fit check suggests, the slicer takes it */
	snprintf(dir, sizeof dir, "%s/big73", root);
	sp.args[2] = "--scale";
	sp.args[3] = "73%";
	st = run(&sp, NULL, 0);
	CHECK_MSG(st.state == LB_SLICE_DONE, st.error.message);
	/* a bar longer than the bed fits turned by 45° as the check says */
	mi.size[0] = 290, mi.size[1] = 10, mi.size[2] = 10;
	CHECK_EQ_INT(lb_profile_check_fit_ex(pr, &mi, 100, 45, NULL, &err), 0);
	CHECK_EQ_INT(stl_write_box(big, 290, 10, 10), 0);
	snprintf(dir, sizeof dir, "%s/bar", root);
	sp.args[2] = NULL;
	st = run(&sp, NULL, 0);
	CHECK_EQ_INT(st.state, LB_SLICE_FAILED);
	snprintf(dir, sizeof dir, "%s/bar45", root);
	sp.args[2] = "--rotate";
	sp.args[3] = "45";
	st = run(&sp, NULL, 0);
	CHECK_MSG(st.state == LB_SLICE_DONE, st.error.message);
	sp.args[2] = NULL;
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
	RUN(test_fit_ex);
	RUN(test_profile_config);
	RUN(test_profile_config_bad);
	RUN(test_preset_config);
	RUN(test_preset_config_bad);
	RUN(test_quota);
	RUN(test_documented_example);
	RUN(test_ini);
	RUN(test_real_slicer_with_presets);
	rc = check_summary();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	return rc;
}
