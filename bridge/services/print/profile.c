/* profile.c - printer profiles and quality presets (built in or from the configuration), written
 * as PrusaSlicer INI files, the check that a model fits a printer, and the weekly print quota. */
#include "profile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../protocols/gcode.h"
#include "../../util/config.h"

#define PF_TINY_MM 3.0 /* a model whose largest side is under this was likely not in mm */
#define PF_SLACK_MM 0.01
#define PF_PLA_DENSITY 1.24 /* g/cm3 */

/* Start and end G-code shared by the Marlin printers below (PrusaSlicer placeholders). */
#define PF_START_MARLIN                                                                            \
	"M140 S[first_layer_bed_temperature]\nM104 S[first_layer_temperature]\nG90\nM83\nG28\n"    \
	"M190 S[first_layer_bed_temperature]\nM109 S[first_layer_temperature]\nG92 E0\n"           \
	"G1 Z2 F3000\nG1 X5 Y10 F5000\nG1 Z0.3 F3000\nG1 X5 Y100 E10 F1500\nG92 E0"
#define PF_END_MARLIN                                                                              \
	"M104 S0\nM140 S0\nG91\nG1 E-2 F2700\nG1 Z10 F600\nG90\nG1 X0 Y{print_bed_max[1]*0.8} "    \
	"F3000\nM107\nM84"

static const lb_printer_profile printers[] = {
    {"prusa-mk3", "Prusa i3 MK3S", 250, 210, 210, 0.4, 1.75, "marlin2", 215, 60,
     "M862.3 P \"MK3S\"\nM140 S[first_layer_bed_temperature]\nM104 S[first_layer_temperature]\n"
     "G90\nM83\nG28 W\nG80\nM190 S[first_layer_bed_temperature]\n"
     "M109 S[first_layer_temperature]\nG1 Y-3.0 F1000.0\nG92 E0.0\nG1 X60.0 E9.0 F1000.0\n"
     "G1 X100.0 E12.5 F1000.0\nG92 E0.0",
     "G1 E-1 F2100\nM104 S0\nM140 S0\nM107\nG1 Z{max_layer_z + 10} F720\nG1 X0 Y200 F3600\n"
     "M84"},
    {"prusa-mini", "Original Prusa MINI", 180, 180, 180, 0.4, 1.75, "marlin2", 215, 60,
     "M862.3 P \"MINI\"\nM140 S[first_layer_bed_temperature]\nM104 S[first_layer_temperature]\n"
     "G90\nM83\nG28\nG29\nM190 S[first_layer_bed_temperature]\nM109 S[first_layer_temperature]\n"
     "G1 Z0.2 F720\nG1 Y-3 F1000\nG92 E0\nG1 X60 E8 F700\nG1 X100 E12.5 F700\nG92 E0",
     "G1 E-1 F2100\nM104 S0\nM140 S0\nM107\nG1 Z{max_layer_z + 10} F720\nG1 X0 Y180 F3600\n"
     "M84"},
    {"ender-3", "Creality Ender-3", 220, 220, 250, 0.4, 1.75, "marlin", 200, 60, PF_START_MARLIN,
     PF_END_MARLIN},
    {"generic-220", "Generic Marlin 220 x 220", 220, 220, 250, 0.4, 1.75, "marlin2", 205, 60,
     PF_START_MARLIN, PF_END_MARLIN},
    {"sim", "Simulated printer (labbridge)", 220, 220, 250, 0.4, 1.75, "marlin2", 205, 60,
     PF_START_MARLIN, PF_END_MARLIN},
};

static const lb_preset presets[] = {
    {"brouillon", 0.28, 10, 2, LB_SUPPORTS_NONE, 0},
    {"normal", 0.20, 15, 2, LB_SUPPORTS_AUTO, 0},
    {"fin", 0.12, 20, 3, LB_SUPPORTS_AUTO, 5},
};

#define NPRINTERS ((int)(sizeof printers / sizeof printers[0]))
#define NPRESETS ((int)(sizeof presets / sizeof presets[0]))

const lb_printer_profile *lb_printer_profile_find(const char *name)
{
	for (int i = 0; name && i < NPRINTERS; i++)
		if (strcmp(printers[i].name, name) == 0)
			return &printers[i];
	return NULL;
}

const lb_printer_profile *lb_printer_profile_at(int i)
{
	return i >= 0 && i < NPRINTERS ? &printers[i] : NULL;
}

const lb_preset *lb_preset_find(const char *name)
{
	for (int i = 0; name && i < NPRESETS; i++)
		if (strcmp(presets[i].name, name) == 0)
			return &presets[i];
	return NULL;
}

const lb_preset *lb_preset_at(int i)
{
	return i >= 0 && i < NPRESETS ? &presets[i] : NULL;
}

