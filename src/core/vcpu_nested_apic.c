/*
 * vcpu_nested_apic.c - L1's "use TPR shadow" and "virtualize APIC accesses"
 * for L2 (SDM Vol. 3, "Virtual-APIC Page", "APIC-Access Page",
 * "Virtualizing CR8-Based TPR Accesses", "TPR Virtualization",
 * "Virtualizing Memory-Mapped APIC Accesses").
 *
 * Both addresses vmcs12 holds are L1-physical. vmcs02 gets the
 * host-physical address of the same page from the VM's memory map, the
 * source ept01 and ept02 map L1 memory from, so the processor uses L1's
 * pages themselves, exactly as L1's own processor would:
 *  - the virtual-APIC page: the processor reads and writes it while L2
 *    runs (VTPR on MOV to/from CR8 and on virtualized accesses to offsets
 *    080H-083H, the TPR threshold compared with it), and L1 reads it after
 *    the exit. Nothing is copied at entries or exits, and a nested-state
 *    export or import has nothing of it to carry apart from L1's memory.
 *    The library reads only VTPR from it: for the entry check of the TPR
 *    threshold ("Checks on VMX Controls"), and for the exit the threshold
 *    induces right after an entry, which comes before an interrupt the
 *    entry finds pending (vcore__vcpu_nested_apic_tpr_exit). The processor
 *    writes it through its host-physical address, past ept01's
 *    permissions: an address whose memory is read-only in the memory map
 *    (or absent) is refused with NVMX_VAPIC_UNBACKED. The backends that run
 *    L2 here track no dirty pages (vm_dirty_log: a region asking for
 *    VCORE_MEM_LOG_DIRTY is refused there), so there is no log for the
 *    processor's writes to miss;
 *  - the APIC-access page: the processor compares physical addresses with
 *    it ("APIC-Access Page": after EPT translation when EPT is on) and
 *    never accesses it. L2's accesses reach that host page through ept01
 *    (L1 without EPT) or ept02 (L1's EPT composed with L0's map), so the
 *    processor raises the APIC-access VM exit (44) with the SDM's
 *    qualification, or virtualizes the access, exactly where L1's own
 *    processor would; exit 44 is then L1's by the reflection table. An
 *    address with no memory behind it is refused with
 *    NVMX_APIC_ACCESS_UNBACKED.
 * Each vmcs02 field is written when its host page changes: a new address
 * in vmcs12 at the next entry, or a memory map that changed while L2 ran
 * (looked up again before L2 runs again).
 */
#include "vcpu_nested.h"

bool vcore__vcpu_nested_apic_usable(const vcore_vcpu_t *vcpu)
{
    return vcpu->vm->host.virt_to_phys != NULL;
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

const uint8_t *vcore__vcpu_nested_apic_page(const vcore_vcpu_t *vcpu, uint64_t gpa, bool write)
{
    const vcore_mem_region_t *r = vcore__vm_region_at(vcpu->vm, gpa);
    if (!r || (write && (r->flags & VCORE_MEM_READONLY)))
        return NULL;
    uint64_t page = gpa & ~(uint64_t)(VCORE_PAGE_SIZE - 1);
    return (const uint8_t *)r->hva + (page - r->gpa);
}

/* The host-physical address of the page behind an L1-physical address, or
 * false when the VM's memory map has no memory there (or, for a page the
 * processor writes, no writable memory). */
static bool vcore__vcpu_nested_apic_hpa(const vcore_vcpu_t *vcpu, uint64_t gpa, bool write, uint64_t *hpa)
{
    const vcore_host_t *h = &vcpu->vm->host;
    const uint8_t *va = vcore__vcpu_nested_apic_page(vcpu, gpa, write);
    if (!va || !h->virt_to_phys)
        return false;
    *hpa = h->virt_to_phys(h->ctx, va);
    return true;
}

/* One vmcs02 address field for vmcs12's address: looked up, written when
 * its host page changed since the last write (*known, *cur). */
static int vcore__vcpu_nested_apic_addr(vcore_vcpu_t *vcpu, uint32_t enc, uint64_t gpa, bool write,
                                        uint32_t diag, bool *known, uint64_t *cur)
{
    uint64_t hpa = 0;
    if (!vcore__vcpu_nested_apic_hpa(vcpu, gpa, write, &hpa)) {
        (void)vcore__diag_set(&vcpu->last_diag, diag, gpa);
        return VCORE_ERR_UNSUPPORTED;
    }
    if (*known && *cur == hpa)
        return VCORE_OK;
    int err = vcore__vcpu_nested_wr(vcpu, enc, hpa);
    *known = err == VCORE_OK;
    *cur = hpa;
    return err;
}

/* vmcs02's APIC-access and virtual-APIC addresses for vmcs12's. */
static int vcore__vcpu_nested_apic_addrs(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    int err = VCORE_OK;
    if (vcore__vcpu_nested_apic_access(v))
        err = vcore__vcpu_nested_apic_addr(vcpu, VCORE_VMCS_APIC_ACCESS_ADDR, v->APIC_ACCESS_ADDR, false,
                                           VCORE_DIAG_NVMX_APIC_ACCESS_UNBACKED, &nv->apic02_known,
                                           &nv->apic02_cur);
    if (!err && vcore__vcpu_nested_apic_tpr(v))
        err = vcore__vcpu_nested_apic_addr(vcpu, VCORE_VMCS_VIRTUAL_APIC_PAGE_ADDR, v->VIRTUAL_APIC_PAGE_ADDR,
                                           true, VCORE_DIAG_NVMX_VAPIC_UNBACKED, &nv->vapic02_known,
                                           &nv->vapic02_cur);
    if (!err)
        nv->apic_map_gen = vcpu->vm->map_gen;
    return err;
}

int vcore__vcpu_nested_apic_enter(vcore_vcpu_t *vcpu)
{
    return vcore__vcpu_nested_apic_addrs(vcpu);
}

int vcore__vcpu_nested_apic_sync(vcore_vcpu_t *vcpu)
{
    if (vcpu->nvmx->apic_map_gen == vcpu->vm->map_gen)
        return VCORE_OK;
    return vcore__vcpu_nested_apic_addrs(vcpu);
}

/* "VM Exits Induced by the TPR Threshold": with "use TPR shadow",
 * "virtualize APIC accesses" and no virtual-interrupt delivery, the
 * processor exits (43) right after the entry when bits 3:0 of the TPR
 * threshold are above VTPR[7:4] (without "virtualize APIC accesses" that
 * state fails the entry's control checks instead). */
bool vcore__vcpu_nested_apic_tpr_exit(vcore_vcpu_t *vcpu)
{
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    if (!vcore__vcpu_nested_apic_tpr(v) || !vcore__vcpu_nested_apic_access(v) ||
        (v->SECONDARY_VM_EXEC_CONTROL & VCORE__PROC2_VID))
        return false;
    const uint8_t *page = vcore__vcpu_nested_apic_page(vcpu, v->VIRTUAL_APIC_PAGE_ADDR, false);
    return page && VCORE__VTPR_BELOW_THRESHOLD(v->TPR_THRESHOLD, page[0x80]);
}

void vcore__vcpu_nested_apic_forget(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    nv->vapic02_known = false;
    nv->apic02_known = false;
}
