/*
 * l1.h - the L1 hypervisor of the nested system test, and what the test
 * kernel (L0) shares with it.
 *
 * L1 is a separate freestanding program with its own small VMX code (it
 * does not use libvirtcore). It is linked at a fixed address inside a
 * 2 MiB region and runs either
 *   - bare: the test kernel calls its entry at ring 0 on the emulated CPU
 *     (the CPU's own VMX is the reference), or
 *   - nested: as the guest of a libvirtcore vCPU with nested VMX, the
 *     region mapped at the same guest-physical address.
 * It writes its verdicts to a report at a fixed address of the region;
 * the test kernel prints them as CASE lines and compares the two runs.
 */
#ifndef VTK_L1_H
#define VTK_L1_H

#include <stdint.h>

/* The region: 2 MiB at 56 MiB (above the kernel's page arena). */
#define L1_BASE 0x3800000ull
#define L1_SIZE 0x200000ull
/* Boot area the test kernel fills for a nested run (64-bit paging and a GDT
 * with a TSS: VM entry needs a usable TR for L1's own VMCS host state). */
#define L1_BOOT_PML4 (L1_BASE + 0x0000)
#define L1_BOOT_PDPT (L1_BASE + 0x1000)
#define L1_BOOT_PD (L1_BASE + 0x2000)
#define L1_BOOT_GDT (L1_BASE + 0x3000)
#define L1_BOOT_TSS (L1_BASE + 0x3100)
#define L1_REPORT (L1_BASE + 0x4000)  /* struct l1_report */
#define L1_STACK_TOP (L1_BASE + 0x10000)
#define L1_IMAGE (L1_BASE + 0x10000)   /* struct l1_header, then the code */

/* First argument of the entry: what to run. */
#define L1_MODE_NESTED 1u  /* running as a guest (only changes the log prefix) */
#define L1_MODE_VMFAIL 2u  /* the broken-VMCS program instead of the L2 exit program */
#define L1_MODE_NO_EPT 4u  /* do not use EPT for L2 even if offered */
#define L1_MODE_QUIET 8u   /* no narration lines */
#define L1_MODE_MEASURE 16u /* the counting program: marks on L1_PORT_MARK around
                             * 100 VMWRITEs, 100 VMREADs, 100 L2 CPUID round trips */

/*
 * The L2 exit program: one case per step, in the order L2 executes them.
 * X(id, name, what makes it exit to L1 or not)
 */
