/*
 * vcpu_nested_apic.c - L1's "use TPR shadow" and "virtualize APIC accesses"
 * for L2 (SDM Vol. 3, "Virtual-APIC Page", "APIC-Access Page",
 * "Virtualizing CR8-Based TPR Accesses", "TPR Virtualization",
 * "Virtualizing Memory-Mapped APIC Accesses").
 *
 * The virtual-APIC page of vmcs12 is L1 memory that L2 changes without an
 * exit. vmcs02 never points at it: it points at a page L0 owns (drawn from
 * vcore_host_t::alloc_pages once, like ept02's pool), and L1's VTPR is
 * copied through it. With only the TPR shadow and APIC-access
 * virtualization (APIC-register virtualization and virtual-interrupt
 * delivery stay refused) the processor reads and writes no byte of the
 * virtual-APIC page but VTPR, the 32 bits at 080H: MOV to/from CR8, the TPR
 * threshold, and the memory-mapped accesses to offsets 080H-083H that are
 * virtualized. So:
 *  - at each VM entry of L1 (VMLAUNCH, VMRESUME, a guest-mode import) VTPR
 *    is read once from the virtual-APIC address vmcs12 holds then, into
 *    L0's page; a new address is used at the next entry (nothing of an
 *    earlier address is kept);
 *  - at each VM exit to L1 (and a nested-state export, where L1's memory
 *    is what travels) VTPR goes back to that address, written only when
 *    L2 changed it. L1 cannot observe it between two such points: an exit
 *    L0 handles re-enters L2 on the same page.
 *
 * The APIC-access address is what the processor compares physical
 * addresses with ("APIC-Access Page": after EPT translation when EPT is
 * on). vmcs12 holds an L1-physical address; vmcs02 gets the host-physical
 * address of that page from the VM's memory map, the same source ept01
 * and ept02 map L1 memory from. L2's accesses reach that host page through
 * ept01 (L1 without EPT: L2 uses L1-physical addresses) or through ept02
 * (L1's EPT composed with L0's map), so the processor raises the APIC-access
 * VM exit (44) with the SDM's qualification, or virtualizes the VTPR access,
 * exactly where L1's own processor would; exit 44 is then L1's by the
 * reflection table. An APIC-access address with no RAM behind it in the
 * memory map has no host page to compare with: the entry is refused with
 * NVMX_APIC_ACCESS_UNBACKED. A memory map that changes while L2 runs is
 * looked up again before the next entry.
 */
#include "vcpu_nested.h"

#define NESTED_VTPR 0x80u /* "Virtual-APIC Page": VTPR, 32 bits at 080H */

bool vcore__vcpu_nested_apic_usable(const vcore_vcpu_t *vcpu)
{
    const vcore_host_t *h = &vcpu->vm->host;
    return h->alloc_pages && h->free_pages && h->virt_to_phys;
}

static bool vcore__vcpu_nested_apic_tpr(const vcore__vmcs12_t *v)
{
    return (v->CPU_BASED_VM_EXEC_CONTROL & VCORE__PROC_TPR_SHADOW) != 0;
}

static bool vcore__vcpu_nested_apic_access(const vcore__vmcs12_t *v)
{
    return (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) &&
           (v->SECONDARY_VM_EXEC_CONTROL & VCORE__PROC2_APIC_ACCESS);
}

/* The host-physical address of the page behind an L1-physical address, or
 * false when the VM's memory map has no memory there. */
static bool vcore__vcpu_nested_apic_hpa(const vcore_vcpu_t *vcpu, uint64_t gpa, uint64_t *hpa)
{
    const vcore_host_t *h = &vcpu->vm->host;
    const vcore_mem_region_t *r = vcore__vm_region_at(vcpu->vm, gpa);
    if (!r || !h->virt_to_phys)
        return false;
    uint64_t page = gpa & ~(uint64_t)(VCORE_PAGE_SIZE - 1);
    *hpa = h->virt_to_phys(h->ctx, (const uint8_t *)r->hva + (page - r->gpa));
    return true;
}

