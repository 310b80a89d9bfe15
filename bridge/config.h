/* config.h - the configuration file (INI, read with inih) as a JSON object of sections. */
#ifndef LB_CONFIG_H
#define LB_CONFIG_H

#include <jansson.h>

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

#endif
