/*
 * vmx_vmcs.c - VMX operation, VMCS regions and the construction of vmcs01.
 *
 * vmcs01 is the VMCS the backend runs a guest on. Its constant part
 * (controls, bitmaps, EPTP, VPID, link pointer) is written once; the host
 * state is compared with the running kernel before every entry and only
 * what moved is rewritten; the guest state comes from the core's vCPU
 * model through vmx_state.c.
 */
#include "vmx.h"

int vcore__vmx_vmwrite(uint32_t field, uint64_t value)
{
    vcore__vmx_rc_t rc = vcore__vmx_write(field, value);
    return rc.kind == VCORE__VMX_SUCCEED ? VCORE_OK : VCORE_ERR_HWFAIL;
}

int vcore__vmx_vmread(uint32_t field, uint64_t *value)
{
    vcore__vmx_rc_t rc = vcore__vmx_read(field, value);
    return rc.kind == VCORE__VMX_SUCCEED ? VCORE_OK : VCORE_ERR_HWFAIL;
}

const uint32_t vcore__vmx_list_msrs[VCORE__VMX_NR_LIST_MSRS] = {
    VCORE_MSR_IA32_STAR, VCORE_MSR_IA32_LSTAR, VCORE_MSR_IA32_CSTAR, VCORE_MSR_IA32_FMASK,
    VCORE_MSR_IA32_KERNEL_GS_BASE,
};

/* Sets (pass = false) or clears (pass = true) the read and write exit bits of one MSR. */
static void vcore__vmx_msr_bitmap_set(uint8_t *bm, uint32_t msr, bool pass)
{
    /* SDM Vol. 3, "MSR-Bitmap Address": read bitmap for low MSRs at byte 0,
     * for high MSRs (C0000000H-C0001FFFH) at 1024, write bitmaps at 2048 / 3072. */
    uint32_t base = (msr >= 0xc0000000u) ? 1024u : 0u;
    uint32_t bit = msr & 0x1fffu;
    uint8_t mask = (uint8_t)(1u << (bit & 7u));
    for (uint32_t w = 0; w < 2; w++) {
        uint8_t *b = &bm[base + w * 2048u + bit / 8u];
        *b = pass ? (uint8_t)(*b & ~mask) : (uint8_t)(*b | mask);
    }
}

int vcore__vmx_vm_setup(vcore__vmx_vm_t *v, const vcore_host_t *host)
{
    int err = vcore__vmx_caps_read(&v->caps);
    if (err)
        return err;
    err = vcore__vmx_caps_choose(&v->caps, &v->ctls);
    if (err)
        return err;
    if (!host->alloc_pages || !host->free_pages || !host->virt_to_phys)
        return VCORE_ERR_INVAL;
    vcore__vmx_pool_init(&v->pool, host);
    err = vcore__vmx_ept_init(&v->ept, &v->pool, &v->caps);
    if (err)
        goto fail;
    v->eptp = vcore__vmx_ept_eptp(&v->ept);
    v->msr_bitmap = host->alloc_pages(host->ctx, 1, &v->msr_bitmap_pa);
    v->io_bitmap = host->alloc_pages(host->ctx, 2, &v->io_bitmap_pa);
    if (!v->msr_bitmap || !v->io_bitmap) {
        err = VCORE_ERR_NOMEM;
        goto fail;
    }
    /* Every port exits ("I/O-Bitmap Addresses"): the VMM owns all devices. */
    vcore__memset(v->io_bitmap, 0xff, 2 * VCORE_PAGE_SIZE);
    /* Every MSR exits, except those the VMCS itself switches between guest
     * and host on every entry and exit: FS/GS base (guest segment fields),
     * SYSENTER (guest/host SYSENTER fields), EFER and PAT (load/save controls). */
    vcore__memset(v->msr_bitmap, 0xff, VCORE_PAGE_SIZE);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE_MSR_IA32_FS_BASE, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE_MSR_IA32_GS_BASE, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE__MSR_SYSENTER_CS, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE__MSR_SYSENTER_ESP, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE__MSR_SYSENTER_EIP, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE__MSR_EFER, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE__MSR_PAT, true);
    /* The SYSCALL MSRs and KERNEL_GS_BASE are switched by the MSR lists. */
    for (uint32_t i = 0; i < VCORE__VMX_NR_LIST_MSRS; i++)
        vcore__vmx_msr_bitmap_set(v->msr_bitmap, vcore__vmx_list_msrs[i], true);
    return VCORE_OK;
