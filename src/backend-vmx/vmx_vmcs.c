/*
 * vmx_vmcs.c - VMCS objects and the construction of vmcs01.
 *
 * Every VMCS the backend drives is a struct vcore_hw_vmcs: its region, its
 * launch state, the shadow of its five control words, the cache of the
 * guest fields it is known to hold and the host state written into it. A
 * vCPU owns vmcs01 (the VMCS its guest runs on) and any number of VMCSs
 * made through the hardware VMCS ops; switching between them re-reads
 * nothing, because what belongs to the vCPU (GPRs, CR2) lives in the vCPU.
 *
 * vmcs01's constant part (controls, bitmaps, EPTP, VPID, link pointer) is
 * written once; the host state is compared with the running kernel before
 * every entry and only what moved is rewritten; the guest state comes from
 * the core's vCPU model through vmx_state.c.
 */
#include "vmx.h"

const uint32_t vcore__vmx_list_msrs[VCORE__VMX_NR_LIST_MSRS] = {
    VCORE_MSR_IA32_STAR, VCORE_MSR_IA32_LSTAR, VCORE_MSR_IA32_CSTAR, VCORE_MSR_IA32_FMASK,
    VCORE_MSR_IA32_KERNEL_GS_BASE,
};

/* Clears (pass) or sets the exit bits of one MSR for reads and writes
 * (the bitmap layout: vcore_nvmx_msr_bitmap_pos()). */
static void vcore__vmx_msr_bitmap_set(uint8_t *bm, uint32_t msr, bool read_pass, bool write_pass)
{
    for (uint32_t w = 0; w < 2; w++) {
        uint32_t byte = 0, bit = 0;
        bool pass = w ? write_pass : read_pass;
        if (!vcore_nvmx_msr_bitmap_pos(msr, w != 0, &byte, &bit))
            continue;
        uint8_t mask = (uint8_t)(1u << bit);
        bm[byte] = pass ? (uint8_t)(bm[byte] & ~mask) : (uint8_t)(bm[byte] | mask);
    }
}

/* The vmx_msr_exits op: vmcs01's bitmap, the same for every vCPU of the VM
 * and never changed after the VM's setup. */
bool vcore__vmx_msr_exits(vcore_vcpu_t *vcpu, void *priv, uint32_t msr, bool write)
{
    (void)priv;
    const vcore__vmx_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    uint32_t byte = 0, bit = 0;
    if (!vcore_nvmx_msr_bitmap_pos(msr, write, &byte, &bit))
        return true;
    return ((v->msr_bitmap[byte] >> bit) & 1u) != 0;
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
     * SYSENTER (guest/host SYSENTER fields), PAT (load/save controls). */
    vcore__memset(v->msr_bitmap, 0xff, VCORE_PAGE_SIZE);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE_MSR_IA32_FS_BASE, true, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE_MSR_IA32_GS_BASE, true, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE__MSR_SYSENTER_CS, true, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE__MSR_SYSENTER_ESP, true, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE__MSR_SYSENTER_EIP, true, true);
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE__MSR_PAT, true, true);
    /* EFER is read directly but every write exits: the core checks it
     * against the vCPU's CPUID (a guest must not set NXE, SCE, LME its CPUID
     * hides) and the backend keeps knowing EFER without a VMREAD. */
    vcore__vmx_msr_bitmap_set(v->msr_bitmap, VCORE__MSR_EFER, true, false);
    /* The SYSCALL MSRs and KERNEL_GS_BASE are switched by the MSR lists. */
    for (uint32_t i = 0; i < VCORE__VMX_NR_LIST_MSRS; i++)
        vcore__vmx_msr_bitmap_set(v->msr_bitmap, vcore__vmx_list_msrs[i], true, true);
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

/* A VMCS region: revision identifier in bits 30:0 of the first dword and
 * the shadow-VMCS indicator in bit 31 ("VMCS Region"), then VMCLEAR, which
 * initialises the launch state to clear ("VMCS Life Cycle"). */
