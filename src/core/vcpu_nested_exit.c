/*
 * vcpu_nested_exit.c - exits from L2: decide who owns them, reflect the ones
 * L1 wants (SDM Vol. 3, "VM Exits"), handle L0's own.
 *
 * Reflection writes vmcs12's exit-information fields, syncs the guest state
 * that can have changed, stores the VM-exit MSR-store list, loads L1's host
 * state into the vCPU model ("Loading Host State"), loads the VM-exit
 * MSR-load list and, when that fails, performs a VMX abort ("VMX Aborts").
 * An entry of either list naming an MSR the VMM models waits for the VMM
 * (an RDMSR or WRMSR exit, vcpu_nested_msrlist.c): the exit goes on from
 * there with its reply.
 *
 * Rarely accessed guest fields are synced only when needed:
 * segment selectors, limits, bases, most access rights, pending debug
 * exceptions and BNDCFGS change rarely and L1 rarely reads them; they stay
 * in vmcs02 until L1's VMREAD (or the core) needs them.
 */
#include "vcpu_nested.h"

#include "x86/vmx/check_priv.h"

#include "virtcore/x86/vmx_exits.h"

/* The eagerly synced guest fields: every exit to L1 reads them. X(name,
 * its vmcs12 type, the bits vmcs12 keeps: access rights only those the SDM
 * defines, "Guest Register State"). */
#define NESTED_EAGER(X)                                                                            \
    X(GUEST_RIP, uint64_t, ~0ull) X(GUEST_RSP, uint64_t, ~0ull) X(GUEST_RFLAGS, uint64_t, ~0ull)    \
    X(GUEST_CR0, uint64_t, ~0ull) X(GUEST_CR3, uint64_t, ~0ull) X(GUEST_CR4, uint64_t, ~0ull)       \
    X(GUEST_INTERRUPTIBILITY_INFO, uint32_t, 0xffffffffull)                                        \
    X(GUEST_CS_AR_BYTES, uint32_t, VCORE__VMCS_AR_KEEP) X(GUEST_SS_AR_BYTES, uint32_t, VCORE__VMCS_AR_KEEP)

/* The rarely-read guest fields, synced lazily. */
#define NESTED_RARE(X)                                                                             \
    X(GUEST_ES_SELECTOR) X(GUEST_CS_SELECTOR) X(GUEST_SS_SELECTOR) X(GUEST_DS_SELECTOR)            \
    X(GUEST_FS_SELECTOR) X(GUEST_GS_SELECTOR) X(GUEST_LDTR_SELECTOR) X(GUEST_TR_SELECTOR)          \
    X(GUEST_ES_LIMIT) X(GUEST_CS_LIMIT) X(GUEST_SS_LIMIT) X(GUEST_DS_LIMIT) X(GUEST_FS_LIMIT)      \
    X(GUEST_GS_LIMIT) X(GUEST_LDTR_LIMIT) X(GUEST_TR_LIMIT) X(GUEST_GDTR_LIMIT) X(GUEST_IDTR_LIMIT) \
    X(GUEST_ES_AR_BYTES) X(GUEST_DS_AR_BYTES) X(GUEST_FS_AR_BYTES) X(GUEST_GS_AR_BYTES)            \
    X(GUEST_LDTR_AR_BYTES) X(GUEST_TR_AR_BYTES)                                                    \
    X(GUEST_ES_BASE) X(GUEST_CS_BASE) X(GUEST_SS_BASE) X(GUEST_DS_BASE) X(GUEST_FS_BASE)           \
    X(GUEST_GS_BASE) X(GUEST_LDTR_BASE) X(GUEST_TR_BASE) X(GUEST_GDTR_BASE) X(GUEST_IDTR_BASE)     \
    X(GUEST_PENDING_DBG_EXCEPTIONS) X(GUEST_BNDCFGS)

/* The rare fields by row (VCORE__ROW_*: no lookup). */
#define NESTED_ROW(name) VCORE__ROW_##name,
static const uint16_t nested_rare[] = {NESTED_RARE(NESTED_ROW)};
#undef NESTED_ROW

bool vcore__vcpu_nested_is_rare(uint32_t encoding)
{
    /* O(1) over the encodings of NESTED_RARE: guest selectors 0800H-080EH,
     * limits 4800H-4812H, access rights 4814H-4822H except CS (4816H) and
     * SS (4818H), bases 6806H-6818H, pending debug exceptions, BNDCFGS.
     * DR7 is not: only "save debug controls" stores it, at the exit
     * (vcpu_nested_debugctl.c). */
    uint32_t e = encoding;
    if (e == VCORE_VMCS_GUEST_BNDCFGS || e == VCORE_VMCS_GUEST_BNDCFGS_HIGH ||
        e == VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS)
        return true;
    return (e >= VCORE_VMCS_GUEST_ES_SELECTOR && e <= VCORE_VMCS_GUEST_TR_SELECTOR) ||
           (e >= VCORE_VMCS_GUEST_ES_LIMIT && e <= VCORE_VMCS_GUEST_IDTR_LIMIT) ||
           (e >= VCORE_VMCS_GUEST_ES_AR_BYTES && e <= VCORE_VMCS_GUEST_TR_AR_BYTES &&
            e != VCORE_VMCS_GUEST_CS_AR_BYTES && e != VCORE_VMCS_GUEST_SS_AR_BYTES) ||
           (e >= VCORE_VMCS_GUEST_ES_BASE && e <= VCORE_VMCS_GUEST_IDTR_BASE);
}

/* Whether L1 wrote the field of row id since the last entry. */
static inline bool vcore__vcpu_nested_row_is_dirty(const vcore_nvmx_t *nv, uint32_t id)
{
    return (nv->dirty[id / 64] >> (id % 64)) & 1u;
}

/* vmcs02 -> vmcs12 for a list of guest fields by row; a field L1 wrote
 * since the exit (dirty) keeps L1's value. */
static int vcore__vcpu_nested_pull(vcore_vcpu_t *vcpu, const uint16_t *rows, size_t n)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    uint8_t *page = (uint8_t *)nv->vmcs12;
    for (size_t i = 0; i < n; i++) {
        const vcore__vmcs_row_t *r = &vcore__vmcs_rows[rows[i]];
        /* A field L1 wrote keeps L1's value; one the processor lacks is
         * not in vmcs02 (vmcs12 keeps what L1 wrote). */
        if (vcore__vcpu_nested_row_is_dirty(nv, rows[i]) || !vcore__vmcs_row_present(r, nv->hw_allowed1))
            continue;
        uint64_t v;
        int err = vcore__vcpu_nested_rd(vcpu, r->encoding, &v);
        if (err)
            return err;
        uint64_t old = vcore__vmcs12_load(page, r);
        vcore__vmcs12_store(page, r, v);
        if (vcore__vmcs12_load(page, r) != old)
            vcore__nvmx_changed_id(nv, rows[i]);
    }
    return VCORE_OK;
}

/* The eager fields as one batch of reads of vmcs02, then the guest
 * interrupt status with L1's virtual-interrupt delivery, the activity state
 * and the preemption timer value when the exit saves them; the _tmr lists
 * serve an exit that saves the timer but not the activity. The guest
 * interrupt status is eager, not lazy: the processor changes it while L2
 * runs (virtual-interrupt delivery, EOI virtualization) and L1 reads it
 * without an exit where the shadow VMCS holds it. */
#define NESTED_ENC(name, type, keep) VCORE_VMCS_##name,
#define NESTED_EAGER_ENC NESTED_EAGER(NESTED_ENC)
static const uint32_t nested_eager_act[] = {NESTED_EAGER_ENC VCORE_VMCS_GUEST_ACTIVITY_STATE,
                                            VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE};
