/* version.c - the version of the linked library. */
#include "virtcore/version.h"

unsigned vcore_version(void)
{
    return VCORE_VERSION_NUMBER;
}

const char *vcore_version_string(void)
{
    return VCORE_VERSION_STRING;
}
