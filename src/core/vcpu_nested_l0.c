/*
 * vcpu_nested_l0.c - exits from L2 that L1 does not want and L0 must
 * complete: decoded for the VMM like any exit (with VCORE_EXIT_F_L2), and
 * the VMM's reply applied to L2's state, not L1's.
 *
 * L2's general-purpose registers are the vCPU's register file while L2 runs
 * (a VM exit or entry does not change them, SDM Vol. 3, "VM Exits"); RIP,
 * RSP, RFLAGS and the interruptibility state are vmcs02's. An instruction
 * the VMM completes ends as the processor would end it: its results in the
 * registers, RIP past it, blocking by STI or MOV SS gone ("Interruptibility
 * State"). A refused RDMSR/WRMSR is #GP(0) in L2 instead - a VM exit to L1
 * when L1 intercepts #GP (exception bitmap bit 13).
 *
 * MSRs whose L2 value is vmcs02 guest state (IA32_SYSENTER_CS/ESP/EIP,
 * FS.base, GS.base: "Guest Register State") are answered here from vmcs02:
 * L1 let L2 access them, and the value L2 must see is its own.
 *
 * An EPT violation of vmcs02 at an L1-physical address outside L0's memory
 * (L1 without EPT, or ept12 mapping the L2 address there) is MMIO, decoded
 * from the MOV at L2's RIP (fetched through L2's own paging and, with L1's
 * EPT, ept12; "Exit Qualification for EPT Violations" says which access it
 * was). String I/O (INS/OUTS) moves its elements through the same
 * translation.
 */
#include "vcpu_nested.h"

#include "x86/decode.h"
#include "virtcore/x86/msr.h"
#include "virtcore/x86/vmx_exits.h"

/* Exit qualification for I/O instructions ("Exit Qualification for I/O Instructions"). */
#define L0_IOQ_SIZE(q) ((uint32_t)((q)&7u) + 1u) /* bits 2:0: size - 1 */
#define L0_IOQ_IN (1ull << 3)                    /* bit 3: 1 = IN */
#define L0_IOQ_STRING (1ull << 4)                /* bit 4: INS/OUTS */
#define L0_IOQ_REP (1ull << 5)                   /* bit 5: REP prefixed */
#define L0_IOQ_PORT(q) ((uint16_t)((q) >> 16))   /* bits 31:16: port */

/* Exit qualification for EPT violations. */
#define L0_EPTQ_WRITE (1ull << 1)     /* bit 1: data write */
#define L0_EPTQ_FETCH (1ull << 2)     /* bit 2: instruction fetch */
#define L0_EPTQ_GLA_VALID (1ull << 7) /* bit 7: guest linear address valid */
#define L0_EPTQ_GLA_XLATE (1ull << 8) /* bit 8: the access was to the translation, not a paging entry */

uint32_t vcore__vcpu_nested_l0_msr_field(uint32_t index)
{
    switch (index) {
    case VCORE_MSR_IA32_SYSENTER_CS:
        return VCORE_VMCS_GUEST_SYSENTER_CS;
    case VCORE_MSR_IA32_SYSENTER_ESP:
        return VCORE_VMCS_GUEST_SYSENTER_ESP;
    case VCORE_MSR_IA32_SYSENTER_EIP:
        return VCORE_VMCS_GUEST_SYSENTER_EIP;
    case VCORE_MSR_IA32_FS_BASE:
        return VCORE_VMCS_GUEST_FS_BASE;
    case VCORE_MSR_IA32_GS_BASE:
        return VCORE_VMCS_GUEST_GS_BASE;
    default:
        return 0;
    }
}

/* A hardware exception for L2 - the #GP(0) of a refused RDMSR/WRMSR, the
 * #PF/#GP/#SS of a string I/O element (for L2's current instruction, which
 * did not complete: RIP stays at it), or the #DB of a trap pending on the
 * boundary (vcore__vcpu_nested_l0_dbg): a VM exit to L1 when L1's
 * exception bitmap (with the #PF error-code mask and match) asks for it,
 * the exit qualification being the payload - a #PF's faulting linear
 * address, a #DB's B3-B0, BS and RTM ("Exit Qualification for ...
 * Exceptions", "Exit Qualification for Debug Exceptions"); else injected
 * into L2 at the next entry, with what its delivery does besides: CR2 loaded
 * for a #PF, DR6 updated for a #DB ("Debug Status Register (DR6)"; an
 * injected #DB leaves DR6 to the injector). Interruption information:
 * valid, type 3 (hardware exception), error code delivered ("Format of the
 * VM-Entry Interruption-Information Field") for a vector that pushes one
 * (not #UD: "Exception and Interrupt Reference") - except in real-address
 * mode (L2 with unrestricted guest and CR0.PE = 0), where exceptions push no
 * error code ("Real-Address Mode Exceptions" of the instruction; "Checks on
 * VM-Entry Control Fields": deliver-error-code is 0 when the guest CR0.PE is
 * 0, and the exit interruption information then has no valid error code).
 * An event delivered to L2 ends its HLT state ("HLT"): a vectoring VM
 * entry leaves the processor active ("Activity State"). */
int vcore__vcpu_nested_l0_exception(vcore_vcpu_t *vcpu, uint8_t vector, uint32_t error, uint64_t payload,
                                    vcore_exit_t *exit, bool *reflected)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    uint64_t cr0 = 0;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_CR0, &cr0);
    if (err)
        return err;
    bool code = (cr0 & VCORE__CR0_PE) && vcore__x86_exc_has_error_code(vector);
    uint32_t info = (1u << 31) | (3u << 8) | (code ? (1u << 11) : 0u) | vector;
    if (!code)
        error = 0;
    nv->l2_insn_len = 0;
    *reflected = false;
    vcore_nvmx_l2_exit_t e;
    vcore__memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    e.reason = VCORE_VMX_EXIT_EXCEPTION_NMI;
    e.intr_info = info;
    e.intr_error = error;
    vcore_nvmx_decision_t d;
    d.size = sizeof(d);
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (!err)
        err = vcore_nvmx_exit_owner(nv, &mem, &e, &d);
    if (err)
        return err;
    if (d.owner == VCORE_NVMX_OWNER_L1) {
        vcore__nvmx_exit02_t x;
        vcore__memset(&x, 0, sizeof(x));
        x.have = VCORE__X02_QUAL | VCORE__X02_INTR | VCORE__X02_INTR_ERR;
        x.reason = VCORE_VMX_EXIT_EXCEPTION_NMI;
        x.intr_info = info;
        x.intr_error = error;
        x.qual = (vector == VCORE__VEC_PF || vector == VCORE__VEC_DB) ? payload : 0u;
        bool handled = false;
        *reflected = true;
        return vcore__vcpu_nested_reflect(vcpu, &x, &d, exit, &handled);
    }
    const vcore_backend_t *ops = &vcpu->vm->ops;
    if (vector == VCORE__VEC_PF) {
        /* CR2 is not VMCS state: the vCPU's CR2 is L2's while L2 runs, and
         * it is given to the backend now (run_l2 pushes only the GPRs). */
        uint32_t held = ops->state_groups ? ops->state_groups : VCORE_X86_STATE_ALL;
        vcpu->x86->st.sregs.cr2 = payload;
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_CR2);
        if (held & VCORE_X86_STATE_CR2) {
            err = ops->vcpu_set_state(vcpu, vcpu->priv, &vcpu->state, VCORE_X86_STATE_CR2);
            if (err)
                return err < 0 ? err : VCORE_ERR_HWFAIL;
            vcpu->dirty &= ~VCORE_X86_STATE_CR2;
        }
    } else if (vector == VCORE__VEC_DB) {
        /* DR6 is shared by L1 and L2 (no VM entry or exit switches it); the
         * model's debug registers reach the backend with L1's state: a #DB
         * is injected here only just before a VM exit to L1
         * (vcore__vcpu_nested_l0_dbg), whose host state is pushed whole
         * (DR7 included, which vmcs02 holds for L2 meanwhile). */
        err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_DREGS);
        if (err)
            return err;
        vcpu->x86->st.dregs.dr6 = vcore__x86_events_dr6(vcpu->x86->st.dregs.dr6, payload);
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_DREGS);
    }
    err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, info);
    if (!err)
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VM_ENTRY_EXCEPTION_ERROR_CODE, error);
    if (!err)
        err = vcore__vcpu_nested_l0_wake(vcpu);
    nv->event02 = !err;
    return err;
}

