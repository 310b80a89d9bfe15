/* check.h - a tiny unit-test framework: CHECK macros, RUN(test), a summary and the exit status. */
#ifndef LB_CHECK_H
#define LB_CHECK_H

/*
 * Usage:
 *	static void test_something(void) { CHECK(x == 1); CHECK_EQ_INT(f(), 3); CHECK_STR(s, "a"); }
 *	int main(void) { RUN(test_something); return check_summary(); }
 *
 * A failed check prints file:line, the expression and the values, and the test goes on; the
 * program exits with status 1 if any check failed. CHECK_MSG(cond, note) adds a note saying what a
 * failure means.
 */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_npass __attribute__((unused));
static int check_nfail __attribute__((unused));
static int check_ntests __attribute__((unused));
static int check_ntests_failed __attribute__((unused));

/* Record one check; prints the failure (fmt describes it) when ok is 0. Returns ok. */
static inline int check_report(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline int check_report(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		check_npass++;
		return 1;
	}
	check_nfail++;
	fprintf(stderr, "%s:%d: FAILED: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 0;
}

#define CHECK(cond) check_report(!!(cond), __FILE__, __LINE__, "%s", #cond)

/* A check with a note saying what a failure means (regressions of fixed bugs). */
#define CHECK_MSG(cond, note) check_report(!!(cond), __FILE__, __LINE__, "%s (%s)", #cond, note)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
		check_report(check_a_ == check_b_, __FILE__, __LINE__, "%s == %s (%lld != %lld)",  \
			     #a, #b, check_a_, check_b_);                                          \
	} while (0)

#define CHECK_EQ_UINT(a, b)                                                                        \
	do {                                                                                       \
		unsigned long long check_a_ = (unsigned long long)(a),                             \
				   check_b_ = (unsigned long long)(b);                             \
		check_report(check_a_ == check_b_, __FILE__, __LINE__, "%s == %s (%llu != %llu)",  \
			     #a, #b, check_a_, check_b_);                                          \
	} while (0)

/* |a - b| <= tol, for doubles. */
#define CHECK_NEAR(a, b, tol)                                                                      \
	do {                                                                                       \
		double check_a_ = (a), check_b_ = (b), check_t_ = (tol);                           \
		check_report(fabs(check_a_ - check_b_) <= check_t_, __FILE__, __LINE__,            \
			     "%s ~= %s (%.17g vs %.17g, tolerance %g)", #a, #b, check_a_,          \
			     check_b_, check_t_);                                                  \
	} while (0)

/* Two C strings are equal (NULL equals only NULL). */
#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *check_a_ = (a), *check_b_ = (b);                                       \
		int check_ok_ =                                                                    \
		    check_a_ && check_b_ ? strcmp(check_a_, check_b_) == 0 : check_a_ == check_b_; \
		check_report(check_ok_, __FILE__, __LINE__, "%s == %s (\"%s\" != \"%s\")", #a, #b, \
			     check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");      \
	} while (0)

/* The C string haystack contains needle. */
#define CHECK_CONTAINS(haystack, needle)                                                           \
	do {                                                                                       \
		const char *check_h_ = (haystack), *check_n_ = (needle);                           \
		check_report(check_h_ &&check_n_ &&strstr(check_h_, check_n_) != NULL, __FILE__,   \
			     __LINE__, "%s contains %s (\"%s\" does not contain \"%s\")",          \
			     #haystack, #needle, check_h_ ? check_h_ : "(null)",                   \
			     check_n_ ? check_n_ : "(null)");                                      \
	} while (0)

/* Run one test function and report it. */
#define RUN(fn) check_run(#fn, fn)

static inline __attribute__((unused)) void check_run(const char *name, void (*fn)(void))
{
	int before = check_nfail;

	check_ntests++;
	fn();
	if (check_nfail != before) {
		check_ntests_failed++;
		fprintf(stderr, "FAIL %s\n", name);
	} else {
		printf("ok   %s\n", name);
	}
	fflush(stdout);
}

/* Print the summary; returns the exit status (0 when every check passed). */
static inline __attribute__((unused)) int check_summary(void)
{
	printf("%d tests, %d checks: %d passed, %d failed", check_ntests, check_npass + check_nfail,
	       check_npass, check_nfail);
	printf("%s\n", check_nfail ? " - FAILED" : "");
	fflush(stdout);
	return check_nfail ? 1 : 0;
}

#endif
