/*
 * vcpu_nested_ept.c - nested EPT in the run loop: vmcs02 runs on the shadow
 * EPT (ept02, x86/nvmx_ept02.h) when L1 enables EPT for L2, EPT violations
 * of ept02 are routed (L0 fills ept02 and resumes L2, L1 gets exit 48 or 49,
 * the VMM gets what neither can serve), and L1's INVEPT, VMXOFF, RESET and
 * L0's unmapping of memory drop what they name.
 *
 * The split: the composition (nvmx_ept02.c) is pure and writes the tables;
 * L0's view of L1 memory is the VM's memory map (host-physical addresses
 * from vcore_host_t::virt_to_phys, the same source the vmx backend builds
 * ept01 from); the backend only executes INVEPT (vcpu_invept) and the
 * VMWRITE of the EPT pointer. The pages come from vcore_host_t::alloc_pages
 * once, at the first entry with L1's EPT, and go back at teardown.
 */
#include "vcpu_nested.h"

#include "virtcore/x86/vmx_exits.h"

/* Pages of ept02's pool: a 4-level table needs up to 4 per context, and a
 * typical L2 touches a few dozen 2 MiB/4 KiB regions. */
#define NESTED_EPT02_PAGES 64u
#define NESTED_PROC2_EPT (1u << 1) /* secondary control 1: enable EPT */
#define NESTED_EPT_CAP_ADV (1ull << 22) /* EPT_VPID_CAP[22]: advanced VM-exit information for EPT violations */
#define NESTED_2M (2ull << 20)

bool vcore__vcpu_nested_l1_ept(vcore_vcpu_t *vcpu)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    return (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
           (v->SECONDARY_VM_EXEC_CONTROL & NESTED_PROC2_EPT);
}

bool vcore__vcpu_nested_ept02_usable(const vcore_vcpu_t *vcpu)
{
    const vcore_host_t *h = &vcpu->vm->host;
    return vcpu->vm->ops.vcpu_invept && h->alloc_pages && h->free_pages && h->virt_to_phys;
}

/* The flush callback: the processor must forget an ept02 before its
 * tables change in place or are reused. */
static void vcore__vcpu_nested_ept02_flush(void *ctx, uint64_t eptp02)
{
    vcore_vcpu_t *vcpu = ctx;
    int err = vcpu->vm->ops.vcpu_invept(vcpu, vcpu->priv, eptp02);
    if (err && !vcpu->nvmx->ept02_flush_err)
        vcpu->nvmx->ept02_flush_err = err < 0 ? err : VCORE_ERR_HWFAIL;
}

/* The failed INVEPT since the last call, if any (then L2 must not run). */
static int vcore__vcpu_nested_ept02_flushed(vcore_vcpu_t *vcpu)
{
    int err = vcpu->nvmx->ept02_flush_err;
    vcpu->nvmx->ept02_flush_err = 0;
    return err;
}

/* Host pages holding the builder itself, ahead of the pool. */
static uint32_t vcore__vcpu_nested_ept02_head(void)
{
    return (uint32_t)((vcore_nvmx_ept02_storage_size() + VCORE_PAGE_SIZE - 1) / VCORE_PAGE_SIZE);
}

/* The builder and its pool, drawn from the host once. */
static int vcore__vcpu_nested_ept02_pool(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_host_t *h = &vcpu->vm->host;
    if (nv->ept02)
        return VCORE_OK;
    uint32_t head = vcore__vcpu_nested_ept02_head();
    uint64_t pa = 0;
    uint8_t *va = h->alloc_pages(h->ctx, head + NESTED_EPT02_PAGES, &pa);
    if (!va)
        return VCORE_ERR_NOMEM;
    vcore_nvmx_ept02_page_t pages[NESTED_EPT02_PAGES];
    for (uint32_t i = 0; i < NESTED_EPT02_PAGES; i++) {
        pages[i].va = va + (size_t)(head + i) * VCORE_PAGE_SIZE;
        pages[i].pa = pa + (uint64_t)(head + i) * VCORE_PAGE_SIZE;
    }
    vcore_nvmx_ept02_config_t cfg;
    vcore__memset(&cfg, 0, sizeof(cfg));
    cfg.size = sizeof(cfg);
    cfg.pages = pages;
    cfg.npages = NESTED_EPT02_PAGES;
    cfg.flush = vcore__vcpu_nested_ept02_flush;
    cfg.flush_ctx = vcpu;
    vcore_nvmx_ept02_t *out = NULL;
    int err = vcore_nvmx_ept02_init(va, (size_t)head * VCORE_PAGE_SIZE, &cfg, &out);
    if (err) {
        h->free_pages(h->ctx, va, head + NESTED_EPT02_PAGES);
        return err;
    }
    nv->ept02_pool = va;
    nv->ept02 = out;
    nv->ept02_map_gen = vcpu->vm->map_gen;
    return VCORE_OK;
}