/* #GP(0) for L2's current instruction. */
static int vcore__vcpu_nested_l0_gp(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected)
{
    return vcore__vcpu_nested_l0_exception(vcpu, (uint8_t)VCORE__VEC_GP, 0, 0, exit, reflected);
}

/* L2's RDMSR/WRMSR, which L1 lets through, of IA32_EFER, IA32_PAT or
 * IA32_DEBUGCTL while vmcs02 holds L2's value (vcpu_nested_msr02.c): RDMSR answers from it,
 * WRMSR goes through the rule an MSR-load list entry uses too (*gp: #GP(0)
 * for L2 instead, nothing changed). */
static int vcore__vcpu_nested_l0_msr02(vcore_vcpu_t *vcpu, uint32_t index, bool write, bool *gp)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    uint64_t *rax = &x->st.regs.gpr[VCORE_X86_RAX], *rdx = &x->st.regs.gpr[VCORE_X86_RDX];
    *gp = false;
    if (!write) {
        /* EDX:EAX; in 64-bit mode the upper halves of RAX and RDX are cleared. */
        uint64_t value = vcore__vcpu_nested_msr02_get(vcpu, index);
        *rax = (uint32_t)value;
        *rdx = value >> 32;
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_GPRS);
        return VCORE_OK;
    }
    uint64_t value = ((*rdx & 0xffffffffull) << 32) | (*rax & 0xffffffffull);
    uint32_t why = 0;
    int err = vcore__vcpu_nested_msr02_write(vcpu, index, value, &why);
    *gp = why != 0;
    return err;
}

/* RDMSR/WRMSR of an MSR whose L2 value is in vmcs02: completed here. SDM
 * Vol. 2, "WRMSR": a non-canonical FS/GS base or SYSENTER ESP/EIP is #GP(0). */
static int vcore__vcpu_nested_l0_msr_state(vcore_vcpu_t *vcpu, bool write, uint32_t field, vcore_exit_t *exit,
                                           bool *reflected)
{
    vcore__x86_vcpu_t *x = vcpu->x86;
    uint64_t *rax = &x->st.regs.gpr[VCORE_X86_RAX], *rdx = &x->st.regs.gpr[VCORE_X86_RDX];
    *reflected = false;
    if (!write) {
        uint64_t val = 0;
        int err = vcore__vcpu_nested_rd(vcpu, field, &val);
        if (err)
            return err;
        /* EDX:EAX; in 64-bit mode the upper halves of RAX and RDX are cleared. */
        *rax = (uint32_t)val;
        *rdx = val >> 32;
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_GPRS);
        return VCORE_OK;
    }
    uint64_t val = ((*rdx & 0xffffffffull) << 32) | (*rax & 0xffffffffull);
    if (field != VCORE_VMCS_GUEST_SYSENTER_CS) {
        /* Canonical in the processor's linear-address width, whatever
         * CR4.LA57: the rule of the vCPU's own WRMSR (x86/msr.c). */
        if (!vcore__x86_is_canonical(val, x->model.linear_bits))
            return vcore__vcpu_nested_l0_gp(vcpu, exit, reflected);
    } else {
        val &= 0xffffffffull; /* a 32-bit field */
    }
    int err = vcore__vcpu_nested_wr(vcpu, field, val);
    if (err)
        return err;
    /* vmcs12 follows: L1 reads L2's state there after its next exit. */
    const vcore__vmcs_row_t *r = vcore__vmcs_row(field);
    vcore__vmcs12_store((uint8_t *)vcpu->nvmx->vmcs12, r, val);
    return VCORE_OK;
}

/* The exit as the VMM sees it: decoded where the reason is one the VMM
 * answers, raw otherwise; always flagged as L2's. */
static void vcore__vcpu_nested_l0_head(vcore_exit_t *exit, uint32_t reason, uint64_t qual, uint32_t generic)
{
    vcore__memset(&exit->u, 0, sizeof(exit->u));
    vcore__memset(&exit->raw, 0, sizeof(exit->raw));
    exit->flags = VCORE_EXIT_F_L2;
    exit->raw.source = VCORE_EXIT_SRC_VMX;
    exit->raw.reason = reason;
    exit->raw.qualification = qual;
    exit->reason = generic;
}

/* A load of `size` bytes into a register as IN and MOV do (SDM Vol. 2,
 * "IN", "MOV"; Vol. 1, "General-Purpose Registers in 64-Bit Mode"): 8- and
 * 16-bit destinations (AH..BH: bits 15:8) leave the other bits alone, a
 * 32-bit destination zero-extends into the 64-bit register. */
static uint64_t vcore__vcpu_nested_l0_merge(uint64_t old, const uint8_t *data, uint32_t size, bool high8)
{
    uint64_t v = 0;
    for (uint32_t i = 0; i < size && i < 8; i++)
        v |= (uint64_t)data[i] << (8 * i);
    if (high8)
        return (old & ~0xff00ull) | ((v & 0xffu) << 8);
    if (size == 1)
        return (old & ~0xffull) | v;
    if (size == 2)
        return (old & ~0xffffull) | v;
    return v;
}

/* A GPR of L2: RSP is vmcs02's, the others the vCPU's register file. */
static int vcore__vcpu_nested_l0_gpr(vcore_vcpu_t *vcpu, uint32_t reg, uint64_t *v)
{
    if (reg == VCORE_X86_RSP)
        return vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_RSP, v);
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_GPRS);
    if (!err)
        *v = vcpu->x86->st.regs.gpr[reg & 15u];
    return err;
}

/* L2's paging registers and code segment, from vmcs02, and L2's IA32_EFER
 * (vcpu_nested_efer.c: what the entry, L1's MSR-load list and L2's own
 * WRMSR left). Its NXE decides whether bit 63 of a paging-structure entry
 * is XD or reserved (SDM Vol. 3, "Paging": with IA32_EFER.NXE = 0 it is
 * reserved, a #PF with RSVD set). */
static int vcore__vcpu_nested_l0_paging(vcore_vcpu_t *vcpu, vcore_x86_sregs_t *s, uint64_t *rip)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint64_t ar = 0;
    vcore__memset(s, 0, sizeof(*s));
    int err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_CR0, &s->cr0);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_CR3, &s->cr3);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_CR4, &s->cr4);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_CS_BASE, &s->seg[VCORE_X86_CS].base);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_CS_AR_BYTES, &ar);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_RIP, rip);
    if (err)
        return err;
    s->seg[VCORE_X86_CS].ar = (uint32_t)ar;
    s->efer = vcore__vcpu_nested_efer_l2(vcpu, vcore__vcpu_nested_efer_value(v, vcpu->x86->st.sregs.efer));
    return VCORE_OK;
}

