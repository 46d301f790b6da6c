/*
 * nsvm_doc.c - prints docs/nested-svm-exits.md from the exit-routing table
 * of nested SVM (VCORE_NSVM_ROUTE_LIST), so the document cannot drift from
 * the code: the test unit.nsvm_doc compares the output with the committed
 * file.
 *
 *   nsvm_doc > docs/nested-svm-exits.md
 */
#include <stdio.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/nsvm.h>

static const char *const rules[] = {
    "",
    "L1 when its intercept bit is set",
    "L1 when MSR_PROT is set and its MSRPM bit (read/write) for ECX is set; MSRs outside the map: L1 when MSR_PROT is set",
    "L1 when IOIO_PROT is set and its IOPM bit of any port accessed is set",
    "L1 when it enabled nested paging for L2 and the address faults in its nested table",
    "L1's processor: #VMEXIT when intercepted, otherwise L1 shuts down",
    "L0 always",
};

int main(void)
{
    printf("# Nested SVM: who handles an exit of L2\n\n");
    printf("Generated from `VCORE_NSVM_ROUTE_LIST` (`include/virtcore/x86/nsvm.h`) by\n"
           "`tests/unit/nsvm_doc.c`; `vcore_nsvm_route()` decides with this table (AMD APM\n"
           "Vol. 2, \"Intercept Operation\", and the \"SVM Intercept Exit Codes\" appendix).\n"
           "Exit codes in no row are L0's. \"First intercept\" is the intercept of the\n"
           "row's first code; code `first + k` is decided by intercept `first + k`.\n\n");
    printf("| exit codes | name | handled by | first intercept | what |\n");
    printf("|---|---|---|---|---|\n");
#define ROW(name, first, last, rule, icpt, text)                                                     \
    if ((first) == (last))                                                                          \
        printf("| %03XH | %s | %s | %s | %s |\n", (unsigned)(first), #name, rules[VCORE_NSVM_RULE_##rule], \
               VCORE_VMCB_INTERCEPT_##icpt == VCORE_VMCB_INTERCEPT_END_ ? "-" : #icpt, text);         \
    else                                                                                            \
        printf("| %03XH-%03XH | %s | %s | %s | %s |\n", (unsigned)(first), (unsigned)(last), #name,     \
               rules[VCORE_NSVM_RULE_##rule],                                                       \
               VCORE_VMCB_INTERCEPT_##icpt == VCORE_VMCB_INTERCEPT_END_ ? "-" : #icpt, text);
    VCORE_NSVM_ROUTE_LIST(ROW)
#undef ROW
    return 0;
}
