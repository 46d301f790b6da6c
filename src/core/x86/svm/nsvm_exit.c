/*
 * nsvm_exit.c - exits of L2: who wants them (VCORE_NSVM_ROUTE_LIST), and
 * #VMEXIT to L1 (APM Vol. 2, "#VMEXIT"): L2's state and the exit
 * information into VMCB12, L1's state back from the host-save copy.
 */
#include "nsvm_priv.h"

typedef struct nsvm_route_row {
    uint64_t first, last;
    uint32_t rule;
    uint32_t intercept;
} nsvm_route_row_t;

static const nsvm_route_row_t nsvm_routes[] = {
#define VCORE__NSVM_ROUTE_ROW(name, first, last, rule, icpt, text)                                  \
    {(first), (last), VCORE_NSVM_RULE_##rule, (uint32_t)VCORE_VMCB_INTERCEPT_##icpt},
    VCORE_NSVM_ROUTE_LIST(VCORE__NSVM_ROUTE_ROW)
#undef VCORE__NSVM_ROUTE_ROW
};

/* Reads one byte of one of L1's maps (outside RAM: all ones). */
static uint8_t nsvm_map_byte(const vcore_nvmx_mem_t *mem, uint64_t base, uint32_t off)
{
    uint8_t b = 0xff;
    if (mem->read(mem->ctx, (base & ~0xfffull) + off, &b, 1) != VCORE_OK)
        return 0xff;
    return b;
}

/* "MSR Intercepts": an MSR outside the map's ranges always exits. */
static bool nsvm_l1_msr(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_l2_exit_t *ex)
{
    const vcore_vmcb_control_t *c = &n->vmcb12.control;
    if (!vcore_vmcb_intercept_test(c, VCORE_VMCB_INTERCEPT_MSR_PROT))
        return false;
    uint32_t byte, bit;
    if (!vcore_vmcb_msrpm_pos(ex->ecx, &byte, &bit))
        return true;
    bit += (ex->exit_info1 & 1u) ? 1u : 0u; /* EXITINFO1: 0 RDMSR, 1 WRMSR */
    return (((uint32_t)nsvm_map_byte(mem, c->msrpm_base_pa, byte) >> bit) & 1u) != 0;
}

/* "I/O Intercepts": one bit per port; an access of several bytes exits
 * when the bit of any port it touches is set. */
static bool nsvm_l1_io(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_l2_exit_t *ex)
{
    const vcore_vmcb_control_t *c = &n->vmcb12.control;
    if (!vcore_vmcb_intercept_test(c, VCORE_VMCB_INTERCEPT_IOIO_PROT))
        return false;
    uint32_t port = (uint32_t)(ex->exit_info1 >> VCORE_VMCB_IOIO_PORT_SHIFT) & 0xffffu;
    uint32_t len = (ex->exit_info1 & VCORE_VMCB_IOIO_SZ32) ? 4u : (ex->exit_info1 & VCORE_VMCB_IOIO_SZ16) ? 2u : 1u;
    for (uint32_t p = port; p < port + len; p++)
        if (((uint32_t)nsvm_map_byte(mem, c->iopm_base_pa, p / 8u) >> (p % 8u)) & 1u)
            return true;
    return false;
}

/* The access of a #NPF (EXITINFO1 as the processor gave it). */
static uint32_t nsvm_npf_access(uint64_t info1)
{
    if (info1 & VCORE_VMCB_NPF_ID)
        return VCORE_NSVM_FETCH;
    return (info1 & VCORE_VMCB_NPF_RW) ? VCORE_NSVM_WRITE : VCORE_NSVM_READ;
}

static bool nsvm_l1_npf(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_l2_exit_t *ex,
                        uint64_t *info1)
{
    if (!(n->vmcb12.control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE))
        return false; /* L1 gives L2 no nested paging: the fault is in L0's tables */
    uint64_t l1_gpa;
    return vcore_nsvm_npt_walk(n, mem, ex->exit_info2, nsvm_npf_access(ex->exit_info1),
                               (ex->exit_info1 & VCORE_VMCB_NPF_TABLE) != 0, &l1_gpa, info1) == VCORE_ERR_FAULT;
}

static bool nsvm_l1_wants(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_l2_exit_t *ex,
                          uint64_t *npf_info1)
{
    for (size_t i = 0; i < sizeof(nsvm_routes) / sizeof(nsvm_routes[0]); i++) {
        const nsvm_route_row_t *r = &nsvm_routes[i];
        if (ex->exit_code < r->first || ex->exit_code > r->last)
            continue;
        switch (r->rule) {
        case VCORE_NSVM_RULE_INTERCEPT:
            return vcore_vmcb_intercept_test(&n->vmcb12.control, r->intercept + (uint32_t)(ex->exit_code - r->first));
        case VCORE_NSVM_RULE_MSRPM:
            return nsvm_l1_msr(n, mem, ex);
        case VCORE_NSVM_RULE_IOPM:
            return nsvm_l1_io(n, mem, ex);
        case VCORE_NSVM_RULE_NPT:
            return nsvm_l1_npf(n, mem, ex, npf_info1);
        case VCORE_NSVM_RULE_SHUTDOWN:
            return true;
        default:
            return false;
        }
    }
    return false;
}

static int nsvm_exit_args(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_l2_exit_t *ex)
{
    if (!vcore__nsvm_ok(n) || !mem || !ex || !mem->read || !mem->write)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(ex) || !VCORE__SIZE_OK(mem))
        return VCORE_ERR_ABI;
    return n->guest_mode ? VCORE_OK : VCORE_ERR_STATE;
}