/* The code size of L2 (CS.L in IA-32e mode, CR0.PE, CS.D). */
static uint32_t vcore__vcpu_nested_l0_bits(const vcore_x86_sregs_t *s)
{
    uint32_t ar = s->seg[VCORE_X86_CS].ar;
    if ((s->efer & VCORE__EFER_LMA) && (ar & VCORE_X86_AR_L))
        return 64;
    if (!(s->cr0 & VCORE__CR0_PE))
        return 16;
    return (ar & VCORE_X86_AR_DB) ? 32u : 16u;
}

/* L2's guest-physical memory: L1's memory itself, or L1's memory through
 * ept12 when L1 uses EPT (then L2's paging structures, code and data are
 * at L2 guest-physical addresses that L1's EPT maps). */
typedef struct vcore__l0_mem {
    vcore_nvmx_mem_t l1;          /* L1 memory (L0's map) */
    vcore_nvmx_mem_t l2;          /* the ept12 view, when L1 uses EPT */
    vcore__nvmx_ept_view_t view;
    const vcore_nvmx_mem_t *m;    /* what L2 addresses go through */
    bool ept;                     /* L1 uses EPT (m is the view) */
    bool ad;                      /* ... with accessed and dirty flags (EPTP bit 6) */
    bool pswrite;                 /* the view's reads are paging-structure accesses that count as writes */
    vcore__nvmx_pml_t pml;        /* L1's page-modification log, for the dirty flags L0 sets */
} vcore__l0_mem_t;