static int vcore__vmx_vmcs_init(struct vcore_hw_vmcs *o, uint8_t *region, uint64_t pa, uint32_t revision,
                                bool shadow)
{
    vcore__memset(o, 0, sizeof(*o));
    o->region = region;
    o->pa = pa;
    o->shadow = shadow;
    uint32_t first = revision | (shadow ? VCORE__VMCS_SHADOW_INDICATOR : 0u);
    vcore__memset(region, 0, VCORE_PAGE_SIZE);
    vcore__memcpy(region, &first, sizeof(first));
    return vcore__vmx_clear(pa).kind == VCORE__VMX_SUCCEED ? VCORE_OK : VCORE_ERR_HWFAIL;
}

int vcore__vmx_vcpu_setup(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v, const vcore_host_t *host,
                          uint32_t id)
{
    int err = vcore__vmx_root_enter(c, v, host);
    if (err)
        return err;
    c->msr_area = host->alloc_pages(host->ctx, 1, &c->msr_area_pa);
    uint64_t pa = 0;
    uint8_t *region = host->alloc_pages(host->ctx, 1, &pa);
    if (!c->msr_area || !region) {
        if (region)
            host->free_pages(host->ctx, region, 1);
        vcore__vmx_vcpu_teardown(c, host);
        return VCORE_ERR_NOMEM;
    }
    vcore__memset(c->msr_area, 0, VCORE_PAGE_SIZE);
    for (uint32_t i = 0; i < VCORE__VMX_NR_LIST_MSRS; i++) {
        c->msr_area[i].index = vcore__vmx_list_msrs[i];
        c->msr_area[16 + i].index = vcore__vmx_list_msrs[i];
    }
    err = vcore__vmx_vmcs_init(&c->vmcs01, region, pa, VCORE__VMX_BASIC_REVISION(v->caps.basic), false);
    if (err) {
        host->free_pages(host->ctx, region, 1);
        c->vmcs01.region = NULL;
        vcore__vmx_vcpu_teardown(c, host);
        return err;
    }
    /* VPID 0 is the host's; vCPU ids are unique per VM, and with EPT every
     * cached mapping is also tagged with the EPTP ("Information That May Be
     * Cached"), so VMs with different EPT roots never share entries. */
    c->vpid = (v->ctls.proc2 & VCORE__PROC2_VPID) ? (uint16_t)(id + 1u) : 0;
    c->ept_gen = v->ept.gen;
    c->cr0_forced = vcore__vmx_cr0_forced(&v->caps, (v->ctls.proc2 & VCORE__PROC2_URG) != 0);
    return VCORE_OK;
}

/* VMCLEAR (the processor's copy goes back to memory before the page does) and free. */
static void vcore__vmx_vmcs_release(vcore__vmx_vcpu_t *c, const vcore_host_t *host,
                                    struct vcore_hw_vmcs *o, size_t pages)
{
    (void)vcore__vmx_clear(o->pa);
    if (c->cur == o)
        c->cur = NULL;
    host->free_pages(host->ctx, o->region, pages);
}

void vcore__vmx_vcpu_teardown(vcore__vmx_vcpu_t *c, const vcore_host_t *host)
{
    if (c->root_held && vcore__vmx_root_here(c, host) != VCORE_OK) {
        /* Its VMCSs are active on another processor: VMCLEAR here would be
         * undefined and freeing them could let that processor write into
         * recycled memory. They stay allocated; the processor stays counted. */
        vcore_vm_log(c->vmobj, VCORE_LOG_ERROR,
                     "vmx: vCPU destroyed on another processor than its own; its VMCS pages are kept");
        return;
    }
    while (c->objs) {
        struct vcore_hw_vmcs *o = c->objs;
        c->objs = o->next;
        vcore__vmx_vmcs_release(c, host, o, 2);
    }
    if (c->vmcs01.region) {
        vcore__vmx_vmcs_release(c, host, &c->vmcs01, 1);
        c->vmcs01.region = NULL;
    }
    if (c->msr_area) {
        host->free_pages(host->ctx, c->msr_area, 1);
        c->msr_area = NULL;
    }
    if (c->shadow_bitmaps) {
        host->free_pages(host->ctx, c->shadow_bitmaps, 2);
        c->shadow_bitmaps = NULL;
    }
    c->shadow_link = NULL;
    vcore__vmx_root_leave(c);
}