fail:
    vcore__vmx_vm_teardown(v, host);
    return err;
}

void vcore__vmx_vm_teardown(vcore__vmx_vm_t *v, const vcore_host_t *host)
{
    if (v->msr_bitmap)
        host->free_pages(host->ctx, v->msr_bitmap, 1);
    if (v->io_bitmap)
        host->free_pages(host->ctx, v->io_bitmap, 2);
    v->msr_bitmap = NULL;
    v->io_bitmap = NULL;
    if (v->pool.host)
        vcore__vmx_pool_fini(&v->pool);
}

/* A page holding a VMCS or VMXON region: revision identifier in bits 30:0 of the first dword. */
static uint8_t *vcore__vmx_region(const vcore_host_t *host, uint32_t revision, uint64_t *pa)
{
    uint8_t *va = host->alloc_pages(host->ctx, 1, pa);
    if (!va)
        return NULL;
    vcore__memset(va, 0, VCORE_PAGE_SIZE);
    vcore__memcpy(va, &revision, sizeof(revision));
    return va;
}

int vcore__vmx_vcpu_setup(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, const vcore_host_t *host,
                          uint32_t id)
{
    uint32_t rev = VCORE__VMX_BASIC_REVISION(v->caps.basic);
    uint64_t cr4 = vcore__vmx_read_cr4();
    bool vmxe_was_set = (cr4 & (1ull << 13)) != 0;
    if (!vmxe_was_set) {
        /* SDM Vol. 3, "VMX-Fixed Bits in CR0 and CR4": VMXON needs CR0 to
         * honour the fixed bits; the library does not change the embedder's CR0. */
        uint64_t cr0 = vcore__vmx_read_cr0();
        if ((cr0 & v->caps.cr0_fixed0) != v->caps.cr0_fixed0 || (cr0 & ~v->caps.cr0_fixed1) != 0)
            return VCORE_ERR_STATE;
        vcore__vmx_write_cr4(cr4 | (1ull << 13));
        c->set_vmxe = true;
    }
    c->vmxon = vcore__vmx_region(host, rev, &c->vmxon_pa);
    if (!c->vmxon)
        goto nomem;
    vcore__vmx_rc_t rc = vcore__vmx_on(c->vmxon_pa);
    if (rc.kind == VCORE__VMX_SUCCEED) {
        c->owns_vmxon = true;
    } else if (vmxe_was_set) {
        /* Our region is valid, so a failing VMXON with CR4.VMXE already set
         * means "VMXON executed in VMX root operation" (VMfailValid 15, or
         * VMfailInvalid when no VMCS is current): someone else - the
         * embedder or another vCPU on this CPU - owns VMX operation. */
        host->free_pages(host->ctx, c->vmxon, 1);
        c->vmxon = NULL;
    } else {
        vcore__vmx_vcpu_teardown(c, host);
        return VCORE_ERR_HWFAIL;
    }
    c->msr_area = host->alloc_pages(host->ctx, 1, &c->msr_area_pa);
    if (!c->msr_area)
        goto nomem;
    vcore__memset(c->msr_area, 0, VCORE_PAGE_SIZE);
    for (uint32_t i = 0; i < VCORE__VMX_NR_LIST_MSRS; i++) {
        c->msr_area[i].index = vcore__vmx_list_msrs[i];
        c->msr_area[16 + i].index = vcore__vmx_list_msrs[i];
    }
    c->vmcs = vcore__vmx_region(host, rev, &c->vmcs_pa);
    if (!c->vmcs)
        goto nomem;
    /* SDM Vol. 3, "VMCS Life Cycle": VMCLEAR initialises the launch state. */
    rc = vcore__vmx_clear(c->vmcs_pa);
    if (rc.kind == VCORE__VMX_SUCCEED)
        rc = vcore__vmx_ptrld(c->vmcs_pa);
    if (rc.kind != VCORE__VMX_SUCCEED) {
        vcore__vmx_vcpu_teardown(c, host);
        return VCORE_ERR_HWFAIL;
    }
    c->g.launched = 0;
    c->g.host_rsp = 0;
    /* VPID 0 is the host's; vCPU ids are unique per VM, and with EPT every
     * cached mapping is also tagged with the EPTP ("Information That May Be
     * Cached"), so VMs with different EPT roots never share entries. */
    c->vpid = (v->ctls.proc2 & VCORE__PROC2_VPID) ? (uint16_t)(id + 1u) : 0;
    c->ept_gen = v->ept.gen;
    return VCORE_OK;
nomem:
    vcore__vmx_vcpu_teardown(c, host);
    return VCORE_ERR_NOMEM;
}