static const uint32_t nested_eager_tmr[] = {NESTED_EAGER_ENC VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE};
static const uint32_t nested_eager_vid_act[] = {NESTED_EAGER_ENC VCORE_VMCS_GUEST_INTR_STATUS,
                                                VCORE_VMCS_GUEST_ACTIVITY_STATE,
                                                VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE};
static const uint32_t nested_eager_vid_tmr[] = {NESTED_EAGER_ENC VCORE_VMCS_GUEST_INTR_STATUS,
                                                VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE};
#undef NESTED_EAGER_ENC
#undef NESTED_ENC
#define NESTED_EAGER_N (VCORE__ARRAY_SIZE(nested_eager_tmr) - 1u)
/* [virtual-interrupt delivery][timer without activity]. */
static const uint32_t *const nested_eager_lists[2][2] = {{nested_eager_act, nested_eager_tmr},
                                                         {nested_eager_vid_act, nested_eager_vid_tmr}};

/* One field of the batch (the next of val) into vmcs12 by its compile-time
 * member and row, unless L1 wrote it since the exit. */
#define NESTED_SAVE(name, type, keep)                                                              \
    if (!vcore__vcpu_nested_row_is_dirty(nv, VCORE__ROW_##name) && v->name != (type)(*val & (keep))) { \
        v->name = (type)(*val & (keep));                                                           \
        vcore__nvmx_changed_id(nv, VCORE__ROW_##name);                                             \
    }                                                                                              \
    val++;

int vcore__vcpu_nested_sync_rare(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!nv->rare_stale)
        return VCORE_OK;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_pull(vcpu, nested_rare, VCORE__ARRAY_SIZE(nested_rare));
    if (err)
        return err;
    nv->rare_stale = false;
    return VCORE_OK;
}

/* Exit-information fields each basic reason defines (SDM Vol. 3, "Basic
 * VM-Exit Information", "Information for VM Exits Due to Vectored Events",
 * "Information for VM Exits That Occur During Event Delivery",
 * "Information for VM Exits Due to Instruction Execution"). */
#define INFO_QUAL (1u << 0)
#define INFO_INTR (1u << 1)
#define INFO_IDT (1u << 2)
#define INFO_LEN (1u << 3)
#define INFO_II (1u << 4)
#define INFO_GLA (1u << 5)
#define INFO_GPA (1u << 6)

static uint32_t vcore__vcpu_nested_info(uint32_t basic)
{
    switch (basic) {
    case VCORE_VMX_EXIT_EXCEPTION_NMI:
        return INFO_QUAL | INFO_INTR | INFO_IDT | INFO_LEN;
    case VCORE_VMX_EXIT_EXTERNAL_INTERRUPT:
        /* A host interrupt can arrive while an injected event is delivered. */
        return INFO_INTR | INFO_IDT;
    case VCORE_VMX_EXIT_TASK_SWITCH:
        return INFO_QUAL | INFO_IDT | INFO_LEN;
    case VCORE_VMX_EXIT_APIC_ACCESS:
        return INFO_QUAL | INFO_IDT;
    case VCORE_VMX_EXIT_EPT_VIOLATION:
        return INFO_QUAL | INFO_IDT | INFO_GLA | INFO_GPA;
    case VCORE_VMX_EXIT_EPT_MISCONFIG:
        return INFO_IDT | INFO_GPA;
    case VCORE_VMX_EXIT_INVLPG:
    case VCORE_VMX_EXIT_CR_ACCESS:
    case VCORE_VMX_EXIT_DR_ACCESS:
    case VCORE_VMX_EXIT_APIC_WRITE:
    case VCORE_VMX_EXIT_VIRTUALIZED_EOI:
        return INFO_QUAL | INFO_LEN;
    case VCORE_VMX_EXIT_IO_INSTRUCTION:
        return INFO_QUAL | INFO_LEN | INFO_II | INFO_GLA;
    case VCORE_VMX_EXIT_VMCLEAR:
    case VCORE_VMX_EXIT_VMPTRLD:
    case VCORE_VMX_EXIT_VMPTRST:
    case VCORE_VMX_EXIT_VMREAD:
    case VCORE_VMX_EXIT_VMWRITE:
    case VCORE_VMX_EXIT_VMXON:
    case VCORE_VMX_EXIT_INVEPT:
    case VCORE_VMX_EXIT_INVVPID:
    case VCORE_VMX_EXIT_INVPCID:
    case VCORE_VMX_EXIT_GDTR_IDTR_ACCESS:
    case VCORE_VMX_EXIT_LDTR_TR_ACCESS:
    case VCORE_VMX_EXIT_XSAVES:
    case VCORE_VMX_EXIT_XRSTORS:
        return INFO_QUAL | INFO_LEN | INFO_II;
    case VCORE_VMX_EXIT_RDRAND:
    case VCORE_VMX_EXIT_RDSEED:
        return INFO_LEN | INFO_II;
    case VCORE_VMX_EXIT_CPUID:
    case VCORE_VMX_EXIT_GETSEC:
    case VCORE_VMX_EXIT_HLT:
    case VCORE_VMX_EXIT_INVD:
    case VCORE_VMX_EXIT_RDPMC:
    case VCORE_VMX_EXIT_RDTSC:
    case VCORE_VMX_EXIT_RSM:
    case VCORE_VMX_EXIT_VMCALL:
    case VCORE_VMX_EXIT_VMLAUNCH:
    case VCORE_VMX_EXIT_VMRESUME:
    case VCORE_VMX_EXIT_VMXOFF:
    case VCORE_VMX_EXIT_RDMSR:
    case VCORE_VMX_EXIT_WRMSR:
    case VCORE_VMX_EXIT_MWAIT:
    case VCORE_VMX_EXIT_MONITOR:
    case VCORE_VMX_EXIT_PAUSE:
    case VCORE_VMX_EXIT_RDTSCP:
    case VCORE_VMX_EXIT_WBINVD:
    case VCORE_VMX_EXIT_XSETBV:
    case VCORE_VMX_EXIT_VMFUNC:
    case VCORE_VMX_EXIT_ENCLS:
        return INFO_LEN;
    default:
        return 0;
    }
}

/* The exit-information fields the reason defines, from vmcs02 (current)
 * into nv->x02 - not into vmcs12: an exit L0 keeps is not L1's to see. */
static int vcore__vcpu_nested_exit_info(vcore_vcpu_t *vcpu, uint32_t reason, uint32_t info,
                                        vcore_nvmx_l2_exit_t *e)
{
    vcore__nvmx_exit02_t *o = &vcpu->nvmx->x02;
    uint64_t x = 0;
    int err = VCORE_OK;
    vcore__memset(o, 0, sizeof(*o));
    o->reason = reason;
    if (info & INFO_QUAL) {
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_EXIT_QUALIFICATION, &x);
        o->qual = x;
        o->have |= VCORE__X02_QUAL;
        e->qualification = x;
    }
    if (!err && (info & INFO_INTR)) {
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_VM_EXIT_INTR_INFO, &x);
        o->intr_info = (uint32_t)x;
        o->have |= VCORE__X02_INTR;
        e->intr_info = (uint32_t)x;
        /* Bit 11: an error code was delivered ("VM-Exit Interruption-Information Field"). */
        if (!err && (x & (1u << 11))) {
            err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_VM_EXIT_INTR_ERROR_CODE, &x);
            o->intr_error = (uint32_t)x;
            o->have |= VCORE__X02_INTR_ERR;
            e->intr_error = (uint32_t)x;
        }
    }
    if (!err && (info & INFO_IDT)) {
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_IDT_VECTORING_INFO_FIELD, &x);
        o->idt = (uint32_t)x;
        o->have |= VCORE__X02_IDT;
        uint32_t idt = (uint32_t)x, idt_type = (idt >> 8) & 7u;
        if (!err && (idt & (1u << 31)) && (idt & (1u << 11))) {
            err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_IDT_VECTORING_ERROR_CODE, &x);
            o->idt_error = (uint32_t)x;
            o->have |= VCORE__X02_IDT_ERR;
        }
        /* "Information for VM Exits Due to Instruction Execution" (VM-exit
         * instruction length): an exit for a fault encountered while
         * delivering a software interrupt, privileged software exception or
         * software exception (IDT-vectoring types 4, 5, 6) saves that
         * instruction's length (an EPT violation, say; for an exception
         * exit, reason 0, the INFO_LEN case below). */
        if (!err && !(info & INFO_LEN) && (idt & (1u << 31)) && idt_type >= 4u && idt_type <= 6u) {
            err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, &x);
            o->insn_len = (uint32_t)x;
            o->have |= VCORE__X02_LEN;
        }
    }
    /* #BP/#OF (software exceptions, type 6) and software interrupts report
     * the instruction length too (CVE-2016-9588 class: L1 needs it to
     * re-inject them with the right length), and so does any exception
     * exit - a #PF, say - for a fault encountered while delivering one of
     * them or an INT n (IDT-vectoring types 4, 5, 6). */
    if (!err && (info & INFO_LEN)) {
        uint32_t type = (o->intr_info >> 8) & 7u, idt_type = (o->idt >> 8) & 7u;
        if (VCORE_VMX_EXIT_REASON_BASIC(reason) != VCORE_VMX_EXIT_EXCEPTION_NMI || type == 4u ||
            type == 5u || type == 6u || ((o->idt & (1u << 31)) && idt_type >= 4u && idt_type <= 6u)) {
            err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, &x);
            o->insn_len = (uint32_t)x;
            o->have |= VCORE__X02_LEN;
        }
    }
    if (!err && (info & INFO_II)) {
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_VMX_INSTRUCTION_INFO, &x);
        o->insn_info = (uint32_t)x;
        o->have |= VCORE__X02_II;
    }
    if (!err && (info & INFO_GLA)) {
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_LINEAR_ADDRESS, &x);
        o->gla = x;
        o->have |= VCORE__X02_GLA;
    }
    if (!err && (info & INFO_GPA)) {
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS, &x);
        o->gpa = x;
        o->have |= VCORE__X02_GPA;
    }
    return err;
}

