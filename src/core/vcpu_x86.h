/*
 * vcpu_x86.h - the x86 part of the vCPU object: setup and RESET/INIT of the
 * model, event delivery policy, the run loop's dispatch step and nested
 * VMX (vcpu_x86.c, vcpu_events.c, vcpu_nested.c).
 */
#ifndef VCORE_CORE_VCPU_X86_H
#define VCORE_CORE_VCPU_X86_H

#include "object.h"
#include "x86/x86.h"

/* The state group holding GPR number gpr (RSP is a group of its own). */
static inline uint32_t vcore__x86_gpr_group(uint32_t gpr)
{
    return (gpr & 15u) == VCORE_X86_RSP ? VCORE_X86_STATE_RSP : VCORE_X86_STATE_GPRS;
}

/* The groups the control-register rules read (vcore__x86_check_crs()). */
#define VCORE__CR_GROUPS (VCORE_X86_STATE_CRS | VCORE_X86_STATE_EFER)

/* Groups whose values feed the runtime CPUID bits (CR4, APIC base, MISC_ENABLE, XCR0). */
#define VCORE__RUNTIME_GROUPS (VCORE_X86_STATE_CR4 | VCORE_X86_STATE_MSRS | VCORE_X86_STATE_XCR0)

/* vcpu_cpuid.c: re-mirrors the runtime CPUID bits after a state change. */
void vcore__vcpu_cpuid_refresh(vcore_vcpu_t *vcpu);
/* vcpu_cpuid.c: the vendor whose rules apply to the vCPU now. */
uint32_t vcore__vcpu_vendor(const vcore_vcpu_t *vcpu);

/* vcpu_x86.c: first-time setup of the x86 part (no CPUID table yet). */
void vcore__vcpu_x86_setup(vcore_vcpu_t *vcpu, uint32_t vendor);
/* vcpu_x86.c: RESET (init == false) or INIT of the model; RESET also leaves VMX operation. */
void vcore__vcpu_x86_reset(vcore_vcpu_t *vcpu, bool init);
/* vcpu_x86.c: after each exit. *handled is set when the core completed
 * the exit and the guest must re-enter. */
int vcore__vcpu_x86_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);

/* vcpu_events.c: the core queued an event that needs its delivery policy. */
bool vcore__vcpu_events_queued(const vcore_vcpu_t *vcpu);
/* vcpu_events.c: before each entry. Delivers queued events as the
 * architecture allows; *made is set when the core produced the exit itself
 * (the guest must not run: a triple fault). */
int vcore__vcpu_events_before_entry(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *made);
/* vcpu_events.c: the core wants an interrupt window (more interrupts wait
 * than the event state holds); the event group must be current. */
void vcore__vcpu_events_want_irq_window(vcore_vcpu_t *vcpu);
/* vcpu_events.c: an interrupt or NMI window exit; *handled when only the core had asked for it. */
int vcore__vcpu_events_window(vcore_vcpu_t *vcpu, const vcore_exit_t *exit, bool *handled);
/* vcpu_events.c: the NMI and external interrupt the core holds for the
 * guest (VCORE__EVENTS_HELD_* bits). */
#define VCORE__EVENTS_HELD_NMI (1u << 0)
#define VCORE__EVENTS_HELD_INTR (1u << 1)
uint32_t vcore__vcpu_events_held(const vcore_vcpu_t *vcpu);
/* vcpu_events.c: the pending external interrupt was acknowledged outside
 * the guest (nested VMX: "acknowledge interrupt on exit" to L1). */
void vcore__vcpu_events_acked(vcore_vcpu_t *vcpu);
/* vcpu_events.c: the NMI pending for the vCPU caused a VM exit to L1
 * (L1's "NMI exiting", SDM Vol. 3, "Other Causes of VM Exits"): no longer
 * pending, and blocking by NMI in effect after the exit, as after an NMI
 * delivered through the IDT, until L1's IRET. */
void vcore__vcpu_events_nmi_exited(vcore_vcpu_t *vcpu);
/* vcpu_events.c: the acknowledgment taken back - the interrupt (its vector
 * kept) pending again, as before vcore__vcpu_events_acked(). */
void vcore__vcpu_events_unacked(vcore_vcpu_t *vcpu);
/* vcpu_events.c: raises an exception from inside the core (e.g. the #UD or
 * #GP of an emulated instruction). */
int vcore__vcpu_raise_exception(vcore_vcpu_t *vcpu, uint32_t vector, uint32_t error_code,
                                bool has_payload, uint64_t payload);

/* vcpu_nested.c: sets up nested VMX in mem (len bytes). */
int vcore__vcpu_nested_setup(vcore_vcpu_t *vcpu, void *mem, size_t len,
                             const vcore_vcpu_config_t *cfg);
/* vcpu_nested.c: RESET leaves VMX operation. */
void vcore__vcpu_nested_reset(vcore_vcpu_t *vcpu);
/* vcpu_nested.c: INIT is blocked (latched) in VMX root operation. */
bool vcore__vcpu_nested_blocks_init(const vcore_vcpu_t *vcpu);
/* vcpu_nested.c: L1's VMX instruction. *handled when the core completed it. */
int vcore__vcpu_nested_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);
/* vcpu_nested.c: L1's RDMSR/WRMSR of a VMX capability MSR (reply filled, *handled). */
int vcore__vcpu_nested_msr(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);

