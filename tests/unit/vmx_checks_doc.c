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
    printf("\n## Bochs 2.7 deviations\n\n"
           "The system tests (`system.vmx.corei7_skylake_x`, `system.vmx.tigerlake`) generate\n"
           "more than 1,000 states per CPU model from a valid reference (one to three mutations\n"
           "each, from every class of check), VMLAUNCH each on the processor Bochs 2.7 emulates,\n"
           "run `vcore_vmx_check_entry()` on the same state in the same kernel and compare the\n"
           "verdicts: kind, VM-instruction error, exit reason and qualification\n"
           "(`tests/system/kernel/diff.c`). Any other disagreement fails the test. Two kinds are\n"
           "accepted:\n\n"
           "- Order. \"Checks on VMX Controls and Host-State Area\": \"These checks may be performed\n"
           "  in any order\"; \"Checks on the Guest State Area\": \"These checks may be performed in\n"
           "  any order\", and \"VM-Entry Failures During or After Loading Guest State\": \"Different\n"
           "  processors may give different exit qualifications for the same VMCS.\" When several\n"
           "  checks of one stage fail, the verdict of any of them is right (VMfailValid 7 or 8; exit\n"
           "  33 with qualification 0, 2 or 4); the library gives the first in table order. The\n"
           "  stages themselves (basic checks, controls and host state, guest state, MSR loading\n"
           "  entry by entry) are ordered.\n"
           "- The departures of Bochs 2.7 from the SDM below: a check Bochs does not make. A failure\n"
           "  of that check is set aside and the rest must then agree.\n\n"
           "| Check | Bochs 2.7 | SDM Vol. 3 |\n|---|---|---|\n"
           "| `GUEST_RIP_LINEAR_WIDTH` | enters with a non-canonical RIP in a 64-bit guest (which then takes #GP) | \"Checks on Guest RIP, RFLAGS, and SSP\": bits 63:N of RIP must be identical when the \"IA-32e mode guest\" VM-entry control and CS.L are 1 (N = linear-address width) |\n"
           "| `GUEST_PENDDBG_BS_SET`, `GUEST_PENDDBG_BS_CLEAR` | no check of BS against TF and BTF | \"Checks on Guest Non-Register State\": with blocking by STI or MOV SS, or in HLT, BS (bit 14) must be 1 if RFLAGS.TF is 1 and IA32_DEBUGCTL.BTF is 0, and 0 if TF is 0 or BTF is 1 |\n"
           "| `GUEST_PENDDBG_RESERVED` (bits 63:32 only) | reads the pending-debug-exceptions field as 32 bits | \"Checks on Guest Non-Register State\": the reserved bits of the field, bits 63:17 among them (bit 16 only with RTM), must be 0 |\n"
           "| `GUEST_DEBUGCTL` | no check | \"Checks on Guest Control Registers, Debug Registers, and MSRs\": if \"load debug controls\" is 1, bits reserved in IA32_DEBUGCTL must be 0 in the field |\n"
           "| `GUEST_PERF_GLOBAL_CTRL` | no check | same section: if \"load IA32_PERF_GLOBAL_CTRL\" (VM-entry) is 1, bits reserved in IA32_PERF_GLOBAL_CTRL must be 0 in the field |\n"
           "| `HOST_PERF_GLOBAL_CTRL` | no check | \"Checks on Host Control Registers, MSRs, and SSP\": the same rule for the VM-exit control and the host field |\n"
           "| `GUEST_RFLAGS_VM_REAL` | refuses RFLAGS.VM only for an IA-32e mode guest | \"Checks on Guest RIP, RFLAGS, and SSP\": the VM flag must be 0 if \"IA-32e mode guest\" is 1 or if CR0.PE is 0 in the CR0 field |\n"
           "| `MSR_LOAD_HIGH_BITS` (IA32_FMASK only) | its WRMSR keeps bits 31:0 and drops bits 63:32 without #GP | \"Loading MSRs\": the entry fails if WRMSR of the value would raise #GP; Vol. 4 gives IA32_FMASK bits 63:32 as reserved, and WRMSR raises #GP for reserved bits (Vol. 2, WRMSR) |\n"
           "| `ENTRY_INTR_ERRCODE_CLEAR` (processors reporting IA32_VMX_BASIC[56]) | skips the whole deliver-error-code rule on its CET models | \"Checks on VM-Entry Control Fields\": the deliver-error-code bit must be 0 if the interruption type is not hardware exception or CR0.PE is 0 in the guest CR0 field; IA32_VMX_BASIC[56] lifts only the per-vector part |\n"
           "| `GUEST_ACTIVITY_EVENT_HLT` | injects any event into the HLT state | \"Checks on Guest Non-Register State\": in HLT only external interrupts, NMIs, hardware exceptions 1 and 18 and \"other event\" 0 may be injected |\n\n"
           "States the generator never makes, and why:\n\n"
           "- Event injection with interruption type 7 (other event): Bochs 2.7 panics.\n"
           "- The \"entry to SMM\" VM-entry control: Bochs 2.7 does not refuse it outside SMM and panics\n"
           "  when such an entry would succeed; the SDM (\"Definitions of VM-Entry Controls\": \"This\n"
           "  control must be 0 for any VM entry from outside SMM\") makes it VMfailValid 7 here\n"
           "  (`ENTRY_SMM_OUTSIDE_SMM`).\n"
           "- Host states the SDM accepts other than the running kernel's, VM-exit MSR-load lists\n"
           "  outside the test's own page: the next VM exit would load them.\n\n"
           "Bochs runs with `ignore_bad_msrs=0`, so that WRMSR of an MSR it does not implement raises\n"
           "#GP as on a processor (its default drops the write, and VM-entry MSR loading then accepts\n"
           "IA32_SMM_MONITOR_CTL, IA32_SMBASE or the microcode MSRs).\n");
    return 0;
}