void vcore__vcpu_nested_ept02_invept(vcore_vcpu_t *vcpu, uint32_t type, uint64_t eptp12)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    /* Only a type other than 1 or 2 is refused; INVEPT's emulation never passes one. */
    if (nv->ept02 && vcore_nvmx_ept02_invalidate(nv->ept02, type, eptp12) != VCORE_OK)
        return;
}

void vcore__vcpu_nested_ept02_fini(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!nv->ept02)
        return;
    /* The processor forgets every ept02 before its pages leave. */
    vcore__vcpu_nested_ept02_invept(vcpu, 2, 0);
    (void)vcore__vcpu_nested_ept02_flushed(vcpu);
    const vcore_host_t *h = &vcpu->vm->host;
    h->free_pages(h->ctx, nv->ept02_pool, vcore__vcpu_nested_ept02_head() + NESTED_EPT02_PAGES);
    nv->ept02_pool = NULL;
    nv->ept02 = NULL;
}

int vcore__vcpu_nested_ept02_sync(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    uint64_t want = nv->eptp01;
    int err = VCORE_OK;
    if (vcore__vcpu_nested_l1_ept(vcpu)) {
        err = vcore__vcpu_nested_ept02_pool(vcpu);
        if (err)
            return err;
        /* Memory L0 unmapped may still be behind ept02's leaves. */
        if (nv->ept02_map_gen != vcpu->vm->map_gen) {
            vcore__vcpu_nested_ept02_invept(vcpu, 2, 0);
            nv->ept02_map_gen = vcpu->vm->map_gen;
        }
        const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
        err = vcore_nvmx_ept02_eptp(nv->ept02, v->EPT_POINTER, &want);
        if (err == VCORE_ERR_NOMEM) { /* every page in use: start over */
            vcore__vcpu_nested_ept02_invept(vcpu, 2, 0);
            err = vcore_nvmx_ept02_eptp(nv->ept02, v->EPT_POINTER, &want);
        }
    }
    int ferr = vcore__vcpu_nested_ept02_flushed(vcpu);
    if (err || ferr)
        return err ? err : ferr;
    if (want == nv->eptp02_cur)
        return VCORE_OK;
    err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_EPT_POINTER, want);
    if (!err)
        nv->eptp02_cur = want;
    return err;
}

/* "Loading Page-Directory-Pointer-Table Entries": without L1's EPT, a VM
 * entry to PAE paging outside IA-32e mode loads the four PDPTEs from
 * memory at CR3 bits 31:5. vmcs02 on L0's EPT has the processor take them
 * from its guest PDPTE fields instead, so L0 reads them here - on each
 * entry of L1 only: on L0's own re-entries the processor's PDPTEs are the
 * ones L2 loaded. A 64-bit L2 stops at the first test. PDPTEs that fail
 * "Checks on Guest Page-Directory-Pointer-Table Entries" fail the
 * processor's entry as they fail L1's (unbacked memory reads as all ones,
 * as for the checks). */
int vcore__vcpu_nested_ept_pdptes(vcore_vcpu_t *vcpu)
{
    static const uint32_t enc[4] = {VCORE_VMCS_GUEST_PDPTR0, VCORE_VMCS_GUEST_PDPTR1, VCORE_VMCS_GUEST_PDPTR2,
                                    VCORE_VMCS_GUEST_PDPTR3};
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    if ((v->VM_ENTRY_CONTROLS & VCORE__ENTRY_IA32E) || !vcpu->nvmx->eptp01 || !(v->GUEST_CR0 & VCORE__CR0_PG) ||
        !(v->GUEST_CR4 & VCORE__CR4_PAE) || vcore__vcpu_nested_l1_ept(vcpu))
        return VCORE_OK;
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    uint64_t pdpte[4];
    if (vcore_nvmx_mem_from_vm(vcpu->vm, &mem) != VCORE_OK ||
        mem.read(mem.ctx, v->GUEST_CR3 & 0xffffffe0ull, pdpte, sizeof(pdpte)) != VCORE_OK)
        vcore__memset(pdpte, 0xff, sizeof(pdpte));
    for (uint32_t i = 0; i < 4; i++) {
        int err = vcore__vcpu_nested_wr(vcpu, enc[i], pdpte[i]);
        if (err)
            return err;
    }
    return VCORE_OK;
}