/* vcpu_cr.c: a control-register access. *handled (always) once completed or faulted. */
int vcore__vcpu_cr_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);
/* vcpu_cr.c: an instruction the core emulated completed: RIP past it, no STI/MOV-SS blocking. */
int vcore__vcpu_x86_complete(vcore_vcpu_t *vcpu, uint32_t insn_len);
/* vcpu_msr.c: RDMSR/WRMSR of a modelled MSR: reply filled, *handled. */
int vcore__vcpu_msr_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);
/* vcpu_x86.c: the exit being answered (a VMM reply or the core's) faults: a
 * refused RDMSR/WRMSR raises #GP(0) when the backend does not. */
int vcore__vcpu_x86_answer(vcore_vcpu_t *vcpu, uint32_t answering, vcore_exit_t *exit);
/* vcpu_nested.c: after a backend run, L1's VMREAD/VMWRITE with register
 * operands of a shadowed field, when no #GP or VMfail condition applies,
 * completed in place and L1 entered again, as long as its exits are such
 * instructions; exit is then the first other one (or an error). */
int vcore__vcpu_nested_fast(vcore_vcpu_t *vcpu, vcore_exit_t *exit);
/* vcpu_nested_msr02.c: the vCPU's IA32_EFER and IA32_PAT are L2's, held
 * in vmcs02, from the VM entry that loaded them until the exit to L1.
 * held: index is one of them and L2's is live. get: L2's value. set: the
 * VMM's write of L2's value, with WRMSR's checks (VCORE_ERR_INVAL and the
 * rule in last_diag where WRMSR would be #GP(0); nothing changed). */
bool vcore__vcpu_nested_msr02_held(const vcore_vcpu_t *vcpu, uint32_t index);
uint64_t vcore__vcpu_nested_msr02_get(const vcore_vcpu_t *vcpu, uint32_t index);
int vcore__vcpu_nested_msr02_set(vcore_vcpu_t *vcpu, uint32_t index, uint64_t value);
/* vcpu_nested.c: an INIT for a vCPU running L2 (VMX non-root operation):
 * *to_l1 when it becomes the VM exit to L1 the next run takes; false
 * otherwise (no L2, or L2 in the wait-for-SIPI state, which blocks it). */
int vcore__vcpu_nested_init_l2(vcore_vcpu_t *vcpu, bool *to_l1);
/* vcpu_nested_debugctl.c: L2's DR7 is the vCPU's, held in vmcs02, from the
 * VM entry that loaded it until the exit to L1. held: it is live. get: L2's
 * DR7. set: the VMM's write of L2's DR7 (checked by the caller). */
bool vcore__vcpu_nested_dr7_held(const vcore_vcpu_t *vcpu);
int vcore__vcpu_nested_dr7_get(vcore_vcpu_t *vcpu, uint64_t *dr7);
int vcore__vcpu_nested_dr7_set(vcore_vcpu_t *vcpu, uint64_t dr7);
/* vcpu_nested.c: runs L2; *l1 when an exit was reflected and L1 runs next. */
int vcore__vcpu_nested_resume_l2(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *l1);
/* vcpu_nested.c: releases vmcs02 (vCPU teardown, RESET). */
void vcore__vcpu_nested_teardown(vcore_vcpu_t *vcpu);
/* vcpu_nested_shadow.c: before L1 runs after the pipeline ran: "VMCS
 * shadowing" of vmcs01 on or off, then vmcs12 -> shadow VMCS. Only when
 * vcore__vcpu_nested_shadow_due() (vcpu_nested.h). */
int vcore__vcpu_nested_shadow_before_l1(vcore_vcpu_t *vcpu);
/* vcpu_nested_svm.c: nested SVM - setup in mem, RESET, L1's SVM
 * instructions, RDMSR/WRMSR of VM_HSAVE_PA. */
int vcore__vcpu_nsvm_setup(vcore_vcpu_t *vcpu, void *mem, size_t len, const vcore_vcpu_config_t *cfg);
void vcore__vcpu_nsvm_reset(vcore_vcpu_t *vcpu);
int vcore__vcpu_nsvm_dispatch(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);
int vcore__vcpu_nsvm_msr(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);
/* vcpu_nested_svm_run.c: L2 runs on the backend's hardware vmcb02. */
bool vcore__vcpu_nsvm_in_l2(const vcore_vcpu_t *vcpu);
/* Writes vmcb02 for an L2 that VMRUN entered (res: its outcome). */
int vcore__vcpu_nsvm_enter_l2(vcore_vcpu_t *vcpu, const vcore_nsvm_result_t *res);
/* Runs L2 until an exit for the VMM (*l1 false) or a #VMEXIT to L1 (*l1
 * true: the model holds L1's state, the loop goes on with L1). */
int vcore__vcpu_nsvm_run_l2(vcore_vcpu_t *vcpu, vcore_exit_t *exit, uint32_t answering, bool *l1);
/* L2's state while it runs on hw02: the vCPU's state with what L2 holds
 * in hw02 over it (load), and back (store: L2's part to hw02, the state
 * L1 and L2 share to the vCPU). The register accessors use them while L2
 * runs (vcpu_regs.c). */
int vcore__vcpu_nsvm_l2_load(vcore_vcpu_t *vcpu, vcore_x86_state_t *st);
int vcore__vcpu_nsvm_l2_store(vcore_vcpu_t *vcpu, const vcore_x86_state_t *st);
/* Frees the hardware vmcb02. */
void vcore__vcpu_nsvm_teardown(vcore_vcpu_t *vcpu);
/* vcpu_nested.c: the vCPU's CPUID changed (MAXPHYADDR follows it). */
void vcore__vcpu_nested_cpuid_changed(vcore_vcpu_t *vcpu);

#endif /* VCORE_CORE_VCPU_X86_H */
