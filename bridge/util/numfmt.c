/* numfmt.c - numbers written as people read them (labctl's tables, CSV and JSON lines). */
#include "numfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether text reads back to v (as a float when single). */
static bool reads_back(const char *text, double v, bool single)
{
	return single ? strtof(text, NULL) == (float)v : strtod(text, NULL) == v;
}

bool lb_fmt_number(char *buf, size_t n, double v, bool single)
{
	char sci[40];
	int prec, exp10;
	char *e;

	if (isnan(v)) {
		snprintf(buf, n, "nan");
		return false;
	}
	if (isinf(v)) {
		snprintf(buf, n, "%s", v > 0 ? "inf" : "-inf");
		return false;
	}
	if (v == 0) {
		snprintf(buf, n, "0"); /* -0 too: people do not read a sign on nothing */
		return true;
	}
	/* the fewest significant digits that read back: d.ddde+XX */
	for (prec = 1; prec <= 17; prec++) {
		snprintf(sci, sizeof sci, "%.*e", prec - 1, v);
		if (reads_back(sci, v, single))
			break;
	}
	e = strchr(sci, 'e');
	exp10 = e ? atoi(e + 1) : 0;
	if (exp10 >= -5 && exp10 < 15) {
		/* fixed-point: as many decimals as the significant digits need */
		int decimals = prec - 1 - exp10;
		snprintf(buf, n, "%.*f", decimals > 0 ? decimals : 0, v);
		return true;
	}
	/* an exponent, without C's leading zeros ("1e-07" -> "1e-7") */
	if (e) {
		char mant[40];
		snprintf(mant, sizeof mant, "%.*s", (int)(e - sci), sci);
		snprintf(buf, n, "%se%s%d", mant, exp10 < 0 ? "-" : "+", abs(exp10));
	} else {
		snprintf(buf, n, "%s", sci);
	}
	return true;
}
