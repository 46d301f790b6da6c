/*
 * vcpu_nested.h - the nested VMX pipeline of a vCPU, shared by
 * vcpu_nested.c (instruction dispatch), vcpu_nested_entry.c (VMLAUNCH /
 * VMRESUME and vmcs02) and vcpu_nested_exit.c (exits from L2).
 */
#ifndef VCORE_CORE_VCPU_NESTED_H
#define VCORE_CORE_VCPU_NESTED_H

#include "vcpu_x86.h"
#include "x86/vmx/nvmx_priv.h"

/* L2 is the context the next run enters (the run loop, vcpu.c). */
static inline bool vcore__vcpu_nested_in_l2(const vcore_vcpu_t *vcpu)
{
    return vcpu->nvmx->in_l2;
}

/* The shadow VMCS is to be brought up to date before L1 runs (vcpu.c). */
static inline bool vcore__vcpu_nested_shadow_due(const vcore_vcpu_t *vcpu)
{
    return vcpu->nvmx->hw_sync;
}

/* The current vmcs12 as the library's layout. */
static inline vcore__vmcs12_t *vcore__vcpu_nested_v12(vcore_vcpu_t *vcpu)
{
    return (vcore__vmcs12_t *)(void *)vcpu->nvmx->vmcs12;
}

/* VMREAD / VMWRITE of the backend's current VMCS. */
static inline int vcore__vcpu_nested_rd(vcore_vcpu_t *vcpu, uint32_t field, uint64_t *value)
{
    int err = vcpu->vm->ops.vmcs_read(vcpu, vcpu->priv, field, value);
    return err ? (err < 0 ? err : VCORE_ERR_HWFAIL) : VCORE_OK;
}

static inline int vcore__vcpu_nested_wr(vcore_vcpu_t *vcpu, uint32_t field, uint64_t value)
{
    int err = vcpu->vm->ops.vmcs_write(vcpu, vcpu->priv, field, value);
    return err ? (err < 0 ? err : VCORE_ERR_HWFAIL) : VCORE_OK;
}

/* A vmcs02 guest field holding L2's value of an MSR that vmcs02 always
 * loads (IA32_EFER, IA32_PAT): written when write or when value differs
 * from *last, what the field holds since it was last written; *last
 * follows each write. */
static inline int vcore__vcpu_nested_wr_msr02(vcore_vcpu_t *vcpu, uint32_t field, uint64_t value, bool write,
                                              uint64_t *last)
{
    if (!write && value == *last)
        return VCORE_OK;
    int err = vcore__vcpu_nested_wr(vcpu, field, value);
    if (!err)
        *last = value;
    return err;
}

/* Makes vmcs (NULL: vmcs01) the backend's current VMCS and reads count
 * fields of it into values: one backend call when the backend has
 * vmcs_read_many, else a VMPTRLD and one VMREAD per field. On an error
 * values are unspecified. */
static inline int vcore__vcpu_nested_read_many(vcore_vcpu_t *vcpu, vcore_hw_vmcs_t *vmcs, const uint32_t *fields,
                                               uint64_t *values, uint32_t count)
{
    const vcore_backend_t *ops = &vcpu->vm->ops;
    int err;
    if (ops->vmcs_read_many) {
        err = ops->vmcs_read_many(vcpu, vcpu->priv, vmcs, fields, values, count);
    } else {
        err = ops->vmcs_load(vcpu, vcpu->priv, vmcs);
        for (uint32_t i = 0; !err && i < count; i++)
            err = ops->vmcs_read(vcpu, vcpu->priv, fields[i], &values[i]);
    }
    return err ? (err < 0 ? err : VCORE_ERR_HWFAIL) : VCORE_OK;
}

/* Makes vmcs02 the backend's current VMCS. */
static inline int vcore__vcpu_nested_load02(vcore_vcpu_t *vcpu)
{
    int err = vcpu->vm->ops.vmcs_load(vcpu, vcpu->priv, vcpu->nvmx->vmcs02);
    return err ? (err < 0 ? err : VCORE_ERR_HWFAIL) : VCORE_OK;
}

/* vcpu_nested_entry.c: L1's VMLAUNCH/VMRESUME passed the pre-entry checks
 * (in is the instruction): the VM-entry checks, vmcs02, then L2 runs.
 * *handled when the run loop must continue (with L1 or L2). */
int vcore__vcpu_nested_entry(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, vcore_exit_t *exit,
                             bool *handled);
/* vcpu_nested_entry.c: L1's VM entry is done (op VMLAUNCH or VMRESUME):
 * vmcs02 is vmcs12's, vmcs12 launched and clean, L2 the running context;
 * true when vmcs12 could not be marked launched. */
