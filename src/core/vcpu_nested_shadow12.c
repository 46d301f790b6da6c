/*
 * vcpu_nested_shadow12.c - L1's VMCS shadowing for L2: L2's VMREAD and
 * VMWRITE on the shadow VMCS that vmcs12's VMCS link pointer names.
 *
 * SDM Vol. 3, "VMCS Shadowing" and "Changes to Instruction Behavior in VMX
 * Non-Root Operation": with secondary control 14 ("VMCS shadowing"), a
 * VMREAD or VMWRITE in VMX non-root operation causes a VM exit when bits
 * 63:15 of the field encoding are not all 0 or when the bit of the VMREAD
 * (VMWRITE) bitmap for bits 14:0 of the encoding is 1; otherwise it reads
 * (writes) the VMCS referenced by the VMCS link pointer. vmcs02 never has
 * the control (merge rule ZERO of VCORE_NVMX_CTL_RULES), so every VMREAD
 * and VMWRITE of L2 exits to L0, and L0 does what L1's processor would:
 *  - each VM entry of L2 reads the link-pointer VMCS once from L1 memory
 *    into the nested state (vcore_nvmx_shadow_load(): 4-KByte aligned,
 *    within the physical-address width, L1's revision with the shadow-VMCS
 *    indicator); the copy failing those rules fails the entry as the
 *    VM-entry check on the link pointer does ("Checks on Guest Non-Register
 *    State": exit 33, qualification 4);
 *  - L2's instruction goes through the emulation of vcore_nvmx_emulate()
 *    for VMX non-root operation: the bitmap byte for the field read once
 *    from L1 memory, then the instruction's Operation section on the cached
 *    copy (VMsucceed, VMfailInvalid without a link pointer, VMfailValid 12
 *    or 13 in the current VMCS), memory operands through L2's paging and
 *    L1's EPT (with L1's page-modification log); a bitmap bit set is the VM
 *    exit (23 VMREAD, 25 VMWRITE) to L1 with the processor's exit
 *    information; a fault of the memory operand is L2's exception (or L1's
 *    exit by its exception bitmap), an EPT violation or misconfiguration of
 *    L1's EPT is L1's exit 48 or 49, a full log L1's exit 62;
 *  - a completed instruction under RFLAGS.TF leaves its single-step trap
 *    pending in vmcs02; a memory operand at an L1-physical address without
 *    memory is the VMM's MMIO access;
 *  - the exit to L1 writes the copy back to L1 memory when L2 wrote it,
 *    and the nested state stops caching it: L1 sees its shadow VMCS as L2
 *    left it.
 */
#include "vcpu_nested.h"

#include "x86/vmx/check_priv.h"
#include "virtcore/x86/msr.h"
#include "virtcore/x86/vmx_exits.h"

#define SHADOW12_EPTQ_GLA_VALID (1ull << 7)  /* "Exit Qualification for EPT Violations": linear address valid */
#define SHADOW12_EPTQ_GLA_XLATE (1ull << 8)  /* ... the access was to the translation */

int vcore__vcpu_nested_shadow12_enter(vcore_vcpu_t *vcpu, uint32_t *check)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    *check = 0;
    /* A copy from an earlier entry is not kept: L1 ran since and may have
     * rewritten the region (VMCLEAR, VMPTRLD of it, VMWRITE, VMCLEAR). One
     * the exit did not write back (a run that failed) goes back first. */
    vcore__vcpu_nested_shadow12_leave(vcpu);
    /* Without a link pointer L2's unexiting VMREAD/VMWRITE is VMfailInvalid. */
    if (!vcore__vcpu_nested_shadow12_on(v) || v->VMCS_LINK_POINTER == ~0ull)
        return VCORE_OK;
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    int err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (err)
        return err;
    err = vcore_nvmx_shadow_load(nv, &mem);
    if (err != VCORE_ERR_INVAL)
        return err;
    /* The region changed after the VM-entry check read its header: the
     * copy decides, with the rule it fails (the address rules were checked
     * on vmcs12, which has not changed; the load read the region into
     * scratch before its revision rules). */
    const vcore__vmcs12_t *copy = (const vcore__vmcs12_t *)(const void *)nv->scratch;
    *check = VCORE__VMX_BASIC_REVISION(copy->revision) != VCORE__VMX_BASIC_REVISION(nv->caps.msr[VCORE_NVMX_CAP_BASIC])
                 ? VCORE_VMX_CHECK_GUEST_LINK_REVISION
                 : VCORE_VMX_CHECK_GUEST_LINK_SHADOW;
    return VCORE_OK;
}

