/*
 * vcheck_main.c - virtcore-check: lints a virtual-machine control structure
 * and prints the verdict the processor would give. argv[1] names the
 * architecture; each has its own subcommand (vcheck_text.h describes how
 * one is added).
 */
#include "vcheck_out.h"

#include <string.h>

extern const vcheck_arch_t vcheck_vmx_arch;
extern const vcheck_arch_t vcheck_svm_arch;

static const vcheck_arch_t *const vcheck_arches[] = {
    &vcheck_vmx_arch,
    &vcheck_svm_arch,
};

#define VCHECK_NARCHES (sizeof(vcheck_arches) / sizeof(vcheck_arches[0]))

static int vcheck_main_usage(FILE *f)
{
    fputs("usage:\n", f);
    for (size_t i = 0; i < VCHECK_NARCHES; i++)
        fputs(vcheck_arches[i]->usage, f);
    return f == stdout ? VCHECK_EXIT_OK : VCHECK_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs("virtcore-check: missing architecture\n", stderr);
        return vcheck_main_usage(stderr);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return vcheck_main_usage(stdout);
    for (size_t i = 0; i < VCHECK_NARCHES; i++)
        if (strcmp(argv[1], vcheck_arches[i]->name) == 0)
            return vcheck_arches[i]->main(argc - 2, argv + 2);
    fprintf(stderr, "virtcore-check: unknown architecture '%s'\n", argv[1]);
    return vcheck_main_usage(stderr);
}