#define L1_CASE_LIST(X)                                                                             \
    X(VMXON, "l1.vmxon", "CPUID.1:ECX.VMX, IA32_FEATURE_CONTROL, CR4.VMXE, VMXON")                   \
    X(VMCS, "l1.vmcs_load", "VMCLEAR, VMPTRLD, VMPTRST")                                            \
    X(VMWRITE, "l1.vmwrite_readback", "VMWRITE of a complete 64-bit guest and VMREAD back")         \
    X(LAUNCH, "l1.vmlaunch", "VMLAUNCH enters L2")                                                  \
    X(EFER_SCE, "l2.syscall_with_l1_efer_sce", "no 'load IA32_EFER': L2 has L1's EFER.SCE, its SYSCALL reaches IA32_LSTAR; VMCALL exits") \
    X(EFER_NXE, "l2.l1_efer_nxe", "no 'load IA32_EFER': L2 has L1's EFER.NXE (a read through an XD=1 entry does not fault; RDMSR of IA32_EFER, read bit clear, is L1's with LMA and LME)") \
    X(CPUID, "l2.cpuid", "CPUID always exits")                                                      \
    X(IO_OUT, "l2.io_out_imm", "I/O bitmap A bit 90H set")                                          \
    X(IO_IN, "l2.io_in_dx", "I/O bitmap A bit 3F8H set")                            \
    X(IO_PASS, "l2.io_passthrough", "I/O bitmap A bit 80H clear: no exit to L1")                    \
    X(RDMSR, "l2.rdmsr", "MSR bitmap read bit for 174H set")                                        \
    X(MSR_PASS, "l2.rdmsr_passthrough", "MSR bitmap read bit for 176H clear: L2 reads its own value") \
    X(MSR_LOAD, "l2.entry_msr_load", "VM-entry MSR-load list sets IA32_KERNEL_GS_BASE, read bit C0000102H clear: L2 reads it") \
    X(WRMSR, "l2.wrmsr", "MSR bitmap write bit for 175H set")                                       \
    X(EXC_EXIT, "l2.exception_intercepted", "exception bitmap bit 6 (#UD) set")                     \
    X(EXC_PASS, "l2.exception_not_intercepted", "exception bitmap bit 0 (#DE) clear: L2's handler runs") \
    X(EPT, "l2.ept_violation", "guest-physical address outside L1's EPT")                           \
    X(VMCALL, "l2.vmcall", "VMCALL always exits")                                                   \
    X(TIMER, "l2.preemption_timer", "pin-based control 'activate VMX-preemption timer'")             \
    X(HLT, "l2.hlt", "processor-based control 'HLT exiting'")                                      \
    X(TPR, "l2.tpr_below_threshold", "'use TPR shadow': MOV to CR8 below the TPR threshold")         \
    X(APIC_ACC, "l2.apic_access", "'virtualize APIC accesses': a read of APIC-access page offset 030H") \
    X(APIC_WRITE, "l2.apic_write", "'APIC-register virtualization': a write of APIC-access page offset 380H (a read of 030H came from the virtual-APIC page)") \
    X(VID_EOI_EXIT, "l2.vid_eoi_exit", "'virtual-interrupt delivery': RVI 31H reaches L2's IDT without an exit; its EOI write (APIC-access offset B0H) with EOI-exit bit 31H set exits after it, the vector in the qualification") \
    X(VID_EOI, "l2.vid_virtual_eoi", "'virtual-interrupt delivery': RVI 32H reaches L2's IDT, its EOI with the EOI-exit bit clear is virtualized without an exit (VISR and SVI cleared); VMCALL exits") \
    X(PI, "l2.posted_interrupt", "'process posted interrupts': L1 posts 33H (PIR bit, ON) and, with RFLAGS.IF = 0, makes notification vector F2H pending for itself (bare: x2APIC self-IPI; nested: OUT to L1_PORT_IRQ, L0 injects it); after VMRESUME the notification is processed instead of exiting: L2 takes 33H through its IDT (EOI virtualized), ON and PIR clear; VMCALL exits (nested: L0's VMM got the notification's EOI once, VCORE_EXIT_F_APIC_EOI)") \
    X(TIMER_L0, "l2.preemption_timer_across_l0_exits", "'activate VMX-preemption timer' without 'save VMX-preemption timer value': the timer counts L2's time across exits L1 never sees") \
    X(SYSCALL, "l2.syscall_swapgs_msrs", "VM-entry MSR-load list sets IA32_STAR, LSTAR, FMASK, KERNEL_GS_BASE: L2's SYSCALL and SWAPGS use them; VMCALL exits") \
    X(LIST_EFER, "l2.syscall_with_list_efer_sce", "no 'load IA32_EFER', L1's own EFER.SCE clear: the VM-entry MSR-load list sets it for L2, whose SYSCALL reaches IA32_LSTAR; VMCALL exits; L1 keeps L2's SCE (no 'load IA32_EFER' at exit)") \
    X(FINISH, "l2.finish", "L2 reports done with VMCALL")                                         \
    X(REAL_MODE, "l2.real_mode", "'unrestricted guest' with EPT: L2 in real mode (CR0.PE = PG = 0) runs 16-bit code; CPUID and VMCALL exit") \
    X(PAT, "l2.pat_load_save", "'load IA32_PAT' at entry, 'save IA32_PAT' but no 'load IA32_PAT' at exit: L2's RDMSR of IA32_PAT (read bit clear) sees vmcs12's guest PAT, its WRMSR reaches vmcs12 at the exit and stays L1's PAT") \
    X(VPID, "l2.vpid_invvpid", "'enable VPID': after L1 remaps a page L2 read and runs INVVPID for L2's VPID, L2 reads the new page; INVVPID single-context of VPID 0 is VMfailValid 28") \
    X(MSR_BITMAP, "l2.msr_bitmap_fs_base", "L1's MSR bitmap clear for IA32_FS_BASE, write bit of IA32_GS_BASE set: L2's WRMSR and RDMSR of FS_BASE see its value (nested: L0 counts one RDMSR/WRMSR exit of L2 between L1's marks 6 and 7, the GS_BASE write L1 wants), its WRMSR of GS_BASE exits to L1") \
    X(VMFUNC, "l2.vmfunc_eptp_switch", "'enable VM functions' with EPTP switching: L2's VMFUNC(0, 1) switches to the second EPT of L1's EPTP list, where a page L2 read maps elsewhere, without an exit; VMFUNC(0, 600) exits (59)") \
    X(PML, "l2.pml_log", "'enable PML' on an EPT with accessed and dirty flags: L2's writes to three clean pages log their addresses (entries 511, 510, 509), the PML index goes to 508, without an exit") \
    X(DEBUG, "l2.debug_controls_kept", "neither 'load debug controls' at entry nor 'save debug controls' at exit, MOV-DR exiting clear: L2's MOV from DR7 reads L1's DR7 (401H, breakpoint 0 enabled at an address nothing executes); after the exit L1's DR7 is 400H") \
    X(TSC, "l2.tsc_offset_scaling", "'use TSC offsetting' and 'use TSC scaling' with multiplier 2.0 and offset 2^40: L2's RDTSC reads 2 * TSC + 2^40 for a TSC between L1's reads before the entry and after the exit") \
    X(X2APIC, "l2.x2apic_tpr", "'use TPR shadow' and 'virtualize x2APIC mode' (with 'APIC-register virtualization' where allowed), L1's MSR bitmap clear for 808H, VTPR 50H: L2's RDMSR of 808H reads 50H and its WRMSR of 30H lands on the virtual-APIC page (offset 80H), without an exit to L1 (nested: and without an RDMSR/WRMSR exit to L0 between L1's marks 6 and 7); VMCALL exits") \
    X(SHADOW, "l2.vmcs_shadowing", "'VMCS shadowing' with a shadow VMCS L1 built (VMCLEAR, VMPTRLD, VMWRITE, VMCLEAR) and VMREAD/VMWRITE bitmaps clear for guest RIP only: L2's VMREAD, VMWRITE and VMREAD again of guest RIP run on the shadow VMCS without an exit; its VMREAD of guest RSP (bit set) exits (23) with reg1 R11, reg2 RDX; VMCALL exits; L1 finds L2's write in the shadow VMCS") \
    X(PML_VMREAD, "l2.pml_vmread_operand", "'VMCS shadowing' and 'enable PML' on an EPT with accessed and dirty flags where every entry is accessed and dirty but the leaf of one clean page: L2's VMREAD of guest RIP (bitmap bit clear) to that page stores the shadow VMCS's value, sets the dirty flag and logs the page (entry 511, index 510), without an exit") \
    X(SHADOW_STEP, "l2.vmcs_shadowing_single_step", "RFLAGS.TF set by POPF, then L2's VMREAD of guest RIP that the bitmap lets run on the shadow VMCS: the VMREAD completes (R12 the shadow's guest RIP) and its single-step #DB, which L1's exception bitmap bit 1 intercepts, is exit 0 with interruption information 80000301H, qualification 4000H (BS) and guest RIP past the VMREAD") \
    X(INTR_ENTRY, "l2.interrupt_pending_at_vmlaunch", "pin-based 'external-interrupt exiting' with 'acknowledge interrupt on exit': an interrupt pending for L1 (RFLAGS.IF = 0; bare: x2APIC self IPI of 41H, nested: OUT to L1_PORT_IRQ, L0 injects it) exits (1) right after VMLAUNCH, before L2's first instruction, the vector in the exit interruption information; VMRESUME then runs L2 to its VMCALL") \
    X(TSC_LIST, "l2.entry_msr_load_tsc", "the VM-entry MSR-load list writes IA32_TIME_STAMP_COUNTER (10H) with 2^50, no 'use TSC offsetting': L2's RDTSC reads at least 2^50 and less than 2^51, and so does L1's after the exit (the list wrote the processor's TSC: nested, L1's vCPU TSC through the vmx backend's TSC offset)") \
    X(INIT, "l2.init_signal", "an INIT signal while L2 runs exits (3, qualification 0) to L1 before L2's next instruction (L2's OUT to L2_PORT_INIT, which L1's I/O bitmap lets through and L0's VMM answers with vcore_vcpu_init_signal: RIP past the OUT); VMRESUME then runs L2 to its VMCALL")