/* Host state: written when it differs from what the VMCS holds. */
int vcore__vmx_vmcs_host(struct vcore_hw_vmcs *o)
{
    vcore__vmx_host_regs_t h;
    vcore__vmx_host_regs(&h);
    vcore__vmx_host_regs_t *p = &o->host;
    bool all = !o->host_valid;
    int err = VCORE_OK;
    if (all) {
        /* The host fields that never change: where exits land and the
         * host MSRs the exit controls load. */
        const struct {
            uint32_t field;
            uint64_t value;
        } once[] = {
            {VCORE_VMCS_HOST_RIP, vcore__vmx_exit_rip()},
            {VCORE_VMCS_HOST_IA32_SYSENTER_CS, vcore__vmx_rdmsr(VCORE__MSR_SYSENTER_CS)},
            {VCORE_VMCS_HOST_IA32_SYSENTER_ESP, vcore__vmx_rdmsr(VCORE__MSR_SYSENTER_ESP)},
            {VCORE_VMCS_HOST_IA32_SYSENTER_EIP, vcore__vmx_rdmsr(VCORE__MSR_SYSENTER_EIP)},
            {VCORE_VMCS_HOST_IA32_EFER, vcore__vmx_rdmsr(VCORE__MSR_EFER)},
            {VCORE_VMCS_HOST_IA32_PAT, vcore__vmx_rdmsr(VCORE__MSR_PAT)},
        };
        for (size_t i = 0; i < VCORE__ARRAY_SIZE(once) && !err; i++)
            err = vcore__vmx_field_write(once[i].field, once[i].value);
    }
#define VCORE__HOST_FIELD(member, field)                                                            \
    do {                                                                                            \
        if (!err && (all || p->member != h.member))                                                \
            err = vcore__vmx_field_write(field, h.member);                                              \
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
    if (err) {
        o->host_valid = false;
        return err;
    }
    *p = h;
    o->host_valid = true;
    return VCORE_OK;
}

/* Writes the constant part of vmcs01. */
/* The vCPU's MSR lists in the current VMCS o, once per VMCS: guest values
 * are loaded at entry and stored at exit in the same list, the host's come
 * back from a second list at exit ("VM-Entry Controls for MSRs", "VM-Exit
 * Controls for MSRs"). vmcs01 and every VMCS the core enters for L2
 * (vmcs02) take the same lists: the MSRs they switch are the vCPU's, which
 * L1 and L2 share, and the ring-0 host's must never be left to the guest. */
static int vcore__vmx_vmcs_lists(vcore__vmx_vcpu_t *c, struct vcore_hw_vmcs *o)
{
    if (o->lists)
        return VCORE_OK;
    const struct {
        uint32_t field;
        uint64_t value;
    } lists[] = {
        {VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, c->msr_area_pa},
        {VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, VCORE__VMX_NR_LIST_MSRS},
        {VCORE_VMCS_VM_EXIT_MSR_STORE_ADDR, c->msr_area_pa},
        {VCORE_VMCS_VM_EXIT_MSR_STORE_COUNT, VCORE__VMX_NR_LIST_MSRS},
        {VCORE_VMCS_VM_EXIT_MSR_LOAD_ADDR, c->msr_area_pa + 16u * sizeof(vcore__vmx_msr_entry_t)},
        {VCORE_VMCS_VM_EXIT_MSR_LOAD_COUNT, VCORE__VMX_NR_LIST_MSRS},
    };
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(lists); i++) {
        int err = vcore__vmx_field_write(lists[i].field, lists[i].value);
        if (err)
            return err;
    }
    o->lists = true;
    return VCORE_OK;
}

/* The host's values of the list MSRs, read before each entry: they may
 * change between runs (KERNEL_GS_BASE does with every process); this costs
 * no VMWRITE. */
static void vcore__vmx_vmcs_host_msrs(vcore__vmx_vcpu_t *c)
{
    for (uint32_t i = 0; i < VCORE__VMX_NR_LIST_MSRS; i++)
        c->msr_area[16 + i].value = vcore__vmx_rdmsr(vcore__vmx_list_msrs[i]);
}