static int vcore__vcpu_nested_l0_mem(vcore_vcpu_t *vcpu, vcore__l0_mem_t *lm)
{
    lm->l1.size = sizeof(lm->l1);
    int err = vcore_nvmx_mem_from_vm(vcpu->vm, &lm->l1);
    if (err)
        return err;
    lm->m = &lm->l1;
    lm->ept = lm->ad = lm->pswrite = false;
    vcore__memset(&lm->pml, 0, sizeof(lm->pml));
    if (vcore__vcpu_nested_l1_ept(vcpu)) {
        const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
        uint64_t eptp = v->EPT_POINTER;
        /* "Page-Modification Logging": L1's log takes the dirty flags L0
         * sets for L2 as the processor would have (vmcs02 never logs). */
        lm->pml.on = (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
                     (v->SECONDARY_VM_EXEC_CONTROL & VCORE__PROC2_PML);
        lm->pml.index = v->GUEST_PML_INDEX;
        lm->pml.address = v->PML_ADDRESS;
        vcore__nvmx_ept_view(&lm->view, &lm->l1, eptp, vcpu->nvmx->maxphyaddr,
                             vcpu->nvmx->caps.msr[VCORE_NVMX_CAP_EPT_VPID], &lm->pswrite, &lm->pml, &lm->l2);
        lm->m = &lm->l2;
        lm->ept = true;
        lm->ad = (eptp & VCORE__EPTP_AD) != 0;
    }
    return VCORE_OK;
}

/* What L0's accesses wrote to L1's page-modification log: vmcs12's index
 * follows ("Page-Modification Logging": lowered by one per entry). */
static void vcore__vcpu_nested_l0_mem_done(vcore_vcpu_t *vcpu, const vcore__l0_mem_t *lm)
{
    if (!lm->pml.logged)
        return;
    vcore__vcpu_nested_v12(vcpu)->GUEST_PML_INDEX = lm->pml.index;
    vcore__nvmx_changed_id(vcpu->nvmx, VCORE__ROW_GUEST_PML_INDEX);
}

/* Reads (or writes) len bytes at L2 linear address la through L2's paging
 * and L2's guest-physical memory, page by page; the accessed and dirty
 * flags of L2's paging structures are set once every page translated. */
static int vcore__vcpu_nested_l0_lin(vcore_vcpu_t *vcpu, vcore__l0_mem_t *lm, const vcore_x86_sregs_t *s,
                                     bool long64, uint64_t la, uint8_t *buf, size_t len, bool write)
{
    size_t done = 0;
    while (done < len) {
        uint64_t cur = long64 ? la + done : (uint32_t)(la + done);
        size_t chunk = 0x1000u - (size_t)(cur & 0xfffu);
        if (chunk > len - done)
            chunk = len - done;
        uint64_t gpa = 0;
        vcore__walk_fault_t f;
        vcore__walk_ad_t ad;
        lm->pswrite = lm->ad;
        int werr = vcore__walk_access(lm->m, s, 0, vcpu->nvmx->maxphyaddr, cur,
                                      (write ? VCORE__WALK_WRITE : 0u) | vcpu->nvmx->walk_1g, &gpa, &f, &ad);
        lm->pswrite = false;
        if (werr != VCORE_OK)
            return VCORE_ERR_FAULT;
        int err = write ? lm->m->write(lm->m->ctx, gpa, buf + done, chunk)
                        : lm->m->read(lm->m->ctx, gpa, buf + done, chunk);
        if (err)
            return VCORE_ERR_FAULT;
        vcore__walk_commit_ad(lm->m, &ad);
        done += chunk;
    }
    return VCORE_OK;
}

/* Up to 15 bytes at L2's CS:RIP through L2's paging; how many were read.
 * *full: the re-fetch had to set an accessed or dirty flag of L1's EPT
 * (of L2's code or of a paging-structure entry it walked) while L1's
 * page-modification log was full ("Page-Modification Logging"): the
 * processor would have made that access a VM exit to L1 (exit 62), and
 * the caller does. */
static size_t vcore__vcpu_nested_l0_fetch(vcore_vcpu_t *vcpu, const vcore_x86_sregs_t *s, uint64_t rip,
                                          uint8_t insn[15], bool *full)
{
    vcore__l0_mem_t lm;
    *full = false;
    if (vcore__vcpu_nested_l0_mem(vcpu, &lm) != VCORE_OK)
        return 0;
    bool long64 = vcore__vcpu_nested_l0_bits(s) == 64;
    uint64_t la = s->seg[VCORE_X86_CS].base + rip;
    size_t got = 0;
    while (got < 15) {
        uint64_t cur = long64 ? la + got : (uint32_t)(la + got);
        size_t chunk = 0x1000u - (size_t)(cur & 0xfffu);
        if (chunk > 15 - got)
            chunk = 15 - got;
        uint64_t gpa = 0;
        vcore__walk_fault_t f;
        lm.pswrite = lm.ad;
        int werr = vcore__walk_access(lm.m, s, 0, vcpu->nvmx->maxphyaddr, cur, vcpu->nvmx->walk_1g, &gpa, &f, NULL);
        lm.pswrite = false;
        if (werr != VCORE_OK || lm.m->read(lm.m->ctx, gpa, insn + got, chunk) != VCORE_OK)
            break;
        got += chunk;
    }
    vcore__vcpu_nested_l0_mem_done(vcpu, &lm);
    *full = lm.view.fault == VCORE__NVMX_EPT_PML_FULL;
    return got;
}

/* L2's instruction at RIP fetched again and decoded into *in (whether it
 * decodes). *full: its own bytes met L1's full page-modification log -
 * exit 62 to L1 is due. L0 reads 15 bytes, the processor only the
 * instruction's: a log-full event past its end (the rest of the read
 * stopped there) is no event. */
static bool vcore__vcpu_nested_l0_insn(vcore_vcpu_t *vcpu, const vcore_x86_sregs_t *s, uint64_t rip,
                                       vcore__x86_insn_t *in, bool *full)
{
    uint8_t insn[15];
    bool met = false;
    size_t got = vcore__vcpu_nested_l0_fetch(vcpu, s, rip, insn, &met);
    bool decoded = vcore__x86_decode(insn, got, vcore__vcpu_nested_l0_bits(s), in) == VCORE_OK;
    *full = met && !decoded;
    return decoded;
}

static int vcore__vcpu_nested_l0_pml_full(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled);

int vcore__vcpu_nested_l0_mmio(vcore_vcpu_t *vcpu, vcore_exit_t *exit, uint64_t l1_gpa, bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    uint64_t q = nv->x02.qual;
    exit->raw.data[5] = nv->x02.gpa;
    if ((q & L0_EPTQ_FETCH) || (q & (L0_EPTQ_GLA_VALID | L0_EPTQ_GLA_XLATE)) != (L0_EPTQ_GLA_VALID | L0_EPTQ_GLA_XLATE) ||
        (nv->x02.idt & (1u << 31)))
        return VCORE_OK;
    vcore_x86_sregs_t s;
    uint64_t rip = 0;
    int err = vcore__vcpu_nested_l0_paging(vcpu, &s, &rip);
    if (err)
        return err;
    vcore__x86_insn_t in;
    bool full = false;
    bool decoded = vcore__vcpu_nested_l0_insn(vcpu, &s, rip, &in, &full);
    if (full)
        return vcore__vcpu_nested_l0_pml_full(vcpu, exit, handled);
    if (!decoded || in.mod == 3 ||
        !(in.opcode == 0x88 || in.opcode == 0x89 || in.opcode == 0x8a || in.opcode == 0x8b ||
          ((in.opcode == 0xc6 || in.opcode == 0xc7) && (in.reg & 7u) == 0)))
        return VCORE_OK;
    bool is_write = in.opcode != 0x8a && in.opcode != 0x8b;
    if (is_write != ((q & L0_EPTQ_WRITE) != 0))
        return VCORE_OK;
    bool byte_op = in.opcode == 0x88 || in.opcode == 0x8a || in.opcode == 0xc6;
    uint32_t size = byte_op ? 1u : in.opbytes;
    bool high8 = false;
    uint8_t reg = byte_op ? vcore__x86_byte_reg(&in, in.reg, &high8) : in.reg;
    if (is_write) {
        uint64_t val = in.imm;
        if (in.opcode == 0xc6 || in.opcode == 0xc7) {
            /* A 32-bit immediate is sign-extended to a 64-bit operand. */
            if (size == 8 && (val & 0x80000000ull))
                val |= 0xffffffff00000000ull;
        } else {
            err = vcore__vcpu_nested_l0_gpr(vcpu, reg, &val);
            if (err)
                return err;
            if (high8)
                val >>= 8;
        }
        for (uint32_t i = 0; i < size; i++)
            exit->u.mmio.data[i] = (uint8_t)(val >> (8 * i));
    } else {
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
    }
    exit->reason = VCORE_EXIT_MMIO;
    exit->u.mmio.gpa = l1_gpa;
    exit->u.mmio.len = size;
    exit->u.mmio.is_write = is_write ? 1u : 0u;
    exit->raw.data[0] = in.len;
    exit->raw.data[6] = rip;
    nv->l2_pending = VCORE_EXIT_MMIO;
    nv->l2_insn_len = in.len;
    nv->l2_mmio_reg = reg;
    nv->l2_mmio_high8 = high8;
    nv->l2_mmio_len = (uint8_t)(is_write ? 0u : size);
    return VCORE_OK;
}

/* Why an element of a string I/O instruction cannot move. */
#define L0_ELEM_OK 0u
#define L0_ELEM_SEG 1u /* segmentation: #SS(0) through SS, #GP(0) otherwise */
#define L0_ELEM_PF 2u  /* L2's paging: #PF */
#define L0_ELEM_EPT 3u /* L1's EPT: EPT violation or misconfiguration, to L1 */
#define L0_ELEM_RAW 4u /* no memory behind it in L0's map (MMIO): the VMM decides */

typedef struct vcore__l0_elem {
    uint32_t kind;           /* L0_ELEM_* */
    vcore__walk_fault_t pf;  /* L0_ELEM_PF */
    vcore__nvmx_exit02_t x;  /* L0_ELEM_EPT: the exit information L1 gets */
} vcore__l0_elem_t;

/* ept12's verdict on an L2 guest-physical address (out->kind stays OK
 * and *l1_gpa is the L1 address when ept12 allows the access) (the element, or a
 * paging-structure entry of L2 the walk read) as the exit to L1 reports
 * it ("Exit Qualification for EPT Violations"): bits 2:0 the access, 5:3
 * what the walk of ept12 grants, 7 the linear address is valid, 8 set for
 * the access to the translation itself, clear for a paging-structure
 * access; the guest-physical and guest-linear addresses. An EPT
 * misconfiguration has no qualification and no linear address. */
static void vcore__vcpu_nested_l0_ept12(vcore__l0_mem_t *lm, uint32_t maxphyaddr, uint64_t gpa, uint32_t access,
                                        uint64_t gla, bool final, vcore__l0_elem_t *out, uint64_t *l1_gpa)
{
    vcore_nvmx_ept_walk_t w;
    w.size = sizeof(w);
    if (vcore__nvmx_ept_translate_pml(&lm->l1, lm->view.eptp, maxphyaddr, lm->view.ept_cap, gpa, access, &lm->pml,
                                      &w) != VCORE_OK) {
        out->kind = L0_ELEM_RAW;
        return;
    }
    if (w.kind == VCORE_NVMX_EPT_OK) {
        *l1_gpa = w.gpa;
        return;
    }
    out->kind = L0_ELEM_EPT;
    vcore__memset(&out->x, 0, sizeof(out->x));
    if (w.kind == VCORE__NVMX_EPT_PML_FULL) {
        /* Exit 62 ("Exit Qualification for Page-Modification Log Full"):
         * bit 12 only, not an IRET here; no guest-physical or linear address. */
        out->x.reason = VCORE_VMX_EXIT_PML_FULL;
        out->x.have = VCORE__X02_QUAL;
        return;
    }
    out->x.gpa = gpa;
    if (w.kind == VCORE_NVMX_EPT_MISCONFIG) {
        out->x.reason = VCORE_VMX_EXIT_EPT_MISCONFIG;
        out->x.have = VCORE__X02_QUAL | VCORE__X02_GPA;
        return;
    }
    out->x.reason = VCORE_VMX_EXIT_EPT_VIOLATION;
    out->x.have = VCORE__X02_QUAL | VCORE__X02_GLA | VCORE__X02_GPA;
    out->x.qual = w.qualification | L0_EPTQ_GLA_VALID | (final ? L0_EPTQ_GLA_XLATE : 0u);
    out->x.gla = gla;
}

/* Whether the element at linear address la (width bytes, at most two
 * pages) can move: L2's paging for the access (a write for INS, user mode
 * at CPL 3: "Access Rights"), with L1's EPT the paging-structure entries
 * and the element through ept12, and L1 memory behind it. Nothing is
 * written to L2's paging structures; ept12's accessed and dirty flags are
 * set as the processor sets them for the translations that succeed. */
static void vcore__vcpu_nested_l0_probe(vcore_vcpu_t *vcpu, vcore__l0_mem_t *lm, const vcore_x86_sregs_t *s,
                                        uint64_t rflags, bool long64, uint64_t la, uint32_t width, uint32_t access,
                                        vcore__l0_elem_t *out)
{
    uint32_t maxphyaddr = vcpu->nvmx->maxphyaddr;
    uint32_t ept_access = (access & VCORE__WALK_WRITE) ? VCORE_NVMX_EPT_WRITE : VCORE_NVMX_EPT_READ;
    out->kind = L0_ELEM_OK;
    for (uint32_t done = 0; done < width;) {
        uint64_t cur = long64 ? la + done : (uint32_t)(la + done);
        uint32_t chunk = 0x1000u - (uint32_t)(cur & 0xfffu);
        if (chunk > width - done)
            chunk = width - done;
        uint64_t gpa = 0, l1_gpa = 0;
        /* "Accessed and Dirty Flags for EPT": with them enabled, the
         * processor's accesses to L2's paging structures count as writes. */
        lm->pswrite = lm->ad;
        int err = vcore__walk_access(lm->m, s, rflags, maxphyaddr, cur, access | vcpu->nvmx->walk_1g, &gpa, &out->pf, NULL);
        lm->pswrite = false;
        if (err == VCORE_ERR_INVAL) {
            out->kind = L0_ELEM_PF;
            return;
        }
        if (err) {
            /* A paging-structure entry ept12 does not let the walk read
             * (a read, and a write too with EPT A/D), or no memory. */
            out->kind = L0_ELEM_RAW;
            if (lm->ept && lm->view.fault)
                vcore__vcpu_nested_l0_ept12(lm, maxphyaddr, lm->view.fault_gpa,
                                                  VCORE_NVMX_EPT_READ | (lm->ad ? VCORE_NVMX_EPT_WRITE : 0u), cur,
                                                  false, out, &l1_gpa);
            return;
        }
        l1_gpa = gpa;
        if (lm->ept)
            vcore__vcpu_nested_l0_ept12(lm, maxphyaddr, gpa, ept_access, cur, true, out, &l1_gpa);
        if (out->kind != L0_ELEM_OK)
            return;
        uint8_t probe[4];
        if (lm->l1.read(lm->l1.ctx, l1_gpa, probe, chunk) != VCORE_OK) {
            out->kind = L0_ELEM_RAW;
            return;
        }
        done += chunk;
    }
}

/* The first element of L2's string I/O faults: the instruction does not
 * complete, its exception or EPT exit happens instead (*again: L2 runs
 * into its exception handler; *handled: L1 got the exit). */
static int vcore__vcpu_nested_l0_elem_fault(vcore_vcpu_t *vcpu, const vcore__l0_elem_t *f, uint32_t seg,
                                            vcore_exit_t *exit, bool *again, bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    bool reflected = false;
    int err;
    if (f->kind == L0_ELEM_EPT) {
        vcore_nvmx_l2_exit_t e;
        vcore__memset(&e, 0, sizeof(e));
        e.size = sizeof(e);
        e.reason = f->x.reason;
        e.qualification = f->x.qual;
        vcore_nvmx_decision_t d;
        d.size = sizeof(d);
        vcore_nvmx_mem_t mem;
        mem.size = sizeof(mem);
        err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
        if (!err)
            err = vcore_nvmx_exit_owner(nv, &mem, &e, &d);
        if (err)
            return err;
        nv->l2_insn_len = 0;
        err = vcore__vcpu_nested_reflect(vcpu, &f->x, &d, exit, &reflected);
    } else if (f->kind == L0_ELEM_PF) {
        err = vcore__vcpu_nested_l0_exception(vcpu, (uint8_t)f->pf.vector, f->pf.error_code, f->pf.cr2, exit,
                                              &reflected);
    } else {
        uint8_t vec = (uint8_t)(seg == VCORE_X86_SS ? VCORE__VEC_SS : VCORE__VEC_GP);
        err = vcore__vcpu_nested_l0_exception(vcpu, vec, 0, 0, exit, &reflected);
    }
    return vcore__vcpu_nested_l0_done(vcpu, err, reflected, exit, handled, again);
}

/* L0's re-fetch of L2's instruction found L1's page-modification log
 * full: exit 62 to L1 instead of the instruction ("Page-Modification
 * Logging": the flag is not set and the access does not happen), RIP at
 * it, nothing of it done. Exit qualification bit 12 (NMI unblocking due
 * to IRET, "Exit Qualification for Page-Modification Log Full Event") is
 * clear: the instructions L0 completes here (MOV, INS, OUTS) are not IRET;
 * no guest-physical or linear address is saved. *handled: L1 has the exit
 * (not after a shutdown). */
static int vcore__vcpu_nested_l0_pml_full(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    vcore__l0_elem_t f;
    bool again = false;
    vcore__memset(&f, 0, sizeof(f));
    f.kind = L0_ELEM_EPT;
    f.x.reason = VCORE_VMX_EXIT_PML_FULL;
    f.x.have = VCORE__X02_QUAL;
    return vcore__vcpu_nested_l0_elem_fault(vcpu, &f, VCORE_X86_DS, exit, &again, handled);
}

/* INS/OUTS (REP or not) of L2 that L0 keeps (SDM Vol. 2,
 * "INS/INSB/INSW/INSD", "OUTS/OUTSB/OUTSW/OUTSD"): the instruction at L2's
 * RIP gives the address size and OUTS's segment override; INS writes
 * ES:rDI, OUTS reads DS:rSI (or the override); in 64-bit mode only FS and
 * GS have a base. With REP, rCX (at the address size) elements, as many as
 * the buffer holds, stopping before the first element that faults: the
 * rest is done when L2 executes the instruction again (REP keeps rCX, rSI,
 * rDI current between iterations). OUTS's data is read now, INS's written
 * with the reply. A fault of the first element is the instruction's
 * ("Protected Mode Exceptions" / "64-Bit Mode Exceptions" of INS and OUTS;
 * the processor checks the memory operand after the VM exit, "Relative
 * Priority of Faults and VM Exits"): #GP(0) or #SS(0) for segmentation
 * (a limit, type or canonical violation), #PF from L2's paging, an EPT
 * violation or misconfiguration of L1's EPT. An instruction that does not
 * decode as INS/OUTS, or whose first element has no memory behind it,
 * stays raw. */
static int vcore__vcpu_nested_l0_string(vcore_vcpu_t *vcpu, vcore_exit_t *exit, uint64_t q, bool *again,
                                        bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__x86_vcpu_t *x = vcpu->x86;
    vcore_x86_sregs_t s;
    uint64_t rip = 0, rflags = 0, ss_ar = 0;
    int err = vcore__vcpu_nested_l0_paging(vcpu, &s, &rip);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_RFLAGS, &rflags);
    if (!err)
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_SS_AR_BYTES, &ss_ar);
    /* Fetching the GPRs may make the backend switch VMCS: vmcs02 again. */
    if (!err)
        err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_GPRS);
    if (!err)
        err = vcore__vcpu_nested_load02(vcpu);
    if (err)
        return err;
    vcore__x86_insn_t in;
    bool full = false;
    bool decoded = vcore__vcpu_nested_l0_insn(vcpu, &s, rip, &in, &full);
    if (full)
        return vcore__vcpu_nested_l0_pml_full(vcpu, exit, handled);
    uint32_t bits = vcore__vcpu_nested_l0_bits(&s);
    bool is_in = (q & L0_IOQ_IN) != 0;
    /* 6CH/6DH are INS, 6EH/6FH OUTS; the direction must be the exit's. */
    if (!decoded || in.opcode < 0x6c || in.opcode > 0x6f ||
        (in.opcode < 0x6e) != is_in)
        return VCORE_OK;
    vcore__x86_str_t *sx = &nv->l2_strx;
    uint32_t seg = is_in ? VCORE_X86_ES : (in.seg != VCORE__X86_SEG_NONE ? in.seg : VCORE_X86_DS);
    sx->width = L0_IOQ_SIZE(q);
    sx->asize = in.addr_bits;
    sx->down = (rflags & VCORE__RFLAGS_DF) != 0;
    sx->long64 = bits == 64;
    sx->base = 0;
    /* The segment as the checks need it; guest segment fields are
     * consecutive encodings, ES first ("Guest Register State"). */
    vcore_x86_segment_t sc;
    vcore__memset(&sc, 0, sizeof(sc));
    uint32_t mode = VCORE__SEG_MODE_64;
    if (!sx->long64) {
        uint64_t limit = 0, ar = 0;
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_ES_LIMIT + 2u * seg, &limit);
        if (!err)
            err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_ES_AR_BYTES + 2u * seg, &ar);
        if (err)
            return err;
        sc.limit = (uint32_t)limit;
        sc.ar = (uint32_t)ar;
        /* Real-address and virtual-8086 mode check limits only. */
        mode = ((s.cr0 & VCORE__CR0_PE) && !(rflags & VCORE__RFLAGS_VM)) ? VCORE__SEG_MODE_PROT : VCORE__SEG_MODE_REAL;
    }
    if (!sx->long64 || seg == VCORE_X86_FS || seg == VCORE_X86_GS) {
        err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_ES_BASE + 2u * seg, &sx->base);
        if (err)
            return err;
    }
    sc.base = sx->base;
    uint64_t mask = vcore__x86_str_mask(sx->asize);
    bool rep = (q & L0_IOQ_REP) != 0;
    uint64_t reg = x->st.regs.gpr[is_in ? VCORE_X86_RDI : VCORE_X86_RSI];
    uint64_t n = rep ? (x->st.regs.gpr[VCORE_X86_RCX] & mask) : 1u;
    uint32_t max = (uint32_t)sizeof(nv->l2_io) / sx->width;
    /* "Monitor Trap Flag": with L1's control an MTF VM exit follows each
     * iteration of a REP string instruction: one element per exit. */
    if (vcore__vcpu_nested_v12(vcpu)->CPU_BASED_VM_EXEC_CONTROL & (1u << 27))
        max = 1;
    uint32_t count = (uint32_t)(n < max ? n : max);
    nv->l2_str = true;
    nv->l2_str_rep = rep;
    nv->l2_str_in = is_in;
    nv->l2_str_len = in.len;
    if (!count) {
        /* REP with rCX = 0: nothing moves, the instruction completes. */
        nv->l2_str_count = 0;
        nv->l2_insn_len = in.len;
        nv->last.l0_handled++;
        *again = true;
        return VCORE_OK;
    }
    vcore__l0_mem_t lm;
    err = vcore__vcpu_nested_l0_mem(vcpu, &lm);
    if (err)
        return err;
    /* CPL is SS.DPL ("Checks on Guest Segment Registers"). */
    uint32_t access = (is_in ? VCORE__WALK_WRITE : 0u) |
                      (((ss_ar & VCORE_X86_AR_DPL_MASK) >> VCORE_X86_AR_DPL_SHIFT) == 3u ? VCORE__WALK_USER : 0u);
    uint32_t la_bits = (s.cr4 & VCORE__CR4_LA57) ? 57u : 48u;
    vcore__memset(nv->l2_io, 0, sizeof(nv->l2_io));
    for (uint32_t k = 0; k < count; k++) {
        uint8_t *el = nv->l2_io + (size_t)k * sx->width;
        uint64_t la = 0;
        vcore__l0_elem_t f;
        f.kind = L0_ELEM_OK;
        if (!vcore__x86_seg_linear(&sc, mode, vcore__x86_str_off(sx, reg, k), sx->width, is_in, la_bits, &la))
            f.kind = L0_ELEM_SEG;
        else
            vcore__vcpu_nested_l0_probe(vcpu, &lm, &s, rflags, sx->long64, la, sx->width, access, &f);
        /* OUTS: the data now (INS's element is written with the reply). */
        if (f.kind == L0_ELEM_OK && !is_in &&
            vcore__vcpu_nested_l0_lin(vcpu, &lm, &s, sx->long64, la, el, sx->width, false) != VCORE_OK)
            f.kind = L0_ELEM_RAW;
        if (f.kind == L0_ELEM_OK)
            continue;
        if (k > 0) {
            count = k;
            break;
        }
        nv->l2_str = false;
        vcore__vcpu_nested_l0_mem_done(vcpu, &lm);
        if (f.kind == L0_ELEM_RAW)
            return VCORE_OK;
        return vcore__vcpu_nested_l0_elem_fault(vcpu, &f, seg, exit, again, handled);
    }
    vcore__vcpu_nested_l0_mem_done(vcpu, &lm);
    nv->l2_str_count = count;
    exit->reason = VCORE_EXIT_IO;
    exit->u.io.port = L0_IOQ_PORT(q);
    exit->u.io.width = (uint8_t)sx->width;
    exit->u.io.is_in = is_in ? 1u : 0u;
    exit->u.io.count = count;
    exit->u.io.data = nv->l2_io;
    if (is_in)
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
    exit->raw.data[0] = in.len;
    nv->l2_io_width = (uint8_t)sx->width;
    nv->l2_pending = VCORE_EXIT_IO;
    nv->l2_insn_len = in.len;
    return VCORE_OK;
}