/* The exit is L1's: its information goes into vmcs12. The qualification,
 * interruption and IDT-vectoring information read as 0 (not valid) where
 * the reason does not define them; the other fields keep their value
 * unless the exit wrote them. */
/* An exit-information field of vmcs12 takes a value; a change marks its
 * shadow-VMCS entry stale (no entry rule reads exit information). */
#define NESTED_INFO(name, value)                                                                   \
    do {                                                                                           \
        if (v->name != (value)) {                                                                  \
            v->name = (value);                                                                     \
            nv->hw_stale |= vcore__nvmx_shadow_row_bit[VCORE__ROW_##name];                         \
        }                                                                                          \
    } while (0)

static void vcore__vcpu_nested_exit_commit(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__nvmx_exit02_t *o = &nv->x02;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    NESTED_INFO(VM_EXIT_REASON, o->reason);
    NESTED_INFO(EXIT_QUALIFICATION, o->qual);
    NESTED_INFO(VM_EXIT_INTR_INFO, o->intr_info);
    NESTED_INFO(IDT_VECTORING_INFO_FIELD, o->idt);
    if (o->have & VCORE__X02_INTR_ERR)
        NESTED_INFO(VM_EXIT_INTR_ERROR_CODE, o->intr_error);
    if (o->have & VCORE__X02_IDT_ERR)
        NESTED_INFO(IDT_VECTORING_ERROR_CODE, o->idt_error);
    if (o->have & VCORE__X02_LEN)
        NESTED_INFO(VM_EXIT_INSTRUCTION_LEN, o->insn_len);
    if (o->have & VCORE__X02_II)
        NESTED_INFO(VMX_INSTRUCTION_INFO, o->insn_info);
    if (o->have & VCORE__X02_GLA)
        NESTED_INFO(GUEST_LINEAR_ADDRESS, o->gla);
    if (o->have & VCORE__X02_GPA)
        NESTED_INFO(GUEST_PHYSICAL_ADDRESS, o->gpa);
}

/* The guest state that can change without an exit to L0: the eager set,
 * the activity state when L2 can halt on its own, the preemption timer
 * when L1 saves it. */
/* L2's IA32_EFER at the exit, as "Saving Guest State" ("save IA32_EFER")
 * and "Saving MSRs" see it: L2's value (vcpu_nested_efer.c), whether or not
 * L1 loaded it, with LMA following L2's mode (CR0.PG, LME and the IA-32e
 * mode guest control, which the exit has just saved into vmcs12). */
static uint64_t vcore__vcpu_nested_exit_efer(vcore_vcpu_t *vcpu)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint64_t efer2 = vcore__vcpu_nested_efer_l2(vcpu, v->GUEST_IA32_EFER);
    bool lma = (v->GUEST_CR0 & VCORE__CR0_PG) && (efer2 & VCORE__EFER_LME) && (v->VM_ENTRY_CONTROLS & VCORE__ENTRY_IA32E);
    return lma ? (efer2 | VCORE__EFER_LMA) : (efer2 & ~VCORE__EFER_LMA);
}