/* Whether a G-code text can be an INI value: no control byte but '\n', no backslash. */
static int gcode_text_ok(const char *s)
{
	for (; s && *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\n') || *s == 0x7f || *s == '\\')
			return 0;
	return 1;
}

/* Write "key = text" with each '\n' as the two characters "\n" (PrusaSlicer's INI escape). */
static void put_text(FILE *f, const char *key, const char *s)
{
	fprintf(f, "%s = ", key);
	for (; s && *s; s++) {
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('\n', f);
}

/* Whether a value is within [lo, hi] (and a number). */
static int in_range(double v, double lo, double hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

int lb_profile_write_ini(const lb_printer_profile *pr, const lb_preset *ps, const char *path,
			 lb_error *err)
{
	FILE *f;
	int fd, rc = LB_EFAIL;
	double first;

	if (!pr || !ps || !path)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "no printer profile or preset");
	if (!in_range(pr->bed_x, 10, 2000) || !in_range(pr->bed_y, 10, 2000) ||
	    !in_range(pr->max_z, 10, 2000) || !in_range(pr->nozzle, 0.1, 2) ||
	    !in_range(pr->filament, 1, 3.5) || !in_range(pr->hotend_c, 150, 320) ||
	    !in_range(pr->bed_c, 0, 130) || !pr->flavour || !pr->flavour[0])
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "printer profile %s: a value is out of range", pr->name);
	if (!gcode_text_ok(pr->start_gcode) || !gcode_text_ok(pr->end_gcode))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "printer profile %s: its start or end G-code holds a control "
				    "character or a backslash",
				    pr->name);
	if (!in_range(ps->layer_mm, 0.04, pr->nozzle * 0.8) || !in_range(ps->infill_pct, 0, 100) ||
	    !in_range(ps->perimeters, 1, 10) || !in_range(ps->brim_mm, 0, 20))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "preset %s: a value is out of range for %s (layer height at "
				    "most %.2f mm with a %.2f mm nozzle)",
				    ps->name, pr->name, pr->nozzle * 0.8, pr->nozzle);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", path,
				    strerror(errno));
	}
	first = ps->layer_mm > 0.2 ? ps->layer_mm : 0.2;
	fprintf(f, "# labbridge: printer %s, preset %s\n", pr->name, ps->name);
	fprintf(f, "bed_shape = 0x0,%gx0,%gx%g,0x%g\n", pr->bed_x, pr->bed_x, pr->bed_y, pr->bed_y);
	fprintf(f, "max_print_height = %g\n", pr->max_z);
	fprintf(f, "nozzle_diameter = %g\n", pr->nozzle);
	fprintf(f, "filament_diameter = %g\n", pr->filament);
	/* PLA's density (g/cm3): the estimate's weight (filament_g), which quotas count */
	fprintf(f, "filament_density = %g\nfilament_type = PLA\n", PF_PLA_DENSITY);
	/* PrusaSlicer 2.5 (Debian 12) has no klipper flavour (it would read reprap): Klipper
	 * takes Marlin's G-code. */
	fprintf(f, "gcode_flavor = %s\n",
		strcmp(pr->flavour, "klipper") == 0 ? "marlin2" : pr->flavour);
	fprintf(f, "temperature = %d\nfirst_layer_temperature = %d\n", pr->hotend_c,
		pr->hotend_c + 5);
	fprintf(f, "bed_temperature = %d\nfirst_layer_bed_temperature = %d\n", pr->bed_c,
		pr->bed_c);
	put_text(f, "start_gcode", pr->start_gcode);
	put_text(f, "end_gcode", pr->end_gcode);
	fprintf(f, "layer_height = %g\nfirst_layer_height = %g\n", ps->layer_mm, first);
	fprintf(f, "fill_density = %d%%\n", ps->infill_pct);
	fprintf(f, "perimeters = %d\n", ps->perimeters);
	fprintf(f, "support_material = %d\n", ps->supports == LB_SUPPORTS_NONE ? 0 : 1);
	fprintf(f, "support_material_auto = 1\n");
	fprintf(f, "support_material_buildplate_only = %d\n",
		ps->supports == LB_SUPPORTS_AUTO ? 1 : 0);
	fprintf(f, "brim_width = %g\n", ps->brim_mm);
	fprintf(f, "skirts = %d\n", ps->brim_mm > 0 ? 0 : 1);
	fprintf(f, "thumbnails = \n");
	if (ferror(f))
		lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s", path);
	else
		rc = 0;
	if (fclose(f) != 0 && rc == 0)
		rc = lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", path,
				  strerror(errno));
	return rc;
}

/* Whether sizes x, y, z fit the printer (as they are, or turned by 90° on the bed). */
static int fits(const lb_printer_profile *pr, double x, double y, double z)
{
	if (z > pr->max_z + PF_SLACK_MM)
		return 0;
	return (x <= pr->bed_x + PF_SLACK_MM && y <= pr->bed_y + PF_SLACK_MM) ||
	       (y <= pr->bed_x + PF_SLACK_MM && x <= pr->bed_y + PF_SLACK_MM);
}

/* The largest scale (whole percent of the model as drawn) at which x, y, z (already scaled by
 * scale_pct) fit the printer, either way round on the bed; 0 when none from 1 %. */
static int largest_scale(const lb_printer_profile *pr, double scale_pct, double x, double y,
			 double z)
{
	double fx = x > 0 ? pr->bed_x / x : INFINITY, fy = y > 0 ? pr->bed_y / y : INFINITY;
	double gx = y > 0 ? pr->bed_x / y : INFINITY, gy = x > 0 ? pr->bed_y / x : INFINITY;
	double f = fmax(fmin(fx, fy), fmin(gx, gy));
	double pct;

	if (z > 0)
		f = fmin(f, pr->max_z / z);
	pct = floor(scale_pct * f + 1e-6);
	return pct >= 1 ? (pct > 10000 ? 10000 : (int)pct) : 0;
}

