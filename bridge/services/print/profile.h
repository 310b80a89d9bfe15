/* profile.h - printer profiles and quality presets (built in or from the configuration), written
 * as PrusaSlicer INI files, the check that a model fits a printer, and the weekly print quota. */
#ifndef LB_PRINT_PROFILE_H
#define LB_PRINT_PROFILE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../protocols/model.h"
#include "../../util/error.h"

/* What the slicer must know of a printer. */
typedef struct lb_printer_profile {
	const char *name;	 /* "prusa-mk3" */
	const char *label;	 /* "Prusa i3 MK3S" */
	double bed_x, bed_y;	 /* rectangular bed, mm, origin at a corner */
	double max_z;		 /* printable height, mm */
	double nozzle;		 /* mm */
	double filament;	 /* filament diameter, mm */
	const char *flavour;	 /* "marlin2", "marlin", "reprap", "klipper" (written as marlin2) */
	int hotend_c, bed_c;	 /* PLA temperatures, °C */
	const char *start_gcode; /* lines separated by '\n' */
	const char *end_gcode;
} lb_printer_profile;

/* Supports under overhangs. */
typedef enum lb_supports {
	LB_SUPPORTS_NONE = 0,
	LB_SUPPORTS_AUTO,	/* where overhangs need them */
	LB_SUPPORTS_EVERYWHERE, /* auto, not only from the bed */
} lb_supports;

/* A named quality preset the teacher offers ("brouillon", "normal", "fin"). */
typedef struct lb_preset {
	const char *name;
	double layer_mm;
	int infill_pct;
	int perimeters;
	lb_supports supports;
	double brim_mm; /* 0: none */
} lb_preset;

/* The built-in printers (Prusa MK3S, MINI, Ender-3, a generic Marlin 220 mm, the simulated
 * printer): by name, or NULL. */
const lb_printer_profile *lb_printer_profile_find(const char *name);
/* The i-th built-in printer, NULL past the end. */
const lb_printer_profile *lb_printer_profile_at(int i);

/* The built-in presets ("brouillon", "normal", "fin"): by name, or NULL. */
const lb_preset *lb_preset_find(const char *name);
/* The i-th built-in preset, NULL past the end. */
const lb_preset *lb_preset_at(int i);

/*
 * Write the PrusaSlicer configuration (INI) for printer + preset to path (made or replaced, mode
 * 0600), for `prusa-slicer --load path`. 0, or LB_EFAIL with err set (LB_ERR_INVALID_PARAMS for
 * a value out of range or a G-code text holding a control byte other than '\n'; LB_ERR_INTERNAL
 * when it cannot be written).
 */
int lb_profile_write_ini(const lb_printer_profile *pr, const lb_preset *ps, const char *path,
			 lb_error *err);

/*
 * Whether a model of these facts (from `prusa-slicer --info`) fits the printer as it is or turned
 * by 90°: lb_profile_check_fit_ex with scale 100 % and no rotation (the same messages).
 */
int lb_profile_check_fit(const lb_printer_profile *pr, const model_info *mi, lb_error *err);

/*
 * Whether the model, scaled by scale_pct (100: as drawn; 1 to 10000) then turned by rotate_deg
 * about Z (its footprint's bounding box), fits the printer: 0 with *turn90 = 0 when it fits as it
 * is, 0 with *turn90 = 1 when it fits only turned by 90° more (the slicer then needs `--rotate
 * 90` on top of the rotation); else LB_EFAIL with err (LB_ERR_INVALID_PARAMS) giving its size and
 * the bed's in mm and the largest scale that fits, in whole percent ("the model is 300.0 x 40.0 x
 * 20.0 mm: larger than the bed of Creality Ender-3 (220 x 220 mm, 250 mm high); a teacher may
 * scale it (scale 73 % makes it 219.0 x 29.2 x 14.6 mm)"), or a guess when it was likely drawn
 * in inches (tiny: scale 2540 %) or metres (huge). turn90 may be NULL.
 */
int lb_profile_check_fit_ex(const lb_printer_profile *pr, const model_info *mi, double scale_pct,
			    double rotate_deg, int *turn90, lb_error *err);

/*
 * A profile with its own storage (texts copied), as read from the configuration. Its pointers
 * point into the buffer itself: do not copy it by value (fill the copy again instead).
 */
typedef struct lb_profile_buf {
	lb_printer_profile p;
	char name[64], label[128], flavour[16], start[4096], end[4096];
} lb_profile_buf;