bool vcore__vcpu_nested_entered(vcore_vcpu_t *vcpu, uint32_t op);
/* SDM Vol. 3, "Interruptibility State": blocking by MOV SS holds NMIs off
 * for L2 (v: its state in vmcs12); blocking by NMI (bit 3) does while in
 * VMX non-root operation unless "virtual NMIs" (pin-based 5) makes it
 * virtual-NMI blocking ("Changes to Instruction Behavior in VMX Non-Root
 * Operation"); "Activity State": the wait-for-SIPI state blocks NMIs. */
static inline bool vcore__vcpu_nested_nmi_blocked(const vcore__vmcs12_t *v)
{
    uint32_t intr = v->GUEST_INTERRUPTIBILITY_INFO;
    return (intr & VCORE__INTR_MOVSS) ||
           (!(v->PIN_BASED_VM_EXEC_CONTROL & VCORE__PIN_VIRTUAL_NMIS) && (intr & VCORE__INTR_NMI)) ||
           v->GUEST_ACTIVITY_STATE == VCORE__ACT_SIPI;
}
/* vcpu_nested_entry.c: an NMI or an interrupt the VMM made pending is
 * recognized right after L1's VM entry (exit 0 or 1 to L1 before L2
 * executes anything). Inline, the test every entry makes: nothing is
 * pending without an event the core holds for delivery (vcpu_events.c). */
bool vcore__vcpu_nested_event_at_entry_slow(vcore_vcpu_t *vcpu);
static inline bool vcore__vcpu_nested_event_at_entry(vcore_vcpu_t *vcpu)
{
    return vcpu->x86->queued != 0 && vcore__vcpu_nested_event_at_entry_slow(vcpu);
}
/* An interrupt-window exit (RFLAGS.IF = 1: "Interrupt-Window Exiting") or
 * NMI-window exit (no virtual-NMI blocking: "NMI-Window Exiting") L1 asks
 * for is due on L2's next boundary, blocking by STI or MOV SS (which holds
 * both off) ruled out by the caller: the processor makes it when vmcs02 is
 * entered, ahead of an external interrupt (both windows' exits "take
 * priority over external interrupts"). */
static inline bool vcore__vcpu_nested_window_due(const vcore__vmcs12_t *v)
{
    uint32_t proc = v->CPU_BASED_VM_EXEC_CONTROL;
    return ((proc & VCORE__PROC_IRQ_WINDOW) && (v->GUEST_RFLAGS & VCORE__RFLAGS_IF)) ||
           ((proc & VCORE__PROC_NMI_WINDOW) && !(v->GUEST_INTERRUPTIBILITY_INFO & VCORE__INTR_NMI));
}
/* vcpu_nested_entry.c: vmcs02 exists (allocated once per vCPU). */
int vcore__vcpu_nested_alloc02(vcore_vcpu_t *vcpu);
/* vcpu_nested_entry.c: vmcs02 from a checked vmcs12, first half: L1's
 * dirty registers to the backend, vmcs02 current with its constant state,
 * the merged control words, the EPT pointer (*full: every field must be
 * written, vmcs02 was not built from this vmcs12). VMLAUNCH/VMRESUME and
 * a guest-mode import both use it, then vcore__vcpu_nested_fields(). */
int vcore__vcpu_nested_prepare02(vcore_vcpu_t *vcpu, bool *full);
/* vcpu_nested_entry.c: the vmcs12 fields L1 changed (all with full) into vmcs02. */
int vcore__vcpu_nested_fields(vcore_vcpu_t *vcpu, bool full);
/* vcpu_nested_entry.c: what v asks for that the pipeline does not provide
 * (NVMX_PIPELINE_UNSUPPORTED in the vCPU's diagnostic). */
int vcore__vcpu_nested_supported(vcore_vcpu_t *vcpu, const vcore__vmcs12_t *v);
/* vcpu_nested_entry.c: enters vmcs02 until an exit L1 wants (*handled, L1
 * runs next) or one only the VMM can handle (in *exit, flag F_L2). */
int vcore__vcpu_nested_run_l2(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);

/* vcpu_nested_entry.c: the VM entry after its VM-entry MSR-load list
 * (nv->ml: failed, check, model, tsc): a failed entry, or L2 entered;
 * *handled as for nested_entry. */
int vcore__vcpu_nested_entry_loaded(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, vcore_exit_t *exit,
                                    bool *handled);
/* vcpu_nested_msrload.c: the VM-entry MSR-load list of the VM entry being
 * made (in: L1's instruction), after vmcs02's guest state: the entries in
 * order into vmcs02 (current) and the vCPU model, stopping at the first
 * that fails (nv->ml.failed, .check; those before it stay loaded) or at
 * one the VMM answers (*asked: *exit is its WRMSR). An error leaves the
 * model's MSRs as before (vmcs02 must be rewritten). */