int lb_profile_check_fit(const lb_printer_profile *pr, const model_info *mi, lb_error *err)
{
	return lb_profile_check_fit_ex(pr, mi, 100, 0, NULL, err);
}

int lb_profile_check_fit_ex(const lb_printer_profile *pr, const model_info *mi, double scale_pct,
			    double rotate_deg, int *turn90, lb_error *err)
{
	const double *s = mi->size;
	double k = scale_pct / 100, r = rotate_deg * M_PI / 180, c, sn, x, y, z, big;
	char what[64] = "the model";
	int pct, dummy;

	if (!turn90)
		turn90 = &dummy;
	*turn90 = 0;
	if (!in_range(scale_pct, 1, 10000) || !isfinite(rotate_deg))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "scale must be 1 to 10000 %% and the rotation a number of "
				    "degrees");
	if (!(s[0] >= 0 && s[1] >= 0 && s[2] >= 0))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the model's size is unknown: the slicer could not read it");
	c = fabs(cos(r)), sn = fabs(sin(r));
	/* the bounding box of the footprint rectangle turned by r */
	x = k * (s[0] * c + s[1] * sn);
	y = k * (s[0] * sn + s[1] * c);
	z = k * s[2];
	big = fmax(x, fmax(y, z));
	if (scale_pct != 100 && fmod(rotate_deg, 360) != 0)
		snprintf(what, sizeof what, "the model at %g %% turned %g°", scale_pct, rotate_deg);
	else if (scale_pct != 100)
		snprintf(what, sizeof what, "the model at %g %%", scale_pct);
	else if (fmod(rotate_deg, 360) != 0)
		snprintf(what, sizeof what, "the model turned %g°", rotate_deg);
	if (big < PF_TINY_MM) {
		if (fits(pr, x * 25.4, y * 25.4, z * 25.4))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "%s is %.2f x %.2f x %.2f mm: too small to print; "
					    "drawn in inches? x 25.4 it is %.1f x %.1f x %.1f mm "
					    "(a teacher may scale it by %g %%)",
					    what, x, y, z, x * 25.4, y * 25.4, z * 25.4,
					    scale_pct * 25.4);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "%s is %.2f x %.2f x %.2f mm: too small to print", what, x, y,
				    z);
	}
	if (z <= pr->max_z + PF_SLACK_MM && x <= pr->bed_x + PF_SLACK_MM &&
	    y <= pr->bed_y + PF_SLACK_MM)
		return 0;
	if (fits(pr, x, y, z)) {
		*turn90 = 1;
		return 0;
	}
	if (big >= 1000 && fits(pr, x / 1000, y / 1000, z / 1000) && big / 1000 >= PF_TINY_MM)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "%s is %.1f x %.1f x %.1f mm: larger than the bed of %s (%g x "
				    "%g mm, %g mm high); drawn in metres? / 1000 it is %.1f x %.1f "
				    "x %.1f mm",
				    what, x, y, z, pr->label, pr->bed_x, pr->bed_y, pr->max_z,
				    x / 1000, y / 1000, z / 1000);
	pct = largest_scale(pr, scale_pct, x, y, z);
	if (pct == 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "%s is %.1f x %.1f x %.1f mm: larger than the bed of %s (%g x "
				    "%g mm, %g mm high)",
				    what, x, y, z, pr->label, pr->bed_x, pr->bed_y, pr->max_z);
	k = pct / 100.0;
	return lb_error_set(err, LB_ERR_INVALID_PARAMS,
			    "%s is %.1f x %.1f x %.1f mm: larger than the bed of %s (%g x %g mm, "
			    "%g mm high); a teacher may scale it (scale %d %% makes it %.1f x %.1f "
			    "x %.1f mm)",
			    what, x, y, z, pr->label, pr->bed_x, pr->bed_y, pr->max_z, pct,
			    k * s[0], k * s[1], k * s[2]);
}

/* ---- profiles and presets from the configuration ---- */

#define PF_MAX_PRESETS 64
#define PF_DEFAULT_PROFILE "generic-220"
#define PF_FIRST_LAYER_HOTTER 5 /* lb_profile_write_ini's first_layer_temperature */

