/* What the test harnesses (harness.c, grad_harness.c, train_harness.c)
 * share: the label of their one PASS/FAIL line and fail(), which prints
 * the FAIL line.  Included once per harness program. */
#ifndef DLC_HARNESS_COMMON_H
#define DLC_HARNESS_COMMON_H

#include <stdarg.h>
#include <stdio.h>

/* The test's name in its PASS or FAIL line (--label). */
static const char *label = "harness";

static int fail(const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Every failure is one FAIL line on stdout, so a suite can relay it;
 * returns 1, the harness's exit status. */
static int fail(const char *fmt, ...)
{
    va_list ap;
    printf("FAIL %s: ", label);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return 1;
}

#endif