int vcore__vcpu_nested_msrload(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in, vcore_exit_t *exit, bool *asked);
/* The VMM's reply (*exit) to entry at (0-based): the list goes on after it,
 * or fails there, then the entry (*handled as for nested_entry). */
int vcore__vcpu_nested_msrload_reply(vcore_vcpu_t *vcpu, uint32_t at, vcore_exit_t *exit, bool *handled);
/* The TSC an entry of the list named, into the vCPU and the backend;
 * vmcs02's TSC offset after L1's new one (vmcs02 current after). */
int vcore__vcpu_nested_msrload_tsc(vcore_vcpu_t *vcpu);
/* The model's MSRs back as they were before the list (the processor
 * failed the entry before loading MSRs). */
void vcore__vcpu_nested_msrload_undo(vcore_vcpu_t *vcpu);
/* vcpu_nested_msrlist.c: entries of L1's MSR lists the VMM answers (the
 * VMX capability MSRs are L0's: vcore__nvmx_cap_msr()). vmm: an MSR the
 * vCPU model does not hold. ask: *exit is the RDMSR or WRMSR (write) of
 * entry at (0-based) of list (VCORE_EXIT_MSR_LIST_*) naming index, noted
 * in nv->ml. reply: the VMM's reply to it, the entry or exit going on
 * (*l1: L1 runs next; else *exit holds what the VMM sees). */
bool vcore__vcpu_nested_msrlist_vmm(uint32_t index);
void vcore__vcpu_nested_msrlist_ask(vcore_vcpu_t *vcpu, uint32_t list, uint32_t at, uint32_t index, bool write,
                                    uint64_t value, vcore_exit_t *exit);
int vcore__vcpu_nested_msrlist_reply(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *l1);
/* An entry of a list waits for the VMM's reply. */
static inline bool vcore__vcpu_nested_msrlist_due(const vcore_vcpu_t *vcpu)
{
    return vcpu->nvmx->ml.list != 0;
}
/* After a VM exit to L1 (an exit of L2's reflected, *exit the run's exit):
 * L1 runs next, unless a VMX abort shut it down or an entry of the exit's
 * MSR lists waits for the VMM. */
static inline bool vcore__vcpu_nested_l1_next(const vcore_vcpu_t *vcpu, const vcore_exit_t *exit)
{
    return exit->reason != VCORE_EXIT_SHUTDOWN && !vcore__vcpu_nested_msrlist_due(vcpu);
}
/* vcpu_nested_efer.c: L2's IA32_EFER ("Loading Guest Control Registers,
 * Debug Registers, and MSRs"). forced: vmcs02 loads it (the backend's
 * processor has VM-entry control 15). value: what L1's VM entry gives L2
 * (vmcs12's guest IA32_EFER with "load IA32_EFER", else L1's with LMA and
 * LME from "IA-32e mode guest"). enter: writes it to vmcs02 (current) when
 * full or changed; L2's EFER is live until efer_exit. l2: L2's EFER while
 * live, else fallback. write: WRMSR of value for L2 while live (vmcs02
 * current; LMA kept): *gp 0 when written, else why WRMSR is #GP(0)
 * (VCORE_VMX_CHECK_MSR_LOAD_EFER_RESERVED or _LME) and nothing changed. */
bool vcore__vcpu_nested_efer_forced(const vcore_nvmx_t *nv);
uint64_t vcore__vcpu_nested_efer_value(const vcore__vmcs12_t *v, uint64_t l1_efer);
int vcore__vcpu_nested_efer_enter(vcore_vcpu_t *vcpu, bool full);
/* Inline: both run on every exit to L1. */
static inline uint64_t vcore__vcpu_nested_efer_l2(const vcore_vcpu_t *vcpu, uint64_t fallback)
{
    const vcore_nvmx_t *nv = vcpu->nvmx;
    return nv->efer02_live ? nv->efer02 : fallback;
}
static inline void vcore__vcpu_nested_efer_exit(vcore_vcpu_t *vcpu)
{
    vcpu->nvmx->efer02_live = false;
}
int vcore__vcpu_nested_efer_write(vcore_vcpu_t *vcpu, uint64_t value, uint32_t *gp);
/* vcpu_nested_pat.c: L2's IA32_PAT, as for EFER above. forced: vmcs02
 * loads it (the backend's processor has VM-entry control 14). value: what
 * L1's VM entry gives L2 (vmcs12's guest IA32_PAT with "load IA32_PAT",
 * else L1's). enter: writes it to vmcs02 (current) when full or changed;
 * L2's PAT is live until pat_exit. l2: L2's PAT while live, else fallback.
 * write: WRMSR of value for L2 while live (vmcs02 current): *gp 0 when
 * written, else VCORE_VMX_CHECK_MSR_LOAD_PAT (WRMSR's #GP(0)) and nothing
 * changed. */
