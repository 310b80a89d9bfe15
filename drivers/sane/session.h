/* session.h - SANE handling for the scanner driver: discovery off the main loop, options, reads. */
#ifndef LB_SANE_SESSION_H
#define LB_SANE_SESSION_H

#include <jansson.h>
#include <sane/sane.h>
#include <sane/saneopts.h>
#include <stdbool.h>
#include <stddef.h>

#include "../../bridge/util/error.h"

/*
 * Discovery. sane_init and sane_get_devices run in one worker thread (a network probe can take
 * seconds: scan() only reads the cached list). cfgdir: the SANE_CONFIG_DIR to use (the
 * simulated lab's private one), or NULL for the system's. A request for another cfgdir than
 * the current one is refused while SANE devices are open (SANE is one library per process).
 */

/*
 * The bridge's private SANE configuration directory (made once, main thread; NULL when it cannot
 * be made). SANE reads SANE_CONFIG_DIR once per process (sanei_config caches the path list in the
 * dll backend, which stays loaded), so every sane_init of the bridge runs with
 * SANE_CONFIG_DIR = "<this dir>:" followed by the SANE_CONFIG_DIR the bridge was started with,
 * if any: empty, SANE falls through to those or the system's directories (a trailing ':'
 * appends them); the simulated lab writes its dll.conf, dll.d/ and test.conf here,
 * which then come first. Removed by sn_shutdown.
 */
const char *sn_config_dir(void);

/* Start a discovery (if none runs and the last one is not fresh for this cfgdir). 1 when it
 * started one, 0 when none was needed, or negative (LB_EFAIL when the thread cannot start).
 * Main thread only. */
int sn_discover(const char *cfgdir);

/* Wait at most timeout_ms for the discovery under way to end (a quick one is then listed at
 * once, not by the next periodic scan); true when none runs any more. Main thread only. */
bool sn_discover_wait(int timeout_ms);

/* The cached list as a new array [{name, vendor, model, type}] (empty until the first discovery
 * ends), and whether it is for cfgdir; NULL when out of memory. */
json_t *sn_devices(const char *cfgdir);

/* Wait for the discovery thread and sane_exit (at shutdown, every device closed). */
void sn_shutdown(void);

/* Count of open SANE handles (sane_open .. sane_close), for the discovery's cfgdir switch. */
void sn_opened(int delta);

/* ---------------------------------------------------------------- options */

/* A scanner's options as SANE describes them (re-read on SANE_INFO_RELOAD_OPTIONS). */
typedef struct sn_options {
	SANE_Handle h;
	int n;				  /* descriptors, including option 0 */
	const SANE_Option_Descriptor **d; /* d[i], owned by the backend */
} sn_options;

/* Read the descriptors of h into o (freeing the old table). 0 or negative with err set. */
int sn_options_load(sn_options *o, SANE_Handle h, lb_error *err);

/* Free o's table. */
void sn_options_free(sn_options *o);

/* The settable, active options' values as a new object ({mode: "Gray", resolution: 75...}) plus
 * "page" (A4, A3, Letter or "custom", from the area); NULL when out of memory. */
json_t *sn_options_get(const sn_options *o);

/* Their limits ({resolution: {min, max, step, unit}, mode: {values: [...]}, page: {values}}). */
json_t *sn_options_limits(const sn_options *o);

/*
 * Set option key (a SANE option name, or "page" with A4, A3, Letter or [w_mm, h_mm]) to value,
 * checked against its constraint first: a wrong type or a value outside it is
 * LB_ERR_INVALID_PARAMS with the allowed range in the message, an inactive or read-only option
 * LB_ERR_NOT_SUPPORTED. Re-reads the descriptors when SANE says so. 0 or negative with err set.
 */
int sn_options_set(sn_options *o, const char *key, const json_t *value, lb_error *err);

/* The message of a SANE status, prefixed by what ("sane_start: Document feeder jammed"). */
int sn_status_error(lb_error *err, const char *what, SANE_Status st);

/* The page sizes known by name (mm); the area of name, or -1 when unknown. */
int sn_page_size(const char *name, double *w, double *h);

#endif