/* The VMM moved the elements of a string I/O exit: INS's go to memory,
 * rSI/rDI move past them, REP's rCX counts them off; the instruction
 * completes (RIP past it) only when rCX reaches 0 or without REP. */
static int vcore__vcpu_nested_l0_string_done(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    uint64_t *gpr = vcpu->x86->st.regs.gpr;
    const vcore__x86_str_t *sx = &nv->l2_strx;
    uint32_t idx = nv->l2_str_in ? VCORE_X86_RDI : VCORE_X86_RSI;
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_GPRS);
    if (!err)
        err = vcore__vcpu_nested_load02(vcpu);
    if (err)
        return err;
    uint64_t reg = gpr[idx];
    if (nv->l2_str_in) {
        uint8_t data[sizeof(nv->l2_io)];
        vcore__memcpy(data, nv->l2_io, sizeof(data)); /* the reply, copied once */
        vcore_x86_sregs_t s;
        uint64_t rip = 0;
        vcore__l0_mem_t lm;
        err = vcore__vcpu_nested_l0_paging(vcpu, &s, &rip);
        if (!err)
            err = vcore__vcpu_nested_l0_mem(vcpu, &lm);
        if (err)
            return err;
        /* Translated at the exit: a write that fails now (L0 took the page
         * away meanwhile) drops that element, as a write to no memory. */
        for (uint32_t k = 0; k < nv->l2_str_count; k++)
            (void)vcore__vcpu_nested_l0_lin(vcpu, &lm, &s, sx->long64, vcore__x86_str_elem(sx, reg, k),
                                            data + (size_t)k * sx->width, sx->width, true);
        vcore__vcpu_nested_l0_mem_done(vcpu, &lm);
    }
    uint64_t bytes = (uint64_t)nv->l2_str_count * sx->width;
    gpr[idx] = vcore__x86_str_step(reg, sx->down ? (uint64_t)0 - bytes : bytes, sx->asize);
    if (nv->l2_str_rep) {
        gpr[VCORE_X86_RCX] = vcore__x86_str_step(gpr[VCORE_X86_RCX], (uint64_t)0 - nv->l2_str_count, sx->asize);
        if (gpr[VCORE_X86_RCX] & vcore__x86_str_mask(sx->asize)) {
            nv->l2_insn_len = 0; /* executed again for the rest */
            nv->l2_done = nv->l2_str_count != 0;
        }
    }
    vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_GPRS);
    return VCORE_OK;
}