void vcore__vcpu_nested_shadow12_leave(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (nv->shadow_written) {
        vcore_nvmx_mem_t mem;
        mem.size = sizeof(mem);
        /* Unbacked memory drops the write, as the processor's would. */
        if (vcore_nvmx_mem_from_vm(vcpu->vm, &mem) == VCORE_OK)
            vcore__nvmx_phys_write(&mem, nv->shadow_ptr, nv->shadow_vmcs12, VCORE_VMCS12_SIZE);
    }
    nv->shadow_loaded = false;
    nv->shadow_written = false;
}

/* L2's state the emulation of VMREAD/VMWRITE reads (SDM "VMREAD", "VMWRITE":
 * the #UD conditions, CPL, the operands): RIP, RSP, RFLAGS, CR0, CR3, CR4,
 * CS and SS access rights from vmcs02, and for a memory operand its
 * segment's base, limit and access rights; the other GPRs are the vCPU's
 * register file while L2 runs; IA32_EFER is L2's (vcpu_nested_efer.c). */
static const uint32_t shadow12_fields[] = {
    VCORE_VMCS_GUEST_RIP,  VCORE_VMCS_GUEST_RSP,  VCORE_VMCS_GUEST_RFLAGS,      VCORE_VMCS_GUEST_CR0,
    VCORE_VMCS_GUEST_CR3,  VCORE_VMCS_GUEST_CR4,  VCORE_VMCS_GUEST_CS_AR_BYTES, VCORE_VMCS_GUEST_SS_AR_BYTES,
};
#define SHADOW12_NFIELDS (sizeof(shadow12_fields) / sizeof(shadow12_fields[0]))

static int vcore__vcpu_nested_shadow12_state(vcore_vcpu_t *vcpu, uint32_t op, vcore_nvmx_insn_t *in)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint64_t val[SHADOW12_NFIELDS];
    int err = vcore__vcpu_sync_in(vcpu, VCORE_X86_STATE_GPRS);
    if (!err)
        err = vcore__vcpu_nested_read_many(vcpu, nv->vmcs02, shadow12_fields, val, (uint32_t)SHADOW12_NFIELDS);
    if (err)
        return err;
    vcore__memset(in, 0, sizeof(*in));
    in->size = sizeof(*in);
    in->op = op;
    in->insn_info = nv->x02.insn_info;
    in->qualification = nv->x02.qual; /* the memory operand's displacement */
    in->insn_len = nv->x02.insn_len;
    in->in_l2 = true;
    in->regs = vcpu->x86->st.regs;
    in->regs.rip = val[0];
    in->regs.gpr[VCORE_X86_RSP] = val[1];
    in->regs.rflags = val[2];
    in->sregs.size = sizeof(in->sregs);
    in->sregs.cr0 = val[3];
    in->sregs.cr3 = val[4];
    in->sregs.cr4 = val[5];
    in->sregs.seg[VCORE_X86_CS].ar = (uint32_t)val[6];
    in->sregs.seg[VCORE_X86_SS].ar = (uint32_t)val[7];
    in->sregs.efer = vcore__vcpu_nested_efer_l2(vcpu, vcore__vcpu_nested_efer_value(v, vcpu->x86->st.sregs.efer));
    if (VCORE__II_IS_REG(in->insn_info))
        return VCORE_OK;
    /* The operand's segment (ES, CS, SS, DS, FS, GS: encodings 2 apart). */
    uint32_t seg = VCORE__II_SEG(in->insn_info);
    if (seg > VCORE_X86_GS)
        return VCORE_OK; /* the emulation refuses the encoding (#UD) */
    const uint32_t segf[3] = {VCORE_VMCS_GUEST_ES_BASE + 2u * seg, VCORE_VMCS_GUEST_ES_LIMIT + 2u * seg,
                              VCORE_VMCS_GUEST_ES_AR_BYTES + 2u * seg};
    uint64_t sv[3];
    err = vcore__vcpu_nested_read_many(vcpu, nv->vmcs02, segf, sv, 3);
    in->sregs.seg[seg].base = sv[0];
    in->sregs.seg[seg].limit = (uint32_t)sv[1];
    in->sregs.seg[seg].ar = (uint32_t)sv[2];
    return err;
}

/* VMsucceed / VMfail: RFLAGS into vmcs02, a VMREAD's destination register,
 * then RIP past the instruction, blocking by STI or MOV SS gone and a
 * single-step trap made pending at the next entry (vcore__vcpu_nested_run_l2). */