/* Fill err with "[section] key = value: why (FILE:LINE)"; returns LB_EFAIL. */
static int bad_value(const json_t *cfg, const char *section, const char *key, const char *value,
		     lb_error *err, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int bad_value(const json_t *cfg, const char *section, const char *key, const char *value,
		     lb_error *err, const char *fmt, ...)
{
	char why[200], where[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	lb_config_where(cfg, section, key, where, sizeof where);
	return lb_error_set(err, LB_ERR_INVALID_PARAMS, "[%s] %s = %.40s%s: %s (%s)", section, key,
			    value, strlen(value) > 40 ? "..." : "", why, where);
}

/* Parse a whole number or decimal (blanks around; a '%' after it when percent): 0 or -1. */
static int parse_num(const char *v, int percent, double *out)
{
	char *end;
	double x;

	errno = 0;
	x = strtod(v, &end);
	while (*end == ' ' || *end == '\t')
		end++;
	if (percent && *end == '%')
		end++;
	while (*end == ' ' || *end == '\t')
		end++;
	if (end == v || *end || errno || !isfinite(x))
		return -1;
	*out = x;
	return 0;
}

/* section.key as a number within [lo, hi] (whole when integer) into *out, left alone when
 * absent: 0 or LB_EFAIL with err naming the line. */
static int num_key(const json_t *cfg, const char *section, const char *key, double lo, double hi,
		   int integer, const char *unit, double *out, lb_error *err)
{
	const char *v = lb_config_str(cfg, section, key, NULL);
	double x;

	if (!v)
		return 0;
	if (parse_num(v, unit && strcmp(unit, "%") == 0, &x) < 0 || x < lo || x > hi ||
	    (integer && x != floor(x)))
		return bad_value(cfg, section, key, v, err, "must be %s %g to %g%s%s",
				 integer ? "a whole number from" : "a number from", lo, hi,
				 unit && strcmp(unit, "%") != 0 ? " " : "", unit ? unit : "");
	*out = x;
	return 0;
}

/* Whether name is [a-z0-9_-]{1,max} (max < 64). */
static int name_ok(const char *name, size_t max)
{
	size_t n = 0;

	for (; name && name[n]; n++)
		if (!((name[n] >= 'a' && name[n] <= 'z') || (name[n] >= '0' && name[n] <= '9') ||
		      name[n] == '_' || name[n] == '-'))
			return 0;
	return name && n >= 1 && n <= max;
}

/* Append ", item" (or item first) to buf of cap, cut with "..." when full. */
static void list_add(char *buf, size_t cap, const char *item)
{
	size_t n = strlen(buf);

	if (n + 1 >= cap)
		return;
	snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", item);
	if (strlen(buf) + 1 >= cap && cap > 4)
		memcpy(buf + cap - 4, "...", 4);
}

/* Copy a " | "-separated G-code list into out as '\n'-separated lines: 0, or LB_EFAIL with err
 * (a control character or backslash, too long). */
static int gcode_lines(const json_t *cfg, const char *section, const char *key, const char *v,
		       char *out, size_t cap, lb_error *err)
{
	const char *orig = v;
	size_t n = 0;

	while (*v) {
		const char *bar = strchr(v, '|'), *end = bar ? bar : v + strlen(v);
		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > v) {
			size_t len = (size_t)(end - v);
			if (n + len + 2 > cap)
				return bad_value(cfg, section, key, orig, err,
						 "too long (at most %zu characters)", cap - 2);
			if (n)
				out[n++] = '\n';
			memcpy(out + n, v, len);
			n += len;
		}
		v = bar ? bar + 1 : end + strlen(end);
	}
	out[n] = '\0';
	if (!gcode_text_ok(out))
		return bad_value(cfg, section, key, orig, err,
				 "holds a control character or a backslash");
	return 0;
}

/* Copy src into dst of cap: 0, or -1 (cut) when it does not fit. */
static int copy_str(char *dst, size_t cap, const char *src)
{
	return (size_t)snprintf(dst, cap, "%s", src ? src : "") < cap ? 0 : -1;
}

/* Point out->p at out's own texts. */
static void profile_link(lb_profile_buf *out)
{
	out->p.name = out->name;
	out->p.label = out->label;
	out->p.flavour = out->flavour;
	out->p.start_gcode = out->start;
	out->p.end_gcode = out->end;
}

/* Fill out from a built-in profile. */
static void profile_from(lb_profile_buf *out, const lb_printer_profile *b)
{
	out->p = *b;
	copy_str(out->name, sizeof out->name, b->name);
	copy_str(out->label, sizeof out->label, b->label);
	copy_str(out->flavour, sizeof out->flavour, b->flavour);
	copy_str(out->start, sizeof out->start, b->start_gcode);
	copy_str(out->end, sizeof out->end, b->end_gcode);
	profile_link(out);
}

/* The built-in printers' names, for messages. */
static void builtin_profiles(char *buf, size_t cap)
{
	buf[0] = '\0';
	for (int i = 0; i < NPRINTERS; i++)
		list_add(buf, cap, printers[i].name);
}

static const char *const profile_keys[] = {"base",	  "label",     "bed_x",	  "bed_y",  "max_z",
					   "nozzle",	  "filament",  "flavour", "hotend", "bed",
					   "start_gcode", "end_gcode", NULL};

/* Fill out from the [profile.NAME] section sec: 0, or LB_EFAIL with err naming the line. */
static int profile_section(const json_t *cfg, const char *name, const json_t *sec,
			   lb_profile_buf *out, lb_error *err)
{
	char section[80], names[160];
	const char *key, *v;
	const lb_printer_profile *base;
	json_t *val;
	double x;

	snprintf(section, sizeof section, "profile.%s", name);
	v = lb_config_str(cfg, section, "base", PF_DEFAULT_PROFILE);
	base = lb_printer_profile_find(v);
	if (!base) {
		builtin_profiles(names, sizeof names);
		return bad_value(cfg, section, "base", v, err, "not a built-in printer (%s)",
				 names);
	}
	profile_from(out, base);
	if (copy_str(out->name, sizeof out->name, name) < 0 ||
	    copy_str(out->label, sizeof out->label, name) < 0) {
		lb_config_where(cfg, section, NULL, names, sizeof names);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "[%s]: the name is too long (at most %zu characters) (%s)",
				    section, sizeof out->name - 1, names);
	}
	json_object_foreach((json_t *)sec, key, val)
	{
		int i;

		for (i = 0; profile_keys[i] && strcmp(profile_keys[i], key) != 0; i++)
			;
		if (key[0] == '_' || profile_keys[i])
			continue;
		lb_config_where(cfg, section, key, names, sizeof names);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "unknown key '%s' in [%s] (%s); known: base, label, bed_x, "
				    "bed_y, max_z, nozzle, filament, flavour, hotend, bed, "
				    "start_gcode, end_gcode",
				    key, section, names);
	}
	if ((v = lb_config_str(cfg, section, "label", NULL)) &&
	    (!v[0] || copy_str(out->label, sizeof out->label, v) < 0 || !gcode_text_ok(v)))
		return bad_value(cfg, section, "label", v, err,
				 "must be 1 to %zu characters, no control character",
				 sizeof out->label - 1);
	if (num_key(cfg, section, "bed_x", 50, 1000, 0, "mm", &out->p.bed_x, err) < 0 ||
	    num_key(cfg, section, "bed_y", 50, 1000, 0, "mm", &out->p.bed_y, err) < 0 ||
	    num_key(cfg, section, "max_z", 10, 1000, 0, "mm", &out->p.max_z, err) < 0 ||
	    num_key(cfg, section, "nozzle", 0.1, 2, 0, "mm", &out->p.nozzle, err) < 0 ||
	    num_key(cfg, section, "filament", 1, 3.5, 0, "mm", &out->p.filament, err) < 0)
		return LB_EFAIL;
	x = out->p.hotend_c;
	if (num_key(cfg, section, "hotend", 150, 320, 1, "°C", &x, err) < 0)
		return LB_EFAIL;
	out->p.hotend_c = (int)x;
	x = out->p.bed_c;
	if (num_key(cfg, section, "bed", 0, 130, 1, "°C", &x, err) < 0)
		return LB_EFAIL;
	out->p.bed_c = (int)x;
	if ((v = lb_config_str(cfg, section, "flavour", NULL))) {
		if (strcmp(v, "marlin") != 0 && strcmp(v, "marlin2") != 0 &&
		    strcmp(v, "reprap") != 0 && strcmp(v, "klipper") != 0)
			return bad_value(cfg, section, "flavour", v, err,
					 "must be marlin, marlin2, reprap or klipper");
		copy_str(out->flavour, sizeof out->flavour, v);
	}
	if ((v = lb_config_str(cfg, section, "start_gcode", NULL)) &&
	    gcode_lines(cfg, section, "start_gcode", v, out->start, sizeof out->start, err) < 0)
		return LB_EFAIL;
	if ((v = lb_config_str(cfg, section, "end_gcode", NULL)) &&
	    gcode_lines(cfg, section, "end_gcode", v, out->end, sizeof out->end, err) < 0)
		return LB_EFAIL;
	return 0;
}

