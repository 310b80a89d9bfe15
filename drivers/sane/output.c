/* output.c - a scan job's output files through pagefile.h: multi-page, or one file per page. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bridge/util/log.h"
#include "output.h"

#define NAME_MAX_LEN 32
#define PAGES_MAX 1000 /* the most page files one job keeps (a feeder holds far fewer) */

struct sn_output {
	char folder[1024];
	lb_page_format format;
	bool per_page;	 /* PNG, JPEG: one file per page */
	lb_pagefile *pf; /* the file being written, or NULL */
	int pages;	 /* pages ended */
	int files;	 /* page files completed (per_page) */
};

/* The final path of page file n (per page) or of the one file (n = 0) into path[cap]; 0 or -1. */
static int file_path(const sn_output *o, int n, char *path, size_t cap)
{
	const char *ext = lb_page_format_ext(o->format);
	int len = n ? snprintf(path, cap, "%s/scan-%d.%s", o->folder, n, ext)
		    : snprintf(path, cap, "%s/scan.%s", o->folder, ext);

	return len > 0 && (size_t)len < cap ? 0 : -1;
}

sn_output *sn_output_new(const char *folder, const char *format, lb_error *err)
{
	sn_output *o;

	if (!folder || strlen(folder) + NAME_MAX_LEN >= sizeof o->folder) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "the job's folder name is too long");
		return NULL;
	}
	if (!(o = calloc(1, sizeof *o))) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	if (!format || lb_page_format_parse(format, &o->format) < 0) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "a scanner writes pdf, png, jpeg or tiff, not '%.32s'",
			     format ? format : "(none)");
		free(o);
		return NULL;
	}
	snprintf(o->folder, sizeof o->folder, "%s", folder);
	o->per_page = o->format == LB_PAGE_PNG || o->format == LB_PAGE_JPEG;
	return o;
}

int sn_output_begin_page(sn_output *o, const lb_page_shape *shape, lb_error *err)
{
	char path[1100];

	if (!o->pf) {
		if (o->per_page && o->files >= PAGES_MAX)
			return lb_error_set(err, LB_ERR_DEVICE, "more than %d pages in one job",
					    PAGES_MAX);
		if (file_path(o, o->per_page ? o->files + 1 : 0, path, sizeof path) < 0)
			return lb_error_set(err, LB_ERR_INTERNAL, "path too long");
		if (!(o->pf = lb_pagefile_new(path, o->format, 0, err)))
			return LB_EFAIL;
	}
	return lb_pagefile_begin_page(o->pf, shape, err);
}

int sn_output_rows(sn_output *o, const uint8_t *rows, size_t n, lb_error *err)
{
	if (!o->pf)
		return lb_error_set(err, LB_ERR_INTERNAL, "rows outside a page");
	return n ? lb_pagefile_write_rows(o->pf, rows, n, err) : 0;
}

int sn_output_end_page(sn_output *o, lb_error *err)
{
	if (!o->pf)
		return lb_error_set(err, LB_ERR_INTERNAL, "no page to end");
	if (lb_pagefile_end_page(o->pf, err) < 0)
		return LB_EFAIL;
	o->pages++;
	if (!o->per_page)
		return 0;
	/* a page file is complete: its final name now, removed again if the job fails */
	if (lb_pagefile_finish(&o->pf, err) < 0)
		return LB_EFAIL;
	o->files++;
	return 0;
}

int sn_output_finish(sn_output **po, int pages, json_t **names, lb_error *err)
{
	sn_output *o = po ? *po : NULL;
	char path[1100];
	int held;
	json_t *a;

	if (!o)
		return lb_error_set(err, LB_ERR_INTERNAL, "no output");
	held = o->per_page ? o->files : o->pf ? lb_pagefile_pages(o->pf) : 0;
	if (held != pages || o->pages != pages || pages < 1) {
		lb_error_set(err, LB_ERR_DEVICE, "the %s holds %d page%s, the scanner delivered %d",
			     o->per_page ? "job's files" : lb_page_format_ext(o->format), held,
			     held == 1 ? "" : "s", pages);
		sn_output_destroy(po);
		return LB_EFAIL;
	}
	if (!o->per_page && lb_pagefile_finish(&o->pf, err) < 0) {
		sn_output_destroy(po);
		return LB_EFAIL;
	}
	if (!(a = json_array())) {
		sn_output_destroy(po);
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	for (int n = o->per_page ? 1 : 0; n <= (o->per_page ? o->files : 0); n++) {
		if (file_path(o, n, path, sizeof path) == 0)
			json_array_append_new(a, json_string(strrchr(path, '/') + 1));
	}
	o->files = 0; /* they are the job's results now */
	*names = a;
	free(o);
	*po = NULL;
	return 0;
}

void sn_output_destroy(sn_output **po)
{
	sn_output *o = po ? *po : NULL;
	char path[1100];

	if (!o)
		return;
	lb_pagefile_destroy(&o->pf);
	for (int n = 1; n <= o->files; n++)
		if (file_path(o, n, path, sizeof path) == 0 && unlink(path) < 0 && errno != ENOENT)
			lb_warn("sane: cannot remove %s: %s", path, strerror(errno));
	free(o);
	*po = NULL;
}