int vcore_nsvm_route(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_l2_exit_t *ex,
                     uint32_t *owner)
{
    int err = nsvm_exit_args(n, mem, ex);
    if (err)
        return err;
    if (!owner)
        return VCORE_ERR_INVAL;
    /* The first exit of L2 ends the pending VMRUN. */
    ((vcore_nsvm_t *)n)->run_pending = false;
    uint64_t info1 = 0;
    *owner = nsvm_l1_wants(n, mem, ex, &info1) ? VCORE_NSVM_L1 : VCORE_NSVM_L0;
    return VCORE_OK;
}

int vcore__nsvm_restore_l1(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, vcore_nsvm_result_t *res,
                           vcore_diag_t *diag)
{
    const vcore__nsvm_host_t *h = &n->host;
    n->guest_mode = false;
    n->gif = false; /* "#VMEXIT": GIF is cleared */
    res->gif = 0;
    /* L1's CR3 goes back with its PDPTEs in PAE mode; a CR3 that cannot be
     * loaded leaves no usable L1: the processor shuts down ("#VMEXIT": an
     * illegal host state is not checked and can lead to shutdown). Never
     * run L1 on a half-restored state (CVE-2026-46032 class). */
    uint64_t pdptes[4] = {0, 0, 0, 0};
    bool ok = vcore__x86_phys_ok(h->sregs.cr3 & ~0xfffull, n->maxphyaddr);
    if (ok && vcore__nsvm_pae_legacy(h->sregs.cr0, h->sregs.cr4, h->sregs.efer))
        ok = vcore__nsvm_load_pdptes(mem, h->sregs.cr3, n->maxphyaddr, pdptes) == VCORE_OK;
    if (!ok) {
        (void)vcore__diag_set(diag, VCORE_DIAG_NSVM_HOST_CR3, h->sregs.cr3);
        res->outcome = VCORE_NSVM_OUT_SHUTDOWN;
        return VCORE_OK;
    }
    vcore_x86_sregs_t l2 = res->sregs;
    res->regs.rip = h->regs.rip;
    res->regs.rflags = h->regs.rflags;
    res->regs.gpr[VCORE_X86_RSP] = h->regs.gpr[VCORE_X86_RSP];
    res->regs.gpr[VCORE_X86_RAX] = h->regs.gpr[VCORE_X86_RAX];
    res->sregs.seg[VCORE_X86_ES] = h->sregs.seg[VCORE_X86_ES];
    res->sregs.seg[VCORE_X86_CS] = h->sregs.seg[VCORE_X86_CS];
    res->sregs.seg[VCORE_X86_SS] = h->sregs.seg[VCORE_X86_SS];
    res->sregs.seg[VCORE_X86_DS] = h->sregs.seg[VCORE_X86_DS];
    res->sregs.gdtr = h->sregs.gdtr;
    res->sregs.idtr = h->sregs.idtr;
    res->sregs.cr0 = h->sregs.cr0 | VCORE__CR0_PE;
    res->sregs.cr3 = h->sregs.cr3;
    res->sregs.cr4 = h->sregs.cr4;
    res->sregs.efer = h->sregs.efer;
    if (n->vmcb12.control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE)
        res->msrs.pat = h->pat; /* G_PAT was L2's */
    res->dr6 = h->dr6;
    res->dr7 = 0x400; /* "#VMEXIT": the host's DR7 disables every breakpoint */
    vcore__memcpy(res->pdptes, pdptes, sizeof(pdptes));
    res->paging_changed =
        ((n->vmcb12.control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE) || vcore__nsvm_paging_differs(&l2, &res->sregs))
            ? 1u
            : 0u;
    res->outcome = VCORE_NSVM_OUT_VMEXIT;
    return VCORE_OK;
}

