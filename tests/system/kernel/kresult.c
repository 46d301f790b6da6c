/*
 * kresult.c - the result lines every test kernel prints (VMX and SVM, case
 * tables and nested suites): "CASE <prefix><name> PASS|FAIL|SKIP <detail>"
 * counted in a tally, and the closing "SUMMARY ..." and "VTK-END" lines
 * the host-side runner parses.
 */
#include "kernel.h"

void vtk_tally_case(vtk_tally_t *t, const char *prefix, const char *name, int result, const char *detail)
{
    vtk_puts("CASE ");
    vtk_puts(prefix);
    vtk_puts(name);
    vtk_puts(result == VTK_RESULT_PASS ? " PASS " : result == VTK_RESULT_SKIP ? " SKIP " : " FAIL ");
    vtk_puts(detail);
    vtk_puts("\n");
    if (result == VTK_RESULT_PASS)
        t->pass++;
    else if (result == VTK_RESULT_SKIP)
        t->skip++;
    else
        t->fail++;
}

void vtk_tally_summary(const vtk_tally_t *t, bool records, uint64_t t0)
{
    vtk_puts("SUMMARY pass=");
    vtk_putdec(t->pass);
    vtk_puts(" fail=");
    vtk_putdec(t->fail);
    vtk_puts(" skip=");
    vtk_putdec(t->skip);
    if (records) {
        vtk_puts(" record=");
        vtk_putdec(t->rec);
    }
    vtk_puts(" tsc=");
    vtk_putdec(vtk_rdtsc() - t0);
    vtk_puts("\nVTK-END\n");
}
