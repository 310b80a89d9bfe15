/* labctl_labels.c - labctl devices labels: QR labels to stick on devices (A4 pages, 4 x 5 cm). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labctl.h"
#include "labctl_qrpdf.h"

#define MM 2.834646f	  /* pt */
#define LABEL_W (40 * MM) /* a label: 4 x 5 cm */
#define LABEL_H (50 * MM)
#define LABEL_COLS 4 /* on an A4 page (210 x 297 mm) */
#define LABEL_ROWS 5
#define LABEL_QR (34 * MM) /* the code's side, quiet zone included */
#define URL_MAX 200	   /* bytes of --url */

/*
 * Whether url can start a label's link: http:// or https://, a host, at most URL_MAX bytes of
 * printable ASCII with no space, quote, '#' (the label adds its own fragment) nor backslash.
 * true, or false after saying why on stderr.
 */
static bool url_ok(const char *url)
{
	const char *host;

	if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else {
		labctl_errmsg("labctl: --url must start with http:// or https://, not '%.80s'\n",
			      url);
		return false;
	}
	if (!*host || *host == '/' || *host == ':') {
		labctl_errmsg("labctl: --url needs a host: http://ADDRESS:PORT/\n");
		return false;
	}
	if (strlen(url) > URL_MAX) {
		labctl_errmsg("labctl: --url is over %d bytes\n", URL_MAX);
		return false;
	}
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '#' || *p == '"' || *p == '\\' || *p == '<' ||
		    *p == '>') {
			labctl_errmsg("labctl: --url may hold no space, '#', quote or non-ASCII "
				      "character: '%.80s'\n",
				      url);
			return false;
		}
	return true;
}

/* Whether url names this computer only (tablets cannot reach it). */
static bool url_is_loopback(const char *url)
{
	const char *host = strstr(url, "://");

	host = host ? host + 3 : url;
	return strncmp(host, "127.", 4) == 0 || strncmp(host, "localhost", 9) == 0 ||
	       strncmp(host, "[::1]", 5) == 0;
}

/* The page's URL into out[cap]: --url, else the bridge's web page (bridge.info endpoints.http),
 * ending with '/' when it has no path. 0, or -1 after saying why. */
static int page_url(void *ctx, const struct labctl_opts *o, char *out, size_t cap)
{
	json_t *info = NULL;
	const char *url = o->url;
	const char *host;
	int rc = -1;

	if (!url) {
		if (labctl_rpc_call(ctx, o, "bridge.info", NULL, &info) < 0)
			return -1;
		url = labctl_jstr(json_object_get(info, "endpoints"), "http", NULL);
		if (!url) {
			labctl_errmsg(
			    "labctl: the bridge serves no web page (bridge.info has no http "
			    "endpoint): say which one tablets open with --url "
			    "http://ADDRESS:PORT/\n");
			goto out;
		}
	}
	if (!url_ok(url))
		goto out;
	host = strstr(url, "://") + 3;
	snprintf(out, cap, "%s%s", url, strchr(host, '/') ? "" : "/");
	if (url_is_loopback(out))
		labctl_errmsg("labctl: warning: the labels point to %s, which only this computer "
			      "reaches: tablets cannot open it. Give --url http://ADDRESS:PORT/ "
			      "with this computer's address on the school network (and start the "
			      "bridge with --http 0.0.0.0:PORT)\n",
			      out);
	rc = 0;
out:
	json_decref(info);
	return rc;
}

/* The devices to label: every --device (each must exist), else every device the bridge knows
 * (open or not); a new array of device objects, or NULL after saying why. */
static json_t *label_devices(void *ctx, const struct labctl_opts *o)
{
	json_t *list = NULL, *params = json_pack("{s:b}", "all", 1), *out = NULL, *d;
	size_t i;

	if (!params || labctl_rpc_call(ctx, o, "devices.list", params, &list) < 0 ||
	    !json_is_array(list))
		goto done;
	if (!o->ndevices) {
		out = json_incref(list);
		goto done;
	}
	out = json_array();
	for (int k = 0; out && k < o->ndevices; k++) {
		json_t *found = NULL;
		json_array_foreach(
		    list, i, d) if (strcmp(labctl_jstr(d, "id", ""), o->devices[k]) == 0) found = d;
		if (!found) {
			labctl_errmsg("labctl: no device '%s' (labctl devices lists them)\n",
				      o->devices[k]);
			json_decref(out);
			out = NULL;
			goto done;
		}
		json_array_append(out, found);
	}
done:
	json_decref(params);
	json_decref(list);
	return out;
}

/* id percent-encoded for a URL's fragment into out[cap] (letters, digits and -._~ kept). */
static void url_escape(const char *id, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)id; *p && n + 4 < cap; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p)) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = '\0';
}

/* Write text (WinAnsi) at (x, y) in font, at size pt or smaller (down to 5 pt) so that it fits in
 * width; still too wide at 5 pt, it is cut and ends with "...". */