/* Whether the profile's temperatures pass the print check ([print] max_hotend, max_bed): 0, or
 * LB_EFAIL with err (where: the profile's section or key naming it). */
static int profile_temps(const json_t *cfg, const lb_printer_profile *pr, const char *where,
			 lb_error *err)
{
	double max_hotend, max_bed;

	if (lb_config_num(cfg, "print", "max_hotend", 0, 500, GCODE_POLICY_MAX_HOTEND, &max_hotend,
			  err) < 0 ||
	    lb_config_num(cfg, "print", "max_bed", 0, 200, GCODE_POLICY_MAX_BED, &max_bed, err) < 0)
		return LB_EFAIL;
	if (pr->hotend_c + PF_FIRST_LAYER_HOTTER > max_hotend)
		return lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "printer profile %s (%s): hotend %d °C (%d for the first layer) "
		    "is above [print] max_hotend = %g: every sliced job would be "
		    "refused",
		    pr->name, where, pr->hotend_c, pr->hotend_c + PF_FIRST_LAYER_HOTTER,
		    max_hotend);
	if (pr->bed_c > max_bed)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "printer profile %s (%s): bed %d °C is above [print] max_bed = "
				    "%g: every sliced job would be refused",
				    pr->name, where, pr->bed_c, max_bed);
	return 0;
}

/* The profile called name (a [profile.NAME] section, else a built-in) into out; key: the [print]
 * key that named it (NULL: the default). 0, or LB_EFAIL with err. */
static int profile_named(const json_t *cfg, const char *name, const char *key, lb_profile_buf *out,
			 lb_error *err)
{
	char section[80], where[160], names[160];
	const json_t *sec = NULL;
	const lb_printer_profile *b;

	if (strlen(name) < 64) {
		snprintf(section, sizeof section, "profile.%s", name);
		sec = json_object_get(cfg, section);
	}
	if (sec) {
		if (profile_section(cfg, name, sec, out, err) < 0)
			return LB_EFAIL;
		lb_config_where(cfg, section, NULL, where, sizeof where);
	} else if ((b = lb_printer_profile_find(name))) {
		profile_from(out, b);
		if (key)
			lb_config_where(cfg, "print", key, where, sizeof where);
		else
			snprintf(where, sizeof where, "built in");
	} else {
		builtin_profiles(names, sizeof names);
		return bad_value(cfg, "print", key ? key : "profile", name, err,
				 "no such printer profile (built in: %s; or a [profile.%.40s] "
				 "section)",
				 names, name);
	}
	return profile_temps(cfg, &out->p, where, err);
}