/* L0's view of L1 memory: the VM's memory map. RAM is write-back without
 * IPAT, as the backends map it in ept01; a read-only region refuses
 * writes; a 2 MiB mapping where the region backs the whole aligned 2 MiB
 * with physically contiguous memory (the rule ept01 uses for its large
 * pages), 4 KiB otherwise. */
static int vcore__vcpu_nested_ept02_l0(void *ctx, uint64_t l1_gpa, vcore_nvmx_ept02_l0_t *out)
{
    vcore_vcpu_t *vcpu = ctx;
    const vcore_host_t *h = &vcpu->vm->host;
    const vcore_mem_region_t *r = vcore__vm_region_at(vcpu->vm, l1_gpa);
    if (!r) {
        out->mapped = false;
        return VCORE_OK;
    }
    out->mapped = true;
    out->memtype = 6;
    out->ipat = false;
    out->perms = (uint8_t)(VCORE_NVMX_EPT_READ | VCORE_NVMX_EPT_FETCH |
                           ((r->flags & VCORE_MEM_READONLY) ? 0u : VCORE_NVMX_EPT_WRITE));
    const uint8_t *hva = (const uint8_t *)r->hva;
    uint64_t page = l1_gpa & ~(uint64_t)(VCORE_PAGE_SIZE - 1);
    uint64_t big = l1_gpa & ~(NESTED_2M - 1);
    out->page_size = VCORE_PAGE_SIZE;
    out->hpa = h->virt_to_phys(h->ctx, hva + (page - r->gpa));
    if (big >= r->gpa && big + NESTED_2M <= r->gpa + r->len) {
        uint64_t base = h->virt_to_phys(h->ctx, hva + (big - r->gpa));
        bool contiguous = (base & (NESTED_2M - 1)) == 0;
        for (uint64_t o = VCORE_PAGE_SIZE; o < NESTED_2M && contiguous; o += VCORE_PAGE_SIZE)
            contiguous = h->virt_to_phys(h->ctx, hva + (big - r->gpa) + o) == base + o;
        if (contiguous) {
            out->page_size = NESTED_2M;
            out->hpa = base;
        }
    }
    return VCORE_OK;
}

/* What the VMM sees of an EPT exit of L2 that neither L0 nor L1 serves:
 * raw.reason 48/49, raw.qualification, data[0] the L2 and data[1] the L1
 * guest-physical address. */
static void vcore__vcpu_nested_ept02_to_vmm(uint32_t reason, uint64_t qual, uint64_t l2_gpa, uint64_t l1_gpa,
                                            vcore_exit_t *exit)
{
    vcore__memset(&exit->u, 0, sizeof(exit->u));
    vcore__memset(&exit->raw, 0, sizeof(exit->raw));
    exit->reason = VCORE_EXIT_RAW;
    exit->flags = VCORE_EXIT_F_L2;
    exit->raw.source = VCORE_EXIT_SRC_VMX;
    exit->raw.reason = reason;
    exit->raw.qualification = qual;
    exit->raw.data[0] = l2_gpa;
    exit->raw.data[1] = l1_gpa;
}

