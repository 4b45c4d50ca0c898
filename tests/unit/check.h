/* The check every unit test uses: one PASS or FAIL line per check, for
 * tests/runner.c to count; `failures` decides the exit status. */
#ifndef DLC_TEST_CHECK_H
#define DLC_TEST_CHECK_H

#include <stdio.h>

static int failures;

static void check(int ok, const char *name, const char *why)
{
    if (ok)
        printf("PASS %s\n", name);
    else {
        printf("FAIL %s: %s\n", name, why);
        failures++;
    }
}

#endif