static int vcore__vmx_vmcs_build(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v)
{
    struct vcore_hw_vmcs *o = &c->vmcs01;
    const vcore__vmx_ctls_t *k = &v->ctls;
    const struct {
        uint32_t field;
        uint32_t value;
    } ctls[] = {
        {VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, k->pin},
        {VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, k->proc},
        {VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, k->proc2},
        {VCORE_VMCS_VM_EXIT_CONTROLS, k->exit},
        {VCORE_VMCS_VM_ENTRY_CONTROLS, k->entry},
    };
    /* Written once per VMCS: everything that does not depend on the guest's state. */
    const struct {
        uint32_t field;
        uint64_t value;
    } once[] = {
        {VCORE_VMCS_EXCEPTION_BITMAP, VCORE__VMX_EXC_BITMAP},
        {VCORE_VMCS_IO_BITMAP_A, v->io_bitmap_pa},
        {VCORE_VMCS_IO_BITMAP_B, v->io_bitmap_pa + VCORE_PAGE_SIZE},
        {VCORE_VMCS_MSR_BITMAP, v->msr_bitmap_pa},
        {VCORE_VMCS_TSC_OFFSET, c->tsc_offset},
        {VCORE_VMCS_EPT_POINTER, v->eptp},
        /* No shadow VMCS: the link pointer must be all ones ("Checks on Guest
         * Non-Register State"). */
        {VCORE_VMCS_VMCS_LINK_POINTER, ~0ull},
        {VCORE_VMCS_GUEST_ACTIVITY_STATE, 0},
        {VCORE_VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0},
        {VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD, 0},
        /* CR0 and CR4 belong to the host in every bit ("Guest/Host Masks and
         * Read Shadows for CR0 and CR4"): the guest reads the read shadows,
         * which hold its values, and any write that would change a bit
         * exits, so the core checks it against the vCPU's CPUID. */
        {VCORE_VMCS_CR0_GUEST_HOST_MASK, ~0ull},
        {VCORE_VMCS_CR4_GUEST_HOST_MASK, ~0ull},
    };
    int err = VCORE_OK;
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(ctls) && !err; i++)
        err = vcore__vmx_field_ctl(o, ctls[i].field, ctls[i].value);
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(once) && !err; i++)
        err = vcore__vmx_field_write(once[i].field, once[i].value);
    if (!err)
        err = vcore__vmx_vmcs_lists(c, o);
    /* No blocking until the events say otherwise: the cache knows bits 2
     * and 4 (SMI, enclave interruption) are 0 from here on. */
    if (!err)
        err = vcore__vmx_field_put(c, VCORE__VMX_F_INTR_STATE, 0);
    if (err)
        return err;
    o->entry_intr = 0;
    o->entry_intr_known = true;
    if (c->vpid) {
        err = vcore__vmx_field_write(VCORE_VMCS_VIRTUAL_PROCESSOR_ID, c->vpid);
        if (err)
            return err;
        /* The VPID may carry translations of an earlier VM's vCPU. */
        if (vcore__vmx_invvpid(1, c->vpid, 0).kind != VCORE__VMX_SUCCEED)
            return VCORE_ERR_HWFAIL;
    }
    /* The EPT root page may have held another VM's root before. */
    if (vcore__vmx_invept((v->caps.ept_vpid & VCORE__EPT_CAP_INVEPT_SINGLE) ? 1u : 2u, v->eptp).kind !=
        VCORE__VMX_SUCCEED)
        return VCORE_ERR_HWFAIL;
    err = vcore__vmx_vmcs_host(o);
    if (err)
        return err;
    c->built = true;
    return VCORE_OK;
}

int vcore__vmx_vmcs_ready(vcore__vmx_vcpu_t *c, const vcore__vmx_vm_t *v)
{
    int err = vcore__vmx_root_here(c, vcore_vm_host(c->vmobj));
    if (err)
        return err;
    /* Another vCPU on this processor, a VMCS op, or the embedder may have
     * made another VMCS current since: VMPTRST says, VMPTRLD if needed. */
    uint64_t cur = ~0ull;
    if (vcore__vmx_ptrst(&cur).kind != VCORE__VMX_SUCCEED)
        return VCORE_ERR_HWFAIL;
    if (cur != c->vmcs01.pa && vcore__vmx_ptrld(c->vmcs01.pa).kind != VCORE__VMX_SUCCEED)
        return VCORE_ERR_HWFAIL;
    c->cur = &c->vmcs01;
    return c->built ? VCORE_OK : vcore__vmx_vmcs_build(c, v);
}

