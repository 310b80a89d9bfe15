/* labctl_qrpdf.c - A4 pages of QR codes with captions (libharu + libqrencode): keys and labels. */
#include "labctl_qrpdf.h"

#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#define QR_PX 4	   /* image pixels per QR module */
#define QR_QUIET 4 /* modules of white around the code */

/* libharu's errors: noted where the caller looks after each call that matters. */
static void pdf_error(HPDF_STATUS error, HPDF_STATUS detail, void *data)
{
	*(HPDF_STATUS *)data = error ? error : detail;
}

HPDF_Doc labctl_pdf_new(HPDF_STATUS *perr)
{
	HPDF_Doc pdf;

	*perr = 0;
	pdf = HPDF_New(pdf_error, perr);
	if (pdf)
		HPDF_SetCompressionMode(pdf, HPDF_COMP_ALL);
	return pdf;
}

void labctl_pdf_text(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	const unsigned char *p = (const unsigned char *)in;

	while (*p && n + 1 < cap) {
		if (*p < 0x80)
			out[n++] = (char)*p++;
		else if ((*p == 0xC2 || *p == 0xC3) && (p[1] & 0xC0) == 0x80) {
			out[n++] = (char)(((p[0] & 0x03) << 6) | (p[1] & 0x3F));
			p += 2;
		} else {
			out[n++] = '?';
			p++;
			while ((*p & 0xC0) == 0x80)
				p++;
		}
	}
	out[n] = '\0';
}

int labctl_pdf_qr(HPDF_Doc pdf, HPDF_Page page, const char *text, float x, float y, float side)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	unsigned char *px = NULL;
	HPDF_Image img = NULL;
	int w, rc = -1;

	if (!q)
		return -1;
	w = (q->width + 2 * QR_QUIET) * QR_PX;
	px = malloc((size_t)w * (size_t)w);
	if (!px)
		goto out;
	memset(px, 255, (size_t)w * (size_t)w);
	for (int r = 0; r < q->width; r++)
		for (int c = 0; c < q->width; c++)
			if (q->data[r * q->width + c] & 1)
				for (int dy = 0; dy < QR_PX; dy++)
					memset(
					    px + (size_t)((r + QR_QUIET) * QR_PX + dy) * (size_t)w +
						(size_t)(c + QR_QUIET) * QR_PX,
					    0, QR_PX);
	img = HPDF_LoadRawImageFromMem(pdf, px, (HPDF_UINT)w, (HPDF_UINT)w, HPDF_CS_DEVICE_GRAY, 8);
	if (!img)
		goto out;
	HPDF_Page_DrawImage(page, img, x, y, side, side);
	rc = 0;
out:
	free(px);
	QRcode_free(q);
	return rc;
}