int vcore__vcpu_nested_l0_exit(vcore_vcpu_t *vcpu, uint32_t reason, vcore_exit_t *exit, bool *again,
                               bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    uint32_t basic = VCORE_VMX_EXIT_REASON_BASIC(reason);
    uint64_t q = nv->x02.qual;
    vcore__x86_vcpu_t *x = vcpu->x86;
    *again = *handled = false;
    nv->l2_pending = 0;
    nv->l2_insn_len = 0;
    nv->l2_mmio_vmwrite = false;
    vcore__vcpu_nested_l0_head(exit, reason, q, VCORE_EXIT_RAW);
    switch (basic) {
    case VCORE_VMX_EXIT_HLT:
        exit->reason = VCORE_EXIT_HLT;
        nv->l2_pending = VCORE_EXIT_HLT;
        nv->l2_insn_len = nv->x02.insn_len;
        exit->raw.data[0] = nv->x02.insn_len;
        return VCORE_OK;
    case VCORE_VMX_EXIT_IO_INSTRUCTION: {
        nv->l2_str = false;
        if (q & L0_IOQ_STRING)
            return vcore__vcpu_nested_l0_string(vcpu, exit, q, again, handled);
        int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_GPRS);
        if (err)
            return err;
        uint32_t width = L0_IOQ_SIZE(q);
        uint64_t rax = x->st.regs.gpr[VCORE_X86_RAX];
        exit->reason = VCORE_EXIT_IO;
        exit->u.io.port = L0_IOQ_PORT(q);
        exit->u.io.width = (uint8_t)width;
        exit->u.io.is_in = (q & L0_IOQ_IN) ? 1u : 0u;
        exit->u.io.count = 1;
        exit->u.io.data = nv->l2_io;
        /* OUT: AL, AX or EAX; IN: the reply buffer. */
        for (uint32_t i = 0; i < sizeof(nv->l2_io); i++)
            nv->l2_io[i] = (uint8_t)((!exit->u.io.is_in && i < width) ? (rax >> (8 * i)) : 0u);
        if (exit->u.io.is_in)
            exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        exit->raw.data[0] = nv->x02.insn_len;
        nv->l2_io_width = (uint8_t)width;
        nv->l2_pending = VCORE_EXIT_IO;
        nv->l2_insn_len = nv->x02.insn_len;
        return VCORE_OK;
    }
    case VCORE_VMX_EXIT_RDMSR:
    case VCORE_VMX_EXIT_WRMSR: {
        /* l2_exit fetched the GPRs for the bitmap decision. */
        bool write = basic == VCORE_VMX_EXIT_WRMSR;
        uint32_t index = (uint32_t)x->st.regs.gpr[VCORE_X86_RCX];
        uint32_t field = vcore__vcpu_nested_l0_msr_field(index);
        nv->l2_insn_len = nv->x02.insn_len;
        if (vcore__vcpu_nested_msr02_held(vcpu, index)) {
            /* L2's EFER, PAT and IA32_DEBUGCTL are vmcs02's
             * (vcpu_nested_efer.c, vcpu_nested_pat.c,
             * vcpu_nested_debugctl.c), not L1's. */
            bool gp = false, reflected = false;
            int err = vcore__vcpu_nested_l0_msr02(vcpu, index, write, &gp);
            if (!err && gp)
                err = vcore__vcpu_nested_l0_gp(vcpu, exit, &reflected);
            if (err || reflected) {
                *handled = reflected && vcore__vcpu_nested_l1_next(vcpu, exit);
                return err;
            }
            nv->last.l0_handled++;
            *again = true;
            return VCORE_OK;
        }
        if (field) {
            bool reflected = false;
            int err = vcore__vcpu_nested_l0_msr_state(vcpu, write, field, exit, &reflected);
            if (err || reflected) {
                *handled = reflected && vcore__vcpu_nested_l1_next(vcpu, exit);
                return err;
            }
            nv->last.l0_handled++;
            *again = true;
            return VCORE_OK;
        }
        exit->reason = write ? VCORE_EXIT_WRMSR : VCORE_EXIT_RDMSR;
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        exit->u.msr.index = index;
        if (write)
            exit->u.msr.value = ((x->st.regs.gpr[VCORE_X86_RDX] & 0xffffffffull) << 32) |
                                (x->st.regs.gpr[VCORE_X86_RAX] & 0xffffffffull);
        exit->u.msr.why = basic;
        exit->raw.data[0] = nv->x02.insn_len;
        nv->l2_pending = exit->reason;
        nv->l2_rdtsc = !write && index == VCORE_MSR_IA32_TSC;
        return VCORE_OK;
    }
    case VCORE_VMX_EXIT_EPT_VIOLATION:
        return vcore__vcpu_nested_l0_mmio(vcpu, exit, nv->x02.gpa, handled);
    case VCORE_VMX_EXIT_VMREAD:
    case VCORE_VMX_EXIT_VMWRITE:
        /* L1 uses VMCS shadowing (rule VMCS_SHADOW): L2's access to L1's
         * shadow VMCS (vcpu_nested_shadow12.c). */
        return vcore__vcpu_nested_shadow12_insn(vcpu, basic, exit, again, handled);
    default:
        return VCORE_OK; /* VCORE_EXIT_RAW: reason and qualification */
    }
}