static int vcore__vcpu_nested_shadow12_complete(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in,
                                                const vcore_nvmx_result_t *res)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (!err)
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_RFLAGS, res->rflags);
    if (!err && res->gpr_written) {
        uint32_t g = res->gpr & 15u;
        if (g == VCORE_X86_RSP) {
            err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_GUEST_RSP, res->gpr_value);
        } else {
            vcpu->x86->st.regs.gpr[g] = res->gpr_value;
            vcore__vcpu_mark_dirty(vcpu, vcore__x86_gpr_group(g));
        }
    }
    if (err)
        return err;
    /* A VMfailValid wrote vmcs12's VM-instruction error (marked dirty by
     * the emulation; L0's shadow VMCS for L1 never holds that field). */
    nv->l2_insn_len = in->insn_len;
    return VCORE_OK;
}

/* L1's EPT faulted L2's memory operand: exit 48 or 49 to L1 ("EPT
 * Violations", "EPT Misconfigurations"), or exit 62 when the access found
 * L1's page-modification log full ("Page-Modification Logging": no
 * guest-physical or linear address, qualification bit 12 clear - not an
 * IRET), the instruction not executed. */
static int vcore__vcpu_nested_shadow12_ept(vcore_vcpu_t *vcpu, const vcore_nvmx_result_t *res, vcore_exit_t *exit,
                                           bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__nvmx_exit02_t x;
    vcore__memset(&x, 0, sizeof(x));
    x.gpa = res->ept_gpa;
    if (res->diag == VCORE_DIAG_NVMX_L2_PML_FULL) {
        x.reason = VCORE_VMX_EXIT_PML_FULL;
        x.have = VCORE__X02_QUAL;
    } else if (res->diag == VCORE_DIAG_NVMX_L2_EPT_MISCONFIG) {
        x.reason = VCORE_VMX_EXIT_EPT_MISCONFIG;
        x.have = VCORE__X02_QUAL | VCORE__X02_GPA;
    } else {
        x.reason = VCORE_VMX_EXIT_EPT_VIOLATION;
        x.have = VCORE__X02_QUAL | VCORE__X02_GLA | VCORE__X02_GPA;
        x.qual = res->ept_qualification | SHADOW12_EPTQ_GLA_VALID | (res->ept_final ? SHADOW12_EPTQ_GLA_XLATE : 0u);
        x.gla = res->ept_gla;
    }
    vcore_nvmx_l2_exit_t e;
    vcore__memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    e.reason = x.reason;
    e.qualification = x.qual;
    vcore_nvmx_decision_t d;
    d.size = sizeof(d);
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    int err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (err)
        return err;
    vcore__nvmx_exit_owner(nv, &mem, &e, &d);
    err = vcore__vcpu_nested_load02(vcpu);
    if (err)
        return err;
    nv->l2_insn_len = 0;
    return vcore__vcpu_nested_reflect(vcpu, &x, &d, exit, handled);
}

/* The bitmap bit is set (or the encoding has bits 63:15): the processor's
 * exit 23/25 is L1's, with its exit information as vmcs02 reported it. */
static int vcore__vcpu_nested_shadow12_to_l1(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *handled)
{
    vcore_nvmx_decision_t d;
    d.size = sizeof(d);
    d.owner = VCORE_NVMX_OWNER_L1;
    d.kind = vcpu->nvmx->last.kind;
    d.arg = vcpu->nvmx->last.arg;
    d.field = vcpu->nvmx->last.field;
    vcore__nvmx_exit02_t x = vcpu->nvmx->x02;
    int err = vcore__vcpu_nested_load02(vcpu);
    if (err)
        return err;
    return vcore__vcpu_nested_reflect(vcpu, &x, &d, exit, handled);
}

/* What L0 does with the emulation's outcome: the completion (VMsucceed or
 * VMfail) and L2 goes on (*again), L2's exception (injected, or L1's by
 * its exception bitmap), or the exit to L1 the processor would make. */