bool vcore__vcpu_nested_pat_forced(const vcore_nvmx_t *nv);
uint64_t vcore__vcpu_nested_pat_value(const vcore__vmcs12_t *v, uint64_t l1_pat);
int vcore__vcpu_nested_pat_enter(vcore_vcpu_t *vcpu, bool full);
static inline uint64_t vcore__vcpu_nested_pat_l2(const vcore_vcpu_t *vcpu, uint64_t fallback)
{
    const vcore_nvmx_t *nv = vcpu->nvmx;
    return nv->pat02_live ? nv->pat02 : fallback;
}
static inline void vcore__vcpu_nested_pat_exit(vcore_vcpu_t *vcpu)
{
    vcpu->nvmx->pat02_live = false;
}
int vcore__vcpu_nested_pat_write(vcore_vcpu_t *vcpu, uint64_t value, uint32_t *gp);
/* vcpu_nested_debugctl.c: L2's DR7 and IA32_DEBUGCTL ("Loading Guest
 * Control Registers, Debug Registers, and MSRs"), which vmcs02 always
 * loads and saves. enter: writes them to vmcs02 (current) - vmcs12's with
 * L1's "load debug controls", else L1's as the vCPU holds them - when full
 * or changed (DR7 also when vmcs02's may differ from what was written:
 * L2 writes DR7 without exiting unless L1 intercepts MOV-DR); L2's
 * IA32_DEBUGCTL is live until debugctl_exit. save: at an exit to L1, with
 * "save debug controls" vmcs02's DR7 and IA32_DEBUGCTL go into vmcs12.
 * write: WRMSR of IA32_DEBUGCTL for L2 while live (vmcs02 current): *gp 0
 * when written, else VCORE_VMX_CHECK_MSR_LOAD_DEBUGCTL (WRMSR's #GP(0))
 * and nothing changed. */
int vcore__vcpu_nested_debugctl_enter(vcore_vcpu_t *vcpu, bool full);
int vcore__vcpu_nested_debugctl_save(vcore_vcpu_t *vcpu);
static inline void vcore__vcpu_nested_debugctl_exit(vcore_vcpu_t *vcpu)
{
    vcpu->nvmx->debugctl02_live = false;
}
int vcore__vcpu_nested_debugctl_write(vcore_vcpu_t *vcpu, uint64_t value, uint32_t *gp);
/* vcpu_nested_msr02.c: WRMSR of IA32_EFER, IA32_PAT or IA32_DEBUGCTL
 * (index) for L2 while held (vmcs02 current): efer_write, pat_write or
 * debugctl_write. */
int vcore__vcpu_nested_msr02_write(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value, uint32_t *why);

/* vcpu_nested_tsc.c: L2's TSC. enter: vmcs02's TSC offset and multiplier
 * (vmcs02 current) from vmcs12's and L0's (nv->tsc01, nv->tscm01), written
 * when full or changed; called when full or nv->tsc_stale. l2: the TSC L2
 * reads (RDTSC, RDMSR) when L1's reads l1_tsc. */
int vcore__vcpu_nested_tsc_enter(vcore_vcpu_t *vcpu, bool full);
/* tsc01: L0's TSC offset and multiplier for L1 from vmcs01 (current; its
 * control words in nv->ctl01), noted as read at the vCPU's tsc_writes;
 * vmcs02's are due again (tsc_stale). tsc01_sync: the same between
 * vmcs01 made current and vmcs02 made current again. */
int vcore__vcpu_nested_tsc01(vcore_vcpu_t *vcpu);
int vcore__vcpu_nested_tsc01_sync(vcore_vcpu_t *vcpu);
uint64_t vcore__vcpu_nested_tsc_l2(vcore_vcpu_t *vcpu, uint64_t l1_tsc);

/* vcpu_nested_l0.c: the vmcs02 guest-state field holding an MSR's value
 * for L2 (IA32_SYSENTER_CS/ESP/EIP, IA32_FS_BASE, IA32_GS_BASE), or 0. */
uint32_t vcore__vcpu_nested_l0_msr_field(uint32_t index);

/* vcpu_nested_exit.c: one exit from L2 (the backend's entry outcome he).
 * *again: L0 handled it, re-enter L2; *handled: reflected to L1; neither:
 * *exit holds what the VMM sees. */
int vcore__vcpu_nested_l2_exit(vcore_vcpu_t *vcpu, const vcore_hw_entry_t *he, vcore_exit_t *exit,
                               bool *handled, bool *again);
/* vcpu_nested_exit.c: a VM exit to L1 with reason and qualification
 * already in vmcs12: VM-exit MSR-store (unless a failed entry), L1's host
 * state, VM-exit MSR-load. *stop: *exit holds what the VMM sees - a
 * shutdown after a VMX abort (a list entry that cannot be stored or
 * loaded), or an entry's RDMSR/WRMSR the VMM answers (the exit goes on
 * with exit_lists_reply). */