/* An instruction of L2 that L0 or the VMM completed (its exit showed it
 * unfinished, so the processor raised no trap for it). "Single-Step
 * Exception Condition": with RFLAGS.TF set (no instruction L0 completes
 * changes TF) and IA32_DEBUGCTL.BTF clear (with it TF traps taken
 * branches only), its completion is followed by a trap-class #DB with
 * DR6.BS. The processor keeps such a trap in vmcs02's pending debug
 * exceptions field (bit 14, BS: "Guest Non-Register State"), and the next
 * entry of L2 delivers it before any instruction ("Delivery of Pending
 * Debug Exceptions after VM Entry"): in L2 with DR6.BS set, or - L1's
 * exception bitmap bit 1 being part of vmcs02's - as exit 0 with
 * qualification BS ("Exit Qualification for Debug Exceptions"), which is
 * L1's. An exit to L1 that comes first on that boundary (MTF, INIT) saves
 * the field in vmcs12 as the processor would ("Saving Non-Register
 * State"). The instruction ended blocking by MOV SS, so nothing holds the
 * trap back. */
int vcore__vcpu_nested_l0_step(vcore_vcpu_t *vcpu)
{
    uint64_t pending = 0, rflags = 0;
    int err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_RFLAGS, &rflags);
    if (err)
        return err;
    /* L2's IA32_DEBUGCTL is vmcs02's (vcpu_nested_debugctl.c). */
    if (!(rflags & VCORE__RFLAGS_TF) ||
        (vcore__vcpu_nested_msr02_get(vcpu, VCORE_MSR_IA32_DEBUGCTL) & VCORE__DEBUGCTL_BTF))
        return VCORE_OK;
    err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, &pending);
    if (!err)
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, pending | VCORE__PENDDBG_BS);
    return err;
}