static int vcore__vcpu_nested_save_guest(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    /* Primary control 7: without HLT exiting in vmcs02, L2 may be halted. */
    uint32_t l2hlt = (nv->ctl01[1] | v->CPU_BASED_VM_EXEC_CONTROL) & (1u << 7);
    bool act = !l2hlt || v->GUEST_ACTIVITY_STATE != 0;
    /* "Saving Guest State": VM-exit control 22 saves the timer's value. */
    bool tmr = (v->PIN_BASED_VM_EXEC_CONTROL & (1u << 6)) && (v->VM_EXIT_CONTROLS & (1u << 22));
    /* "Saving Non-Register State": RVI and SVI are saved when
     * "virtual-interrupt delivery" is 1. */
    bool vid = (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
               (v->SECONDARY_VM_EXEC_CONTROL & VCORE__PROC2_VID);
    uint64_t vals[VCORE__ARRAY_SIZE(nested_eager_vid_act)];
    int err = vcore__vcpu_nested_read_many(vcpu, nv->vmcs02, nested_eager_lists[vid][!act && tmr], vals,
                                           (uint32_t)(NESTED_EAGER_N + vid + act + tmr));
    if (err)
        return err;
    const uint64_t *val = vals;
    NESTED_EAGER(NESTED_SAVE)
    if (vid) {
        NESTED_SAVE(GUEST_INTR_STATUS, uint16_t, 0xffffull)
    }
    if (act) {
        if (v->GUEST_ACTIVITY_STATE != (uint32_t)*val)
            vcore__nvmx_changed_id(nv, VCORE__ROW_GUEST_ACTIVITY_STATE);
        v->GUEST_ACTIVITY_STATE = (uint32_t)*val++;
    }
    if (tmr) {
        if (v->VMX_PREEMPTION_TIMER_VALUE != (uint32_t)*val)
            vcore__nvmx_changed_id(nv, VCORE__ROW_VMX_PREEMPTION_TIMER_VALUE);
        v->VMX_PREEMPTION_TIMER_VALUE = (uint32_t)*val;
    }
    if (v->VM_EXIT_CONTROLS & (1u << 20)) {
        uint64_t efer = vcore__vcpu_nested_exit_efer(vcpu);
        if (efer != v->GUEST_IA32_EFER)
            vcore__nvmx_changed_id(nv, VCORE__ROW_GUEST_IA32_EFER);
        v->GUEST_IA32_EFER = efer;
    }
    /* "save IA32_PAT" (control 18): L2's PAT (vcpu_nested_pat.c). */
    if (v->VM_EXIT_CONTROLS & (1u << 18)) {
        uint64_t pat = vcore__vcpu_nested_pat_l2(vcpu, v->GUEST_IA32_PAT);
        if (pat != v->GUEST_IA32_PAT)
            vcore__nvmx_changed_id(nv, VCORE__ROW_GUEST_IA32_PAT);
        v->GUEST_IA32_PAT = pat;
    }
    /* "save debug controls" (control 2): L2's DR7 and IA32_DEBUGCTL. */
    err = vcore__vcpu_nested_debugctl_save(vcpu);
    if (err)
        return err;
    /* "Saving Guest State": with "enable EPT" and PAE paging outside
     * IA-32e mode (CR0.PG, CR4.PAE, not an IA-32e mode guest), the exit
     * stores the PDPTEs in use - L2's MOV to CR3 reloads them while it
     * runs. A 64-bit L2 stops at the first test. */
    if (!(v->VM_ENTRY_CONTROLS & VCORE__ENTRY_IA32E) && (v->GUEST_CR0 & VCORE__CR0_PG) && (v->GUEST_CR4 & VCORE__CR4_PAE) &&
        vcore__vcpu_nested_l1_ept(vcpu)) {
        static const uint16_t pdptes[] = {VCORE__ROW_GUEST_PDPTR0, VCORE__ROW_GUEST_PDPTR1, VCORE__ROW_GUEST_PDPTR2,
                                          VCORE__ROW_GUEST_PDPTR3};
        err = vcore__vcpu_nested_pull(vcpu, pdptes, VCORE__ARRAY_SIZE(pdptes));
        if (err)
            return err;
    }
    if (nv->opts & VCORE_NVMX_OPT_EAGER_RARE_SYNC)
        return vcore__vcpu_nested_pull(vcpu, nested_rare, VCORE__ARRAY_SIZE(nested_rare));
    nv->rare_stale = true;
    return VCORE_OK;
}

int vcore__vcpu_nested_sync_guest(vcore_vcpu_t *vcpu)
{
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_save_guest(vcpu);
    if (!err)
        err = vcore__vcpu_nested_sync_rare(vcpu);
    return err;
}

/* ---- L1's host state ("Loading Host State") ---- */

/* CR0 bits a VM exit does not modify: ET, NW, CD, reserved bits 28:19, 17, 15:6, 63:32. */
#define NESTED_CR0_KEEP (0xffffffff00000000ull | (1ull << 4) | (1ull << 29) | (1ull << 30) | \
                         (0x3ffull << 19) | (1ull << 17) | (0x3ffull << 6))

static void vcore__vcpu_nested_host_seg(vcore_x86_segment_t *s, uint16_t sel, uint64_t base, bool cs, bool l)
{
    s->selector = sel;
    s->base = base;
    s->limit = 0xffffffffu;
    if (cs) /* type 11 (execute/read, accessed), S, P, G; L and D from the host address-space size */
        s->ar = 11u | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_G | (l ? VCORE_X86_AR_L : VCORE_X86_AR_DB);
    else if (sel == 0) /* a null selector leaves the segment unusable */
        s->ar = VCORE_X86_AR_UNUSABLE;
    else /* type 3 (read/write, accessed), S, P, D/B, G */
        s->ar = 3u | VCORE_X86_AR_S | VCORE_X86_AR_P | VCORE_X86_AR_DB | VCORE_X86_AR_G;
}

#define NESTED_HOST_GROUPS                                                                          \
    (VCORE_X86_STATE_RIP | VCORE_X86_STATE_RSP | VCORE_X86_STATE_RFLAGS | VCORE_X86_STATE_SEGS |    \
     VCORE_X86_STATE_DTABLES | VCORE_X86_STATE_CR0 | VCORE_X86_STATE_CR3 | VCORE_X86_STATE_CR4 |    \
     VCORE_X86_STATE_EFER | VCORE_X86_STATE_DREGS | VCORE_X86_STATE_MSRS | VCORE_X86_STATE_EVENTS)

static void vcore__vcpu_nested_load_host(vcore_vcpu_t *vcpu)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    vcore_x86_state_t *st = &vcpu->x86->st;
    vcore_x86_sregs_t *s = &st->sregs;
    uint32_t exit = v->VM_EXIT_CONTROLS;
    bool l = (exit & (1u << 9)) != 0; /* host address-space size */
    s->cr0 = (s->cr0 & NESTED_CR0_KEEP) | (v->HOST_CR0 & ~NESTED_CR0_KEEP);
    s->cr3 = v->HOST_CR3;
    s->cr4 = (s->cr4 & 0xffffffff00000000ull) | (v->HOST_CR4 & 0xffffffffull);
    /* "DR7 is set to 400H" and "IA32_DEBUGCTL is cleared", whatever the
     * controls: L2's values are L1's only through "save debug controls". */
    st->dregs.dr7 = 0x400;
    st->msrs.debugctl = 0;
    vcore__vcpu_nested_debugctl_exit(vcpu);
    st->msrs.sysenter_cs = v->HOST_IA32_SYSENTER_CS;
    st->msrs.sysenter_esp = v->HOST_IA32_SYSENTER_ESP;
    st->msrs.sysenter_eip = v->HOST_IA32_SYSENTER_EIP;
    /* Without "load IA32_PAT" the PAT is not changed: L1 goes on with L2's
     * (its own when the entry failed before loading guest state). */
    uint64_t pat = vcore__vcpu_nested_pat_l2(vcpu, st->msrs.pat);
    vcore__vcpu_nested_pat_exit(vcpu);
    st->msrs.pat = (exit & (1u << 19)) ? v->HOST_IA32_PAT : pat;
    /* Without "load IA32_EFER" LMA and LME follow the host address-space
     * size and the other bits stay as L2 left them (L1's own when the
     * entry failed before loading guest state). */
    uint64_t efer = vcore__vcpu_nested_efer_l2(vcpu, s->efer);
    vcore__vcpu_nested_efer_exit(vcpu);
    if (exit & (1u << 21))
        s->efer = v->HOST_IA32_EFER;
    else
        s->efer = l ? (efer | VCORE__EFER_LMA | VCORE__EFER_LME) : (efer & ~(VCORE__EFER_LMA | VCORE__EFER_LME));
    vcore__vcpu_nested_host_seg(&s->seg[VCORE_X86_CS], v->HOST_CS_SELECTOR, 0, true, l);
    vcore__vcpu_nested_host_seg(&s->seg[VCORE_X86_SS], v->HOST_SS_SELECTOR, 0, false, l);
    vcore__vcpu_nested_host_seg(&s->seg[VCORE_X86_DS], v->HOST_DS_SELECTOR, 0, false, l);
    vcore__vcpu_nested_host_seg(&s->seg[VCORE_X86_ES], v->HOST_ES_SELECTOR, 0, false, l);
    vcore__vcpu_nested_host_seg(&s->seg[VCORE_X86_FS], v->HOST_FS_SELECTOR, v->HOST_FS_BASE, false, l);
    vcore__vcpu_nested_host_seg(&s->seg[VCORE_X86_GS], v->HOST_GS_SELECTOR, v->HOST_GS_BASE, false, l);
    /* TR: busy 32/64-bit TSS, limit 67H. */
    vcore_x86_segment_t *tr = &s->seg[VCORE_X86_TR];
    tr->selector = v->HOST_TR_SELECTOR;
    tr->base = v->HOST_TR_BASE;
    tr->limit = 0x67;
    tr->ar = 11u | VCORE_X86_AR_P;
    /* LDTR: selector 0, unusable; the base is left canonical (0). */
    vcore_x86_segment_t *ldtr = &s->seg[VCORE_X86_LDTR];
    ldtr->selector = 0;
    ldtr->base = 0;
    ldtr->limit = 0;
    ldtr->ar = VCORE_X86_AR_UNUSABLE;
    s->gdtr.base = v->HOST_GDTR_BASE;
    s->gdtr.limit = 0xffff;
    s->idtr.base = v->HOST_IDTR_BASE;
    s->idtr.limit = 0xffff;
    st->regs.rip = v->HOST_RIP;
    st->regs.gpr[VCORE_X86_RSP] = v->HOST_RSP;
    st->regs.rflags = 0x2; /* "RFLAGS is cleared, except bit 1" */
    st->events.sti_blocking = 0;
    st->events.movss_blocking = 0;
    vcore__vcpu_mark_dirty(vcpu, NESTED_HOST_GROUPS);
}