int lb_profile_config(const json_t *config, const char *printer, bool simulated,
		      lb_profile_buf *out, lb_error *err)
{
	char key[160];
	const char *name = NULL, *used = NULL;

	memset(out, 0, sizeof *out);
	if (printer) {
		snprintf(key, sizeof key, "profile.%s", printer);
		if ((name = lb_config_str(config, "print", key, NULL)))
			used = key;
	}
	if (!name && (name = lb_config_str(config, "print", "profile", NULL)))
		used = "profile";
	if (!name)
		name = simulated || (printer && strncmp(printer, "printer-sim", 11) == 0)
			   ? "sim"
			   : PF_DEFAULT_PROFILE;
	return profile_named(config, name, used, out, err);
}

json_t *lb_profile_names(const json_t *config)
{
	json_t *names = json_object(), *val;
	const char *key;

	if (!names || json_object_set_new(names, "*",
					  json_string(lb_config_str(config, "print", "profile",
								    PF_DEFAULT_PROFILE))) < 0)
		goto fail;
	json_object_foreach(json_object_get(config, "print"), key, val)
	{
		if (strncmp(key, "profile.", 8) == 0 && key[8] && json_is_string(val) &&
		    json_object_set(names, key + 8, val) < 0)
			goto fail;
	}
	return names;
fail:
	json_decref(names);
	return NULL;
}

static const char *const supports_names[] = {"none", "auto", "everywhere"};
static const char *const preset_keys[] = {"base",     "layer_mm", "infill", "perimeters",
					  "supports", "brim_mm",  NULL};

int lb_preset_config(const json_t *config, const char *name, lb_preset_buf *out, lb_error *err)
{
	char section[48], where[160];
	const json_t *sec;
	const lb_preset *base;
	const char *key, *v;
	json_t *val;
	double x;

	memset(out, 0, sizeof *out);
	if (!name_ok(name, sizeof out->name - 1))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "preset '%.40s': a preset name is 1 to 31 of a-z, 0-9, '-', "
				    "'_'",
				    name ? name : "");
	snprintf(section, sizeof section, "preset.%s", name);
	sec = json_object_get(config, section);
	base = lb_preset_find(name);
	if (!sec && !base)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "no preset '%s' (built in: brouillon, normal, fin; or a "
				    "[preset.%s] section)",
				    name, name);
	snprintf(out->name, sizeof out->name, "%s", name);
	if (sec) {
		v = lb_config_str(config, section, "base", base ? base->name : "normal");
		if (!(base = lb_preset_find(v)))
			return bad_value(config, section, "base", v, err,
					 "must be brouillon, normal or fin");
		json_object_foreach((json_t *)sec, key, val)
		{
			int i;

			for (i = 0; preset_keys[i] && strcmp(preset_keys[i], key) != 0; i++)
				;
			if (key[0] == '_' || preset_keys[i])
				continue;
			lb_config_where(config, section, key, where, sizeof where);
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "unknown key '%s' in [%s] (%s); known: base, layer_mm, "
					    "infill, perimeters, supports, brim_mm",
					    key, section, where);
		}
	}
	out->p = *base;
	out->p.name = out->name;
	if (!sec)
		return 0;
	if (num_key(config, section, "layer_mm", 0.05, 0.6, 0, "mm", &out->p.layer_mm, err) < 0 ||
	    num_key(config, section, "brim_mm", 0, 20, 0, "mm", &out->p.brim_mm, err) < 0)
		return LB_EFAIL;
	x = out->p.infill_pct;
	if (num_key(config, section, "infill", 0, 100, 1, "%", &x, err) < 0)
		return LB_EFAIL;
	out->p.infill_pct = (int)x;
	x = out->p.perimeters;
	if (num_key(config, section, "perimeters", 1, 10, 1, NULL, &x, err) < 0)
		return LB_EFAIL;
	out->p.perimeters = (int)x;
	if ((v = lb_config_str(config, section, "supports", NULL))) {
		int i;
		for (i = 0; i < 3 && strcmp(v, supports_names[i]) != 0; i++)
			;
		if (i == 3)
			return bad_value(config, section, "supports", v, err,
					 "must be none, auto or everywhere");
		out->p.supports = (lb_supports)i;
	}
	return 0;
}

/* Whether names[0..n) holds name. */
static int names_have(char (*names)[32], int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* Add name to names[*n] unless there or full (then err): 0 or LB_EFAIL. */
static int names_add(char (*names)[32], int *n, const char *name, lb_error *err)
{
	if (names_have(names, *n, name))
		return 0;
	if (*n >= PF_MAX_PRESETS)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "more than %d presets",
				    PF_MAX_PRESETS);
	snprintf(names[(*n)++], 32, "%s", name);
	return 0;
}