/* The state-save fields #VMEXIT writes, into the copy (so the clean-bit
 * cache holds what L1's VMCB12 now holds) and into L1's page. */
static void nsvm_save_l2(vcore_nsvm_t *n, const vcore_nsvm_l2_exit_t *ex)
{
    vcore_vmcb_save_t *s = &n->vmcb12.save;
    vcore__nsvm_seg_to_vmcb(&s->es, &ex->sregs.seg[VCORE_X86_ES]);
    vcore__nsvm_seg_to_vmcb(&s->cs, &ex->sregs.seg[VCORE_X86_CS]);
    vcore__nsvm_seg_to_vmcb(&s->ss, &ex->sregs.seg[VCORE_X86_SS]);
    vcore__nsvm_seg_to_vmcb(&s->ds, &ex->sregs.seg[VCORE_X86_DS]);
    s->gdtr.base = ex->sregs.gdtr.base;
    s->gdtr.limit = ex->sregs.gdtr.limit;
    s->idtr.base = ex->sregs.idtr.base;
    s->idtr.limit = ex->sregs.idtr.limit;
    s->cpl = (uint8_t)ex->cpl;
    s->efer = ex->sregs.efer;
    s->cr4 = ex->sregs.cr4;
    s->cr3 = ex->sregs.cr3;
    s->cr0 = ex->sregs.cr0;
    s->dr7 = ex->dr7;
    s->dr6 = ex->dr6;
    s->rflags = ex->regs.rflags;
    s->rip = ex->regs.rip;
    s->rsp = ex->regs.gpr[VCORE_X86_RSP];
    s->rax = ex->regs.gpr[VCORE_X86_RAX];
    s->cr2 = ex->sregs.cr2;
    /* APM Vol. 3, "VMRUN" (the #VMEXIT part of its operation): with nested
     * paging enabled in the VMCB the guest's PAT goes to G_PAT; without it
     * L2 shared L1's PAT and G_PAT is left as it was. */
    if (n->vmcb12.control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE)
        s->g_pat = ex->msrs.pat;
}