/* The value of an MSR for L2 as the VM-exit MSR-store list sees it ("Saving
 * MSRs": the value the MSR has at the exit, before host state is loaded):
 * IA32_SYSENTER_CS/ESP/EIP, FS.base and GS.base as vmcs02 holds them at the
 * exit (L2's, not L1's); EFER as L2 has it (vcore__vcpu_nested_exit_efer);
 * PAT as L2 has it (vcpu_nested_pat.c); IA32_DEBUGCTL as vmcs02 holds it
 * for L2 (vcpu_nested_debugctl.c);
 * any other MSR the vCPU's own, which L1 and L2 share. */
static int vcore__vcpu_nested_l2_msr(vcore_vcpu_t *vcpu, uint32_t index, uint64_t *value)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint32_t entry = v->VM_ENTRY_CONTROLS;
    uint32_t field = vcore__vcpu_nested_l0_msr_field(index);
    if (field) {
        int err = vcore__vcpu_nested_load02(vcpu);
        return err ? err : vcore__vcpu_nested_rd(vcpu, field, value);
    }
    if (index == VCORE_MSR_IA32_EFER && (vcpu->nvmx->efer02_live || (entry & (1u << 15)))) {
        *value = vcore__vcpu_nested_exit_efer(vcpu);
        return VCORE_OK;
    }
    if (index == VCORE_MSR_IA32_PAT && vcpu->nvmx->pat02_live) {
        *value = vcpu->nvmx->pat02;
        return VCORE_OK;
    }
    if (index == VCORE_MSR_IA32_DEBUGCTL && vcpu->nvmx->debugctl02_live) {
        *value = vcpu->nvmx->debugctl02;
        return VCORE_OK;
    }
    return vcore_vcpu_get_msr(vcpu, index, value);
}

/* How a VM-exit MSR list ended (vcore__vcpu_nested_msr_store/_load). */
#define NESTED_LIST_DONE 0u
#define NESTED_LIST_FAILED 1u /* an entry could not be stored or loaded: a VMX abort */
#define NESTED_LIST_ASKED 2u  /* an entry waits for the VMM (*exit, nv->ml) */

/* SDM "Saving MSRs" / "Loading MSRs": 16-byte entries (index in bits 31:0,
 * reserved 63:32, data in 127:64); which indices a list may not name is
 * the VM-entry checks' rule (vcore__vmx_msr_list_index). From entry from
 * on; an MSR the VMM models is its RDMSR (vcpu_nested_msrlist.c), the VMX
 * capability MSRs L0 answers for L1 are read as L1's RDMSR reads them. */
static uint32_t vcore__vcpu_nested_msr_store(vcore_vcpu_t *vcpu, const vcore_nvmx_mem_t *mem, uint32_t from,
                                             vcore_exit_t *exit)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    for (uint32_t i = from; i < v->VM_EXIT_MSR_STORE_COUNT; i++) {
        uint64_t gpa = v->VM_EXIT_MSR_STORE_ADDR + 16ull * i, lo = ~0ull, val = 0;
        if (mem->read(mem->ctx, gpa, &lo, 8) != VCORE_OK || vcore__vmx_msr_list_index(lo, false) != 0)
            return NESTED_LIST_FAILED;
        uint32_t index = (uint32_t)lo;
        int err;
        if (vcore__nvmx_cap_msr(index)) {
            err = vcore_nvmx_rdmsr(vcpu->nvmx, index, &val, &vcpu->last_diag);
        } else if (vcore__vcpu_nested_msrlist_vmm(index)) {
            vcore__vcpu_nested_msrlist_ask(vcpu, VCORE_EXIT_MSR_LIST_VMEXIT_STORE, i, index, false, 0, exit);
            return NESTED_LIST_ASKED;
        } else {
            err = vcore__vcpu_nested_l2_msr(vcpu, index, &val);
        }
        if (err != VCORE_OK || mem->write(mem->ctx, gpa + 8, &val, 8) != VCORE_OK)
            return NESTED_LIST_FAILED;
    }
    return NESTED_LIST_DONE;
}

/* From entry from on; an MSR the VMM models is its WRMSR, a VMX capability
 * MSR is read-only (WRMSR's #GP: the entry cannot be loaded). */
static uint32_t vcore__vcpu_nested_msr_load(vcore_vcpu_t *vcpu, const vcore_nvmx_mem_t *mem, uint32_t from,
                                            vcore_exit_t *exit)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    for (uint32_t i = from; i < v->VM_EXIT_MSR_LOAD_COUNT; i++) {
        uint64_t e[2] = {~0ull, 0};
        uint64_t gpa = v->VM_EXIT_MSR_LOAD_ADDR + 16ull * i;
        if (mem->read(mem->ctx, gpa, e, 16) != VCORE_OK || vcore__vmx_msr_list_index(e[0], true) != 0 ||
            vcore__nvmx_cap_msr((uint32_t)e[0]))
            return NESTED_LIST_FAILED;
        if (vcore__vcpu_nested_msrlist_vmm((uint32_t)e[0])) {
            vcore__vcpu_nested_msrlist_ask(vcpu, VCORE_EXIT_MSR_LIST_VMEXIT_LOAD, i, (uint32_t)e[0], true, e[1],
                                           exit);
            return NESTED_LIST_ASKED;
        }
        if (vcore_vcpu_set_msr(vcpu, (uint32_t)e[0], e[1]) != VCORE_OK)
            return NESTED_LIST_FAILED;
    }
    return NESTED_LIST_DONE;
}

/* "VMX Aborts": the indicator goes to byte 4 of the VMCS region, the
 * logical processor shuts down (*exit says so). */
static void vcore__vcpu_nested_abort(vcore_vcpu_t *vcpu, const vcore_nvmx_mem_t *mem, uint32_t indicator,
                                     vcore_exit_t *exit)
{
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    v->abort = indicator;
    (void)mem->write(mem->ctx, vcpu->nvmx->current_vmptr + VCORE_VMCS12_OFF_ABORT, &indicator, 4);
    vcpu->nvmx->last.vmx_aborts++;
    vcore__memset(&exit->u, 0, sizeof(exit->u));
    exit->flags = 0;
    exit->reason = VCORE_EXIT_SHUTDOWN;
}

#define NESTED_ABORT_SAVE_MSR 1u
#define NESTED_ABORT_LOAD_MSR 4u

