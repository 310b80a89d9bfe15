/* ziplib.c - libzip loaded on first use (dlopen of LB_ZIPLIB_SONAME), for the 3MF check. */
#include "ziplib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static lb_ziplib lib;
static int loaded;    /* 1 when lib is complete */
static char why[256]; /* else why not */

/* Load the library and every function of LB_ZIPLIB_FUNCS into lib (kept loaded); loaded = 1, or
 * why set. */
static void load(void)
{
	void *h = dlopen(LB_ZIPLIB_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(why, sizeof why, "%s", dlerror());
		return;
	}
#define LB_ZIPLIB_LOAD(f)                                                                          \
	if (!(*(void **)&lib.f = dlsym(h, #f))) {                                                  \
		snprintf(why, sizeof why, "%s has no %s", LB_ZIPLIB_SONAME, #f);                   \
		dlclose(h);                                                                        \
		return;                                                                            \
	}
	LB_ZIPLIB_FUNCS(LB_ZIPLIB_LOAD)
#undef LB_ZIPLIB_LOAD
	loaded = 1;
}

const lb_ziplib *lb_ziplib_get(lb_error *err)
{
	pthread_once(&once, load);
	if (loaded)
		return &lib;
	lb_error_set(err, LB_ERR_INTERNAL, "3MF models cannot be read: %s (package libzip4)", why);
	return NULL;
}