static void fit_text(HPDF_Page page, HPDF_Font font, float size, const char *text, float x, float y,
		     float width)
{
	char cut[200];
	size_t n;

	snprintf(cut, sizeof cut, "%s", text);
	HPDF_Page_SetFontAndSize(page, font, size);
	while (size > 5 && HPDF_Page_TextWidth(page, cut) > width) {
		size -= 0.5f;
		HPDF_Page_SetFontAndSize(page, font, size);
	}
	for (n = strlen(cut); n > 3 && HPDF_Page_TextWidth(page, cut) > width; n--)
		memcpy(cut + n - 4, "...", 4);
	HPDF_Page_TextOut(page, x, y, cut);
}

/* Draw one label (device d, link text) with its top left corner at (x, top): the code, the id,
 * the device's name and driver. 0, or -1. */
static int draw_label(HPDF_Doc pdf, HPDF_Page page, HPDF_Font font, HPDF_Font bold, const json_t *d,
		      const char *link, float x, float top)
{
	char id[128], name[160], driver[80];
	const float text_w = LABEL_W - 6 * MM, y = top - 3 * MM - LABEL_QR;

	/* a light frame to cut along */
	HPDF_Page_SetGrayStroke(page, 0.75f);
	HPDF_Page_SetLineWidth(page, 0.3f);
	HPDF_Page_Rectangle(page, x, top - LABEL_H, LABEL_W, LABEL_H);
	HPDF_Page_Stroke(page);
	if (labctl_pdf_qr(pdf, page, link, x + (LABEL_W - LABEL_QR) / 2, y, LABEL_QR) < 0)
		return -1;
	labctl_pdf_text(labctl_jstr(d, "id", "?"), id, sizeof id);
	labctl_pdf_text(labctl_jstr(d, "name", ""), name, sizeof name);
	snprintf(driver, sizeof driver, "driver %s", labctl_jstr(d, "driver", "?"));
	HPDF_Page_BeginText(page);
	fit_text(page, bold, 9, id, x + 3 * MM, y - 4 * MM, text_w);
	fit_text(page, font, 7, name, x + 3 * MM, y - 7.5f * MM, text_w);
	fit_text(page, font, 7, driver, x + 3 * MM, y - 10.5f * MM, text_w);
	HPDF_Page_EndText(page);
	return 0;
}

/* labctl devices labels -o FILE.pdf [--url URL] [--device ID]...: one label per device, 20 per A4
 * page; each QR code holds URL#device=ID. */
int labctl_cmd_labels(void *ctx, const struct labctl_opts *o)
{
	char url[URL_MAX + 2], link[URL_MAX + 220], esc[200];
	json_t *devices = NULL, *d;
	HPDF_STATUS perr = 0;
	HPDF_Doc pdf = NULL;
	HPDF_Page page = NULL;
	HPDF_Font font, bold;
	size_t i;
	int st = LABCTL_FAIL;
	const float left = (595.276f - LABEL_COLS * LABEL_W) / 2,
		    top = 841.89f - (841.89f - LABEL_ROWS * LABEL_H) / 2;

	if (!o->output) {
		labctl_errmsg("labctl: usage: labctl devices labels -o FILE.pdf [--url "
			      "http://HOST:PORT/] [--device ID]...\n");
		return LABCTL_USAGE;
	}
	if (o->url && !url_ok(o->url))
		return LABCTL_USAGE;
	if (page_url(ctx, o, url, sizeof url) < 0 || !(devices = label_devices(ctx, o)))
		goto out;
	if (json_array_size(devices) == 0) {
		labctl_errmsg("labctl: the bridge knows no device: no labels to make\n");
		goto out;
	}
	pdf = labctl_pdf_new(&perr);
	if (!pdf)
		goto out;
	HPDF_SetInfoAttr(pdf, HPDF_INFO_TITLE, "labbridge device labels");
	HPDF_SetInfoAttr(pdf, HPDF_INFO_SUBJECT, url);
	font = HPDF_GetFont(pdf, "Helvetica", "WinAnsiEncoding");
	bold = HPDF_GetFont(pdf, "Helvetica-Bold", "WinAnsiEncoding");
	json_array_foreach(devices, i, d)
	{
		int slot = (int)(i % (LABEL_COLS * LABEL_ROWS));
		const char *id = labctl_jstr(d, "id", "");
		if (slot == 0) {
			page = HPDF_AddPage(pdf);
			HPDF_Page_SetSize(page, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
		}
		url_escape(id, esc, sizeof esc);
		snprintf(link, sizeof link, "%s#device=%s", url, esc);
		if (draw_label(pdf, page, font, bold, d, link,
			       left + (float)(slot % LABEL_COLS) * LABEL_W,
			       top - (float)(slot / LABEL_COLS) * LABEL_H) < 0 ||
		    perr) {
			labctl_errmsg(
			    "labctl: cannot draw the label of %s (libharu error 0x%04lx)\n", id,
			    (unsigned long)perr);
			goto out;
		}
	}
	if (HPDF_SaveToFile(pdf, o->output) != HPDF_OK) {
		labctl_errmsg("labctl: cannot write %s\n", o->output);
		goto out;
	}
	printf("%zu label(s) in %s, each a QR code of %s#device=ID: print at 100%% (no scaling) "
	       "and cut along the frames\n",
	       json_array_size(devices), o->output, url);
	st = LABCTL_OK;
out:
	HPDF_Free(pdf);
	json_decref(devices);
	return st;
}