/* The exit's lists from the MSR-store list's entry from (store) or the
 * MSR-load list's, L1's host state loaded between them; *stop when *exit
 * holds what the VMM sees (a shutdown after a VMX abort, or an entry's
 * RDMSR/WRMSR). */
static void vcore__vcpu_nested_exit_lists(vcore_vcpu_t *vcpu, const vcore_nvmx_mem_t *mem, bool store, uint32_t from,
                                          vcore_exit_t *exit, bool *stop)
{
    uint32_t how = NESTED_LIST_DONE;
    if (store) {
        how = vcore__vcpu_nested_msr_store(vcpu, mem, from, exit);
        if (how == NESTED_LIST_FAILED)
            vcore__vcpu_nested_abort(vcpu, mem, NESTED_ABORT_SAVE_MSR, exit);
        if (how != NESTED_LIST_DONE) {
            *stop = true;
            return;
        }
        vcore__vcpu_nested_load_host(vcpu);
        from = 0;
    }
    how = vcore__vcpu_nested_msr_load(vcpu, mem, from, exit);
    if (how == NESTED_LIST_FAILED)
        vcore__vcpu_nested_abort(vcpu, mem, NESTED_ABORT_LOAD_MSR, exit);
    *stop = how != NESTED_LIST_DONE;
}

int vcore__vcpu_nested_exit_to_l1(vcore_vcpu_t *vcpu, bool failed_entry, vcore_exit_t *exit, bool *stop)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    int err = VCORE_OK;
    /* L1 memory only for the MSR lists (and the abort indicator they may set). */
    if (v->VM_EXIT_MSR_STORE_COUNT || v->VM_EXIT_MSR_LOAD_COUNT)
        err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (!err)
        err = vcore__vcpu_sync_in(vcpu, NESTED_HOST_GROUPS);
    /* Asked before L1's state changes: a refusal leaves L1 as it was. */
    if (!err)
        err = vcore__vcpu_nested_vpid_leave(vcpu);
    if (err)
        return err;
    *stop = false;
    nv->in_l2 = false;
    /* L2's VMWRITEs to L1's shadow VMCS reach L1 memory (vcpu_nested_shadow12.c). */
    if (nv->shadow_loaded)
        vcore__vcpu_nested_shadow12_leave(vcpu);
    /* "Clearing the VM-entry interruption-information valid bit" - not by
     * a failed entry ("VM-Entry Failures During or After Loading Guest
     * State": "The valid bit ... is not cleared"). */
    if ((v->VM_ENTRY_INTR_INFO_FIELD & (1u << 31)) && !failed_entry) {
        vcore__nvmx_changed_id(nv, VCORE__ROW_VM_ENTRY_INTR_INFO_FIELD);
        v->VM_ENTRY_INTR_INFO_FIELD &= ~(1u << 31);
    }
    /* Without lists, only the host state (most exits). */
    if (!(v->VM_EXIT_MSR_STORE_COUNT | v->VM_EXIT_MSR_LOAD_COUNT)) {
        vcore__vcpu_nested_load_host(vcpu);
        return VCORE_OK;
    }
    /* "VM-Entry Failures During or After Loading Guest State": no MSRs are
     * stored for a failed entry. */
    if (failed_entry)
        vcore__vcpu_nested_load_host(vcpu);
    vcore__vcpu_nested_exit_lists(vcpu, &mem, !failed_entry, 0, exit, stop);
    return VCORE_OK;
}

int vcore__vcpu_nested_exit_lists_reply(vcore_vcpu_t *vcpu, uint32_t list, uint32_t at, vcore_exit_t *exit,
                                        bool *stop)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    /* The reply, copied once. */
    uint8_t error = exit->u.msr.error;
    uint64_t value = exit->u.msr.value;
    /* L1's state was fetched when the exit began (exit_to_l1); nothing
     * ran since. */
    int err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (err)
        return err;
    *stop = false;
    bool store = list == VCORE_EXIT_MSR_LIST_VMEXIT_STORE;
    /* "Saving MSRs": the value goes to bytes 15:8 of the entry; "VMX
     * Aborts": an MSR that cannot be read (indicator 1) or written
     * (indicator 4) is a VMX abort. */
    if (error ||
        (store && mem.write(mem.ctx, v->VM_EXIT_MSR_STORE_ADDR + 16ull * at + 8u, &value, 8) != VCORE_OK)) {
        vcore__vcpu_nested_abort(vcpu, &mem, store ? NESTED_ABORT_SAVE_MSR : NESTED_ABORT_LOAD_MSR, exit);
        *stop = true;
        return VCORE_OK;
    }
    vcore__vcpu_nested_exit_lists(vcpu, &mem, store, at + 1u, exit, stop);
    return VCORE_OK;
}

/* An event L2 was delivering when L0 took the exit goes back into L2 on
 * the next entry, with its type, error code and, for software events
 * (INT3/INTO: type 6), the instruction length (CVE-2016-9588 class). */
static int vcore__vcpu_nested_reinject(vcore_vcpu_t *vcpu)
{
    const vcore__nvmx_exit02_t *o = &vcpu->nvmx->x02;
    uint32_t idt = o->idt;
    if (!(idt & (1u << 31)))
        return VCORE_OK;
    int err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, idt & ~(1u << 12));
    if (!err && (idt & (1u << 11)))
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, o->idt_error);
    uint32_t type = (idt >> 8) & 7u;
    if (!err && (type == 4u || type == 5u || type == 6u)) {
        uint64_t len = 0;
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN, &len);
        if (!err)
            err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN, len);
    }
    vcpu->nvmx->event02 = !err;
    return err;
}

/* An exit to L1 that L0 makes before vmcs02 is entered again (an interrupt,
 * INIT or MTF exit owed on L2's boundary) while vmcs02 holds an event L0
 * was to deliver to L2: to L1 the exit occurred during that event's
 * delivery ("Information for VM Exits That Occur During Event Delivery"),
 * so the event goes into vmcs12's IDT-vectoring information (error code;
 * for a software event the instruction length, "Information for VM Exits
 * Due to Instruction Execution") for L1 to re-inject, and leaves vmcs02,
 * where L1's next entry must not deliver it a second time. */
static int vcore__vcpu_nested_event02_to_l1(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    v->IDT_VECTORING_INFO_FIELD = 0;
    if (!nv->event02)
        return VCORE_OK;
    nv->event02 = false;
    uint64_t info = 0, x = 0;
    /* Valid: L0 writes only valid events (re-delivery, its own exception). */
    int err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, &info);
    if (err)
        return err;
    uint32_t type = ((uint32_t)info >> 8) & 7u;
    if (info & (1u << 11)) {
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, &x);
        v->IDT_VECTORING_ERROR_CODE = (uint32_t)x;
    }
    if (!err && type >= 4u && type <= 6u) {
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_VM_ENTRY_INSTRUCTION_LEN, &x);
        v->VM_EXIT_INSTRUCTION_LEN = (uint32_t)x;
    }
    if (!err)
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, 0);
    if (!err)
        v->IDT_VECTORING_INFO_FIELD = (uint32_t)info;
    return err;
}