int vcore__vcpu_nested_exit_to_l1(vcore_vcpu_t *vcpu, bool failed_entry, vcore_exit_t *exit, bool *stop);
int vcore__vcpu_nested_exit_lists_reply(vcore_vcpu_t *vcpu, uint32_t list, uint32_t at, vcore_exit_t *exit,
                                        bool *stop);
/* vcpu_nested_exit.c: before entering L2: an external interrupt pending for
 * the vCPU with L1's "external-interrupt exiting" is a VM exit to L1
 * (*reflected; else with *shutdown *exit holds what the VMM sees, as with
 * exit_to_l1's *stop). */
int vcore__vcpu_nested_pending_intr(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected, bool *shutdown);
/* An NMI pending for the vCPU while L2 runs, with L1's "NMI exiting" and
 * not blocked for L2 (vcore__vcpu_nested_nmi_blocked), is a VM exit to L1,
 * reason 0, vector 2 type 2 (SDM Vol. 3, "Other Causes of VM Exits"); the
 * outputs as for vcore__vcpu_nested_pending_intr(). */
int vcore__vcpu_nested_pending_nmi(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected, bool *shutdown);
/* vcpu_nested_pi.c: L1's "process posted interrupts" for L2. Whether the
 * interrupt pending for the vCPU is vmcs12's notification under the
 * control; the SDM's processing of it (steps 3-6 of "Posted-Interrupt
 * Processing", then the interrupt is consumed), vmcs02 current and
 * vmcs12's guest interrupt status vmcs02's: VCORE_ERR_UNSUPPORTED with
 * NVMX_PI_DESC_UNBACKED, or a failed vmcs02 write, leaves everything as
 * it was; at L1's VM entry, before vmcs02 is entered: a notification
 * still pending is processed (L2's interruptibility permitting). */
bool vcore__vcpu_nested_pi_notification(vcore_vcpu_t *vcpu);
int vcore__vcpu_nested_pi_process(vcore_vcpu_t *vcpu);
/* What the processing at L1's VM entry took and changed, for
 * vcore__vcpu_nested_pi_undo() should the processor then fail the entry
 * (the notification is recognized only once L2 is entered). */
typedef struct vcore__nested_pi_undo {
    bool taken;        /* a notification was processed */
    uint64_t on;       /* the ON bit the processing cleared */
    uint64_t pir[4];   /* the PIR it took */
    uint32_t added[8]; /* the VIRR bits it set, per VIRR register */
    uint16_t gis;      /* vmcs12's guest interrupt status before */
} vcore__nested_pi_undo_t;
int vcore__vcpu_nested_pi_entry(vcore_vcpu_t *vcpu, vcore__nested_pi_undo_t *undo);
void vcore__vcpu_nested_pi_undo(vcore_vcpu_t *vcpu, const vcore__nested_pi_undo_t *undo);
/* vcpu_nested_exit.c: a VM exit to L1 the library makes up for L2 (an
 * exception or EPT violation of an instruction L0 completes that L1 wants,
 * decision d): the exit information x (the fields x->have names, the
 * qualification, interruption and IDT-vectoring information always) into
 * vmcs12, L2's state saved, L1's host state. *handled as for l2_exit;
 * *exit holds a shutdown after a VMX abort. vmcs02 must be current. */
int vcore__vcpu_nested_reflect(vcore_vcpu_t *vcpu, const vcore__nvmx_exit02_t *x, const vcore_nvmx_decision_t *d,
                               vcore_exit_t *exit, bool *handled);
/* vcpu_nested_exit.c: the INIT VM exit owed to L1 (an INIT the VMM
 * signalled while L2 ran), before L2 runs: *handled as for reflect. */
int vcore__vcpu_nested_init_exit(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);
/* vcpu_nested_exit.c: the monitor-trap-flag VM exit owed to L1 (an
 * imported MTF_PENDING), before L2 runs: *handled as for reflect. */
int vcore__vcpu_nested_mtf(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);

/* vcpu_nested_timer.c: L1's VMX-preemption timer while L2 runs. The
 * timer's rate (IA32_VMX_MISC bits 4:0 as offered to L1); L1's TSC now
 * (vmcs02 current after); before an entry of vmcs02 from L1 with the count
 * vmcs02 holds, and before every other entry of it: where the processor
 * cannot save the timer, the count left after what L2 used is written. */