void vcore__vmx_vcpu_teardown(vcore__vmx_vcpu_t *c, const vcore_host_t *host)
{
    if (c->vmcs) {
        /* Flush the processor's copy to memory before the page goes back. */
        (void)vcore__vmx_clear(c->vmcs_pa);
        host->free_pages(host->ctx, c->vmcs, 1);
        c->vmcs = NULL;
    }
    if (c->msr_area) {
        host->free_pages(host->ctx, c->msr_area, 1);
        c->msr_area = NULL;
    }
    if (c->owns_vmxon) {
        (void)vcore__vmx_off();
        c->owns_vmxon = false;
    }
    if (c->vmxon) {
        host->free_pages(host->ctx, c->vmxon, 1);
        c->vmxon = NULL;
    }
    if (c->set_vmxe) {
        vcore__vmx_write_cr4(vcore__vmx_read_cr4() & ~(1ull << 13));
        c->set_vmxe = false;
    }
}

/* Host state: written when it differs from what the VMCS holds. */
static int vcore__vmx_vmcs_host(vcore__vmx_vcpu_t *c, bool all)
{
    vcore__vmx_host_regs_t h;
    vcore__vmx_host_regs(&h);
    vcore__vmx_host_regs_t *o = &c->host;
    int err = VCORE_OK;
#define VCORE__HOST_FIELD(member, field)                                                            \
    do {                                                                                            \
        if (!err && (all || o->member != h.member))                                                \
            err = vcore__vmx_vmwrite(field, h.member);                                              \
    } while (0)
    VCORE__HOST_FIELD(cr0, VCORE_VMCS_HOST_CR0);
    VCORE__HOST_FIELD(cr3, VCORE_VMCS_HOST_CR3);
    VCORE__HOST_FIELD(cr4, VCORE_VMCS_HOST_CR4);
    VCORE__HOST_FIELD(cs, VCORE_VMCS_HOST_CS_SELECTOR);
    VCORE__HOST_FIELD(ss, VCORE_VMCS_HOST_SS_SELECTOR);
    VCORE__HOST_FIELD(ds, VCORE_VMCS_HOST_DS_SELECTOR);
    VCORE__HOST_FIELD(es, VCORE_VMCS_HOST_ES_SELECTOR);
    VCORE__HOST_FIELD(fs, VCORE_VMCS_HOST_FS_SELECTOR);
    VCORE__HOST_FIELD(gs, VCORE_VMCS_HOST_GS_SELECTOR);
    VCORE__HOST_FIELD(tr, VCORE_VMCS_HOST_TR_SELECTOR);
    VCORE__HOST_FIELD(fs_base, VCORE_VMCS_HOST_FS_BASE);
    VCORE__HOST_FIELD(gs_base, VCORE_VMCS_HOST_GS_BASE);
    VCORE__HOST_FIELD(tr_base, VCORE_VMCS_HOST_TR_BASE);
    VCORE__HOST_FIELD(gdtr_base, VCORE_VMCS_HOST_GDTR_BASE);
    VCORE__HOST_FIELD(idtr_base, VCORE_VMCS_HOST_IDTR_BASE);
#undef VCORE__HOST_FIELD
    if (!err)
        *o = h;
    return err;
}

