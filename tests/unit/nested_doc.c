/*
 * nested_doc.c - prints docs/nested.md from the nested pipeline's tables
 * (the reflection table through vcore_nvmx_rule_at(), the control merge
 * rules from VCORE_NVMX_CTL_RULES), so the document cannot drift from the
 * code: the test unit.nested_doc compares the output with the committed file.
 *
 *   nested_doc > docs/nested.md
 */
#include <stdio.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/nvmx_pipeline.h>

static const char *const words[5] = {"pin-based", "primary processor-based", "secondary processor-based",
                                     "VM-exit", "VM-entry"};

static const char *const kinds[VCORE_NVMX_RULE_KIND_COUNT] = {
    "L0", "always L1", "pin-based control", "primary control", "secondary control", "exception bitmap",
    "I/O", "MSR bitmaps", "CR masks/targets", "INVLPG + INVPCID", "PAUSE", "L1's EPT"};

int main(void)
{
    printf("# Nested VMX: the pipeline\n\n");
    printf("A vCPU created with `VCORE_NESTED_VMX` on a backend with hardware VMCS objects runs\n"
           "L1's VMLAUNCH/VMRESUME inside `vcore_vcpu_run()` and decides every exit from L2 by the\n"
           "tables below (`include/virtcore/x86/nvmx_pipeline.h`). This file is generated from\n"
           "them (`tests/unit/nested_doc.c`; the test `unit.nested_doc` fails when it differs).\n\n");
    printf("## VM entry (SDM Vol. 3, \"VM Entries\")\n\n"
           "1. The pre-entry checks of the instruction (#UD, #GP, VMfailInvalid, VMfailValid 26/4/5).\n"
           "2. The VM-entry checks on vmcs12 (`vcore_vmx_check_entry()`): VMfailValid 7 or 8 become the\n"
           "   instruction's outcome (RIP past it, ZF set, the other arithmetic flags clear, the error in\n"
           "   VM_INSTRUCTION_ERROR); a guest-state, PDPTE or link-pointer failure becomes a VM exit to L1\n"
           "   with bit 31 of the exit reason set and L1's host state loaded (no VM-exit MSR store). The\n"
           "   VM-entry MSR-load list is checked as it is loaded (step 6).\n"
           "   When the rarely-read guest fields are still in vmcs02 and a guest-state check fails, they are\n"
           "   synced and the checks run again.\n"
           "3. The controls the pipeline does not give L2 are the REFUSED rows of the control merge table\n"
           "   below. The VMX capability MSRs L1 reads have them allowed-0 (IA32_VMX_PROCBASED_CTLS2 bits\n"
           "   63:32 and the others; IA32_VMX_EPT_VPID_CAP has no EPT or VPID capabilities when L1 may not\n"
           "   enable EPT or VPID, IA32_VMX_VMFUNC is 0 without \"enable VM functions\"), so setting one\n"
           "   is VMfailValid 7 by step 2. On a backend without `vcpu_invept` or a host without\n"
           "   `alloc_pages`/`virt_to_phys`, \"enable EPT\" is allowed-0 too. What the capability MSRs\n"
           "   cannot express is refused with `VCORE_ERR_UNSUPPORTED` and the diagnostic\n"
           "   `NVMX_PIPELINE_UNSUPPORTED` (value: control word << 8 | bit); a REFUSED control reaches it\n"
           "   only when a test switched its check off.\n"
           "4. vmcs02: constant state once per vmcs02 (no VMCS link, L0's EPT pointer; L0's control words,\n"
           "   exception bitmap and TSC offset read from vmcs01 once), then the control words by the merge\n"
           "   rules when a control word of vmcs12 is dirty, then every vmcs12 field L1 wrote since the last\n"
           "   entry (all of them after a VMPTRLD of another VMCS). The backend's control shadow drops a\n"
           "   control write that changes nothing. When L1 enables EPT, vmcs02's EPT pointer is that of the\n"
           "   shadow EPT for vmcs12's EPT pointer (below), written only when it changes.\n"
           "5. Optional early hardware check (`VCORE_NVMX_OPT_EARLY_HW_CHECK`): with the controls in vmcs02 and\n"
           "   guest state not yet consumed, vmcs02 is entered with RFLAGS = 0 (bit 1 clear: invalid guest\n"
           "   state). The processor performs every VMfail check first, so a clean vmcs02 ends in exit 33,\n"
           "   which L1 never sees; a VMfailValid is L1's outcome. `vcore_nvmx_test_skip_check()` switches one\n"
           "   software check off so a test can show the processor catching it.\n"
           "6. The VM-entry MSR-load list (SDM \"Loading MSRs\"), after the guest state, in order: each\n"
           "   16-byte entry is read from L1 memory once (unbacked bytes read as all ones) and checked on\n"
           "   that copy by the rules of `vcore_vmx_check_entry()` (IA32_FS_BASE/GS_BASE, x2APIC 800H-8FFH,\n"
           "   IA32_SMBASE and IA32_SMM_MONITOR_CTL, the microcode MSRs, bits 63:32, WRMSR's #GP; entries past\n"
           "   512 * (IA32_VMX_MISC[27:25] + 1) fail), then loaded for L2: IA32_SYSENTER_CS/ESP/EIP into vmcs02's\n"
           "   guest state; IA32_STAR, LSTAR, CSTAR, FMASK, KERNEL_GS_BASE, TSC_AUX, APIC_BASE and MISC_ENABLE\n"
           "   into the vCPU's own MSRs, which L1 and L2 share (a value the vCPU's MSR model refuses fails\n"
           "   the entry; at the exit to L1 only L1's VM-exit MSR-load list restores them). Entry i failing\n"
           "   is a VM exit to L1 (\"VM-Entry Failures During or After Loading Guest State\"): exit reason\n"
           "   80000022H, qualification i, the entries before it loaded, L1's host state, then L1's VM-exit\n"
           "   MSR-load list; the launch state stays as it was. Every entry reads the list again. Any other\n"
           "   MSR (IA32_EFER, IA32_PAT, IA32_DEBUGCTL, the TSC, and the MSRs the VMM models) is one the\n"
           "   library does not hold for L2: the entry is refused with `VCORE_ERR_UNSUPPORTED` and the\n"
           "   diagnostic `NVMX_MSR_LOAD_UNHELD` (value: entry << 32 | MSR index), nothing of the list\n"
           "   loaded and the instruction not completed.\n"
           "7. The entry: a VMfailValid from the processor is L1's outcome; a failed entry (bit 31) is a VM\n"
           "   exit to L1. L0's model of L1 is untouched until then (the MSRs the list loaded are put\n"
           "   back). A successful VMLAUNCH makes vmcs12 launched; the instruction is not completed (L1\n"
           "   resumes at HOST_RIP on the exit).\n\n");
    printf("## Control merge (vmcs02 from vmcs12 = L1 and vmcs01 = L0)\n\n"
           "A bit not listed takes L1's value; in the VM-exit controls an unlisted bit is L0's.\n\n"
           "| Control word | Bit | Rule | Why |\n|---|---:|---|---|\n");
#define ROW(w, b, r, why) printf("| %s | %u | %s | %s |\n", words[w], (unsigned)(b), #r, why);
    VCORE_NVMX_CTL_RULES(ROW)
#undef ROW
    printf("\nRules: L1 = vmcs12's bit; L0 = vmcs01's bit; OR = either; ONE / ZERO = always; REFUSED = allowed-0\n"
           "for L1 (never in vmcs02); CR8 = 1 unless L1 uses the TPR shadow (CVE-2017-12154 class).\n"
           "With \"use MSR bitmaps\" 0 in vmcs02 no MSR L0 intercepts can reach L2 (CVE-2019-3887 class); `vcore_nvmx_msr_bitmap_merge()` is the OR rule\n"
           "for a backend that keeps a merged bitmap.\n\n");
    printf("## Exits from L2\n\n"
           "Each exit from L2 is L1's when the row's rule says so for the current vmcs12, else L0's\n"
           "(`vcore_nvmx_exit_owner()`). L1's exits are reflected: the exit-information fields the reason\n"
           "defines are copied from vmcs02 into vmcs12 (others read as not valid), the guest state that can\n"
           "change without an exit to L0 is synced (RIP, RSP, RFLAGS, CR0, CR3, CR4, interruptibility, CS and\n"
           "SS access rights; the activity state when vmcs02 lets L2 halt; the preemption timer when L1 saves\n"
           "it); the rarely-read guest fields (selectors, limits, bases, other access rights, DR7, pending\n"
           "debug exceptions, BNDCFGS) stay in vmcs02 until L1's VMREAD of one of them, a VMCLEAR or a\n"
           "VMPTRLD. Then the VM-exit MSR-store list, L1's host state (SDM \"Loading Host State\"; LDTR\n"
           "selector 0 and unusable), the VM-exit MSR-load list; a failed store or load is a VMX abort\n"
           "(indicator 1 or 4 in the VMCS region, the vCPU shuts down). L0's exits leave vmcs12 as it\n"
           "was: their exit information is read from vmcs02 into the vCPU's nested state and reaches\n"
           "vmcs12 only when the exit turns out to be L1's (SDM \"VM Exits\": L1 sees nothing of an exit it\n"
           "does not get); only guest state L2 changed through L0 (a WRMSR completed from vmcs02) is\n"
           "written there. A host interrupt or a\n"
           "timer only L0 armed re-enters L2 (re-injecting the event L2 was delivering, with its instruction\n"
           "length for software events); RDMSR/WRMSR of an MSR whose L2 value is vmcs02 guest state\n"
           "(IA32_SYSENTER_CS/ESP/EIP, FS.base, GS.base) are completed from vmcs02; any other goes to the\n"
           "VMM with `VCORE_EXIT_F_L2`, decoded like an exit of L1: port I/O as `VCORE_EXIT_IO`,\n"
           "RDMSR/WRMSR as `VCORE_EXIT_RDMSR`/`VCORE_EXIT_WRMSR`, HLT as `VCORE_EXIT_HLT`, an EPT violation\n"
           "of vmcs02 at an L1 address without memory as `VCORE_EXIT_MMIO` (the MOV at L2's RIP, fetched\n"
           "through L2's paging and, when L1 uses EPT, ept12; u.mmio.gpa the L1 address, raw.data[5] the L2\n"
           "one), others as `VCORE_EXIT_RAW`. String I/O (SDM Vol. 2, \"INS/INSB/INSW/INSD\",\n"
           "\"OUTS/OUTSB/OUTSW/OUTSD\"): the instruction at L2's RIP gives the address size (67H) and OUTS's\n"
           "segment override; INS writes ES:rDI, OUTS reads DS:rSI or the override (in 64-bit mode only FS\n"
           "and GS have a base); RFLAGS.DF the direction; with REP rCX elements at the address size, at most\n"
           "256 bytes per exit and none past the first element L2's paging or ept12 does not map (u.io.count\n"
           "says how many); L2 executes the instruction again for the rest. REP with rCX = 0 completes in L0.\n"
           "An INS/OUTS whose first element is unreachable stays `VCORE_EXIT_RAW`. The VMM's reply goes to L2\n"
           "on the next run (IN merges AL, AX or EAX into RAX; INS's elements go to L2 memory; rSI/rDI and\n"
           "rCX move by the elements done; RDMSR sets EDX:EAX; an MMIO load its register), RIP moves past\n"
           "the instruction (a REP string instruction only once rCX is 0) and blocking by STI or MOV SS\n"
           "ends; a refused RDMSR/WRMSR is #GP(0) in L2 (a VM exit to L1 when its exception bitmap has bit\n"
           "13). vmcs02 reads and writes only the fields the backend's processor has\n"
           "(`vcore_nvmx_caps_has_field()`: guest IA32_PAT, IA32_EFER, IA32_BNDCFGS, IA32_RTIT_CTL, ...\n"
           "exist only with their load/save/clear controls; vmcs12 keeps L1's value of the others).\n\n");
    printf("## VMCS shadowing for L1 (SDM Vol. 3, \"VMCS Shadowing\")\n\n"
           "When the backend links a shadow VMCS to vmcs01 (the `vmcs_shadow_link` op) and its processor\n"
           "offers \"VMCS shadowing\", L1's VMREAD of a field of the shadowed sets\n"
           "(`vcore_nvmx_shadow_fields()`) and its VMWRITE of one of the read-write set do not exit: the\n"
           "VMREAD and VMWRITE bitmaps come from the same table (`vcore_nvmx_shadow_bitmaps()`; a field the\n"
           "processor lacks, and the exit-information fields without \"VMWRITE to any supported field\", stay\n"
           "out). The table sorts the fields L1 may write by how often it writes them: the read-write set\n"
           "holds those a hypervisor writes on most exits it handles (guest RIP, RSP, RFLAGS and\n"
           "interruptibility, the VM-entry event fields, the primary processor-based controls, TPR\n"
           "threshold, guest interrupt status, the preemption-timer value, host RSP and RIP); the others (CR0,\n"
           "CR3, CR4 and their masks and shadows, the exception bitmap, pin-based controls, host FS/GS,\n"
           "PML index) are in the read-only set: L1 reads them without an exit and its rare VMWRITE of one\n"
           "exits and is emulated, so vmcs12 always holds them and they are never read back.\n"
           "vmcs12 remains the library's copy of L1's VMCS: before L1 runs again after the pipeline ran\n"
           "(an emulated instruction, an exit reflected from L2) the shadowed fields whose vmcs12 value the\n"
           "shadow VMCS does not hold are written to it, no others; before VMLAUNCH, VMRESUME, VMPTRLD,\n"
           "VMCLEAR and VMXOFF the read-write set is read back and a changed field is dirty, as after an\n"
           "emulated VMWRITE. Without a current VMCS \"VMCS shadowing\" is 0 in vmcs01, so L1's VMREAD\n"
           "and VMWRITE exit and end in VMfailInvalid. `VCORE_NVMX_OPT_NO_HW_SHADOW` switches it off. A\n"
           "VMM that saves L1's nested state while L1 runs with a shadow VMCS linked gets the read-write\n"
           "set read back first with `vcore_nvmx_vcpu_get_state()`; the toolkit `vcore_nvmx_kvm_export()`\n"
           "sees vmcs12 as of the last of those points.\n\n");
    printf("## L1's EPT\n\n"
           "`vcore_nvmx_ept_translate()` walks L1's EPT (ept12) in L1 memory, one read per entry (SDM\n"
           "\"EPT Translation Mechanism\"): 4 or 5 levels, 1-GByte and 2-MByte pages; an entry granting\n"
           "nothing or not the access is an EPT violation whose qualification holds the access in bits\n"
           "2:0 and the AND of the walked entries' read/write/execute bits in bits 5:3; write without read,\n"
           "reserved bits and reserved memory types are misconfigurations; with EPTP bit 6 the entries\n"
           "used get their accessed flag and the leaf its dirty flag on a write. The VMX instruction\n"
           "emulation uses it for L2's VMREAD/VMWRITE memory operands and L2's paging structures when\n"
           "vmcs12 enables EPT: an unmapped operand is an exit to L1 (`NVMX_L2_EPT_VIOLATION`, the L2\n"
           "address and qualification in the result), and nothing is written.\n\n");
    printf("## Nested EPT: the shadow EPT (ept02)\n\n"
           "When L1 enables EPT, L2 runs on ept02 (`x86/nvmx_ept02.h`), the composition of ept12 (L2 to L1\n"
           "guest-physical) with L0's view of L1 memory (L1 guest-physical to host-physical), built one leaf\n"
           "per EPT violation of vmcs02:\n\n"
           "- ept12 is walked for the access of qualification bits 2:0, each entry read once and checked;\n"
           "  L0's view is the VM's memory map (RAM write-back, read-only regions without write access,\n"
           "  2 MiB where the region backs a whole aligned, physically contiguous 2 MiB).\n"
           "- The leaf: L0's page plus the offset; page size the smaller of ept12's leaf and L0's mapping;\n"
           "  rights the intersection (with EPTP bit 6 a clean leaf is installed without write access after a\n"
           "  read, so the first write faults again and sets ept12's dirty flag); memory type and IPAT from\n"
           "  ept12's leaf for L0's ordinary write-back memory, L0's otherwise (SDM \"EPT and Memory Typing\").\n"
           "- Routing of an EPT violation of vmcs02: ept12 maps the address with the access and L0 has the\n"
           "  memory: installed, L2 resumed (not visible to L1); ept12 does not map it or denies the access:\n"
           "  exit 48 to L1, qualification bits 2:0 the access, 5:3 the AND of ept12's R/W/X bits over the\n"
           "  walk, 7, 8 and 12 as the processor reported them for L2, 11:9 only when L1's\n"
           "  IA32_VMX_EPT_VPID_CAP bit 22 is set, the L2 guest-physical and linear addresses; ept12\n"
           "  misconfigured: exit 49 to L1 with the guest-physical address; L0 has no memory (or not the\n"
           "  access) behind the L1 address: `VCORE_EXIT_MMIO` with `VCORE_EXIT_F_L2` when the instruction\n"
           "  is a MOV the VMM can complete (above), else `VCORE_EXIT_RAW` with raw.reason 48, raw.data[0]\n"
           "  the L2 and raw.data[1] the L1 guest-physical address. A misconfiguration of\n"
           "  ept02 itself drops every ept02 and goes to the VMM the same way.\n"
           "- One ept02 per EPT pointer of L1 (4 kept, least recently used dropped first): L1 switching EPT\n"
           "  pointers keeps each one's translations, as the processor keeps mappings per EPTP until INVEPT\n"
           "  (\"Invalidation of TLBs and Paging-Structure Caches\"). L1's INVEPT single-context drops the\n"
           "  ept02s of the descriptor's EPTP bits 51:12, all-context drops every one; VMXOFF, RESET and\n"
           "  L0 unmapping memory drop every one. Whatever is dropped or narrowed is invalidated on the\n"
           "  processor (backend op `vcpu_invept`) before L2 runs again.\n"
           "- Memory: 64 pages drawn once from `vcore_host_t::alloc_pages`. A fault that needs more pages\n"
           "  than are free changes nothing; every ept02 is dropped and the fault handled again\n"
           "  (`NVMX_EPT02_POOL_EMPTY` with `VCORE_ERR_NOMEM` only if even an empty pool cannot hold it).\n"
           "- The split: the core composes and writes the tables (pure, tested on the host); the backend\n"
           "  only executes INVEPT and the VMWRITE of the EPT pointer.\n\n");
    printf("| Exit | Reason | Decided by | Bit | Rule |\n|---|---:|---|---:|---|\n");
    vcore_nvmx_rule_info_t ri = {.size = sizeof(ri)};
    for (uint32_t i = 0; i < vcore_nvmx_rule_count(); i++) {
        if (vcore_nvmx_rule_at(i, &ri) != VCORE_OK)
            return 1;
        int bit = ri.kind == VCORE_NVMX_RULE_PIN || ri.kind == VCORE_NVMX_RULE_PROC || ri.kind == VCORE_NVMX_RULE_PROC2;
        if (bit)
            printf("| %s | %u | %s | %u | %s |\n", ri.name, ri.reason, kinds[ri.kind], ri.arg, ri.rule);
        else
            printf("| %s | %u | %s | | %s |\n", ri.name, ri.reason, kinds[ri.kind], ri.rule);
    }
    printf("\n%u rows. Reasons 33, 34 and 41 (VM-entry failures) never come from a running L2.\n",
           vcore_nvmx_rule_count());
    printf("\n## Saving and restoring the nested state (KVM API, \"KVM_GET_NESTED_STATE\")\n\n"
           "`vcore_nvmx_vcpu_get_state()` and `vcore_nvmx_vcpu_set_state()` move a vCPU's nested VMX state\n"
           "in KVM's format (128-byte `struct kvm_nested_state` header, vmcs12 in KVM's `struct vmcs12`\n"
           "layout with revision 0x11e57ed0, and in guest mode with VMCS shadowing the shadow vmcs12), also\n"
           "while L2 runs:\n\n"
           "- Export: vmcs12 is synced from vmcs02 first - every guest field, the lazily synced ones too -\n"
           "  as an exit would save it (\"Saving Guest State\"); flags `GUEST_MODE`, and `RUN_PENDING` while\n"
           "  an imported VM entry has not happened. An L2 exit waiting for the VMM's reply (IN, RDMSR,\n"
           "  MMIO, HLT) is not in the format: `VCORE_ERR_STATE`, `KVM_STATE_REPLY_PENDING`; run once more\n"
           "  first (KVM asks the same with `immediate_exit`). No preemption-timer deadline is exported: the\n"
           "  timer runs in vmcs02, vmcs12 holds its value. The vCPU's registers are not in the blob; with\n"
           "  this library they are L1's while L2 runs (the general-purpose registers are shared).\n"
           "- Import: the blob is copied once and the copy checked whole before anything changes: KVM's\n"
           "  rules (size, flags, format, VMX flags, SMM, vmxon_pa, vmcs12_pa, revision; guest mode needs a\n"
           "  launched vmcs12 unless `RUN_PENDING`, and the shadow page when vmcs12 uses one), then every\n"
           "  VM-entry check of VMLAUNCH/VMRESUME (the refusal names the check's own identifier) with L1's\n"
           "  IA32_EFER and CPUID as the vCPU holds them (set L1's registers first), then the pipeline's\n"
           "  limits (`NVMX_PIPELINE_UNSUPPORTED`). `EVMCS`, `MTF_PENDING` and SMM state are refused.\n"
           "  A refused blob leaves the vCPU byte for byte as it was.\n"
           "- Guest mode: vmcs02 is rebuilt from vmcs12 by the code VMLAUNCH uses, ept02 starts empty, and\n"
           "  the next `vcore_vcpu_run()` enters L2. Nothing of the VM entry happens again: the VM-entry\n"
           "  MSR-load list is not loaded (\"Loading MSRs\": the entry that loaded it is behind L2) and,\n"
           "  without `RUN_PENDING`, the VM-entry interruption information is not injected again (\"Event\n"
           "  Injection\"); with `RUN_PENDING` the entry that now happens injects it. A blob without guest\n"
           "  mode makes L1 run next (a running L2 is dropped without a VM exit).\n"
           "- `vcore_nvmx_kvm_import()`/`vcore_nvmx_kvm_export()` on a state no vCPU runs keep a guest-mode\n"
           "  blob as data (flags, VMX flags, deadline, shadow page) and give it back unchanged; the kvm\n"
           "  backend's `vcore_nvmx_kvm_get_nested_state()`/`vcore_nvmx_kvm_set_nested_state()` pass\n"
           "  guest-mode states of the kernel through them.\n");
    return 0;
}
