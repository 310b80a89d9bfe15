/* csv.h - CSV fields quoted as RFC 4180 says, for the recorder's files and labctl's output. */
#ifndef LB_CSV_H
#define LB_CSV_H

#include <stddef.h>

/*
 * Write s as one CSV field into out (cap bytes, NUL-terminated): as is, or between double
 * quotes with each quote doubled when it holds sep, a quote, a CR or a LF. Returns the field's
 * full length (as snprintf does): a result >= cap means out holds only its first cap - 1 bytes.
 */
size_t lb_csv_field(char *out, size_t cap, const char *s, char sep);

#endif