int vcore__vmx_vmcs_build(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v)
{
    const vcore__vmx_ctls_t *k = &v->ctls;
    /* Written once per VMCS: everything that does not depend on the guest's state. */
    const struct {
        uint32_t field;
        uint64_t value;
    } once[] = {
        {VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, k->pin},
        {VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, k->proc},
        {VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, k->proc2},
        {VCORE_VMCS_VM_EXIT_CONTROLS, k->exit},
        {VCORE_VMCS_EXCEPTION_BITMAP, VCORE__VMX_EXC_BITMAP},
        {VCORE_VMCS_IO_BITMAP_A, v->io_bitmap_pa},
        {VCORE_VMCS_IO_BITMAP_B, v->io_bitmap_pa + VCORE_PAGE_SIZE},
        {VCORE_VMCS_MSR_BITMAP, v->msr_bitmap_pa},
        {VCORE_VMCS_EPT_POINTER, v->eptp},
        /* No shadow VMCS: the link pointer must be all ones ("Checks on Guest
         * Non-Register State"). */
        {VCORE_VMCS_VMCS_LINK_POINTER, ~0ull},
        {VCORE_VMCS_GUEST_ACTIVITY_STATE, 0},
        {VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO, 0},
        {VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0},
        {VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, 0},
        {VCORE_VMCS_HOST_RIP, vcore__vmx_exit_rip()},
        {VCORE_VMCS_HOST_IA32_SYSENTER_CS, vcore__vmx_rdmsr(VCORE__MSR_SYSENTER_CS)},
        {VCORE_VMCS_HOST_IA32_SYSENTER_ESP, vcore__vmx_rdmsr(VCORE__MSR_SYSENTER_ESP)},
        {VCORE_VMCS_HOST_IA32_SYSENTER_EIP, vcore__vmx_rdmsr(VCORE__MSR_SYSENTER_EIP)},
        {VCORE_VMCS_HOST_IA32_EFER, vcore__vmx_rdmsr(VCORE__MSR_EFER)},
        {VCORE_VMCS_HOST_IA32_PAT, vcore__vmx_rdmsr(VCORE__MSR_PAT)},
        /* Guest values are loaded at entry and stored at exit in the same
         * list; the host's come back from a second list at exit. */
        {VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, c->msr_area_pa},
        {VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, VCORE__VMX_NR_LIST_MSRS},
        {VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR, c->msr_area_pa},
        {VCORE_VMCS_VM_EXIT_MSR_STORE_COUNT, VCORE__VMX_NR_LIST_MSRS},
        {VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR, c->msr_area_pa + 16u * sizeof(vcore__vmx_msr_entry_t)},
        {VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT, VCORE__VMX_NR_LIST_MSRS},
    };
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(once); i++) {
        int err = vcore__vmx_vmwrite(once[i].field, once[i].value);
        if (err)
            return err;
    }
    if (c->vpid) {
        int err = vcore__vmx_vmwrite(VCORE_VMCS_VIRTUAL_PROCESSOR_ID, c->vpid);
        if (err)
            return err;
        /* The VPID may carry translations of an earlier VM's vCPU. */
        if (vcore__vmx_invvpid(1, c->vpid, 0).kind != VCORE__VMX_SUCCEED)
            return VCORE_ERR_HWFAIL;
    }
    /* The EPT root page may have held another VM's root before. */
    if (vcore__vmx_invept((v->caps.ept_vpid & VCORE__EPTCAP_INVEPT_SINGLE) ? 1u : 2u, v->eptp).kind !=
        VCORE__VMX_SUCCEED)
        return VCORE_ERR_HWFAIL;
    /* The host owns the CR0 bits VMX operation forces, and CD/NW: VM entry
     * does not load those two from the guest field ("Loading Guest Control
     * Registers, Debug Registers, and MSRs"), so the guest's values live in
     * the read shadow and a guest write to them exits. */
    c->cr0_forced = vcore__vmx_cr0_forced(&v->caps, (k->proc2 & VCORE__PROC2_UNRESTRICTED) != 0);
    c->cr0_mask = c->cr0_forced | (1ull << 29) | (1ull << 30);
    c->cr4_mask = v->caps.cr4_fixed0;
    int err = vcore__vmx_vmwrite(VCORE_VMCS_CR0_GUEST_HOST_MASK, c->cr0_mask);
    if (!err)
        err = vcore__vmx_vmwrite(VCORE_VMCS_CR4_GUEST_HOST_MASK, c->cr4_mask);
    if (!err)
        err = vcore__vmx_vmcs_host(c, true);
    if (err)
        return err;
    c->entry_ctls = UINT32_MAX; /* not written yet */
    c->built = true;
    return VCORE_OK;
}

int vcore__vmx_vmcs_prepare_entry(vcore__vmx_vcpu_t *c, vcore__vmx_vm_t *v)
{
    int err = vcore__vmx_vmcs_host(c, false);
    if (err)
        return err;
    /* The host's values may change between runs (KERNEL_GS_BASE does with
     * every process): read them each time; this costs no VMWRITE. */
    for (uint32_t i = 0; i < VCORE__VMX_NR_LIST_MSRS; i++)
        c->msr_area[16 + i].value = vcore__vmx_rdmsr(vcore__vmx_list_msrs[i]);
    if (c->ept_gen != v->ept.gen) {
        if (vcore__vmx_invept((v->caps.ept_vpid & VCORE__EPTCAP_INVEPT_SINGLE) ? 1u : 2u, v->eptp).kind !=
            VCORE__VMX_SUCCEED)
            return VCORE_ERR_HWFAIL;
        c->ept_gen = v->ept.gen;
    }
    return VCORE_OK;
}
