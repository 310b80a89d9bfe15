/* gcode.h - G-code as the host sends it: numbered lines with checksums, commands, policy, metadata.
 */
#ifndef LB_PROTO_GCODE_H
#define LB_PROTO_GCODE_H

#include <stddef.h>
#include <stdint.h>

#define GCODE_CMD_MAX 200   /* longest command kept (Marlin's MAX_CMD_SIZE is 96) */
#define GCODE_FRAME_MAX 240 /* "N<n> " + command + "*<cs>\n" always fits */
#define GCODE_POLICY_MAX 64 /* forbidden commands in a policy */
#define GCODE_THUMBS_MAX 4

/* The XOR of len bytes: Marlin's checksum of a numbered line (everything before '*'). */
uint8_t gcode_checksum(const char *s, size_t len);

/*
 * Frame a command (already cleaned: no comment, no line end) for the wire: "N<line> <cmd>*<cs>\n"
 * into out[cap]. Returns the length written (NUL-terminated, not counted), or -1 if it does not
 * fit or cmd is empty. gcode_frame(buf, sizeof buf, 1, "M115", 4) writes "N1 M115*39\n".
 */
int gcode_frame(char *out, size_t cap, long line, const char *cmd, size_t len);

/* What gcode_unframe found wrong with a received line (the firmware's view). */
typedef enum gcode_frame_error {
	GCODE_FRAME_OK = 0,
	GCODE_FRAME_NO_NUMBER = -1,   /* checksum without "N<n>" */
	GCODE_FRAME_NO_CHECKSUM = -2, /* "N<n>" without "*<cs>" */
	GCODE_FRAME_BAD_CHECKSUM = -3,
	GCODE_FRAME_SYNTAX = -4, /* not a number after N or '*', or too long */
} gcode_frame_error;

/*
 * Parse a received line (without its end) as a firmware does: "N<n> <cmd>*<cs>" gives *line = n
 * and the command span [*cmd, *cmd + *cmdlen) inside s; a bare command (no N, no '*') gives
 * *line = -1. Returns GCODE_FRAME_OK or a negative gcode_frame_error.
 */
int gcode_unframe(const char *s, size_t len, long *line, const char **cmd, size_t *cmdlen);

/*
 * A file's own line framing taken off a cleaned command, in place: "N12 G1 X5*85" or "N12 G1 X5"
 * becomes "G1 X5" (a slicer's or a host's numbering: the bridge numbers the lines it sends
 * itself). Returns the command's new length (unchanged for a command without "N<n>"), or -1 when
 * the line's checksum is wrong or its framing malformed (cmd is left as it was).
 */
int gcode_strip_frame(char *cmd);

/*
 * Clean one line of a G-code file: drop the comment (';' to the end of the line, and '(...)'),
 * surrounding blanks and a trailing '\r'; copy the command, NUL-terminated, into out[cap].
 * Returns its length (0 for a blank or comment-only line), or -1 if it is longer than cap - 1
 * or holds a NUL or control byte (then out is an empty string).
 */
int gcode_clean(const char *in, size_t len, char *out, size_t cap);

/* A command's code: G28 -> {'G', 28, -1}; G29.1 -> {'G', 29, 1}; T1 -> {'T', 1, -1}. */
typedef struct gcode_code {
	char letter; /* 'G', 'M', 'T', or 0 when the line has no code (e.g. a bare "X10") */
	int number;
	int sub; /* -1 when none */
} gcode_code;

/* Parse the code at the start of a cleaned command (letters case-insensitive); 0, or -1. */
int gcode_code_parse(const char *cmd, gcode_code *out);

/*
 * Whether a cleaned command is a G-code command a firmware runs: an optional "N<n>" line number,
 * then a well-formed G, M or T code ("G1 X10", "N3 M105*36", "T0", "g 28"). 1 or 0; 0 for an
 * empty command, a bare parameter ("X10"), a malformed code ("G", "M1.2.3") or any other text
 * ("solid cube", "v 1 2 3", "PRINT_START"). Never fails.
 */
int gcode_is_command(const char *cmd);

/*
 * The value of parameter `letter` (e.g. 'S' in "M104 S200") in a cleaned command, the code itself
 * excluded: 1 and *value set, or 0 when absent or not a number.
 */
