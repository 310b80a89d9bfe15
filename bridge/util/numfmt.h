/* numfmt.h - numbers written as people read them (labctl's tables, CSV and JSON lines). */
#ifndef LB_NUMFMT_H
#define LB_NUMFMT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Write v into buf (n bytes) with the fewest significant digits that read back to the same
 * float (single) or double, in the C locale: in fixed-point notation from 1e-5 up to 1e15 ("20",
 * "20.5", "0.00123", "123456.7"), with an exponent beyond ("1e-7", "6.02e+23"). NaN and the
 * infinities are written "nan", "inf", "-inf". Returns whether the text is also a valid JSON
 * number (false for those three). Never fails; n of 32 is always enough.
 */
bool lb_fmt_number(char *buf, size_t n, double v, bool single);

#endif
