/* lines.h - serial text-line sensors (micro:bit, Arduino Serial.println): pure line codec. */
#ifndef LB_PROTO_LINES_H
#define LB_PROTO_LINES_H

#include <stddef.h>
#include <stdint.h>

#define LINES_MAX_LEN 256 /* longer lines are reported and skipped */
#define LINES_MAX_FIELDS 16
#define LINES_NAME_MAX 32
#define LINES_UNIT_MAX 16

/* A line splitter fed with arbitrary chunks; zero it to start. */
typedef struct lines_splitter {
	char buf[LINES_MAX_LEN + 1];
	size_t len;
	int overflow; /* the current line is too long: skip to its end */
} lines_splitter;

/*
 * Take bytes from data[0..len) until one line is complete (ended by \n, \r\n or \r): copy it,
 * without its end, NUL-terminated, into line[LINES_MAX_LEN + 1] and return 1; *used says how many
 * bytes were consumed (call again with the rest). Returns 0 when all bytes are consumed and no
 * line is complete yet, -1 when a line too long (or holding a NUL byte) was skipped.
 */
int lines_next(lines_splitter *sp, const uint8_t *data, size_t len, size_t *used, char *line);

typedef enum lines_kind {
	LINES_EMPTY = 0, /* blank line or # comment */
	LINES_HEADER,	 /* channel names (with units): temperature(°C),light(lx) */
	LINES_DATA,	 /* values, positional or name:value / name=value */
	LINES_ERROR,	 /* garbage: mixed or unparsable fields */
} lines_kind;

typedef struct lines_record {
	int n;
	int named; /* DATA: fields came as name:value pairs */
	char name[LINES_MAX_FIELDS][LINES_NAME_MAX];
	char unit[LINES_MAX_FIELDS][LINES_UNIT_MAX];
	double value[LINES_MAX_FIELDS];
} lines_record;

/*
 * Parse one line. The separator is a tab, ';', ',' (in that order of preference, the first one
 * present), or else blanks; with ';' or a tab, "21,5" is a number (decimal comma). A header's
 * names may carry a unit: "temp(°C)", "temp [°C]". Returns the kind; on LINES_ERROR, why
 * (NUL-terminated) is in err[errcap].
 */
lines_kind lines_parse(const char *line, lines_record *out, char *err, size_t errcap);

#endif