enum l1_case_id {
#define L1_CASE_ENUM(id, name, why) L1_CASE_##id,
    L1_CASE_LIST(L1_CASE_ENUM)
#undef L1_CASE_ENUM
    L1_NCASES
};

/*
 * The broken-VMCS program: each variant is one VMLAUNCH/VMRESUME of a
 * complete state with one rule broken; the outcome is recorded.
 * X(id, name, expected kind, error or exit reason, qualification) with
 * kind 0 VM exit (reason, qualification), 1 VMfailInvalid, 2 VMfailValid
 * (error number), as the SDM's "VM-Instruction Error Numbers" and
 * "VM-Entry Failures During or After Loading Guest State" say.
 */
#define L1_VAR_LIST(X)                                                                              \
    X(NO_CURRENT, "vmfail.no_current_vmcs", 1, 0, 0)                                                \
    X(RESUME_CLEAR, "vmfail.vmresume_clear_vmcs", 2, 5, 0)                                          \
    X(PIN_DEFAULT1, "vmfail.pin_default1_clear", 2, 7, 0)                                           \
    X(HOST_CR3, "vmfail.host_cr3_beyond_maxphyaddr", 2, 8, 0)                                       \
    X(GUEST_TR, "vmfail.guest_tr_unusable", 0, 0x80000021u, 0)                                      \
    X(LINK_PTR, "vmfail.vmcs_link_pointer", 0, 0x80000021u, 4)                                      \
    X(MSR_LOAD, "vmfail.entry_msr_load_reserved", 0, 0x80000022u, 1)                                \
    X(MSR_LOAD_X2APIC, "vmfail.entry_msr_load_x2apic", 0, 0x80000022u, 2)                           \
    X(VALID, "vmfail.valid_state_enters", 0, 18, 0)                                                 \
    X(LAUNCH_LAUNCHED, "vmfail.vmlaunch_launched_vmcs", 2, 4, 0)

