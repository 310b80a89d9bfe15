/* scan_submit.h - a scan job's submission: the checks of scan.submit's parameters, the job made. */
#ifndef LB_SCAN_SUBMIT_H
#define LB_SCAN_SUBMIT_H

#include <jansson.h>
#include <stdbool.h>

#include "../../core/device.h"
#include "../../core/service.h"

/* A settings object has at most this many keys; a string value at most this many characters. */
#define SCAN_SETTINGS_MAX 32
#define SCAN_STRING_MAX 64

/* Whether d is a scanner the scan service runs jobs on (kind "scanner" or "scanner3d"). */
bool scan_is_scanner(const lb_device *d);

/*
 * The output format of a job on device kind (NULL name: the kind's default, "pdf" for a
 * document scanner, "ply" for a 3D one) into *out (a static string): 0, or LB_EFAIL with err
 * set (LB_ERR_INVALID_PARAMS naming the formats the kind takes).
 */
int scan_check_format(const char *kind, const char *name, const char **out, lb_error *err);

/*
 * Check a job's settings (NULL: none) before anything is stored: an object of at most 32 keys,
 * each 1 to 64 characters, whose values are finite numbers, booleans, strings of at most 64
 * characters, or [w, h] (two finite numbers). 0, or LB_EFAIL with err LB_ERR_INVALID_PARAMS
 * naming the key at fault. Whether the device takes the values is the driver's check at start.
 */
int scan_check_settings(const json_t *settings, lb_error *err);

/*
 * scan.submit {device, format?, settings?, label?, request_id?} (students and up): a scan job on
 * that scanner, owned by the caller's kernel-given identity. 0 with *result the job object and
 * *id its id, *created false when a retry of the same request id found it made already; or
 * LB_EFAIL with err set. The service then announces and dispatches a new job (scan.c).
 */
int scan_submit(lb_server *s, lb_call *c, json_t **result, long long *id, bool *created,
		lb_error *err);

#endif