uint32_t vcore__vcpu_nested_timer_rate(const vcore_nvmx_t *nv);
int vcore__vcpu_nested_timer_tsc(vcore_vcpu_t *vcpu, uint64_t *tsc);
int vcore__vcpu_nested_timer_start(vcore_vcpu_t *vcpu, uint32_t count);
int vcore__vcpu_nested_timer_resume(vcore_vcpu_t *vcpu);
/* vcpu_nested_l0.c: an exit from L2 that L0 owns (L1 does not want it) and
 * the library does not complete by re-entering: decoded into *exit for the
 * VMM (flag F_L2), or completed here (*again: re-enter L2; *handled: it
 * turned into an exit to L1). */
int vcore__vcpu_nested_l0_exit(vcore_vcpu_t *vcpu, uint32_t reason, vcore_exit_t *exit, bool *again,
                               bool *handled);
/* vcpu_nested_l0.c: an EPT violation of vmcs02 at an L1-physical address
 * (l1_gpa) with no memory behind it in L0's map: the MOV at L2's RIP
 * (fetched through L2's paging and, when L1 uses EPT, ept12) becomes a
 * VCORE_EXIT_MMIO for the VMM; a fetch that finds L1's page-modification
 * log full is exit 62 to L1 (*handled); anything else leaves *exit as it is. */
int vcore__vcpu_nested_l0_mmio(vcore_vcpu_t *vcpu, vcore_exit_t *exit, uint64_t l1_gpa, bool *handled);
/* vcpu_nested_l0.c: a hardware exception (vector, with error when it has
 * one; payload: the faulting address of a #PF, the B3-B0, BS and RTM bits
 * of a #DB) for L2 - for its current instruction, which did not complete,
 * or a #DB trap on its boundary: the exit to L1 its exception bitmap asks
 * for (*reflected), else injected into L2 at the next entry. */
int vcore__vcpu_nested_l0_exception(vcore_vcpu_t *vcpu, uint8_t vector, uint32_t error, uint64_t cr2,
                                    vcore_exit_t *exit, bool *reflected);
/* The end of an L2 exit L0 took an exception decision for (err, reflected
 * as vcore__vcpu_nested_l0_exception() gave them): an error as it is; a VM
 * exit to L1 makes the run loop go on with L1 (*handled, not after a
 * shutdown); else L2 runs again (*again), counted as L0's. */
static inline int vcore__vcpu_nested_l0_done(vcore_vcpu_t *vcpu, int err, bool reflected, vcore_exit_t *exit,
                                             bool *handled, bool *again)
{
    if (err)
        return err;
    if (reflected) {
        *handled = vcore__vcpu_nested_l1_next(vcpu, exit);
        return VCORE_OK;
    }
    vcpu->nvmx->last.l0_handled++;
    *again = true;
    return VCORE_OK;
}
/* vcpu_nested_vmfunc.c: L2's VMFUNC, which exits to L0 whenever L1 enables
 * VM functions (vmcs02's VM-function controls are 0). *to_l1: exit 59 is
 * L1's (reflect it); else it is done: EPTP switching performed (*again:
 * re-enter L2 past it), or #UD raised in L2 (*again; *handled when L1 takes
 * the #UD; neither when that exit shut L1 down, *exit saying so). */
int vcore__vcpu_nested_vmfunc(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *again, bool *handled, bool *to_l1);
/* vcpu_nested_shadow12.c: L1's VMCS shadowing for L2. on: vmcs12 (v) has
 * "VMCS shadowing". enter: at a VM entry of L2 that passed its checks,
 * the link-pointer VMCS is read once from L1 memory when vmcs12 uses one
 * (*check 0), or the copy fails a link-pointer rule (*check its
 * VCORE_VMX_CHECK_GUEST_LINK_*: the entry fails, exit 33 qualification 4).
 * leave: the copy goes back to L1 memory when L2 wrote it, and is no
 * longer cached (the exit to L1, a VM entry that did not happen). insn:
 * L2's VMREAD or VMWRITE (basic reason 23 or 25) with vmcs12's control,
 * from vcore__vcpu_nested_l0_exit (*exit raw): completed (*again), an
 * exception for L2 (*again; *handled when L1 takes it), the exit to L1 its
 * bitmaps or an EPT fault ask for (*handled), or an operand outside L1's
 * memory for the VMM (neither; *exit stays raw). */
