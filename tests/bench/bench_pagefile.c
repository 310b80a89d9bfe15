/* bench_pagefile.c - a 600 dpi A3 colour page (7015 x 9921) streamed to PNG, PDF (and JPEG,
 * TIFF): time, MB/s of raw pixels, peak RSS of a fresh process per format against 64 MB. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../bridge/util/error.c"
#include "../../drivers/sane/pagefile.c"

enum { W = 7015, H = 9921, CH = 3, DPI = 600, BAND = 3 /* rows: ~64 KiB, a scanband band */ };

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Peak resident set of this process (VmHWM), kB; -1 if unreadable. */
static long vm_hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int noise = 1; /* --clean: 0 */

/* Row y of the synthetic page, like the SANE test backend's pictures: colour gradients (red
 * across, green down, blue diagonal) under a black grid every 1/2 inch, a white border; plus, by
 * default, a scanner's sensor noise (+-3 levels, deterministic), without which PNG and JPEG
 * compress a flat picture far faster and smaller than any real scan. */
static void make_row(uint32_t y, uint8_t *row)
{
	uint32_t r = 2463534242u ^ (y * 2654435761u);

	for (uint32_t x = 0; x < W; x++) {
		uint8_t *p = row + (size_t)x * CH;
		if (x % (DPI / 2) < 4 || y % (DPI / 2) < 4) {
			p[0] = p[1] = p[2] = 0;
		} else if (x < 60 || y < 60 || x >= W - 60 || y >= H - 60) {
			p[0] = p[1] = p[2] = 255;
		} else {
			p[0] = (uint8_t)(x * 250 / W);
			p[1] = (uint8_t)(y * 250 / H);
			p[2] = (uint8_t)((x + y) * 250 / (W + H));
		}
		if (noise)
			for (int c = 0; c < CH; c++) {
				r ^= r << 13, r ^= r >> 17, r ^= r << 5;
				int v = p[c] + (int)(r % 7) - 3;
				p[c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
			}
	}
}

/* libharu's own way, for reference: the page as a JPEG file (written with pagefile), then
 * HPDF_LoadJpegImageFromFile once per page of a `pages`-page PDF, saved. 0 or -1. */
static int harucopy(const char *dir, const char *jpg, int pages, lb_error *err)
{
	char path[512];
	HPDF_Doc pdf = HPDF_New(NULL, NULL);
	int rc = -1;

	snprintf(path, sizeof path, "%s/haru.pdf", dir);
	for (int i = 0; pdf && i < pages; i++) {
		HPDF_Image img = HPDF_LoadJpegImageFromFile(pdf, jpg);
		HPDF_Page page = HPDF_AddPage(pdf);
		HPDF_REAL w = W * 72.0f / DPI, h = H * 72.0f / DPI;
		if (!img || !page)
			goto out;
		HPDF_Page_SetWidth(page, w);
		HPDF_Page_SetHeight(page, h);
		HPDF_Page_DrawImage(page, img, 0, 0, w, h);
	}
	if (pdf && HPDF_SaveToFile(pdf, path) == HPDF_OK)
		rc = 0;
out:
	if (rc)
		lb_error_set(err, LB_ERR_INTERNAL, "libharu failed");
	unlink(path);
	HPDF_Free(pdf);
	return rc;
}

/* In a fresh child: write `pages` pages in format f (or only generate the rows when f < 0) into
 * dir (haru > 0: a JPEG, then libharu's own PDF of it, haru pages); prints one line: seconds,
 * output bytes, VmHWM. Exit status 0, or 1 on an error. */
static int child(int f, const char *dir, int pages, int haru)
{
	lb_page_shape s = {.width = W,
			   .height = H,
			   .channels = CH,
			   .depth = 8,
			   .xdpi = DPI,
			   .ydpi = DPI,
			   .bytes_per_line = W * CH};
	uint8_t *band = malloc((size_t)W * CH * BAND);
	char path[512];
	lb_error err = {0};
	lb_pagefile *pf = NULL;
	struct stat st = {0};
	double t0 = now_s(), sum = 0;

	snprintf(path, sizeof path, "%s/page.%s", dir, f < 0 ? "raw" : lb_page_format_ext(f));
	if (!band)
		return 1;
	if (f >= 0 && (!(pf = lb_pagefile_new(path, (lb_page_format)f, 0, &err)) ||
		       lb_pagefile_begin_page(pf, &s, &err) < 0))
		goto fail;
	for (int pg = 0; pg < pages; pg++) {
		if (pf && pg > 0 && lb_pagefile_begin_page(pf, &s, &err) < 0)
			goto fail;
		for (uint32_t y = 0; y < H; y += BAND) {
			uint32_t n = H - y < BAND ? H - y : BAND;
			for (uint32_t k = 0; k < n; k++)
				make_row(y + k, band + (size_t)k * W * CH);
			if (pf && lb_pagefile_write_rows(pf, band, n, &err) < 0)
				goto fail;
			sum += band[W * CH / 2];
		}
		if (pf && lb_pagefile_end_page(pf, &err) < 0)
			goto fail;
	}
	if (pf && lb_pagefile_finish(&pf, &err) < 0)
		goto fail;
	if (haru && harucopy(dir, path, haru, &err) < 0)
		goto fail;
	if (f >= 0 && stat(path, &st) != 0)
		goto fail;
	printf("%.3f %lld %ld %g\n", now_s() - t0, (long long)st.st_size, vm_hwm_kb(), sum);
	unlink(path);
	free(band);
	return 0;
fail:
	fprintf(stderr, "bench_pagefile: %s: %s\n", f < 0 ? "raw" : lb_page_format_ext(f),
		err.message);
	lb_pagefile_destroy(&pf);
	free(band);
	return 1;
}

/* Run child(...) in a fresh process; its figures through a pipe. 0 or -1. */
static int run(int f, const char *dir, int pages, int haru, double *sec, long long *bytes,
	       long *hwm)
{
	int fds[2], status;
	char buf[256] = {0};
	pid_t pid;
	double sum;

	if (pipe(fds) != 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 1);
		int r = child(f, dir, pages, haru);
		fflush(stdout);
		_exit(r);
	}
	close(fds[1]);
	ssize_t n = read(fds[0], buf, sizeof buf - 1);
	close(fds[0]);
	waitpid(pid, &status, 0);
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    sscanf(buf, "%lf %lld %ld %lf", sec, bytes, hwm, &sum) != 4)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/bench_pagefile.XXXXXX";
	const char *names[] = {"png", "pdf", "jpeg", "tiff"};
	int nf = argc > 1 ? 0 : 2, fs[6] = {LB_PAGE_PNG, LB_PAGE_PDF};
	double raw_mb = (double)W * H * CH / 1e6, base_s;
	long long bytes;
	long base_hwm;
	int rc = 0;

	for (int i = 1; i < argc && nf < 4; i++) { /* formats by name: bench_pagefile png tiff */
		lb_page_format f;
		if (strcmp(argv[i], "--clean") == 0) {
			noise = 0;
			nf += argc == 2 ? 2 : 0;
		} else if (lb_page_format_parse(argv[i], &f) == 0) {
			fs[nf++] = (int)f;
		} else {
			fprintf(stderr,
				"usage: bench_pagefile [--clean] [png|jpeg|tiff|pdf ...]\n");
			return 2;
		}
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	printf(
	    "pagefile: 600 dpi A3 colour, %d x %d, raw %.1f MB a page, rows in bands of %d (%d B), "
	    "%s\n",
	    W, H, raw_mb, BAND, W * CH * BAND, noise ? "sensor noise +-3" : "no noise (--clean)");
	if (run(-1, dir, 1, 0, &base_s, &bytes, &base_hwm) != 0) {
		fprintf(stderr, "bench_pagefile: the reference run failed\n");
		rmdir(dir);
		return 1;
	}
	printf("  %-5s %6.2f s  (generating the rows only)            peak RSS %5.1f MB\n", "rows",
	       base_s, base_hwm / 1024.0);
	for (int i = 0; i < nf; i++) {
		double sec;
		long hwm;
		const char *name = names[fs[i] == LB_PAGE_PNG	 ? 0
					 : fs[i] == LB_PAGE_PDF	 ? 1
					 : fs[i] == LB_PAGE_JPEG ? 2
								 : 3];
		if (run(fs[i], dir, 1, 0, &sec, &bytes, &hwm) != 0) {
			printf("  %-5s could not run\n", name);
			rc = 1;
			continue;
		}
		printf("  %-5s %6.2f s  %6.1f MB/s raw  file %6.1f MB  peak RSS %5.1f MB (+%.1f "
		       "over the "
		       "rows alone)  target < 64 MB for the whole bridge: %s\n",
		       name, sec, raw_mb / sec, bytes / 1e6, hwm / 1024.0,
		       (hwm - base_hwm) / 1024.0, hwm < 64 * 1024 ? "met" : "NOT met");
	}
	/* PDF's memory must not grow with the pages: 5 pages, then libharu's own loading */
	for (int haru = 0; haru < 2; haru++) {
		double sec;
		long hwm;
		if (run(haru ? LB_PAGE_JPEG : LB_PAGE_PDF, dir, haru ? 1 : 5, haru ? 5 : 0, &sec,
			&bytes, &hwm) != 0) {
			printf("  pdf x5 could not run\n");
			rc = 1;
			continue;
		}
		printf(
		    "  %s: %.2f s, peak RSS %5.1f MB\n",
		    haru
			? "reference, libharu's own HPDF_LoadJpegImageFromFile of the page's JPEG, "
			  "5-page PDF"
			: "pdf, 5 pages (pagefile)",
		    sec, hwm / 1024.0);
	}
	rmdir(dir);
	return rc;
}
