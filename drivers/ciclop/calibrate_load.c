/* calibrate_load.c - calibrate.h's functions, forwarded to the OpenCV module loaded on first use.
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "calibrate.h"

#ifndef LB_LIBDIR
#define LB_LIBDIR "/usr/local/lib/labbridge"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static const ciclop_calibrate_api *api; /* NULL when the module could not be loaded */
static char why[PATH_MAX + 128];	/* why not, for the error messages */

/* Try to load the module at dir/CICLOP_CALIBRATE_MODULE; 1 when api is set, else 0 (why set). */
static int try_dir(const char *dir)
{
	char path[PATH_MAX];
	void *h;
	const ciclop_calibrate_api *a;

	if (snprintf(path, sizeof path, "%s/%s", dir, CICLOP_CALIBRATE_MODULE) >= (int)sizeof path)
		return 0;
	if (access(path, R_OK) != 0)
		return 0;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(why, sizeof why, "%s", dlerror());
		return 0;
	}
	a = dlsym(h, CICLOP_CALIBRATE_SYMBOL);
	if (!a || a->version != CICLOP_CALIBRATE_API_VERSION) {
		snprintf(why, sizeof why,
			 "%.*s is not a calibration module of this bridge (version %d)", PATH_MAX,
			 path, a ? a->version : -1);
		dlclose(h);
		return 0;
	}
	api = a; /* kept loaded for the process's life */
	return 1;
}

/* Look for the module: $LABBRIDGE_LIBDIR, beside the running program (a build tree), then the
 * installed library directory. */
static void load(void)
{
	const char *env = getenv("LABBRIDGE_LIBDIR");
	char exe[PATH_MAX];
	ssize_t n;

	snprintf(why, sizeof why,
		 "%s is not installed (looked in $LABBRIDGE_LIBDIR, beside the "
		 "program and in %s)",
		 CICLOP_CALIBRATE_MODULE, LB_LIBDIR);
	if (env && *env && try_dir(env))
		return;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		char *slash;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (try_dir(exe))
				return;
		}
	}
	try_dir(LB_LIBDIR);
}

/* The module's table, loaded once; NULL with err set when it cannot be. */
static const ciclop_calibrate_api *module(lb_error *err)
{
	pthread_once(&once, load);
	if (!api && err)
		lb_error_set(err, LB_ERR_NOT_SUPPORTED, "the calibration module: %s", why);
	return api;
}

/* As calibrate.h promises; NULL with err also when the module is missing. */
ciclop_calibrator *ciclop_calibrator_new(const ciclop_pattern *p, int width, int height,
					 int nlasers, int views, lb_error *err)
{
	const ciclop_calibrate_api *a = module(err);

	return a ? a->create(p, width, height, nlasers, views, err) : NULL;
}

/* As calibrate.h promises (a calibrator exists only when the module was loaded). */
int ciclop_calibrator_view(ciclop_calibrator *c, int i, double angle_deg, const uint8_t *grey,
			   lb_error *err)
{
	const ciclop_calibrate_api *a = module(err);

	return a ? a->view(c, i, angle_deg, grey, err) : LB_EFAIL;
}

/* As calibrate.h promises. */
int ciclop_calibrator_status(ciclop_calibrator *c, int *checked, int *found)
{
	const ciclop_calibrate_api *a = c ? module(NULL) : NULL;

	if (!a) {
		if (checked)
			*checked = 0;
		if (found)
			*found = 0;
		return 0;
	}
	return a->status(c, checked, found);
}

/* As calibrate.h promises. */
int ciclop_calibrator_wait(ciclop_calibrator *c, int timeout_ms)
{
	const ciclop_calibrate_api *a = c ? module(NULL) : NULL;

	return a ? a->wait(c, timeout_ms) : 0;
}

/* As calibrate.h promises. */
int ciclop_calibrator_laser(ciclop_calibrator *c, int i, int n, const uint8_t *on,
			    const ciclop_detect_opts *det, lb_error *err)
{
	const ciclop_calibrate_api *a = module(err);

	return a ? a->laser(c, i, n, on, det, err) : LB_EFAIL;
}

/* As calibrate.h promises. */
int ciclop_calibrator_solve(ciclop_calibrator *c, ciclop_calib *out, ciclop_calib_report *rep,
			    lb_error *err)
{
	const ciclop_calibrate_api *a = module(err);

	return a ? a->solve(c, out, rep, err) : LB_EFAIL;
}

/* As calibrate.h promises. */
void ciclop_calibrator_destroy(ciclop_calibrator **c)
{
	const ciclop_calibrate_api *a = c && *c ? module(NULL) : NULL;

	if (a)
		a->destroy(c);
	else if (c)
		*c = NULL;
}