int vcore__vmx_vmcs_prepare_entry(vcore__vmx_vcpu_t *c, vcore__vmx_vm_t *v)
{
    int err = vcore__vmx_vmcs_host(&c->vmcs01);
    if (err)
        return err;
    vcore__vmx_vmcs_host_msrs(c);
    if (c->ept_gen != v->ept.gen) {
        if (vcore__vmx_invept((v->caps.ept_vpid & VCORE__EPT_CAP_INVEPT_SINGLE) ? 1u : 2u, v->eptp).kind !=
            VCORE__VMX_SUCCEED)
            return VCORE_ERR_HWFAIL;
        c->ept_gen = v->ept.gen;
    }
    /* "IA-32e mode guest" equals EFER.LMA ("Checks on VM-Entry Control
     * Fields"); the backend always knows EFER. */
    uint64_t efer = 0;
    err = vcore__vmx_field_get(c, VCORE__VMX_F_EFER, &efer);
    if (!err)
        err = vcore__vmx_field_ctl(&c->vmcs01, VCORE_VMCS_VM_ENTRY_CONTROLS,
                                  v->ctls.entry | ((efer & VCORE__EFER_LMA) ? VCORE__ENTRY_IA32E : 0u));
    if (!err)
        err = vcore__vmx_events_entry(c, v);
    return err;
}

int vcore__vmx_vmcs_run(vcore__vmx_vcpu_t *c, struct vcore_hw_vmcs *o, vcore__vmx_rc_t *rc,
                        uint32_t *reason)
{
    /* The launch state and HOST_RSP belong to the VMCS; the primitive finds
     * them next to the vCPU's GPRs. */
    c->g.launched = o->launched ? 1u : 0u;
    c->g.host_rsp = o->host_rsp;
    /* The guest's x87/SSE state in, the host's back after (vmx_fpu.c). */
    int err = vcore__vmx_fpu_enter(c);
    if (err)
        return err;
    *rc = vcore__vmx_enter(&c->g);
    vcore__vmx_fpu_exit(c);
    o->host_rsp = c->g.host_rsp;
    if (rc->kind != VCORE__VMX_SUCCEED)
        return VCORE_OK; /* VMfail: the VMCS is as it was */
    /* The guest ran: what it can change is no longer known. */
    o->known &= ~VCORE__VMX_VOLATILE;
    uint64_t r = 0;
    err = vcore__vmx_field_read(VCORE_VMCS_VM_EXIT_REASON, &r);
    if (err)
        return err;
    *reason = (uint32_t)r;
    if (r & VCORE__EXIT_REASON_FAILED_ENTRY) {
        /* "VM-Entry Failures During or After Loading Guest State": the VMCS
         * stays clear; what the entry fields hold is not relied upon. */
        o->entry_intr_known = false;
    } else {
        /* A real exit makes the VMCS launched and clears the valid bit of the
         * VM-entry interruption-information field ("Recording VM-Exit
         * Information and Updating VM-Entry Control Fields"). */
        o->launched = true;
        o->entry_intr &= ~VCORE__INTR_VALID;
    }
    return VCORE_OK;
}

/* ---- the hardware VMCS ops (backend.h) ---------------------------------- */

/* The object a handle names (NULL: vmcs01), or NULL if it is not one of the vCPU's. */
static struct vcore_hw_vmcs *vcore__vmx_vmcs_obj(vcore__vmx_vcpu_t *c, vcore_hw_vmcs_t *vmcs)
{
    if (!vmcs || vmcs == &c->vmcs01)
        return &c->vmcs01;
    for (struct vcore_hw_vmcs *o = c->objs; o; o = o->next)
        if (o == vmcs)
            return o;
    return NULL;
}

/* A VMX instruction's outcome as a library error: VMfailInvalid means no
 * current VMCS; VMfailValid 12 an unsupported field ("VMREAD", "VMWRITE"). */
static int vcore__vmx_vmcs_err(vcore__vmx_rc_t rc)
{
    if (rc.kind == VCORE__VMX_SUCCEED)
        return VCORE_OK;
    if (rc.kind == VCORE__VMX_FAIL_INVALID)
        return VCORE_ERR_STATE;
    return rc.error == VCORE_VMXERR_UNSUPPORTED_FIELD ? VCORE_ERR_NOENT : VCORE_ERR_HWFAIL;
}

