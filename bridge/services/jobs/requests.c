/* requests.c - the generic requests of uploads: upload.status, for a client that lost its link. */
#include <stdio.h>
#include <string.h>

#include "upload.h"
#include "../../core/server_private.h"

/*
 * upload.status {method, upload} (students and up): how many bytes of the caller's upload of
 * that id to that method are on disk, {upload, offset}; 0 when none (never started, abandoned
 * and swept, or already complete: a method's final chunk sent again answers its result again).
 * The id is the caller's own (lb_upload_key with the kernel-given identity): nobody sees
 * another user's uploads. Fails with invalid_params for a method that takes no upload.
 */
int m_upload_status(lb_server *s, call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"method", "upload", NULL};
	const char *method, *id;
	const lb_upload_decl *decl;
	char key[sizeof c->client.user + 130], dir[1024];
	lb_uploads *up = NULL;
	long long offset = 0;
	int rc = LB_EFAIL;

	if (lb_param_only(c->req.params, allowed, err) < 0 ||
	    lb_param_string(c->req.params, "method", true, &method, err) < 0 ||
	    lb_param_string(c->req.params, "upload", true, &id, err) < 0)
		return LB_EFAIL;
	decl = lb_upload_find(method);
	if (!decl)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s takes no uploads", method);
	if (lb_upload_key(c->client.user, id, key, sizeof key) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "upload must be 1 to 128 characters");
	if (!s->opts.data_dir ||
	    snprintf(dir, sizeof dir, "%s/%s", s->opts.data_dir, decl->subdir) >= (int)sizeof dir)
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
