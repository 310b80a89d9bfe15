/* labctl_qrpdf.h - A4 pages of QR codes with captions (libharu + libqrencode): keys and labels. */
#ifndef LABCTL_QRPDF_H
#define LABCTL_QRPDF_H

#include <hpdf.h>
#include <stddef.h>

/* A new PDF document (compressed) whose libharu errors are noted in *perr (check it after the
 * calls that matter); NULL when out of memory. Free it with HPDF_Free. */
HPDF_Doc labctl_pdf_new(HPDF_STATUS *perr);

/* A UTF-8 text as libharu's WinAnsi fonts show it into out[cap]: Latin-1 letters kept, the other
 * characters '?'. Never fails (cut to fit). */
void labctl_pdf_text(const char *in, char *out, size_t cap);

/* Encode text as a QR code (error correction M, 8-bit) and draw it at (x, y) (bottom left), side
 * pt, with its quiet zone, as a crisp grayscale image (pdfimages | zbarimg read it back). 0, or
 * -1 when the text cannot be encoded (too long) or on ENOMEM. */
int labctl_pdf_qr(HPDF_Doc pdf, HPDF_Page page, const char *text, float x, float y, float side);

#endif