static void nsvm_write_vmcb12(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_l2_exit_t *ex,
                              uint64_t info1)
{
    vcore_vmcb_control_t *c = &n->vmcb12.control;
    const uint32_t l2_bits = VCORE_VMCB_INT_V_TPR_MASK | VCORE_VMCB_INT_V_IRQ;
    c->int_ctl = (c->int_ctl & ~l2_bits) | (ex->int_ctl & l2_bits);
    c->int_state = (ex->int_state & VCORE_VMCB_STATE_INTERRUPT_SHADOW) |
                   ((ex->regs.rflags & VCORE__RFLAGS_IF) ? VCORE_VMCB_STATE_GUEST_IF : 0u);
    c->exit_code = ex->exit_code;
    c->exit_info1 = info1;
    c->exit_info2 = ex->exit_info2;
    c->exit_int_info = ex->exit_int_info;
    /* nRIP is written only when L1 was told the processor saves it. */
    if (n->features & VCORE_SVM_FEAT_NRIPS)
        c->next_rip = ex->next_rip;
    nsvm_save_l2(n, ex);
    /* One write per contiguous range; a range outside RAM is dropped. */
    const uint8_t *img = (const uint8_t *)&n->vmcb12;
    static const struct {
        uint16_t off, len;
    } ranges[] = {
        {0x060, 0x0c},                                  /* int_ctl, int_vector, int_state */
        {0x070, 0x20},                                  /* EXITCODE, EXITINFO1/2, EXITINTINFO */
        {0x0c8, 0x08},                                  /* nRIP */
        {VCORE_VMCB_SAVE_OFFSET + 0x000, 0x40},         /* ES, CS, SS, DS */
        {VCORE_VMCB_SAVE_OFFSET + 0x060, 0x10},         /* GDTR */
        {VCORE_VMCB_SAVE_OFFSET + 0x080, 0x10},         /* IDTR */
        {VCORE_VMCB_SAVE_OFFSET + 0x0cb, 0x01},         /* CPL */
        {VCORE_VMCB_SAVE_OFFSET + 0x0d0, 0x08},         /* EFER */
        {VCORE_VMCB_SAVE_OFFSET + 0x148, 0x38},         /* CR4, CR3, CR0, DR7, DR6, RFLAGS, RIP */
        {VCORE_VMCB_SAVE_OFFSET + 0x1d8, 0x08},         /* RSP */
        {VCORE_VMCB_SAVE_OFFSET + 0x1f8, 0x08},         /* RAX */
        {VCORE_VMCB_SAVE_OFFSET + 0x240, 0x08},         /* CR2 */
    };
    for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++)
        (void)mem->write(mem->ctx, n->vmcb12_pa + ranges[i].off, img + ranges[i].off, ranges[i].len);
    if (n->vmcb12.control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE)
        (void)mem->write(mem->ctx, n->vmcb12_pa + VCORE_VMCB_SAVE_OFFSET + 0x268, img + VCORE_VMCB_SAVE_OFFSET + 0x268,
                         8); /* G_PAT */
}

int vcore_nsvm_reflect(vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, const vcore_nsvm_l2_exit_t *ex,
                       vcore_nsvm_result_t *res, vcore_diag_t *diag)
{
    int err = nsvm_exit_args(n, mem, ex);
    if (err)
        return err;
    if (!res)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(res))
        return VCORE_ERR_ABI;
    size_t sz = res->size;
    vcore__memset(res, 0, sizeof(*res));
    res->size = sz;
    n->run_pending = false;
    res->regs = ex->regs;
    res->sregs = ex->sregs;
    res->msrs = ex->msrs;
    res->dr6 = ex->dr6;
    res->dr7 = ex->dr7;
    if (ex->exit_code == VCORE_VMEXIT_SHUTDOWN &&
        !vcore_vmcb_intercept_test(&n->vmcb12.control, VCORE_VMCB_INTERCEPT_SHUTDOWN)) {
        /* L2's shutdown that L1 does not intercept is the shutdown of the
         * processor L1 runs on. */
        n->guest_mode = false;
        n->gif = false;
        res->outcome = VCORE_NSVM_OUT_SHUTDOWN;
        return VCORE_OK;
    }
    uint64_t info1 = ex->exit_info1;
    if (ex->exit_code == VCORE_VMEXIT_NPF)
        (void)nsvm_l1_npf(n, mem, ex, &info1); /* L1's own error code when its table faults */
    nsvm_write_vmcb12(n, mem, ex, info1);
    return vcore__nsvm_restore_l1(n, mem, res, diag);
}