int vcore__vmx_vmcs_alloc(vcore_vcpu_t *vcpu, void *priv, bool shadow, vcore_hw_vmcs_t **out)
{
    vcore__vmx_vcpu_t *c = priv;
    const vcore__vmx_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    const vcore_host_t *host = vcore_vm_host(c->vmobj);
    if (!out)
        return VCORE_ERR_INVAL;
    int err = vcore__vmx_root_here(c, host);
    if (err)
        return err;
    /* A shadow VMCS exists only with "VMCS shadowing" ("VMCS Region"). */
    if (shadow && !((v->caps.proc2 >> 32) & VCORE__PROC2_SHADOW_VMCS))
        return VCORE_ERR_UNSUPPORTED;
    /* Two pages: the region (the processor's) and the object (ours). */
    uint64_t pa = 0;
    uint8_t *pages = host->alloc_pages(host->ctx, 2, &pa);
    if (!pages)
        return VCORE_ERR_NOMEM;
    struct vcore_hw_vmcs *o = (struct vcore_hw_vmcs *)(void *)(pages + VCORE_PAGE_SIZE);
    err = vcore__vmx_vmcs_init(o, pages, pa, VCORE__VMX_BASIC_REVISION(v->caps.basic), shadow);
    if (err) {
        host->free_pages(host->ctx, pages, 2);
        return err;
    }
    o->next = c->objs;
    c->objs = o;
    *out = o;
    return VCORE_OK;
}

void vcore__vmx_vmcs_free(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs)
{
    vcore__vmx_vcpu_t *c = priv;
    const vcore_host_t *host = vcore_vm_host(c->vmobj);
    (void)vcpu;
    if (!vmcs || vmcs == &c->vmcs01 || vcore__vmx_root_here(c, host) != VCORE_OK)
        return; /* vmcs01 goes with the vCPU; a VMCS is cleared where it is active */
    /* vmcs01 must not keep naming a VMCS that goes away. */
    if (c->shadow_link && c->shadow_link == vmcs)
        (void)vcore__vmx_vmcs_shadow_link(vcpu, priv, NULL, NULL, NULL);
    for (struct vcore_hw_vmcs **p = &c->objs; *p; p = &(*p)->next) {
        if (*p == vmcs) {
            struct vcore_hw_vmcs *o = *p;
            *p = o->next;
            vcore__vmx_vmcs_release(c, host, o, 2);
            return;
        }
    }
}

int vcore__vmx_vmcs_load(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs)
{
    vcore__vmx_vcpu_t *c = priv;
    (void)vcpu;
    struct vcore_hw_vmcs *o = vcore__vmx_vmcs_obj(c, vmcs);
    if (!o)
        return VCORE_ERR_INVAL;
    int err = vcore__vmx_root_here(c, vcore_vm_host(c->vmobj));
    if (!err)
        err = vcore__vmx_vmcs_err(vcore__vmx_ptrld(o->pa));
    c->cur = err ? NULL : o;
    return err;
}

int vcore__vmx_vmcs_clear(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs)
{
    vcore__vmx_vcpu_t *c = priv;
    (void)vcpu;
    struct vcore_hw_vmcs *o = vcore__vmx_vmcs_obj(c, vmcs);
    if (!o)
        return VCORE_ERR_INVAL;
    int err = vcore__vmx_root_here(c, vcore_vm_host(c->vmobj));
    if (!err)
        err = vcore__vmx_vmcs_err(vcore__vmx_clear(o->pa));
    if (err)
        return err;
    /* Clear launch state; the region in memory may be changed behind the
     * backend's back until the next VMPTRLD: nothing cached is trusted. */
    o->launched = false;
    vcore_vmcs_ctl_shadow_reset(&o->ctl);
    o->known = 0;
    o->host_valid = false;
    o->lists = false;
    o->host_rsp = 0;
    o->entry_intr_known = false;
    if (c->cur == o)
        c->cur = NULL;
    return VCORE_OK;
}

int vcore__vmx_vmcs_read(vcore_vcpu_t *vcpu, void *priv, uint32_t field, uint64_t *value)
{
    vcore__vmx_vcpu_t *c = priv;
    (void)vcpu;
    if (!value)
        return VCORE_ERR_INVAL;
    struct vcore_hw_vmcs *o = c->cur;
    uint32_t f = vcore__vmx_field_index(field);
    /* A shadow VMCS is written by the guest's VMWRITEs ("VMCS Shadowing"):
     * nothing cached of it is trusted. */
    if (o && !o->shadow && f < VCORE__VMX_NR_FIELDS && (o->known & (1ull << f))) {
        *value = o->cache[f];
        return VCORE_OK;
    }
    return vcore__vmx_vmcs_err(vcore__vmx_read(field, value));
}

