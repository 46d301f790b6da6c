/*
 * vmx_checks_doc.c - prints docs/vmx-checks.md from the check table, so the
 * document cannot drift from the code: the test unit.vmx_checks_doc compares
 * the output with the committed file.
 *
 *   vmx_checks_doc > docs/vmx-checks.md
 */
#include <stdio.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/vmx_checks.h>

static const char *const outcome[] = {
    "",
    "VMfailInvalid, or VMfailValid with error 26, 4 or 5",
    "VMfailValid, VM-instruction error 7 (invalid control field)",
    "VMfailValid, VM-instruction error 8 (invalid host-state field)",
    "VM exit, reason 33 with bit 31 set, qualification 0",
    "VM exit, reason 33 with bit 31 set, qualification 2 (PDPTE)",
    "VM exit, reason 33 with bit 31 set, qualification 4 (VMCS link pointer)",
    "VM exit, reason 34 with bit 31 set, qualification = 1-based index of the MSR-load entry",
};

int main(void)
{
    vcore_vmx_check_info_t c = {.size = sizeof(c)};
    uint32_t n = vcore_vmx_check_count(), per[8] = {0};

    for (uint32_t i = 0; i < n; i++) {
        if (vcore_vmx_check_at(i, &c) != VCORE_OK)
            return 1;
        per[c.cls]++;
    }
    printf("# VM-entry consistency checks\n\n");
    printf("libvirtcore decides VMLAUNCH and VMRESUME the way an Intel processor does,\n"
           "in software, with one named check per rule of SDM Vol. 3, chapter \"VM Entries\"\n"
           "(`vcore_vmx_check_entry()`, `include/virtcore/x86/vmx_checks.h`). Each check has a\n"
           "pinned identifier (also a diagnostic identifier for `vcore_diag_describe()`), a class\n"
           "(the outcome its failure produces), the title of the SDM section that states the\n"
           "rule, and a one-line description. VM entry performs the classes in the order of the\n"
           "summary table (the guest-state classes together, in the order of their sections) and,\n"
           "within a class, the checks in the order listed: the verdict is the first failure.\n\n");
    printf("This file is generated from the table (`tests/unit/vmx_checks_doc.c`; the test\n"
           "`unit.vmx_checks_doc` fails when it differs from the code).\n\n");
    printf("%u checks.\n\n| Class | Outcome | Checks |\n|---|---|---:|\n", n);
    for (uint32_t k = 1; k < 8; k++)
        printf("| %s | %s | %u |\n", vcore_vmx_check_class_name(k), outcome[k], per[k]);
    for (uint32_t k = 1; k < 8; k++) {
        printf("\n## %s (%u)\n\n%s.\n\n| Id | Check | SDM Vol. 3 section | Requirement |\n|---|---|---|---|\n",
               vcore_vmx_check_class_name(k), per[k], outcome[k]);
        for (uint32_t i = 0; i < n; i++) {
            if (vcore_vmx_check_at(i, &c) != VCORE_OK)
                return 1;
            if (c.cls == k)
                printf("| 0x%04x | `%s` | %s | %s |\n", c.id, c.name, c.manual, c.message);
        }
    }
    printf("\n## Where the SDM leaves a choice\n\n"
           "- The processor modelled supports Intel 64 and is never in SMM: \"entry to SMM\",\n"
           "  \"deactivate dual-monitor treatment\" and blocking by SMI always fail.\n"
           "- The snapshot carries MSRs 480H-491H only: every tertiary processor-based control and every\n"
           "  secondary VM-exit control counts as reserved.\n"
           "- \"A processor may require bit 0 (blocking by STI) to be 0\" when an NMI is injected: this\n"
           "  model does (`GUEST_INTR_NMI_STI`).\n"
           "- Canonical means canonical for 57 bits with CPUID.(EAX=07H,ECX=0):ECX.LA57, else for 48 bits.\n"
           "  RIP and SSP only need bits 63:N identical (N = the linear-address width), as the SDM says.\n"
           "- Deliver-error-code: the guest is in protected mode unless \"unrestricted guest\" is 1 and\n"
           "  guest CR0.PE is 0; IA32_VMX_BASIC[56] lifts the per-vector rule; vector 21 (#CP) counts as\n"
           "  a vector without error code (processors with CET report IA32_VMX_BASIC[56]).\n"
           "- Guest CR0.NW and CR0.CD are never checked (VM entry does not load them); host CR0 is.\n"
           "- VM-entry MSR-load list: beyond 512 * (IA32_VMX_MISC[27:25] + 1) entries the SDM leaves the\n"
           "  behavior undefined; the first entry beyond fails the entry (exit 34). WRMSR's refusals are\n"
           "  modelled for the architectural MSRs the library knows; another MSR is absent (WRMSR raises\n"
           "  #GP) unless the VMM's `msr_writable` callback accepts it. IA32_EFER's reserved bits are all\n"
           "  but SCE, LME, LMA and NXE.\n");
    return 0;
}
