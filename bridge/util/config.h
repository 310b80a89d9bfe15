/* config.h - the configuration file (INI, read with inih) as a JSON object of sections. */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <jansson.h>
#include <stddef.h>

#include "error.h"

/*
 * Read an INI file into a new object {section: {key: "value", ...}, ...}; each section also
 * holds "_line" (where it starts) and "_lines" {key: line}. Keys of [bridge] and [access] are
 * checked here. Returns the object, or NULL with err naming the file and line.
 */
json_t *lb_config_load(const char *path, lb_error *err);

/* An empty configuration (no file). */
json_t *lb_config_empty(void);

/* The string value of section.key, or def. */
const char *lb_config_str(const json_t *cfg, const char *section, const char *key, const char *def);

/*
 * The number in section.key, or def when absent; LB_EINVAL with err ("file:line: ...") when the
 * value is not a number within [min, max].
 */
int lb_config_num(const json_t *cfg, const char *section, const char *key, double min, double max,
		  double def, double *out, lb_error *err);

/* Set section.key to a string (command-line overrides); 0 or LB_ENOMEM. */
int lb_config_set(json_t *cfg, const char *section, const char *key, const char *value);

/*
 * Write where section.key (key NULL: the section's header) is written into buf: "FILE:LINE", or
 * "FILE" / "(command line)" when the line is unknown. Never fails (cut to n - 1 bytes).
 */
void lb_config_where(const json_t *cfg, const char *section, const char *key, char *buf, size_t n);

/*
 * Log a configuration mistake as a warning "FILE:LINE: [section] message", once: the same
 * (section, key, message) again is not logged (drivers' scans run every 2 s). Returns 1 when
 * it was logged now, 0 when it had been already. Main thread only.
 */
int lb_config_report(const json_t *cfg, const char *section, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Warn about each section of cfg that nothing reads ("FILE:LINE: unknown section [foo]"), with
 * the known name it most likely meant. known: a NULL-terminated list of section names; a name
 * ending in ".*" allows every [PREFIX.NAME] with a non-empty NAME. Returns how many were
 * unknown (each logged once, through lb_config_report).
 */
int lb_config_check_sections(const json_t *cfg, const char *const *known);

#endif