/* backend.h: the VMCS made current (VMPTRST says whether it already is:
 * another vCPU on this processor may have made another one current since),
 * then one VMREAD per field, through the same cache as vmcs_read. */
int vcore__vmx_vmcs_read_many(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs, const uint32_t *fields,
                              uint64_t *values, uint32_t count)
{
    vcore__vmx_vcpu_t *c = priv;
    if (count && (!fields || !values))
        return VCORE_ERR_INVAL;
    struct vcore_hw_vmcs *o = vcore__vmx_vmcs_obj(c, vmcs);
    if (!o)
        return VCORE_ERR_INVAL;
    int err = vcore__vmx_root_here(c, vcore_vm_host(c->vmobj));
    uint64_t cur = ~0ull;
    if (!err && (vcore__vmx_ptrst(&cur).kind != VCORE__VMX_SUCCEED || cur != o->pa))
        err = vcore__vmx_vmcs_err(vcore__vmx_ptrld(o->pa));
    c->cur = err ? NULL : o;
    for (uint32_t i = 0; !err && i < count; i++)
        err = vcore__vmx_vmcs_read(vcpu, priv, fields[i], &values[i]);
    return err;
}

int vcore__vmx_vmcs_write(vcore_vcpu_t *vcpu, void *priv, uint32_t field, uint64_t value)
{
    vcore__vmx_vcpu_t *c = priv;
    (void)vcpu;
    struct vcore_hw_vmcs *o = c->cur;
    /* A shadow VMCS is written by the guest's VMWRITEs too: every write goes out. */
    if (o && o->shadow)
        o = NULL;
    if (o && !vcore_vmcs_ctl_shadow_write(&o->ctl, field, value))
        return VCORE_OK; /* a major control word the VMCS already holds */
    int err = vcore__vmx_vmcs_err(vcore__vmx_write(field, value));
    if (!o)
        return err;
    uint32_t f = vcore__vmx_field_index(field);
    if (err) {
        vcore_vmcs_ctl_shadow_reset(&o->ctl);
        if (f < VCORE__VMX_NR_FIELDS)
            o->known &= ~(1ull << f);
        return err;
    }
    /* Keep what the backend believes the VMCS holds in step with it. */
    if (f < VCORE__VMX_NR_FIELDS) {
        o->cache[f] = value;
        o->known |= 1ull << f;
    } else if (field == VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD) {
        o->entry_intr = (uint32_t)value;
        o->entry_intr_known = true;
    } else if (field == VCORE_VMCS_HOST_RSP) {
        o->host_rsp = value;
    } else if (((field >> 10) & 3u) == 3u) { /* encoding bits 11:10 = 3: a host-state field */
        o->host_valid = false;
    }
    return VCORE_OK;
}

int vcore__vmx_vmcs_enter(vcore_vcpu_t *vcpu, void *priv, vcore_hw_entry_t *out)
{
    vcore__vmx_vcpu_t *c = priv;
    (void)vcpu;
    if (!out)
        return VCORE_ERR_INVAL;
    vcore__memset(out, 0, sizeof(*out));
    struct vcore_hw_vmcs *o = c->cur;
    int err = vcore__vmx_root_here(c, vcore_vm_host(c->vmobj));
    if (err)
        return err;
    if (!o) {
        /* "VMLAUNCH/VMRESUME": no current VMCS is VMfailInvalid. */
        out->kind = VCORE_HW_ENTRY_FAIL_INVALID;
        return VCORE_OK;
    }
    /* The host state exits return to; a shadow VMCS is never entered
     * (the instruction answers VMfailInvalid) and is not written. */
    if (!o->shadow) {
        err = vcore__vmx_vmcs_host(o);
        /* L2 runs with the vCPU's SYSCALL MSRs and KERNEL_GS_BASE, not the
         * ring-0 host's: without lists, its SYSCALL and SWAPGS would use them. */
        if (!err)
            err = vcore__vmx_vmcs_lists(c, o);
        if (err)
            return err;
        vcore__vmx_vmcs_host_msrs(c);
    }
    out->launched = o->launched ? 0u : 1u;
    uint32_t reason = 0;
    vcore__vmx_rc_t rc;
    err = vcore__vmx_vmcs_run(c, o, &rc, &reason);
    if (err)
        return err;
    if (rc.kind == VCORE__VMX_FAIL_INVALID) {
        out->kind = VCORE_HW_ENTRY_FAIL_INVALID;
    } else if (rc.kind == VCORE__VMX_FAIL_VALID) {
        out->kind = VCORE_HW_ENTRY_FAIL_VALID;
        out->vm_error = rc.error;
    } else {
        out->kind = VCORE_HW_ENTRY_EXIT;
        out->exit_reason = reason;
        /* backend.h: a processor NMI or machine check is the host's, here
         * as on vmcs01 (vmx_exit.c). */
        uint64_t info = 0;
        if ((reason & 0xffffu) == 0 && !(err = vcore__vmx_field_read(VCORE_VMCS_VM_EXIT_INTR_INFO, &info)))
            (void)vcore__vmx_exit_host_event(info);
    }
    return err;
}

