/* exit.c - names of the generic exit reasons. */
#include "deps.h"
#include "virtcore/exit.h"

static const char *const vcore__exit_names[] = {
    [VCORE_EXIT_NONE] = "NONE",
    [VCORE_EXIT_IO] = "IO",
    [VCORE_EXIT_MMIO] = "MMIO",
    [VCORE_EXIT_HLT] = "HLT",
    [VCORE_EXIT_SHUTDOWN] = "SHUTDOWN",
    [VCORE_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
    [VCORE_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
    [VCORE_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
    [VCORE_EXIT_CPUID] = "CPUID",
    [VCORE_EXIT_RDMSR] = "RDMSR",
    [VCORE_EXIT_WRMSR] = "WRMSR",
    [VCORE_EXIT_HYPERCALL] = "HYPERCALL",
    [VCORE_EXIT_DEBUG] = "DEBUG",
    [VCORE_EXIT_EXCEPTION] = "EXCEPTION",
    [VCORE_EXIT_INTERRUPTED] = "INTERRUPTED",
    [VCORE_EXIT_HW_ERROR] = "HW_ERROR",
    [VCORE_EXIT_RAW] = "RAW",
    [VCORE_EXIT_STAGE2_FAULT] = "STAGE2_FAULT",
    [VCORE_EXIT_INIT] = "INIT",
};

const char *vcore_exit_reason_name(uint32_t reason)
{
    if (reason >= VCORE__ARRAY_SIZE(vcore__exit_names) || !vcore__exit_names[reason])
        return "UNKNOWN";
    return vcore__exit_names[reason];
}
