/* profile.h - printer profiles and quality presets, written as PrusaSlicer INI files, and the
 * check that a model fits a printer. */
#ifndef LB_PRINT_PROFILE_H
#define LB_PRINT_PROFILE_H

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
	const char *flavour;	 /* PrusaSlicer gcode_flavor: "marlin2", "marlin" */
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
 * Whether a model of these facts (from `prusa-slicer --info`) fits the printer: 0, or LB_EFAIL
 * with err (LB_ERR_INVALID_PARAMS) giving its size and the bed's in mm ("the model is 300.0 x
 * 300.0 x 300.0 mm: larger than the bed of Creality Ender-3 (220 x 220 mm, 250 mm high)"), and a
 * guess when it was likely drawn in inches (tiny) or metres (huge).
 */
int lb_profile_check_fit(const lb_printer_profile *pr, const model_info *mi, lb_error *err);

#endif