int gcode_param(const char *cmd, char letter, double *value);

/* How long a command may legitimately keep the firmware from answering. */
typedef enum gcode_class {
	GCODE_CLASS_QUICK = 0, /* moves, settings: seconds at most */
	GCODE_CLASS_HOMING,    /* G28, G29 (bed levelling), G30-G34: minutes */
	GCODE_CLASS_HEATING,   /* M109, M190, M191, M116: until the target is reached */
	GCODE_CLASS_WAIT,      /* G4 (dwell), M400, M0/M1, M600 (filament change): long/user */
} gcode_class;

gcode_class gcode_classify(const gcode_code *code);

/* The policy's defaults: the one place they are written (the queue's submission check and the
 * printers' console check both take their policy from lb_print_policy,
 * bridge/services/print/printq.h). */
#define GCODE_POLICY_MAX_HOTEND 260.0			  /* °C */
#define GCODE_POLICY_MAX_BED 110.0			  /* °C */
#define GCODE_POLICY_FORBIDDEN "M500 M502 M997 M303 M928" /* EEPROM, firmware, autotune, SD log */

/* A safety policy applied to every command of a submitted file. */
typedef struct gcode_policy {
	double max_hotend; /* °C allowed in M104/M109 S or R, and G10 S; <= 0: no limit */
	double max_bed;	   /* °C allowed in M140/M190 S or R; <= 0: no limit */
	double max_chamber;
	int refuse_all; /* a misconfigured policy: every command is refused */
	int nforbidden;
	gcode_code forbidden[GCODE_POLICY_MAX]; /* sub -1 forbids every subcode */
} gcode_policy;

/*
 * Set the forbidden commands from a list such as "M500, M502 M997 G29.1" (commas or blanks).
 * Returns 0, or -1 with a message in why[cap] naming the bad entry.
 */
int gcode_policy_forbid(gcode_policy *p, const char *list, char *why, size_t cap);

/*
 * Check one cleaned command against the policy: 0 when allowed, -1 with the reason in why[cap]
 * ("M104 S300: hotend 300 °C is above the limit of 250 °C", "M500 is not allowed (EEPROM write)").
 */
int gcode_policy_check(const gcode_policy *p, const char *cmd, char *why, size_t cap);

/* An embedded thumbnail: "; thumbnail begin WxH LEN" ... base64 lines ... "; thumbnail end". */
typedef struct gcode_thumb {
	int width, height;
	long length;	   /* declared base64 length */
	long first_line;   /* file line (1-based) of the first base64 line */
	long begin_offset; /* byte offset of the first base64 line */
	long end_offset;   /* byte offset of the "; thumbnail end" line */
} gcode_thumb;

/* Metadata gathered from a file's comments, line by line (zero-initialise with gcode_meta_init). */
typedef struct gcode_meta {
	char slicer[64];    /* "PrusaSlicer 2.6.0", "Cura_SteamEngine 5.4.0", "" when unknown */
	double time_s;	    /* slicer's estimated print time; -1 unknown */
	double filament_mm; /* filament length; -1 unknown */
	double filament_g;  /* filament weight; -1 unknown */
	long layer_count;   /* declared (;LAYER_COUNT:) or counted layer changes; -1 unknown */
	long layers_seen;   /* ;LAYER: / ;LAYER_CHANGE markers counted */
	long lines;	    /* lines seen */
	long commands;	    /* lines holding a command */
	int nthumbs;
	gcode_thumb thumbs[GCODE_THUMBS_MAX];
	int in_thumb; /* parser state */
} gcode_meta;

void gcode_meta_init(gcode_meta *m);

/*
 * Feed one raw line of the file (without its '\n'), which starts at byte `offset` of the file.
 * Recognises PrusaSlicer/SuperSlicer/OrcaSlicer/Cura/Simplify3D comments (generated by, estimated
 * printing time, ;TIME:, filament used, ;LAYER_COUNT:, ;LAYER:, ;LAYER_CHANGE, thumbnails).
 */
void gcode_meta_line(gcode_meta *m, const char *line, size_t len, long offset);

/* After the last line: fill layer_count from the markers counted when the file declared none. */
void gcode_meta_finish(gcode_meta *m);

#endif