/* Every preset's name (built-ins, then the other [preset.*] in the file's order) into names:
 * 0, or LB_EFAIL with err (a section's name is not a preset name). */
static int preset_all(const json_t *cfg, char (*names)[32], int *n, lb_error *err)
{
	const char *section;
	json_t *sec;
	char where[160];

	*n = 0;
	for (int i = 0; i < NPRESETS; i++)
		names_add(names, n, presets[i].name, err);
	json_object_foreach((json_t *)cfg, section, sec)
	{
		if (strncmp(section, "preset.", 7) != 0 || !json_is_object(sec))
			continue;
		if (!name_ok(section + 7, 31)) {
			lb_config_where(cfg, section, NULL, where, sizeof where);
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "[%.40s]: a preset name is 1 to 31 of a-z, 0-9, '-', "
					    "'_' (%s)",
					    section, where);
		}
		if (names_add(names, n, section + 7, err) < 0)
			return LB_EFAIL;
	}
	return 0;
}

/* The names of the presets a caller may choose into names: 0, or LB_EFAIL with err. */
static int preset_choices(const json_t *cfg, bool teacher, char (*names)[32], int *n, lb_error *err)
{
	char all[PF_MAX_PRESETS][32], word[64];
	int nall;
	const char *v = lb_config_str(cfg, "print", "presets", NULL), *p;

	if (preset_all(cfg, all, &nall, err) < 0)
		return LB_EFAIL;
	if (teacher || !v) {
		memcpy(names, all, sizeof all);
		*n = nall;
		return 0;
	}
	*n = 0;
	for (p = v; *p;) {
		size_t len = strcspn(p, " \t,");
		if (len) {
			snprintf(word, sizeof word, "%.*s", (int)(len < 63 ? len : 63), p);
			if (!names_have(all, nall, word)) {
				char list[200] = "";
				for (int i = 0; i < nall; i++)
					list_add(list, sizeof list, all[i]);
				return bad_value(cfg, "print", "presets", v, err,
						 "no preset '%s' (the presets: %s)", word, list);
			}
			if (names_add(names, n, word, err) < 0)
				return LB_EFAIL;
		}
		p += len;
		p += strspn(p, " \t,");
	}
	if (*n == 0)
		return bad_value(cfg, "print", "presets", v, err, "names no preset");
	return 0;
}

json_t *lb_presets_offered(const json_t *config, bool teacher, lb_error *err)
{
	char names[PF_MAX_PRESETS][32];
	int n;
	json_t *arr;

	if (preset_choices(config, teacher, names, &n, err) < 0)
		return NULL;
	arr = json_array();
	for (int i = 0; arr && i < n; i++) {
		lb_preset_buf b;
		json_t *o;

		if (lb_preset_config(config, names[i], &b, err) < 0)
			goto fail;
		o = json_pack("{s:s,s:f,s:i,s:i,s:s,s:f}", "name", b.name, "layer_mm", b.p.layer_mm,
			      "infill", b.p.infill_pct, "perimeters", b.p.perimeters, "supports",
			      supports_names[b.p.supports], "brim_mm", b.p.brim_mm);
		if (!o || json_array_append_new(arr, o) < 0) {
			lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
			goto fail;
		}
	}
	if (!arr)
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	return arr;
fail:
	json_decref(arr);
	return NULL;
}

const char *lb_preset_default(const json_t *config)
{
	return lb_config_str(config, "print", "default_preset", "normal");
}

int lb_preset_allowed(const json_t *config, const char *name, bool teacher, lb_error *err)
{
	char names[PF_MAX_PRESETS][32], list[200] = "";
	int n, exists;
	lb_preset_buf b;
	lb_error ignored;

	if (preset_choices(config, teacher, names, &n, err) < 0)
		return LB_EFAIL;
	if (name && names_have(names, n, name))
		return lb_preset_config(config, name, &b, err);
	exists = name && lb_preset_config(config, name, &b, &ignored) == 0;
	for (int i = 0; i < n; i++)
		list_add(list, sizeof list, names[i]);
	return lb_error_set(err, exists ? LB_ERR_FORBIDDEN : LB_ERR_INVALID_PARAMS,
			    "preset '%.40s' is not one of those offered: %s", name ? name : "",
			    list);
}

int lb_quota_config(const json_t *config, lb_quota *q, lb_error *err)
{
	q->week_hours = q->week_filament_g = 0;
	if (num_key(config, "print", "quota_hours", 0, 1000, 0, "h", &q->week_hours, err) < 0 ||
	    num_key(config, "print", "quota_filament_g", 0, 100000, 0, "g", &q->week_filament_g,
		    err) < 0)
		return LB_EFAIL;
	return 0;
}