int vcore__vcpu_nested_l2_exit(vcore_vcpu_t *vcpu, const vcore_hw_entry_t *he, vcore_exit_t *exit,
                               bool *handled, bool *again)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint32_t reason = he->exit_reason;
    uint32_t basic = VCORE_VMX_EXIT_REASON_BASIC(reason);
    *handled = *again = false;
    nv->last.l2_exits++;
    nv->last.exit_reason = reason;
    nv->last.check = 0;
    /* The guest ran: its GPRs (shared with L1 across the VMCS switch)
     * changed, and so may the MSRs L1 and L2 share that the backend
     * switches (SWAPGS changes IA32_KERNEL_GS_BASE without an exit). */
    vcpu->valid &= ~(VCORE_X86_STATE_GPRS | (VCORE_X86_STATE_MSRS & ~vcpu->dirty));
    vcore_nvmx_l2_exit_t e;
    vcore__memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    e.reason = reason;
    /* nv->x02 keeps the exit information; vmcs12 gets it only if L1 does. */
    int err = vcore__vcpu_nested_exit_info(vcpu, reason, vcore__vcpu_nested_info(basic), &e);
    if (err)
        return err;
    e.cpl = (v->GUEST_SS_AR_BYTES >> VCORE_X86_AR_DPL_SHIFT) & 3u;
    uint32_t gpr_groups = 0;
    if (basic == VCORE_VMX_EXIT_RDMSR || basic == VCORE_VMX_EXIT_WRMSR ||
        (basic == VCORE_VMX_EXIT_CR_ACCESS && ((e.qualification >> 4) & 3u) == 0))
        gpr_groups = VCORE_X86_STATE_GPRS | VCORE_X86_STATE_RSP;
    vcore_nvmx_decision_t d;
    d.size = sizeof(d);
    /* L1 memory only for a rule reading L1's I/O or MSR bitmaps. */
    vcore_nvmx_mem_t mem = {.size = sizeof(mem)};
    if (vcore__nvmx_exit_reads_l1(reason))
        err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (!err && gpr_groups) {
        /* The register operand: the GPR file is L2's now (RSP is vmcs02's). */
        err = vcore__vcpu_sync_in(vcpu, gpr_groups);
        if (!err)
            err = vcore__vcpu_nested_load02(vcpu);
        uint64_t rsp = 0;
        if (!err)
            err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_RSP, &rsp);
        uint32_t g = basic == VCORE_VMX_EXIT_CR_ACCESS ? (uint32_t)(e.qualification >> 8) & 15u : VCORE_X86_RCX;
        e.gpr_value = g == VCORE_X86_RSP ? rsp : vcpu->x86->st.regs.gpr[g];
        e.msr_index = (uint32_t)vcpu->x86->st.regs.gpr[VCORE_X86_RCX];
    }
    /* With L1's EPT, an EPT exit of vmcs02 is first ept02's question:
     * filled by L0, L1's violation or misconfiguration, or the VMM's. */
    if (!err && (basic == VCORE_VMX_EXIT_EPT_VIOLATION || basic == VCORE_VMX_EXIT_EPT_MISCONFIG) &&
        vcore__vcpu_nested_l1_ept(vcpu)) {
        uint32_t route = 0;
        err = vcore__vcpu_nested_ept02_exit(vcpu, &e, exit, &route);
        if (err)
            return err;
        if (route == VCORE__NESTED_EPT_L0) {
            nv->last.owner = VCORE_NVMX_OWNER_L0;
            nv->last.kind = VCORE_NVMX_RULE_L1_EPT;
            nv->last.l0_handled++;
            *again = true;
            return vcore__vcpu_nested_reinject(vcpu);
        }
        if (route == VCORE__NESTED_EPT_VMM) {
            nv->last.owner = VCORE_NVMX_OWNER_L0;
            nv->last.kind = VCORE_NVMX_RULE_L1_EPT;
            return VCORE_OK;
        }
        if (route == VCORE__NESTED_EPT_DONE) {
            *handled = exit->reason != VCORE_EXIT_SHUTDOWN;
            return VCORE_OK;
        }
    }
    if (err)
        return err;
    if (nv->current_vmptr == VCORE__INVALID_PTR)
        return VCORE_ERR_STATE;
    /* L2's VMFUNC exits whenever L1 enables VM functions: L0 performs
     * what L1's processor would (vcpu_nested_vmfunc.c). */
    if (basic == VCORE_VMX_EXIT_VMFUNC) {
        bool to_l1 = false;
        err = vcore__vcpu_nested_vmfunc(vcpu, exit, again, handled, &to_l1);
        if (err || !to_l1)
            return err;
    }
    /* A processor NMI (basic reason 0, type 2) or machine check (type 3,
     * vector 18) while L2 runs is the host's: vmcs02 always has "NMI
     * exiting" (rule X(0, 3, ONE)), and the backend hands both to the
     * host's handlers (backend.h), as KVM's L0 keeps them; the vCPU's own
     * NMIs are events, which reach L1 through
     * vcore__vcpu_nested_pending_nmi(). L2 goes on with the event it was
     * delivering, as after a host interrupt. */
    if (basic == VCORE_VMX_EXIT_EXCEPTION_NMI &&
        (((e.intr_info >> 8) & 7u) == 2u || (e.intr_info & 0x7ffu) == (3u << 8 | VCORE__VEC_MC))) {
        nv->last.owner = VCORE_NVMX_OWNER_L0;
        nv->last.kind = VCORE_NVMX_RULE_EXCEPTION;
        nv->last.arg = e.intr_info & 0xffu;
        nv->last.field = 0;
        nv->last.l0_handled++;
        *again = true;
        return vcore__vcpu_nested_reinject(vcpu);
    }
    vcore__nvmx_exit_owner(nv, &mem, &e, &d);
    nv->last.owner = d.owner;
    nv->last.kind = d.kind;
    nv->last.arg = d.arg;
    nv->last.field = d.field;
    if (d.owner == VCORE_NVMX_OWNER_L1) {
        vcore__vcpu_nested_exit_commit(vcpu);
        err = vcore__vcpu_nested_save_guest(vcpu);
        bool stop = false;
        if (!err)
            err = vcore__vcpu_nested_exit_to_l1(vcpu, false, exit, &stop);
        if (err)
            return err;
        nv->last.reflected++;
        *handled = !stop;
        return VCORE_OK;
    }
    /* L0's: a host interrupt (the backend's host has taken it), or a timer
     * only L0 armed: re-enter L2 with the event it was delivering. */
    if (basic == VCORE_VMX_EXIT_EXTERNAL_INTERRUPT || basic == VCORE_VMX_EXIT_PREEMPTION_TIMER) {
        nv->last.l0_handled++;
        *again = true;
        return vcore__vcpu_nested_reinject(vcpu);
    }
    return vcore__vcpu_nested_l0_exit(vcpu, reason, exit, again, handled);
}

int vcore__vcpu_nested_reflect(vcore_vcpu_t *vcpu, const vcore__nvmx_exit02_t *x, const vcore_nvmx_decision_t *d,
                               vcore_exit_t *exit, bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    *handled = false;
    nv->l2_halted = false; /* L1 resumes L2 from vmcs12's activity state */
    /* The made-up exit's information, committed as one of vmcs02's would be. */
    nv->x02 = *x;
    vcore__vcpu_nested_exit_commit(vcpu);
    vcore__nvmx_shadow_stale_all(nv);
    nv->last.exit_reason = x->reason;
    nv->last.owner = VCORE_NVMX_OWNER_L1;
    nv->last.kind = d->kind;
    nv->last.arg = d->arg;
    nv->last.field = d->field;
    int err = vcore__vcpu_nested_save_guest(vcpu);
    bool stop = false;
    if (!err)
        err = vcore__vcpu_nested_exit_to_l1(vcpu, false, exit, &stop);
    if (err)
        return err;
    nv->last.reflected++;
    *handled = !stop;
    return VCORE_OK;
}

/* A VM exit owed to L1 on L2's next boundary, qualification 0, decided by
 * rule kind (arg, field: the control, where one decides it). Either kind
 * owed is settled by it: the INIT taken, a monitor-trap-flag VM exit
 * discarded by any VM exit (as KVM does). */