static int vcore__vcpu_nested_shadow12_outcome(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in,
                                               const vcore_nvmx_result_t *res, vcore_exit_t *exit, bool *again,
                                               bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    nv->last.owner = VCORE_NVMX_OWNER_L0;
    nv->last.kind = VCORE_NVMX_RULE_VMCS_SHADOW;
    nv->last.arg = 14;
    nv->last.field = in->op == VCORE_NVMX_VMREAD ? VCORE_VMCS_VMREAD_BITMAP : VCORE_VMCS_VMWRITE_BITMAP;
    switch (res->outcome) {
    case VCORE_NVMX_OUT_SUCCEED:
    case VCORE_NVMX_OUT_FAIL_INVALID:
    case VCORE_NVMX_OUT_FAIL_VALID: {
        int err = vcore__vcpu_nested_shadow12_complete(vcpu, in, res);
        if (err)
            return err;
        nv->last.l0_handled++;
        *again = true;
        return VCORE_OK;
    }
    case VCORE_NVMX_OUT_EXCEPTION: {
        bool reflected = false;
        int err = vcore__vcpu_nested_l0_exception(vcpu, res->vector, res->has_error_code ? res->error_code : 0u,
                                                  res->cr2, exit, &reflected);
        return vcore__vcpu_nested_l0_done(vcpu, err, reflected, exit, handled, again);
    }
    default:
        if (res->diag == VCORE_DIAG_NVMX_L2_EPT_VIOLATION || res->diag == VCORE_DIAG_NVMX_L2_EPT_MISCONFIG ||
            res->diag == VCORE_DIAG_NVMX_L2_PML_FULL)
            return vcore__vcpu_nested_shadow12_ept(vcpu, res, exit, handled);
        return vcore__vcpu_nested_shadow12_to_l1(vcpu, exit, handled);
    }
}

/* L1 memory with the bytes of an MMIO operand (gpa, len) served from data:
 * the VMM's reply to a read, or the store of a write. */
typedef struct vcore__shadow12_mmio {
    vcore_nvmx_mem_t l1;
    uint64_t gpa;
    uint32_t len;
    bool stored;
    uint8_t data[8];
} vcore__shadow12_mmio_t;

static bool vcore__vcpu_nested_shadow12_mmio_hit(const vcore__shadow12_mmio_t *m, uint64_t gpa, size_t len)
{
    return gpa >= m->gpa && len <= m->len && gpa - m->gpa <= m->len - len;
}

static int vcore__vcpu_nested_shadow12_mmio_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    vcore__shadow12_mmio_t *m = ctx;
    if (!vcore__vcpu_nested_shadow12_mmio_hit(m, gpa, len))
        return m->l1.read(m->l1.ctx, gpa, buf, len);
    vcore__memcpy(buf, m->data + (gpa - m->gpa), len);
    return VCORE_OK;
}

static int vcore__vcpu_nested_shadow12_mmio_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    vcore__shadow12_mmio_t *m = ctx;
    if (!vcore__vcpu_nested_shadow12_mmio_hit(m, gpa, len))
        return m->l1.write(m->l1.ctx, gpa, buf, len);
    vcore__memcpy(m->data + (gpa - m->gpa), buf, len);
    m->stored = true;
    return VCORE_OK;
}

/* The emulation again, with the operand's bytes served by m (what the
 * first run found unreachable at that L1-physical address). */
static int vcore__vcpu_nested_shadow12_rerun(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in,
                                             vcore__shadow12_mmio_t *m, vcore_nvmx_result_t *res)
{
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    mem.ctx = m;
    mem.read = vcore__vcpu_nested_shadow12_mmio_read;
    mem.write = vcore__vcpu_nested_shadow12_mmio_write;
    res->size = sizeof(*res);
    return vcore_nvmx_emulate(vcpu->nvmx, &mem, in, res);
}

/* The memory operand of L2's VMREAD or VMWRITE is at an L1-physical address
 * with no memory behind it (the VMM's MMIO): the access goes to the VMM as
 * the processor's would go to the device ("VMREAD", "VMWRITE": the
 * operand is read or written like any memory operand). VMWRITE reads the
 * operand first: an MMIO read exit, and the VMM's reply completes the
 * instruction (vcore__vcpu_nested_shadow12_reply). VMREAD writes it last:
 * the instruction is completed here with the store taken aside, which the
 * VMM then gets as an MMIO write exit; RIP moves past it at the next
 * entry. An outcome that stores nothing there (the operand no longer
 * unreachable, say) is handled as any. */