int lb_print_config_check(const json_t *config, lb_error *err)
{
	lb_profile_buf *pb = malloc(sizeof *pb);
	char names[PF_MAX_PRESETS][32], where[160];
	const char *key, *def;
	json_t *val;
	int n, rc = LB_EFAIL;
	lb_preset_buf b;
	lb_quota q;

	if (!pb)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	json_object_foreach((json_t *)config, key, val)
	{
		if (strncmp(key, "profile.", 8) == 0 && json_is_object(val)) {
			if (!key[8] || strlen(key + 8) >= sizeof pb->name) {
				lb_config_where(config, key, NULL, where, sizeof where);
				lb_error_set(err, LB_ERR_INVALID_PARAMS,
					     "[%.40s]: a profile name is 1 to 63 characters (%s)",
					     key, where);
				goto done;
			}
			if (profile_named(config, key + 8, NULL, pb, err) < 0)
				goto done;
		}
	}
	json_object_foreach(json_object_get(config, "print"), key, val)
	{
		if (strcmp(key, "profile") == 0 ? lb_profile_config(config, NULL, 0, pb, err) < 0
		    : strncmp(key, "profile.", 8) == 0
			? lb_profile_config(config, key + 8, 0, pb, err) < 0
			: 0)
			goto done;
	}
	/* the printers named nowhere get the default profile */
	if (lb_profile_config(config, NULL, 0, pb, err) < 0 ||
	    lb_profile_config(config, "printer-sim", 1, pb, err) < 0)
		goto done;
	if (preset_all(config, names, &n, err) < 0)
		goto done;
	for (int i = 0; i < n; i++)
		if (lb_preset_config(config, names[i], &b, err) < 0)
			goto done;
	if (preset_choices(config, 0, names, &n, err) < 0)
		goto done;
	def = lb_preset_default(config);
	if (!names_have(names, n, def)) {
		char list[200] = "";
		for (int i = 0; i < n; i++)
			list_add(list, sizeof list, names[i]);
		bad_value(config, "print", "default_preset", def, err,
			  "must be a preset offered to students (%s)", list);
		goto done;
	}
	if (lb_quota_config(config, &q, err) < 0)
		goto done;
	rc = 0;
done:
	free(pb);
	return rc;
}

/* Write a duration as "3 h 40 min", "4 h" or "35 min" (minutes rounded up when up). */
static void put_duration(char *buf, size_t cap, double s, int up)
{
	long long min = (long long)(up ? ceil(s / 60 - 1e-9) : floor(s / 60 + 0.5));

	if (min >= 60 && min % 60)
		snprintf(buf, cap, "%lld h %lld min", min / 60, min % 60);
	else if (min >= 60)
		snprintf(buf, cap, "%lld h", min / 60);
	else
		snprintf(buf, cap, "%lld min", min);
}

/* The share of a job that counts against the quota: 1 for a job waiting, printing or done, the
 * part printed (progress.percent, else all) of a failed or cancelled job that had started, else
 * 0. */
static double quota_share(const json_t *job)
{
	static const char *const counted[] = {"slicing",  "submitted", "approved", "queued",
					      "printing", "paused",    "done",	   "interrupted"};
	const char *state = json_string_value(json_object_get(job, "state"));
	const json_t *pct = json_object_get(json_object_get(job, "progress"), "percent");

	for (size_t i = 0; state && i < sizeof counted / sizeof counted[0]; i++)
		if (strcmp(state, counted[i]) == 0)
			return 1;
	if (!state || (strcmp(state, "failed") != 0 && strcmp(state, "cancelled") != 0) ||
	    !json_is_integer(json_object_get(job, "started")))
		return 0;
	return json_is_number(pct) ? fmin(1, fmax(0, json_number_value(pct) / 100)) : 1;
}

int lb_quota_check(const lb_quota *q, const json_t *jobs, const char *owner, double time_s,
		   double filament_g, int64_t now_real, char *why, size_t cap)
{
	const int64_t week = 7LL * 24 * 3600 * 1000000000LL;
	double used_s = 0, used_g = 0;
	char a[32], b[32], c[32];
	size_t i;
	json_t *job;

	if (cap)
		why[0] = '\0';
	if (!q || (q->week_hours <= 0 && q->week_filament_g <= 0))
		return 0;
	json_array_foreach((json_t *)jobs, i, job)
	{
		const char *o = json_string_value(json_object_get(job, "owner"));
		json_t *meta = json_object_get(job, "meta");
		json_int_t at = json_integer_value(json_object_get(job, "submitted"));
		double share = quota_share(job);

		if (!o || !owner || strcmp(o, owner) != 0 || share <= 0 || at <= now_real - week ||
		    at > now_real)
			continue;
		used_s += share * fmax(0, json_number_value(json_object_get(meta, "time_s")));
		used_g += share * fmax(0, json_number_value(json_object_get(meta, "filament_g")));
	}
	time_s = isfinite(time_s) && time_s > 0 ? time_s : 0;
	filament_g = isfinite(filament_g) && filament_g > 0 ? filament_g : 0;
	if (q->week_hours > 0 && used_s + time_s > q->week_hours * 3600) {
		put_duration(a, sizeof a, q->week_hours * 3600, 0);
		put_duration(b, sizeof b, used_s, 0);
		put_duration(c, sizeof c, time_s, 1);
		if (cap)
			snprintf(why, cap,
				 "over the weekly quota of %s of printing: %s used, this job "
				 "needs %s",
				 a, b, c);
		return 1;
	}
	if (q->week_filament_g > 0 && used_g + filament_g > q->week_filament_g) {
		if (cap)
			snprintf(why, cap,
				 "over the weekly quota of %g g of filament: %.0f g used, this "
				 "job needs %.0f g",
				 q->week_filament_g, used_g, ceil(filament_g));
		return 1;
	}
	return 0;
}
