/* requests.c - the uploads service: upload.status, for a client that lost its link mid-upload. */
#include <stdio.h>
#include <string.h>

#include "upload.h"
#include "../../core/service.h"

/*
 * upload.status {method, upload} (students and up): how many bytes of the caller's upload of
 * that id to that method are on disk, {upload, offset}; 0 when none (never started, abandoned
 * and swept, or already complete: a method's final chunk sent again answers its result again).
 * The id is the caller's own (lb_upload_key with the kernel-given identity): nobody sees
 * another user's uploads. Fails with invalid_params for a method that takes no upload.
 */
static int m_upload_status(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"method", "upload", NULL};
	const char *method, *id;
	const lb_upload_decl *decl;
	char key[sizeof lb_call_client(c)->user + 130], dir[1024];
	lb_uploads *up = NULL;
	long long offset = 0;
	int rc = LB_EFAIL;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_string(lb_call_params(c), "method", true, &method, err) < 0 ||
	    lb_param_string(lb_call_params(c), "upload", true, &id, err) < 0)
		return LB_EFAIL;
	decl = lb_upload_find(method);
	if (!decl)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s takes no uploads", method);
	if (lb_upload_key(lb_call_client(c)->user, id, key, sizeof key) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "upload must be 1 to 128 characters");
	if (!srv_data_dir(s) ||
	    snprintf(dir, sizeof dir, "%s/%s", srv_data_dir(s), decl->subdir) >= (int)sizeof dir)
		return lb_error_set(err, LB_ERR_INTERNAL, "the data directory name is too long");
	up = lb_uploads_new(dir, 0, err);
	if (!up || lb_uploads_status(up, key, &offset, err) < 0)
		goto done;
	*result = json_pack("{s:s,s:I}", "upload", id, "offset", (json_int_t)offset);
	rc = *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
done:
	lb_uploads_destroy(&up);
	return rc;
}

static const lb_method upload_methods[] = {
    {"upload.status", LB_ROLE_STUDENT, 0, m_upload_status},
    {NULL, 0, 0, NULL},
};

/* Uploads of any method declaring LB_METHOD_UPLOAD (and LB_UPLOAD_METHOD: its limit and
 * directory): where one stands, to resume it. */
static const lb_service upload_service = {
    .name = "uploads",
    .methods = upload_methods,
};
LB_REGISTER_SERVICE(upload_service);