static int vcore__vcpu_nested_shadow12_mmio(vcore_vcpu_t *vcpu, const vcore_nvmx_insn_t *in,
                                            const vcore_nvmx_result_t *first, vcore_exit_t *exit, bool *again,
                                            bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__shadow12_mmio_t m;
    vcore__memset(&m, 0, sizeof(m));
    m.l1.size = sizeof(m.l1);
    int err = vcore_nvmx_mem_from_vm(vcpu->vm, &m.l1);
    if (err)
        return err;
    m.gpa = first->mmio_gpa;
    m.len = first->mmio_len;
    nv->last.owner = VCORE_NVMX_OWNER_L0;
    nv->last.kind = VCORE_NVMX_RULE_VMCS_SHADOW;
    if (in->op == VCORE_NVMX_VMREAD) {
        vcore_nvmx_result_t res;
        err = vcore__vcpu_nested_shadow12_rerun(vcpu, in, &m, &res);
        if (err == VCORE_ERR_FAULT)
            return VCORE_OK; /* unreachable elsewhere now: raw */
        if (err)
            return err;
        if (!m.stored || res.outcome != VCORE_NVMX_OUT_SUCCEED)
            return vcore__vcpu_nested_shadow12_outcome(vcpu, in, &res, exit, again, handled);
        err = vcore__vcpu_nested_shadow12_complete(vcpu, in, &res);
        if (err)
            return err;
        nv->last.l0_handled++;
        exit->u.mmio.is_write = 1;
        vcore__memcpy(exit->u.mmio.data, m.data, sizeof(m.data));
        nv->l2_mmio_len = 0; /* a store: the reply carries nothing */
    } else {
        exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        nv->l2_mmio_vmwrite = true;
        nv->l2_mmio_gpa = m.gpa;
        nv->l2_mmio_len = (uint8_t)m.len;
    }
    exit->reason = VCORE_EXIT_MMIO;
    exit->u.mmio.gpa = m.gpa;
    exit->u.mmio.len = m.len;
    exit->raw.data[0] = in->insn_len;
    exit->raw.data[6] = in->regs.rip;
    nv->l2_pending = VCORE_EXIT_MMIO;
    return VCORE_OK;
}

int vcore__vcpu_nested_shadow12_reply(vcore_vcpu_t *vcpu, vcore_exit_t *exit, bool *reflected)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    *reflected = false;
    nv->l2_mmio_vmwrite = false;
    if (exit->reason != VCORE_EXIT_MMIO)
        return VCORE_OK; /* no answer: L2 executes the VMWRITE again */
    vcore__shadow12_mmio_t m;
    vcore__memset(&m, 0, sizeof(m));
    m.l1.size = sizeof(m.l1);
    m.gpa = nv->l2_mmio_gpa;
    m.len = nv->l2_mmio_len;
    vcore__memcpy(m.data, exit->u.mmio.data, sizeof(m.data)); /* the reply, copied once */
    vcore_nvmx_insn_t in;
    vcore_nvmx_result_t res;
    int err = vcore_nvmx_mem_from_vm(vcpu->vm, &m.l1);
    if (!err)
        err = vcore__vcpu_nested_shadow12_state(vcpu, VCORE_NVMX_VMWRITE, &in);
    if (!err)
        err = vcore__vcpu_nested_shadow12_rerun(vcpu, &in, &m, &res);
    if (err == VCORE_ERR_FAULT)
        return VCORE_OK; /* L2's operand moved elsewhere meanwhile: L2 executes the VMWRITE again */
    if (err)
        return err;
    bool again = false, handled = false;
    err = vcore__vcpu_nested_shadow12_outcome(vcpu, &in, &res, exit, &again, &handled);
    if (err)
        return err;
    *reflected = !again; /* not resumed: an exit to L1 (or L1's shutdown) */
    return VCORE_OK;
}

int vcore__vcpu_nested_shadow12_insn(vcore_vcpu_t *vcpu, uint32_t basic, vcore_exit_t *exit, bool *again,
                                     bool *handled)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    *again = *handled = false;
    vcore_nvmx_insn_t in;
    vcore_nvmx_result_t res;
    vcore_nvmx_mem_t mem;
    res.size = sizeof(res);
    mem.size = sizeof(mem);
    uint32_t op = basic == VCORE_VMX_EXIT_VMREAD ? VCORE_NVMX_VMREAD : VCORE_NVMX_VMWRITE;
    int err = vcore__vcpu_nested_shadow12_state(vcpu, op, &in);
    if (!err)
        err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (!err)
        err = vcore_nvmx_emulate(nv, &mem, &in, &res);
    /* A memory operand outside L1's memory: the VMM's MMIO (raw when the
     * unreachable access is not the operand's, a paging-structure entry). */
    if (err == VCORE_ERR_FAULT)
        return res.mmio_len ? vcore__vcpu_nested_shadow12_mmio(vcpu, &in, &res, exit, again, handled) : VCORE_OK;
    if (err)
        return err;
    return vcore__vcpu_nested_shadow12_outcome(vcpu, &in, &res, exit, again, handled);
}