int vcore__vmx_vmcs_shadow_link(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *shadow,
                                const uint8_t *vmread_bitmap, const uint8_t *vmwrite_bitmap)
{
    vcore__vmx_vcpu_t *c = priv;
    const vcore__vmx_vm_t *v = vcore_vm_backend_priv(vcore_vcpu_vm(vcpu));
    const vcore_host_t *host = vcore_vm_host(c->vmobj);
    struct vcore_hw_vmcs *o = NULL;
    bool bitmaps = vmread_bitmap && vmwrite_bitmap;
    if (shadow) {
        /* "VMCS shadowing" must be allowed-1 (IA32_VMX_PROCBASED_CTLS2 bit 46). */
        if (!((v->caps.proc2 >> 32) & VCORE__PROC2_SHADOW_VMCS))
            return VCORE_ERR_UNSUPPORTED;
        /* "Checks on Guest Non-Register State": with VMCS shadowing the link
         * pointer names a region whose shadow-VMCS indicator is 1. */
        o = vcore__vmx_vmcs_obj(c, shadow);
        if (!o || o == &c->vmcs01 || !o->shadow)
            return VCORE_ERR_INVAL;
        if (!vmread_bitmap != !vmwrite_bitmap || (!bitmaps && !c->shadow_bitmaps))
            return VCORE_ERR_INVAL;
    }
    if (bitmaps && !c->shadow_bitmaps) {
        uint64_t pa = 0;
        uint8_t *pages = host->alloc_pages(host->ctx, 2, &pa);
        if (!pages)
            return VCORE_ERR_NOMEM;
        c->shadow_bitmaps = pages;
        c->shadow_bitmaps_pa = pa;
    }
    /* The fields are vmcs01's: make it current (and written once). */
    int err = vcore__vmx_vmcs_ready(c, v);
    if (err)
        return err;
    if (o && bitmaps) {
        /* "VMREAD Bitmap and VMWRITE Bitmap": 4-KByte aligned, one page each. */
        vcore__memcpy(c->shadow_bitmaps, vmread_bitmap, VCORE_PAGE_SIZE);
        vcore__memcpy(c->shadow_bitmaps + VCORE_PAGE_SIZE, vmwrite_bitmap, VCORE_PAGE_SIZE);
        err = vcore__vmx_field_write(VCORE_VMCS_VMREAD_BITMAP, c->shadow_bitmaps_pa);
        if (!err)
            err = vcore__vmx_field_write(VCORE_VMCS_VMWRITE_BITMAP, c->shadow_bitmaps_pa + VCORE_PAGE_SIZE);
    }
    /* Without a shadow VMCS the link pointer is all ones ("Checks on Guest
     * Non-Register State") and the control 0: the guest's VMREAD and
     * VMWRITE exit again. */
    if (!err)
        err = vcore__vmx_field_write(VCORE_VMCS_VMCS_LINK_POINTER, o ? o->pa : ~0ull);
    if (!err)
        err = vcore__vmx_field_ctl(&c->vmcs01, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL,
                                  v->ctls.proc2 | (o ? VCORE__PROC2_SHADOW_VMCS : 0u));
    if (err)
        return err;
    c->shadow_link = o;
    return VCORE_OK;
}