static inline bool vcore__vcpu_nested_shadow12_on(const vcore__vmcs12_t *v)
{
    return (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
           (v->SECONDARY_VM_EXEC_CONTROL & VCORE__PROC2_SHADOW_VMCS);
}
int vcore__vcpu_nested_shadow12_enter(vcore_vcpu_t *vcpu, uint32_t *check);
void vcore__vcpu_nested_shadow12_leave(vcore_vcpu_t *vcpu);
int vcore__vcpu_nested_shadow12_insn(vcore_vcpu_t *vcpu, uint32_t basic, vcore_exit_t *exit, bool *again,
                                     bool *handled);
/* vcpu_nested_l0.c: the VMM's reply to such an exit (in *exit), applied to
 * L2 before it runs again (*reflected: it became an exit to L1). */
int vcore__vcpu_nested_l0_reply(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected);
/* vcpu_nested_l0.c: the single-step trap after an instruction of L2 that L0
 * or the VMM completed, made pending in vmcs02 (vmcs02 current). */
int vcore__vcpu_nested_l0_step(vcore_vcpu_t *vcpu);
/* vcpu_nested_l0.c: before an NMI or external-interrupt VM exit to L1 on
 * L2's boundary (vmcs02 current, vmcs12's guest state saved): valid
 * pending debug exceptions of vmcs02 are delivered first, as a VM exit to
 * L1 (*reflected; with *shutdown *exit holds what the VMM sees instead) or
 * an injected #DB that the exit then reports as being delivered. */
int vcore__vcpu_nested_l0_dbg(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected, bool *shutdown);
/* vcpu_nested_l0.c: an event L0 delivers to L2, or L2 entered again after
 * the VMM completed its HLT (nv->l2_halted), ends L2's HLT state (vmcs02
 * current): its activity state is active again. */
int vcore__vcpu_nested_l0_wake(vcore_vcpu_t *vcpu);
/* vcpu_nested_shadow12.c: the VMM's reply to the MMIO read of L2's VMWRITE
 * operand completes the VMWRITE (*reflected: it ended in an exit to L1). */
int vcore__vcpu_nested_shadow12_reply(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected);
/* vcpu_nested_exit.c: vmcs12's rarely-read guest fields from vmcs02 (when L1 or the core reads them). */
int vcore__vcpu_nested_sync_rare(vcore_vcpu_t *vcpu);
/* vcpu_nested_exit.c: every guest field of vmcs12 from vmcs02 while L2
 * runs, as an exit to L1 would save them (nested-state export). */
int vcore__vcpu_nested_sync_guest(vcore_vcpu_t *vcpu);
/* vcpu_nested_exit.c: the field is one of the lazily synced guest fields. */
bool vcore__vcpu_nested_is_rare(uint32_t encoding);

/* vcpu_nested_ept.c: nested EPT. */
/* vmcs12 enables EPT for L2 (secondary controls active, bit 1). */
bool vcore__vcpu_nested_l1_ept(vcore_vcpu_t *vcpu);
/* The backend and host offer what ept02 needs (INVEPT, pages, physical addresses). */
bool vcore__vcpu_nested_ept02_usable(const vcore_vcpu_t *vcpu);
/* Before an entry of vmcs02 (current): its EPT pointer is ept02's for
 * vmcs12's EPT pointer, or L0's when L1 does not enable EPT. */
int vcore__vcpu_nested_ept02_sync(vcore_vcpu_t *vcpu);
/* Without L1's EPT, L2's PAE PDPTEs from memory at its CR3 into vmcs02
 * when vmcs02 runs on L0's EPT (each entry of L1). */
int vcore__vcpu_nested_ept_pdptes(vcore_vcpu_t *vcpu);
/* Routes of an EPT exit of L2 (vcore__vcpu_nested_ept02_exit). */
#define VCORE__NESTED_EPT_L0 0u  /* ept02 now maps it: resume L2 */
#define VCORE__NESTED_EPT_L1 1u  /* reflect to L1 (vmcs12 and *e hold exit 48 or 49) */
#define VCORE__NESTED_EPT_VMM 2u /* *exit holds what the VMM sees */
#define VCORE__NESTED_EPT_DONE 3u /* L1 got an exit instead (*exit says whether it shut down) */
/* An EPT violation or misconfiguration of vmcs02 while L1 enables EPT
 * (vmcs12's exit information already copied from vmcs02). */
int vcore__vcpu_nested_ept02_exit(vcore_vcpu_t *vcpu, vcore_nvmx_l2_exit_t *e, vcore_exit_t *exit, uint32_t *route);
/* L1's INVEPT (type 1 single-context with eptp12, 2 all-context), VMXOFF (2). */
void vcore__vcpu_nested_ept02_invept(vcore_vcpu_t *vcpu, uint32_t type, uint64_t eptp12);
/* Teardown and RESET: every ept02 dropped, the pool back to the host. */
void vcore__vcpu_nested_ept02_fini(vcore_vcpu_t *vcpu);
/* vcpu_nested_vpid.c: L2's VPID (vpid02). */
/* Asks the backend for vpid02 once (before the first vmcs02 is built). */
int vcore__vcpu_nested_vpid_setup(vcore_vcpu_t *vcpu);
/* "enable VPID" of vmcs12 runs on vpid02 (the backend gave one). */
bool vcore__vcpu_nested_vpid_on(vcore_vcpu_t *vcpu);
/* At an entry from L1: vpid02 flushed when vmcs12's VPID is not the one L2 last ran with. */
int vcore__vcpu_nested_vpid_enter(vcore_vcpu_t *vcpu);
/* At an exit to L1 whose vmcs12 has no "enable VPID": L1's own
 * translations flushed, as the VM entry and exit would. */
int vcore__vcpu_nested_vpid_leave(vcore_vcpu_t *vcpu);
/* L1's INVVPID that succeeded: type 0-3, the descriptor's VPID and linear address. */
int vcore__vcpu_nested_vpid_invvpid(vcore_vcpu_t *vcpu, uint32_t type, uint16_t vpid, uint64_t addr);
/* vcpu_nested_apic.c: L1's TPR shadow and APIC-access page for L2. */
/* The host can give physical addresses (vmcs02 names L1's pages by them). */
bool vcore__vcpu_nested_apic_usable(const vcore_vcpu_t *vcpu);
/* At an entry of L1 (vmcs02 current): vmcs02's virtual-APIC and
 * APIC-access addresses, the host pages behind vmcs12's. */
int vcore__vcpu_nested_apic_enter(vcore_vcpu_t *vcpu);
/* Before L2 runs again: both looked up again if L0's memory map changed. */
int vcore__vcpu_nested_apic_sync(vcore_vcpu_t *vcpu);
/* Whether vmcs12's TPR threshold makes the processor exit right after the
 * entry ("VM Exits Induced by the TPR Threshold"). */
bool vcore__vcpu_nested_apic_tpr_exit(vcore_vcpu_t *vcpu);
/* vmcs02 rebuilt: its address fields are written again at the next entry. */
void vcore__vcpu_nested_apic_forget(vcore_vcpu_t *vcpu);
/* The host address of the page of L0's memory behind an L1-physical
 * address (for a page written through it, writable memory), or NULL; valid
 * while the VM's memory-map generation stays the same. */
const uint8_t *vcore__vcpu_nested_apic_page(const vcore_vcpu_t *vcpu, uint64_t gpa, bool write);
/* vcpu_nested_msrbmp.c: vmcs02's MSR bitmap ("MSR-Bitmap Address"). */
/* With vmcs02: its page from the host and L0's answers (no page when the
 * host or the processor cannot give one: every MSR access then exits). */
int vcore__vcpu_nested_msrbmp_setup(vcore_vcpu_t *vcpu);
/* Whether vmcs02 can have the page: the processor's "use MSR bitmaps"
 * (hw_proc: its allowed-1 primary controls) and the host's pages. */
bool vcore__vcpu_nested_msrbmp_usable(const vcore_vcpu_t *vcpu, uint32_t hw_proc);
/* Once per vmcs02 (current): its MSR-bitmap address field. */
int vcore__vcpu_nested_msrbmp_const(vcore_vcpu_t *vcpu);
/* At an entry from L1: the page follows L1's bitmap (candidates written
 * on change only). Inline: every entry runs it, and most have nothing to
 * do - no candidate L0 lets through and no "virtualize x2APIC mode" of
 * L1's, or no bitmap of L1's while the page lets nothing through
 * (msrbmp_l0, msrbmp02_cur and msrbmp02_x2apic are 0 without a page). */
void vcore__vcpu_nested_msrbmp_update(vcore_vcpu_t *vcpu);
static inline void vcore__vcpu_nested_msrbmp_enter(vcore_vcpu_t *vcpu)
{
    const vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    if (((v->CPU_BASED_VM_EXEC_CONTROL & VCORE__PROC_MSR_BITMAPS) &&
         (nv->msrbmp_l0 || (v->SECONDARY_VM_EXEC_CONTROL & VCORE__PROC2_X2APIC))) ||
        nv->msrbmp02_cur || nv->msrbmp02_x2apic)
        vcore__vcpu_nested_msrbmp_update(vcpu);
}
/* Teardown and RESET: the page back to the host. */
void vcore__vcpu_nested_msrbmp_fini(vcore_vcpu_t *vcpu);
/* vcpu_nested_shadow.c: which fields the backend's processor shadows (hw:
 * its capabilities), at vCPU setup. */
void vcore__vcpu_nested_shadow_setup(vcore_vcpu_t *vcpu, const vcore_nvmx_caps_t *hw);
/* vcpu_nested_shadow.c: L1's writes in the shadow VMCS into vmcs12 (before
 * an instruction that reads or writes back vmcs12 as a whole). */
int vcore__vcpu_nested_shadow_pull(vcore_vcpu_t *vcpu);
/* vcpu_nested_shadow.c: unlinks and frees the shadow VMCS (teardown, RESET). */
void vcore__vcpu_nested_shadow_teardown(vcore_vcpu_t *vcpu);

#endif /* VCORE_CORE_VCPU_NESTED_H */