int vcore__vcpu_nested_ept02_exit(vcore_vcpu_t *vcpu, vcore_nvmx_l2_exit_t *e, vcore_exit_t *exit,
                                  uint32_t *route)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint32_t basic = VCORE_VMX_EXIT_REASON_BASIC(e->reason);
    uint64_t l2_gpa = nv->x02.gpa;
    if (basic == VCORE_VMX_EXIT_EPT_MISCONFIG) {
        /* ept02 is the library's own: a misconfiguration is its fault.
         * Drop every ept02 (rebuilt on the next faults) and tell the VMM. */
        vcore__vcpu_nested_ept02_invept(vcpu, 2, 0);
        vcore__vcpu_nested_ept02_to_vmm(e->reason, 0, l2_gpa, 0, exit);
        *route = VCORE__NESTED_EPT_VMM;
        return vcore__vcpu_nested_ept02_flushed(vcpu);
    }
    int err = vcore__vcpu_nested_ept02_pool(vcpu);
    if (err)
        return err;
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (err)
        return err;
    vcore_nvmx_ept02_fault_t in;
    vcore__memset(&in, 0, sizeof(in));
    in.size = sizeof(in);
    in.eptp12 = v->EPT_POINTER;
    in.l2_gpa = l2_gpa;
    in.hw_qualification = e->qualification;
    in.maxphyaddr = nv->maxphyaddr;
    in.advanced_info = (nv->caps.msr[VCORE_NVMX_CAP_EPT_VPID] & NESTED_EPT_CAP_ADV) != 0;
    in.no_execute_only = !(nv->caps.msr[VCORE_NVMX_CAP_EPT_VPID] & VCORE__EPT_CAP_XO);
    in.no_pages_1g = !(nv->caps.msr[VCORE_NVMX_CAP_EPT_VPID] & VCORE__EPT_CAP_1G);
    in.l1_mem = &mem;
    in.l0 = vcore__vcpu_nested_ept02_l0;
    in.l0_ctx = vcpu;
    /* L1's page-modification log for L2 (vmcs02 never uses the processor's). */
    in.pml = (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
             (v->SECONDARY_VM_EXEC_CONTROL & VCORE__PROC2_PML);
    in.pml_index = v->GUEST_PML_INDEX;
    in.pml_address = v->PML_ADDRESS;
    vcore_nvmx_ept02_result_t r;
    r.size = sizeof(r);
    err = vcore_nvmx_ept02_handle(nv->ept02, &in, &r);
    if (err == VCORE_ERR_NOMEM) {
        /* The pool is full: drop every ept02 and build again ("never half
         * a table": the failed attempt changed nothing). */
        vcore__vcpu_nested_ept02_invept(vcpu, 2, 0);
        err = vcore_nvmx_ept02_handle(nv->ept02, &in, &r);
        if (err == VCORE_ERR_NOMEM)
            (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_NVMX_EPT02_POOL_EMPTY, l2_gpa);
    }
    int ferr = vcore__vcpu_nested_ept02_flushed(vcpu);
    if (err || ferr)
        return err ? err : ferr;
    switch (r.kind) {
    case VCORE_NVMX_EPT02_FIXED:
        /* "Page-Modification Logging": the index goes down by one per
         * entry written (from 0 to FFFFH, which the next one finds full). */
        if (r.pml_logged) {
            v->GUEST_PML_INDEX = (uint16_t)(in.pml_index - 1u);
            vcore__nvmx_changed_id(nv, VCORE__ROW_GUEST_PML_INDEX);
        }
        *route = VCORE__NESTED_EPT_L0;
        return VCORE_OK;
    case VCORE_NVMX_EPT02_L1_PML_FULL:
        /* Exit 62: its qualification; event-delivery information as the
         * violation had it; no guest-physical or linear address. */
        e->reason = (e->reason & ~0xffffu) | VCORE_VMX_EXIT_PML_FULL;
        e->qualification = r.qualification;
        nv->x02.reason = e->reason;
        nv->x02.qual = r.qualification;
        nv->x02.have &= ~(uint32_t)(VCORE__X02_GLA | VCORE__X02_GPA);
        nv->last.exit_reason = e->reason;
        *route = VCORE__NESTED_EPT_L1;
        return VCORE_OK;
    case VCORE_NVMX_EPT02_L1_VIOLATION:
        nv->x02.qual = r.qualification;
        e->qualification = r.qualification;
        *route = VCORE__NESTED_EPT_L1;
        return VCORE_OK;
    case VCORE_NVMX_EPT02_L1_MISCONFIG:
        /* Exit 49 ("EPT Misconfigurations"): the guest-physical address is
         * saved; the exit qualification and guest-linear address are not. */
        e->reason = (e->reason & ~0xffffu) | VCORE_VMX_EXIT_EPT_MISCONFIG;
        e->qualification = 0;
        nv->x02.reason = e->reason;
        nv->x02.qual = 0;
        nv->x02.have &= ~(uint32_t)(VCORE__X02_QUAL | VCORE__X02_GLA);
        nv->last.exit_reason = e->reason;
        *route = VCORE__NESTED_EPT_L1;
        return VCORE_OK;
    default:
        /* L0 has no memory at the L1 address: MMIO when the instruction is
         * a MOV the VMM can complete, raw otherwise. */
        vcore__vcpu_nested_ept02_to_vmm(e->reason, e->qualification, l2_gpa, r.l1_gpa, exit);
        bool to_l1 = false;
        err = vcore__vcpu_nested_l0_mmio(vcpu, exit, r.l1_gpa, &to_l1);
        /* Exit 62 to L1 instead (a shutdown of L1 being the VMM's exit). */
        *route = (to_l1 || exit->reason == VCORE_EXIT_SHUTDOWN) ? VCORE__NESTED_EPT_DONE : VCORE__NESTED_EPT_VMM;
        return err;
    }
}