/* L2's HLT, which L1 does not intercept, completed by the VMM ("HLT":
 * the processor stops at the instruction boundary after it, in the HLT
 * state, until an event): the VMM held the vCPU halted and runs it again
 * for an event. One that is a VM exit to L1 before L2 runs - an external
 * interrupt, an NMI, INIT, MTF, all of which end the HLT state only after
 * the VM exit completes ("Architectural State Before a VM Exit") - saves
 * activity state 1 with RIP past the HLT ("Saving Non-Register State"):
 * vmcs02's activity state is HLT until then, and vmcs12's field follows,
 * which tells the exit's guest-state save to read it back from vmcs02
 * (whose HLT exiting is L0's). An event L0 delivers to L2, or the run
 * entering vmcs02 with nothing for L1, wakes L2 (vcore__vcpu_nested_l0_wake):
 * the VMM's run after VCORE_EXIT_HLT is the wake-up, as for L1's HLT, and
 * L2 is never left halted in vmcs02, where no event of the VMM's could
 * reach it. Only where L1 has the HLT state to resume L2 in (IA32_VMX_MISC
 * bit 6); without it L2 runs on past the HLT. */
static int vcore__vcpu_nested_l0_halt(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    if (!(nv->caps.msr[VCORE_NVMX_CAP_MISC] & VCORE__VMX_MISC_ACT_HLT))
        return VCORE_OK;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_ACTIVITY_STATE, VCORE__ACT_HLT);
    if (!err)
        v->GUEST_ACTIVITY_STATE = VCORE__ACT_HLT; /* vmcs02 holds it: no field to rewrite */
    nv->l2_halted = !err;
    return err;
}

int vcore__vcpu_nested_l0_wake(vcore_vcpu_t *vcpu)
{
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    vcpu->nvmx->l2_halted = false;
    if (v->GUEST_ACTIVITY_STATE != VCORE__ACT_HLT)
        return VCORE_OK;
    int err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_ACTIVITY_STATE, VCORE__ACT_ACTIVE);
    if (!err)
        v->GUEST_ACTIVITY_STATE = VCORE__ACT_ACTIVE;
    return err;
}

/* SDM Vol. 3, "Delivery of Pending Debug Exceptions after VM Entry": valid
 * pending debug exceptions (BS, enabled breakpoint or RTM) have the priority of
 * "traps on the previous instruction" - above a pending NMI or external
 * interrupt ("Priority Among Concurrent Events": priority 4 before 5 and
 * 6) - so the #DB comes before their VM exit. It is delivered here by the
 * rule of any exception L0 raises for L2: exit 0 to L1 (interruption
 * information 80000301H, qualification the pending B3-B0, BS and RTM) when
 * L1's exception bitmap has bit 1, the NMI or interrupt still pending;
 * else injected into L2 with DR6 updated, which the NMI or interrupt exit
 * that follows reports as the event being delivered (IDT-vectoring
 * information) for L1 to deliver first on its next entry. Either way the
 * field is then clear: "Saving Non-Register State" saves it clear at a VM
 * exit caused by a debug exception or by an NMI or external interrupt.
 * Not in the shutdown or wait-for-SIPI state, where pending debug
 * exceptions are not delivered. */
int vcore__vcpu_nested_l0_dbg(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected, bool *shutdown)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint64_t pending = 0;
    *reflected = *shutdown = false;
    if (v->GUEST_ACTIVITY_STATE >= VCORE__ACT_SHUTDOWN)
        return VCORE_OK;
    int err = vcore__vcpu_nested_rd(vcpu, VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, &pending);
    if (err || !(pending & VCORE__PENDDBG_VALID))
        return err;
    err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
    bool to_l1 = false;
    if (!err)
        err = vcore__vcpu_nested_l0_exception(vcpu, (uint8_t)VCORE__VEC_DB, 0,
                                              pending & (VCORE__PENDDBG_B0_3 | VCORE__PENDDBG_BS | VCORE__PENDDBG_RTM),
                                              exit, &to_l1);
    if (err || !to_l1)
        return err;
    *reflected = vcore__vcpu_nested_l1_next(vcpu, exit);
    *shutdown = !*reflected;
    return VCORE_OK;
}

int vcore__vcpu_nested_l0_reply(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__x86_vcpu_t *x = vcpu->x86;
    uint32_t pending = nv->l2_pending;
    *reflected = false;
    nv->l2_pending = 0;
    if (!pending)
        return VCORE_OK;
    switch (pending) {
    case VCORE_EXIT_IO:
        if (nv->l2_str)
            return vcore__vcpu_nested_l0_string_done(vcpu);
        /* The reply buffer is ours (exit->u.io.data points into it); only an
         * IN reads it, once. */
        if (exit->reason == VCORE_EXIT_IO && exit->u.io.is_in) {
            uint8_t data[4];
            vcore__memcpy(data, nv->l2_io, sizeof(data));
            int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_GPRS);
            if (err)
                return err;
            x->st.regs.gpr[VCORE_X86_RAX] =
                vcore__vcpu_nested_l0_merge(x->st.regs.gpr[VCORE_X86_RAX], data, nv->l2_io_width, false);
            vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_GPRS);
        }
        return VCORE_OK;
    case VCORE_EXIT_RDMSR:
    case VCORE_EXIT_WRMSR: {
        /* vcore_vcpu_run already refused a reply of another reason. */
        uint8_t error = exit->u.msr.error;
        uint64_t value = exit->u.msr.value;
        if (error)
            return vcore__vcpu_nested_l0_gp(vcpu, exit, reflected);
        if (pending == VCORE_EXIT_RDMSR) {
            int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_GPRS);
            if (err)
                return err;
            /* RDMSR of IA32_TIME_STAMP_COUNTER reads L1's TSC through L1's
             * offset and multiplier ("Changes to Instruction Behavior in
             * VMX Non-Root Operation"); the VMM answered for the vCPU,
             * whose TSC is L1's. */
            if (nv->l2_rdtsc)
                value = vcore__vcpu_nested_tsc_l2(vcpu, value);
            x->st.regs.gpr[VCORE_X86_RAX] = (uint32_t)value;
            x->st.regs.gpr[VCORE_X86_RDX] = value >> 32;
            vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_GPRS);
        }
        return VCORE_OK;
    }
    case VCORE_EXIT_MMIO: {
        if (nv->l2_mmio_vmwrite)
            return vcore__vcpu_nested_shadow12_reply(vcpu, exit, reflected);
        if (!nv->l2_mmio_len || exit->reason != VCORE_EXIT_MMIO)
            return VCORE_OK; /* a write: only RIP moves */
        uint8_t data[8];
        vcore__memcpy(data, exit->u.mmio.data, sizeof(data)); /* the reply, copied once */
        uint64_t old = 0;
        int err = vcore__vcpu_nested_l0_gpr(vcpu, nv->l2_mmio_reg, &old);
        if (err)
            return err;
        uint64_t val = vcore__vcpu_nested_l0_merge(old, data, nv->l2_mmio_len, nv->l2_mmio_high8);
        if (nv->l2_mmio_reg == VCORE_X86_RSP)
            return vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_RSP, val);
        x->st.regs.gpr[nv->l2_mmio_reg & 15u] = val;
        vcore__vcpu_mark_dirty(vcpu, VCORE_X86_STATE_GPRS);
        return VCORE_OK;
    }
    case VCORE_EXIT_HLT:
        return vcore__vcpu_nested_l0_halt(vcpu); /* RIP moves past it (run_l2) */
    default:
        return VCORE_OK;
    }
}
