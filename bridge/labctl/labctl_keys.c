/* labctl_keys.c - labctl keys new|list|revoke|export|qr: clients' CURVE keys (keys.* requests). */
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "labctl.h"
#include "labctl_qrpdf.h"

#define QR_MAX_COUNT 200 /* keys made by one `keys qr` */

/* A file name from a key's name: letters, digits, '.', '-' and '_' kept, others '_'. */
static void file_stem(const char *name, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = name; *p && n + 1 < cap; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
		out[n] = ok && !(n == 0 && c == '.') ? c : '_';
		n++;
	}
	out[n] = '\0';
}

/*
 * Write the key pair of result (keys.new's) to DIR/STEM.key (public certificate) and
 * DIR/STEM.key_secret (mode 0600: the secret key, with the bridge's public key and endpoints as
 * metadata), in CZMQ's zcert format (pyzmq's zmq.auth.load_certificate reads it too). The
 * secret file's path into path. 0, or -1 after saying why.
 */
static int write_pair(const json_t *result, const char *dir, char *path, size_t cap)
{
	const char *pub = labctl_jstr(result, "public_key", ""),
		   *sec = labctl_jstr(result, "secret_key", ""),
		   *name = labctl_jstr(result, "name", "key");
	uint8_t rp[32], rs[32];
	char stem[80], base[4096];
	zcert_t *cert;
	mode_t old;
	int rc;

	if (strlen(pub) != 40 || strlen(sec) != 40 || !zmq_z85_decode(rp, pub) ||
	    !zmq_z85_decode(rs, sec)) {
		labctl_errmsg("labctl: the bridge answered no key pair\n");
		return -1;
	}
	file_stem(name, stem, sizeof stem);
	snprintf(base, sizeof base, "%s/%s.key", dir, stem);
	snprintf(path, cap, "%s_secret", base);
	if (access(path, F_OK) == 0) {
		labctl_errmsg("labctl: %s exists already: not overwritten (the key '%s' is "
			      "registered: revoke it, or write elsewhere with --output DIR)\n",
			      path, name);
		return -1;
	}
	cert = zcert_new_from(rp, rs);
	if (!cert)
		return -1;
	zcert_set_meta(cert, "name", "%s", name);
	zcert_set_meta(cert, "role", "%s", labctl_jstr(result, "role", "?"));
	zcert_set_meta(cert, "server-key", "%s", labctl_jstr(result, "server_key", ""));
	if (json_is_string(json_object_get(result, "net_rpc")))
		zcert_set_meta(cert, "net_rpc", "%s", labctl_jstr(result, "net_rpc", ""));
	if (json_is_string(json_object_get(result, "net_pub")))
		zcert_set_meta(cert, "net_pub", "%s", labctl_jstr(result, "net_pub", ""));
	old = umask(077);
	rc = zcert_save(cert, base);
	umask(old);
	zcert_destroy(&cert);
	memset(rs, 0, sizeof rs);
	if (rc < 0 || chmod(path, 0600) < 0) {
		labctl_errmsg("labctl: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	chmod(base, 0644);
	return 0;
}

/* labctl keys new --role ROLE --name NAME [--output DIR]. */
/* labctl_rpc_call with params built here (labctl_rpc_call does not take them). */
static int call(void *ctx, const struct labctl_opts *o, const char *method, json_t *params,
		json_t **result)
{
	int rc = labctl_rpc_call(ctx, o, method, params, result);

	json_decref(params);
	return rc;
}

static int keys_new(void *ctx, const struct labctl_opts *o)
{
	json_t *result = NULL;
	char path[4200];
	int st = LABCTL_FAIL;

	if (!o->role || !o->name) {
		labctl_errmsg("labctl: keys new needs --role teacher|student|observer and --name "
			      "NAME\n");
		return LABCTL_USAGE;
	}
	{
		/* refuse before registering anything when the files are there already */
		char stem[80];
		file_stem(o->name, stem, sizeof stem);
		snprintf(path, sizeof path, "%s/%s.key_secret", o->output ? o->output : ".", stem);
		if (access(path, F_OK) == 0) {
			labctl_errmsg("labctl: %s exists already: not overwritten (write elsewhere "
				      "with --output DIR)\n",
				      path);
			return LABCTL_FAIL;
		}
	}
	if (call(ctx, o, "keys.new", json_pack("{s:s,s:s}", "role", o->role, "name", o->name),
		 &result) < 0)
		goto out;
	if (write_pair(result, o->output ? o->output : ".", path, sizeof path) < 0) {
		labctl_errmsg("labctl: the key is registered but its secret is lost: run "
			      "labctl keys revoke '%s'\n",
			      o->name);
		goto out;
	}
	if (o->json)
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
	else {
		printf("%s key '%s' registered (fingerprint %s)\nits key pair: %s (keep it "
		       "secret: whoever holds it is '%s')\n",
		       labctl_jstr(result, "role", "?"), labctl_jstr(result, "name", "?"),
		       labctl_jstr(result, "fingerprint", "?"), path, o->name);
		st = LABCTL_OK;
	}
out:
	json_decref(result);
	return st;
}

/* labctl keys list [--json]. */
static int keys_list(void *ctx, const struct labctl_opts *o)
{
	struct labctl_table t = {.ncols = 5};
	static const char *const head[] = {"NAME", "ROLE", "FINGERPRINT", "CREATED", "LAST SEEN"};
	json_t *result = NULL, *k;
	size_t i;
	int st = LABCTL_FAIL;

	if (labctl_rpc_call(ctx, o, "keys.list", NULL, &result) < 0)
		goto out;
	if (o->json) {
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
		goto out;
	}
	if (labctl_table_add(&t, head) < 0)
		goto out;
	json_array_foreach(json_object_get(result, "keys"), i, k)
	{
		char seen[32] = "never";
		json_t *ls = json_object_get(k, "last_seen");
		const char *row[5] = {labctl_jstr(k, "name", "?"), labctl_jstr(k, "role", "?"),
				      labctl_jstr(k, "fingerprint", "?"),
				      labctl_jstr(k, "created", "?"), seen};
		if (json_is_integer(ls)) {
			time_t secs = (time_t)(json_integer_value(ls) / 1000000000);
			struct tm tm;
			gmtime_r(&secs, &tm);
			strftime(seen, sizeof seen, "%Y-%m-%dT%H:%M:%SZ", &tm);
		}
		if (labctl_table_add(&t, row) < 0)
			goto out;
	}
	labctl_table_print(&t);
	printf("%zu key(s); the bridge's public key: %s\n",
	       json_array_size(json_object_get(result, "keys")),
	       labctl_jstr(result, "server_key", "?"));
	st = LABCTL_OK;
out:
	labctl_table_free(&t);
	json_decref(result);
	return st;
}

/* labctl keys revoke NAME|FINGERPRINT. */
static int keys_revoke(void *ctx, const struct labctl_opts *o)
{
	json_t *result = NULL;
	int st = LABCTL_FAIL;

	if (call(ctx, o, "keys.revoke", json_pack("{s:s}", "key", o->arg[1]), &result) < 0)
		goto out;
	if (o->json)
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
	else {
		json_t *k = json_object_get(result, "revoked");
		printf("revoked %s key '%s' (%s); %lld connection(s) closed\n",
		       labctl_jstr(k, "role", "?"), labctl_jstr(k, "name", "?"),
		       labctl_jstr(k, "fingerprint", "?"),
		       (long long)json_integer_value(json_object_get(result, "closed")));
		st = LABCTL_OK;
	}
out:
	json_decref(result);
	return st;
}

/* labctl keys export NAME|FINGERPRINT [--json]: the public certificate and how to connect. */
static int keys_export(void *ctx, const struct labctl_opts *o)
{
	json_t *result = NULL;
	int st = LABCTL_FAIL;

	if (call(ctx, o, "keys.export", json_pack("{s:s}", "key", o->arg[1]), &result) < 0)
		goto out;
	if (o->json)
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
	else {
		printf(
		    "#   labbridge: what '%s' (%s) needs to connect, beside its own secret key\n"
		    "#   (its NAME.key_secret file from labctl keys new: the bridge keeps none)\n"
		    "bridge\n    server-key = \"%s\"\n    net_rpc = \"%s\"\n    net_pub = "
		    "\"%s\"\n%s",
		    labctl_jstr(result, "name", "?"), labctl_jstr(result, "role", "?"),
		    labctl_jstr(result, "server_key", "?"), labctl_jstr(result, "net_rpc", ""),
		    labctl_jstr(result, "net_pub", ""), labctl_jstr(result, "certificate", ""));
		st = LABCTL_OK;
	}
out:
	json_decref(result);
	return st;
}

/* The text a QR code carries for key pair result (see PROTOCOL.md, "Network and keys"), with
 * endpoint ep overriding the advertised one when not NULL. malloc'd, or NULL. */
static char *qr_text(const json_t *r, const char *ep)
{
	char *text = NULL;
	const char *pub = labctl_jstr(r, "net_pub", NULL);

	if (asprintf(&text, "labbridge:1;ep=%s;%s%s%ssk=%s;pk=%s;ck=%s;n=%s",
		     ep ? ep : labctl_jstr(r, "net_rpc", ""), pub && !ep ? "sub=" : "",
		     pub && !ep ? pub : "", pub && !ep ? ";" : "", labctl_jstr(r, "server_key", ""),
		     labctl_jstr(r, "public_key", ""), labctl_jstr(r, "secret_key", ""),
		     labctl_jstr(r, "name", "")) < 0)
		return NULL;
	return text;
}

/* labctl keys qr --role ROLE --prefix TEXT --count N -o FILE.pdf [--endpoint EP]: make N keys
 * named "TEXT 1".."TEXT N" and print them as QR codes, 8 per A4 page, with their names. */
static int keys_qr(void *ctx, const struct labctl_opts *o)
{
	HPDF_STATUS perr = 0;
	HPDF_Doc pdf = NULL;
	HPDF_Page page = NULL;
	HPDF_Font font;
	int st = LABCTL_FAIL, made = 0;

	if (!o->role || !o->prefix || !o->output || o->count < 1 || o->count > QR_MAX_COUNT) {
		labctl_errmsg("labctl: keys qr needs --role ROLE --prefix TEXT --count N (1..%d) "
			      "-o FILE.pdf\n",
			      QR_MAX_COUNT);
		return LABCTL_USAGE;
	}
	pdf = labctl_pdf_new(&perr);
	if (!pdf)
		return LABCTL_FAIL;
	font = HPDF_GetFont(pdf, "Helvetica", "WinAnsiEncoding");
	for (long i = 1; i <= o->count; i++) {
		char name[128], label[160], shown[160];
		json_t *result = NULL;
		char *text;
		int drawn;
		int slot = (int)((i - 1) % 8);
		float x = 40 + (float)(slot % 2) * 270, y = 842 - 40 - (float)(slot / 2 + 1) * 195;

		snprintf(name, sizeof name, "%s %ld", o->prefix, i);
		if (call(ctx, o, "keys.new", json_pack("{s:s,s:s}", "role", o->role, "name", name),
			 &result) < 0)
			goto out;
		made++;
		if (!o->endpoint && !json_is_string(json_object_get(result, "net_rpc"))) {
			labctl_errmsg(
			    "labctl: the bridge serves no net_rpc endpoint yet: say which "
			    "one tablets will use with --endpoint tcp://ADDRESS:PORT\n");
			json_decref(result);
			goto out;
		}
		text = qr_text(result, o->endpoint);
		if (slot == 0) {
			page = HPDF_AddPage(pdf);
			HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
		}
		drawn = text ? labctl_pdf_qr(pdf, page, text, x + 40, y + 25, 160) : -1;
		free(text);
		if (drawn < 0) {
			labctl_errmsg("labctl: cannot make the QR code of '%s'\n", name);
			json_decref(result);
			goto out;
		}
		snprintf(label, sizeof label, "%s (%s)", name, labctl_jstr(result, "role", "?"));
		labctl_pdf_text(label, shown, sizeof shown);
		HPDF_Page_BeginText(page);
		HPDF_Page_SetFontAndSize(page, font, 12);
		HPDF_Page_TextOut(page, x + 40, y + 8, shown);
		HPDF_Page_EndText(page);
		json_decref(result);
		if (perr) {
			labctl_errmsg("labctl: cannot draw the page (libharu error 0x%04lx)\n",
				      (unsigned long)perr);
			goto out;
		}
	}
	if (HPDF_SaveToFile(pdf, o->output) != HPDF_OK) {
		labctl_errmsg("labctl: cannot write %s\n", o->output);
		goto out;
	}
	printf("%d %s key(s) '%s 1'..'%s %ld' registered; their QR codes: %s (each holds a secret "
	       "key: hand them out, then shred the page)\n",
	       made, o->role, o->prefix, o->prefix, o->count, o->output);
	st = LABCTL_OK;
out:
	if (st != LABCTL_OK && made)
		labctl_errmsg("labctl: %d key(s) were registered before the failure: labctl keys "
			      "list shows them\n",
			      made);
	HPDF_Free(pdf);
	return st;
}

int labctl_cmd_keys(void *ctx, const struct labctl_opts *o)
{
	const char *verb = o->arg[0];

	if (!strcmp(verb, "new") && o->narg == 1)
		return keys_new(ctx, o);
	if (!strcmp(verb, "list") && o->narg == 1)
		return keys_list(ctx, o);
	if (!strcmp(verb, "revoke") && o->narg == 2)
		return keys_revoke(ctx, o);
	if (!strcmp(verb, "export") && o->narg == 2)
		return keys_export(ctx, o);
	if (!strcmp(verb, "qr") && o->narg == 1)
		return keys_qr(ctx, o);
	labctl_errmsg("labctl: usage: labctl keys new --role ROLE --name NAME [--output DIR] | "
		      "list | revoke NAME | export NAME | qr --role ROLE --prefix TEXT --count N "
		      "-o FILE.pdf\n");
	return LABCTL_USAGE;
}
