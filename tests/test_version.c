/* test_version.c - the version: tg_version() (compiled into the library) agrees with the
 * header's TG_VERSION_STRING, and the string is the three numbers the Makefile reads.
 * See LICENSE. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "tapegrad.h"

Test(version, library_reports_the_header_version)
{
    cr_assert_not_null(tg_version());
    cr_expect_str_eq(tg_version(), TG_VERSION_STRING);
}

Test(version, string_is_major_minor_patch)
{
    char want[64];
    snprintf(want, sizeof want, "%d.%d.%d", TG_VERSION_MAJOR, TG_VERSION_MINOR, TG_VERSION_PATCH);
    cr_expect_str_eq(TG_VERSION_STRING, want);
}
