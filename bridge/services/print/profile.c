/* profile.c - printer profiles and quality presets, written as PrusaSlicer INI files, and the
 * check that a model fits a printer. */
#include "profile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PF_TINY_MM 3.0 /* a model whose largest side is under this was likely not in mm */
#define PF_SLACK_MM 0.01

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
	fprintf(f, "gcode_flavor = %s\n", pr->flavour);
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

int lb_profile_check_fit(const lb_printer_profile *pr, const model_info *mi, lb_error *err)
{
	const double *s = mi->size;
	double big = fmax(s[0], fmax(s[1], s[2]));

	if (!(s[0] >= 0 && s[1] >= 0 && s[2] >= 0))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the model's size is unknown: the slicer could not read it");
	if (big < PF_TINY_MM) {
		if (fits(pr, s[0] * 25.4, s[1] * 25.4, s[2] * 25.4))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "the model is %.2f x %.2f x %.2f mm: too small to "
					    "print; drawn in inches? x 25.4 it is %.1f x %.1f x "
					    "%.1f mm",
					    s[0], s[1], s[2], s[0] * 25.4, s[1] * 25.4,
					    s[2] * 25.4);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the model is %.2f x %.2f x %.2f mm: too small to print", s[0],
				    s[1], s[2]);
	}
	if (fits(pr, s[0], s[1], s[2]))
		return 0;
	if (big >= 1000 && fits(pr, s[0] / 1000, s[1] / 1000, s[2] / 1000) &&
	    big / 1000 >= PF_TINY_MM)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the model is %.1f x %.1f x %.1f mm: larger than the bed of %s "
				    "(%g x %g mm, %g mm high); drawn in metres? / 1000 it is %.1f "
				    "x %.1f x %.1f mm",
				    s[0], s[1], s[2], pr->label, pr->bed_x, pr->bed_y, pr->max_z,
				    s[0] / 1000, s[1] / 1000, s[2] / 1000);
	return lb_error_set(err, LB_ERR_INVALID_PARAMS,
			    "the model is %.1f x %.1f x %.1f mm: larger than the bed of %s (%g x "
			    "%g mm, %g mm high)",
			    s[0], s[1], s[2], pr->label, pr->bed_x, pr->bed_y, pr->max_z);
}