/* vmcs02's APIC-access address for vmcs12's, written when it changes. */
static int vcore__vcpu_nested_apic_access_addr(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    uint64_t gpa = vcore__vcpu_nested_v12(vcpu)->APIC_ACCESS_ADDR, hpa = 0;
    if (!vcore__vcpu_nested_apic_hpa(vcpu, gpa, &hpa)) {
        (void)vcore__diag_set(&vcpu->last_diag, VCORE_DIAG_NVMX_APIC_ACCESS_UNBACKED, gpa);
        return VCORE_ERR_UNSUPPORTED;
    }
    nv->apic_map_gen = vcpu->vm->map_gen;
    if (nv->apic02_known && nv->apic02_cur == hpa)
        return VCORE_OK;
    int err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_APIC_ACCESS_ADDR, hpa);
    nv->apic02_known = err == VCORE_OK;
    nv->apic02_cur = hpa;
    return err;
}

/* L0's virtual-APIC page, drawn from the host once. */
static int vcore__vcpu_nested_apic_page(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_host_t *h = &vcpu->vm->host;
    if (nv->vapic02)
        return VCORE_OK;
    if (!vcore__vcpu_nested_apic_usable(vcpu))
        return VCORE_ERR_UNSUPPORTED;
    uint64_t pa = 0;
    uint8_t *va = h->alloc_pages(h->ctx, 1, &pa);
    if (!va)
        return VCORE_ERR_NOMEM;
    vcore__memset(va, 0, VCORE_PAGE_SIZE);
    nv->vapic02 = va;
    nv->vapic02_pa = pa;
    nv->vapic02_known = false;
    return VCORE_OK;
}

int vcore__vcpu_nested_apic_enter(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    nv->vapic_live = false;
    int err = VCORE_OK;
    if (vcore__vcpu_nested_apic_access(v))
        err = vcore__vcpu_nested_apic_access_addr(vcpu);
    if (err || !vcore__vcpu_nested_apic_tpr(v))
        return err;
    err = vcore__vcpu_nested_apic_page(vcpu);
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    if (!err)
        err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (err)
        return err;
    /* The one read of L1's VTPR for this entry. */
    uint32_t vtpr = 0;
    nv->vapic12 = v->VIRTUAL_APIC_PAGE_ADDR;
    vcore__nvmx_phys_read(&mem, nv->vapic12 + NESTED_VTPR, &vtpr, sizeof(vtpr));
    vcore__memcpy(nv->vapic02 + NESTED_VTPR, &vtpr, sizeof(vtpr));
    nv->vtpr12 = vtpr;
    if (!nv->vapic02_known) {
        err = vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, nv->vapic02_pa);
        if (err)
            return err;
        nv->vapic02_known = true;
    }
    nv->vapic_live = true;
    return VCORE_OK;
}

int vcore__vcpu_nested_apic_sync(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (nv->apic_map_gen == vcpu->vm->map_gen || !vcore__vcpu_nested_apic_access(vcore__vcpu_nested_v12(vcpu)))
        return VCORE_OK;
    return vcore__vcpu_nested_apic_access_addr(vcpu);
}

int vcore__vcpu_nested_apic_save(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!nv->vapic_live)
        return VCORE_OK;
    uint32_t vtpr = 0;
    vcore__memcpy(&vtpr, nv->vapic02 + NESTED_VTPR, sizeof(vtpr));
    if (vtpr == nv->vtpr12)
        return VCORE_OK;
    vcore_nvmx_mem_t mem;
    mem.size = sizeof(mem);
    int err = vcore_nvmx_mem_from_vm(vcpu->vm, &mem);
    if (err)
        return err;
    vcore__nvmx_phys_write(&mem, nv->vapic12 + NESTED_VTPR, &vtpr, sizeof(vtpr));
    nv->vtpr12 = vtpr;
    return VCORE_OK;
}

int vcore__vcpu_nested_apic_leave(vcore_vcpu_t *vcpu)
{
    int err = vcore__vcpu_nested_apic_save(vcpu);
    vcpu->nvmx->vapic_live = false;
    return err;
}

void vcore__vcpu_nested_apic_forget(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    nv->vapic02_known = false;
    nv->apic02_known = false;
}

void vcore__vcpu_nested_apic_fini(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    nv->vapic_live = false;
    vcore__vcpu_nested_apic_forget(vcpu);
    if (!nv->vapic02)
        return;
    const vcore_host_t *h = &vcpu->vm->host;
    h->free_pages(h->ctx, nv->vapic02, 1);
    nv->vapic02 = NULL;
    nv->vapic02_pa = 0;
}