/*
 * The profile of printer (a device id such as "printer-ender1"; NULL for a job for any printer):
 * [print] profile.<printer id> if set, else [print] profile, else "generic-220" ("sim" for a
 * simulated printer: simulated, or a device id starting "printer-sim"). A name is a [profile.NAME]
 * section (base = a built-in, default generic-220, then any of label, bed_x, bed_y, max_z,
 * nozzle, filament, flavour, hotend, bed, start_gcode, end_gcode; " | " separates G-code lines)
 * or a built-in (lb_printer_profile_find). Its temperatures must pass the print check ([print]
 * max_hotend, max_bed; the first layer prints 5 °C hotter). 0, or LB_EFAIL with err
 * (LB_ERR_INVALID_PARAMS) naming the config line: "[profile.ender5] bed_x = 9000: must be 50 to
 * 1000 mm (/etc/labbridge.conf:42)", an unknown profile name or key.
 */
int lb_profile_config(const json_t *config, const char *printer, bool simulated,
		      lb_profile_buf *out, lb_error *err);

/*
 * The profile names as print.presets shows them: a new object {"*": [print] profile or
 * "generic-220", "<printer id>": name for each [print] profile.<printer id>}; NULL when out of
 * memory. Names only: lb_print_config_check says whether they resolve.
 */
json_t *lb_profile_names(const json_t *config);

/* A preset with its own storage, as read from the configuration (do not copy it by value). */
typedef struct lb_preset_buf {
	lb_preset p;
	char name[32];
} lb_preset_buf;

/*
 * The preset of that name: a [preset.NAME] section (base = brouillon|normal|fin, default the
 * built-in of that name if it is one, else normal; then any of layer_mm 0.05..0.6, infill 0..100
 * (percent), perimeters 1..10, supports none|auto|everywhere, brim_mm 0..20), else a built-in.
 * Names are [a-z0-9_-]{1,31}. 0, or LB_EFAIL with err (LB_ERR_INVALID_PARAMS: an unknown name, a
 * bad value or key with its config line).
 */
int lb_preset_config(const json_t *config, const char *name, lb_preset_buf *out, lb_error *err);

/*
 * The presets a caller may choose, as a new array of {name, layer_mm, infill, perimeters,
 * supports ("none"/"auto"/"everywhere"), brim_mm}: for students those listed in [print] presets
 * (names separated by blanks or commas; default: every preset), for teachers every preset (the
 * built-ins, then the other [preset.*] in the file's order). NULL with err set when the
 * configuration is wrong.
 */
json_t *lb_presets_offered(const json_t *config, bool teacher, lb_error *err);

/* [print] default_preset, or "normal" (lb_print_config_check checks students are offered it). */
const char *lb_preset_default(const json_t *config);

/*
 * Whether a caller may use preset name: 0, or LB_EFAIL with err: LB_ERR_INVALID_PARAMS when there
 * is no such preset, LB_ERR_FORBIDDEN when students are not offered it, both "preset 'ultra' is
 * not one of those offered: brouillon, normal" (listing the caller's choices).
 */
int lb_preset_allowed(const json_t *config, const char *name, bool teacher, lb_error *err);

/*
 * The whole [print] / [profile.*] / [preset.*] configuration checked at start: every profile
 * section, [print] profile and profile.* name, every preset section and the presets list parse,
 * the default preset is offered to students, the quota is valid. 0 or LB_EFAIL with err, for
 * the print service's init to refuse a bad configuration with a clear message.
 */
int lb_print_config_check(const json_t *config, lb_error *err);

/* A weekly quota per owner (0: no limit). */
typedef struct lb_quota {
	double week_hours, week_filament_g;
} lb_quota;

/* [print] quota_hours (0..1000) and quota_filament_g (0..100000): 0, or LB_EFAIL with err. */
int lb_quota_config(const json_t *config, lb_quota *q, lb_error *err);

/*
 * Whether a job of time_s seconds and filament_g grams by owner fits within the quota given the
 * owner's jobs submitted in the 7 days before now_real (ns since 1970). jobs: an array of
 * print-job objects as lb_printq_job returns them ({owner, state, submitted, started, progress:
 * {percent}, meta: {time_s, filament_g}}); counted: the states slicing, submitted, approved,
 * queued, printing, paused, done, interrupted, and the part printed (percent) of a job failed or
 * cancelled after it started (not at all before). 0 when it fits; 1 when over, with why (cut to
 * cap) = "over the weekly quota of 4 h of printing: 3 h 40 min used, this job needs 35 min".
 */
int lb_quota_check(const lb_quota *q, const json_t *jobs, const char *owner, double time_s,
		   double filament_g, int64_t now_real, char *why, size_t cap);

#endif
