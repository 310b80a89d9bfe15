/* qrsvg.h - a QR code drawn as a small SVG document or as terminal text (pure functions). */
#ifndef LB_QRSVG_H
#define LB_QRSVG_H

#include <stddef.h>

#define LB_QRSVG_QUIET 4       /* modules of white margin around the code */
#define LB_QRSVG_TEXT_MAX 1024 /* longest text encoded (a pairing URL is < 100 bytes) */

/*
 * The SVG document of a QR code of width x width modules (libqrencode's QRcode data: bit 0 of
 * each byte is a dark module): black on white, a quiet zone of LB_QRSVG_QUIET modules, its viewBox
 * in modules, the dark modules as one <path> with shape-rendering="crispEdges" (one rectangle per
 * run of dark modules in a row). A malloc'd NUL-terminated string, or NULL (out of memory, width
 * not in 1..177).
 */
char *lb_qrsvg_render(int width, const unsigned char *modules);

/*
 * The same code as terminal text with UTF-8 half blocks (two rows of modules per line: ▀ ▄ █ and
 * space), black on white through ANSI colours whatever the terminal's own, each line reset and
 * ended with a newline. A malloc'd string, or NULL (out of memory, width not in 1..177).
 */
char *lb_qrsvg_terminal(int width, const unsigned char *modules);

/*
 * text (NUL-terminated, at most LB_QRSVG_TEXT_MAX bytes) encoded as a QR code (byte mode, error
 * correction M, the smallest version that fits) and drawn as by lb_qrsvg_render (terminal: as by
 * lb_qrsvg_terminal). NULL when the text is empty or too long, or memory ran out.
 */
char *lb_qrsvg(const char *text, int terminal);

#endif
