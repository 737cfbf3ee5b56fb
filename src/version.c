/* version.c - tg_version: the version this library was built as, compiled in here so a program
 * can tell it from the header's TG_VERSION_STRING it was built against. See LICENSE. */
#include "tapegrad.h"

const char *tg_version(void)
{
    return TG_VERSION_STRING;
}