static int vcore__vcpu_nested_owed_exit(vcore_vcpu_t *vcpu, uint32_t reason, uint32_t kind, uint32_t arg,
                                        uint32_t field, vcore_exit_t *exit, bool *handled)
{
    vcore__nvmx_exit02_t x;
    vcore__memset(&x, 0, sizeof(x));
    x.have = VCORE__X02_QUAL;
    x.reason = reason;
    vcore_nvmx_decision_t d;
    vcore__memset(&d, 0, sizeof(d));
    d.size = sizeof(d);
    d.owner = VCORE_NVMX_OWNER_L1;
    d.kind = kind;
    d.arg = arg;
    d.field = field;
    vcpu->nvmx->init_pending = false;
    vcpu->nvmx->mtf_pending = false;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_event02_to_l1(vcpu);
    if (err)
        return err;
    /* The event L0 was delivering, if any, as the exit's IDT-vectoring information. */
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    x.idt = v->IDT_VECTORING_INFO_FIELD;
    if (x.idt & (1u << 11)) {
        x.idt_error = v->IDT_VECTORING_ERROR_CODE;
        x.have |= VCORE__X02_IDT_ERR;
    }
    if (x.idt & (1u << 31)) {
        x.insn_len = v->VM_EXIT_INSTRUCTION_LEN;
        x.have |= VCORE__X02_IDT | VCORE__X02_LEN;
    }
    return vcore__vcpu_nested_reflect(vcpu, &x, &d, exit, handled);
}

int vcore__vcpu_nested_init_exit(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    /* "Other Causes of VM Exits": exit reason 3, qualification 0; the
     * processor does none of what INIT does outside VMX operation, changes
     * no register and clears no pending event. Unconditional for L1. */
    return vcore__vcpu_nested_owed_exit(vcpu, VCORE_VMX_EXIT_INIT, VCORE_NVMX_RULE_ALWAYS, 0, 0, exit, handled);
}

int vcore__vcpu_nested_mtf(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    /* "Monitor Trap Flag": exit reason 37, qualification 0; the control
     * that asked for it is primary processor-based bit 27. An INIT is
     * never owed with it: it is taken first. */
    return vcore__vcpu_nested_owed_exit(vcpu, VCORE_VMX_EXIT_MONITOR_TRAP_FLAG, VCORE_NVMX_RULE_PROC, 27,
                                        VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, exit, handled);
}

/* The end of an exit to L1 for an event the vCPU recognized for L2, decided
 * by L1's pin-based controls (its information already in vmcs12): the
 * record of who decided, the exit, the count. */
static int vcore__vcpu_nested_event_exit(vcore_vcpu_t *vcpu, uint32_t reason, uint32_t kind, vcore_exit_t *exit,
                                         bool *reflected, bool *shutdown)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__nvmx_shadow_stale_all(nv);
    nv->l2_halted = false; /* L1 resumes L2 from vmcs12's activity state */
    nv->last.exit_reason = reason;
    nv->last.owner = VCORE_NVMX_OWNER_L1;
    nv->last.kind = kind;
    nv->last.arg = 0;
    nv->last.field = VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL;
    int err = vcore__vcpu_nested_exit_to_l1(vcpu, false, exit, shutdown);
    if (err)
        return err;
    nv->last.reflected++;
    *reflected = !*shutdown;
    return VCORE_OK;
}

int vcore__vcpu_nested_pending_intr(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected, bool *shutdown)
{
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    const vcore_x86_events_t *ev = &vcpu->x86->st.events;
    *reflected = *shutdown = false;
    /* Pin-based control 0: external interrupts cause VM exits (RFLAGS.IF
     * does not block them; STI and MOV-SS blocking do: "Event Blocking"). */
    if (!(vcpu->valid & VCORE_X86_STATE_EVENTS) || !ev->interrupt_pending || !(v->PIN_BASED_VM_EXEC_CONTROL & 1u))
        return VCORE_OK;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_save_guest(vcpu);
    if (err)
        return err;
    /* "Activity State": the shutdown state (2) blocks external interrupts
     * ("even if the 'external-interrupt exiting' VM-execution control is
     * 1"), the wait-for-SIPI state (3) every event but SIPI. */
    if ((v->GUEST_INTERRUPTIBILITY_INFO & 3u) || v->GUEST_ACTIVITY_STATE >= 2u)
        return VCORE_OK;
    /* An open window L1 watches: its exit comes first, when vmcs02 runs. */
    if (vcore__vcpu_nested_window_due(v))
        return VCORE_OK;
    /* "Posted-Interrupt Processing": under L1's "process posted
     * interrupts" the notification vector is processed for L2, no exit. */
    if (vcore__vcpu_nested_pi_notification(vcpu))
        return vcore__vcpu_nested_pi_process(vcpu);
    /* A trap pending on this boundary comes first (its #DB may be L1's). */
    err = vcore__vcpu_nested_l0_dbg(vcpu, exit, reflected, shutdown);
    if (err || *reflected || *shutdown)
        return err;
    v->VM_EXIT_REASON = VCORE_VMX_EXIT_EXTERNAL_INTERRUPT;
    v->EXIT_QUALIFICATION = 0;
    v->VM_EXIT_INTR_INFO = 0;
    err = vcore__vcpu_nested_event02_to_l1(vcpu);
    if (err)
        return err;
    /* VM-exit control 15: the processor acknowledges the interrupt and
     * stores its vector, type 0 (external interrupt), valid. */
    if (v->VM_EXIT_CONTROLS & (1u << 15)) {
        v->VM_EXIT_INTR_INFO = (1u << 31) | ev->interrupt_vector;
        vcore__vcpu_events_acked(vcpu);
    }
    return vcore__vcpu_nested_event_exit(vcpu, VCORE_VMX_EXIT_EXTERNAL_INTERRUPT, VCORE_NVMX_RULE_PIN, exit, reflected,
                                         shutdown);
}

int vcore__vcpu_nested_pending_nmi(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected, bool *shutdown)
{
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    const vcore_x86_events_t *ev = &vcpu->x86->st.events;
    *reflected = *shutdown = false;
    /* Pin-based control 3: NMIs cause VM exits. */
    if (!(vcpu->valid & VCORE_X86_STATE_EVENTS) || !ev->nmi_pending || !(v->PIN_BASED_VM_EXEC_CONTROL & (1u << 3)))
        return VCORE_OK;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_save_guest(vcpu);
    if (err)
        return err;
    if (vcore__vcpu_nested_nmi_blocked(v))
        return VCORE_OK;
    /* A trap pending on this boundary comes first (its #DB may be L1's). */
    err = vcore__vcpu_nested_l0_dbg(vcpu, exit, reflected, shutdown);
    if (err || *reflected || *shutdown)
        return err;
    v->VM_EXIT_REASON = VCORE_VMX_EXIT_EXCEPTION_NMI;
    v->EXIT_QUALIFICATION = 0;
    /* "Information for VM Exits Due to Vectored Events": vector 2, type 2 (NMI), valid. */
    v->VM_EXIT_INTR_INFO = (1u << 31) | (2u << 8) | 2u;
    err = vcore__vcpu_nested_event02_to_l1(vcpu);
    if (err)
        return err;
    err = vcore__vcpu_nested_event_exit(vcpu, VCORE_VMX_EXIT_EXCEPTION_NMI, VCORE_NVMX_RULE_EXCEPTION, exit, reflected,
                                        shutdown);
    /* After the exit: its host-state load does not unblock NMIs. */
    if (!err)
        vcore__vcpu_events_nmi_exited(vcpu);
    return err;
}
