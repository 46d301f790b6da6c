/* exit.c - names of the generic exit reasons, generated from VCORE_EXIT_REASON_LIST. */
#include "deps.h"
#include "virtcore/exit.h"

static const char *const vcore__exit_names[] = {
#define VCORE__EXIT_NAME(name, value, desc) [value] = #name,
    VCORE_EXIT_REASON_LIST(VCORE__EXIT_NAME)
#undef VCORE__EXIT_NAME
};

const char *vcore_exit_reason_name(uint32_t reason)
{
    if (reason >= VCORE__ARRAY_SIZE(vcore__exit_names) || !vcore__exit_names[reason])
        return "UNKNOWN";
    return vcore__exit_names[reason];
}