enum l1_var_id {
#define L1_VAR_ENUM(id, name, kind, err, qual) L1_VAR_##id,
    L1_VAR_LIST(L1_VAR_ENUM)
#undef L1_VAR_ENUM
    L1_NVARS
};

enum { L1_NOT_RUN = 0, L1_PASS = 1, L1_FAIL = 2, L1_SKIP = 3 };

typedef struct l1_result {
    uint32_t state;   /* L1_NOT_RUN / PASS / FAIL / SKIP */
    uint32_t len;
    char detail[120]; /* what L1 saw, for a FAIL or SKIP */
} l1_result_t;

typedef struct l1_outcome {
    uint32_t state;   /* L1_NOT_RUN, or L1_PASS once recorded */
    uint32_t kind;    /* 0 VM exit, 1 VMfailInvalid, 2 VMfailValid, 3 setup failed */
    uint64_t error;   /* VM-instruction error for VMfailValid */
    uint64_t reason;  /* exit reason (bit 31: failed entry) */
    uint64_t qual;    /* exit qualification */
} l1_outcome_t;

#define L1_REPORT_MAGIC 0x4c315250u /* "L1RP" */

typedef struct l1_report {
    uint32_t magic;
    uint32_t done;      /* set when the program ran to its end */
    uint32_t next_var;  /* broken-VMCS program: the variant being run */
    uint32_t l1_exits;  /* exits from L2 that L1 saw */
    uint32_t cpuid_round_trips; /* the counting program: CPUID exits L1 handled */
    l1_result_t cases[L1_NCASES];
    l1_outcome_t vars[L1_NVARS];
} l1_report_t;

/* The start of the image (L1_IMAGE). */
#define L1_HEADER_MAGIC 0x3152494c4e4f4d4cull
typedef struct l1_header {
    uint64_t magic;
    uint64_t entry; /* void entry(uint64_t mode, uint64_t first_var) (SysV ABI) */
    uint64_t halt;  /* HLT loop: the return address of a nested run */
    uint64_t end;   /* end of the image's memory (.bss included) */
} l1_header_t;

/* Ports of L2 (and the message port of L1: E9H, Bochs' debug console). */
#define L1_PORT_LOG 0xe9u
#define L2_PORT_PASS 0x80u  /* not intercepted by L1 */
#define L2_PORT_OUT 0x90u
#define L2_PORT_IN 0x3f8u
#define L2_PASS_VALUE 0x2au /* what L2 writes to L2_PORT_PASS */
/* Nested only: L2's OUT (not intercepted by L1) asks L0 for an INIT signal
 * to the vCPU (vcore_vcpu_init_signal). */
#define L2_PORT_INIT 0x81u
#define L1_PORT_MARK 0xebu  /* L1's measurement marks: OUT of the mark number */
/* Nested only: OUT of a vector asks L0 to make that external interrupt
 * pending for L1's vCPU (vcore_vcpu_inject_interrupt). */
#define L1_PORT_IRQ 0xecu
/* Nested only: IN reads how many exits L0's VMM has seen with
 * VCORE_EXIT_F_APIC_EOI (the EOI of posted-interrupt processing) in this
 * run of L1. */
#define L1_PORT_EOI 0xedu
/* Marks 6 and 7 bound a window in which L0 counts the RDMSR/WRMSR exits of
 * L2; IN of L1_PORT_MARK (nested only) reads that count. */
#define L1_MARK_MSR_START 6u
#define L1_MARK_MSR_STOP 7u
#define L1_MEASURE_N 100u   /* operations between two marks */

#endif /* VTK_L1_H */
