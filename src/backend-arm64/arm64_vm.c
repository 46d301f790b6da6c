/*
 * arm64_vm.c - a VM of the arm64 backend: its stage-2 geometry and table,
 * the guest memory map as stage-2 mappings, and the TLB maintenance the
 * table builder asks for.
 *
 * Geometry: the IPA size of the VM configuration (0 = 40 bits), the granule
 * of the configuration or, when it is 0, the first of 4KB, 64KB, 16KB the
 * PE supports at stage 2 for that IPA size (ID_AA64MMFR0_EL1.TGran<N>_2);
 * above 48 bits the 4KB and 16KB granules use FEAT_LPA2 descriptors
 * (VTCR_EL2.DS). The core chooses levels, start level and concatenation
 * (vcore_arm64_s2_geometry()).
 *
 * VMID: every VM tags its TLB entries with VMID 1; a PE whose VTTBR_EL2
 * names another table is invalidated locally before the guest runs
 * (arm64_backend.c), and a VM's teardown invalidates VMID 1 everywhere, so
 * no VM ever uses a translation of another (Arm ARM D8, "VMID" and "TLB
 * maintenance requirements"). The library keeps no registry of VMIDs: it
 * has no global state.
 */
#include "arm64_el2.h"

/* The builder's TLB maintenance callback. */
static void vcore__arm64_vm_tlbi(void *ctx, const vcore_arm64_s2_tlbi_t *req)
{
    vcore__arm64_vm_t *v = ctx;
    v->tlbi_requests++;
    vcore__arm64_prim_tlbi_s2(v->vttbr, req);
}

/* Logs a refused stage-2 request with its diagnostic. */
static int vcore__arm64_vm_refused(const vcore__arm64_vm_t *v, int err, const vcore_diag_t *d)
{
    vcore_vm_log(v->vm, VCORE_LOG_WARN, d->message ? d->message : "arm64: stage-2 request refused");
    return err;
}

int vcore__arm64_vm_setup(vcore__arm64_vm_t *v, vcore_vm_t *vm)
{
    const vcore_vm_config_t *cfg = vcore_vm_config(vm);
    if (cfg->arch != VCORE_ARCH_ARM64)
        return VCORE_ERR_UNSUPPORTED;
    if (vcore_arm64_s2_storage_size() > sizeof(v->s2_store))
        return VCORE_ERR_BUFSZ;
    v->vm = vm;
    v->mmfr0 = vcore__arm64_prim_read_mmfr0();
    v->mmfr1 = vcore__arm64_prim_read_mmfr1();

    static const uint32_t order[3] = {VCORE_ARM64_GRANULE_4K, VCORE_ARM64_GRANULE_64K,
                                      VCORE_ARM64_GRANULE_16K};
    vcore_diag_t d = {.size = sizeof(d)};
    int err = VCORE_ERR_UNSUPPORTED;
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t granule = cfg->granule ? cfg->granule : order[i];
        vcore_arm64_s2_table_config_t tc;
        vcore__memset(&tc, 0, sizeof(tc));
        tc.size = sizeof(tc);
        tc.geometry.size = sizeof(tc.geometry);
        tc.geometry.ipa_bits = cfg->ipa_bits;
        tc.geometry.granule = granule;
        tc.geometry.mmfr0 = v->mmfr0;
        tc.geometry.mmfr1 = v->mmfr1;
        /* Above 48 bits the 4KB and 16KB granules need 52-bit descriptors. */
        if (cfg->ipa_bits > 48 && granule != VCORE_ARM64_GRANULE_64K)
            tc.geometry.flags = VCORE_ARM64_S2_F_LPA2;
        tc.host = vcore_vm_host(vm);
        tc.tlbi = vcore__arm64_vm_tlbi;
        tc.tlbi_ctx = v;
        err = vcore_arm64_s2_init(v->s2_store, sizeof(v->s2_store), &tc, &v->s2, &d);
        /* A granule given by the VMM is not replaced by another. */
        if (err == VCORE_OK || err == VCORE_ERR_NOMEM || cfg->granule)
            break;
    }
    if (err)
        return vcore__arm64_vm_refused(v, err, &d);
    v->geom = vcore_arm64_s2_get_geom(v->s2);
    err = vcore_arm64_s2_vttbr(v->geom, vcore_arm64_s2_root_pa(v->s2), VCORE__ARM64_VMID, false,
                               &v->vttbr, &d);
    if (err) {
        vcore_arm64_s2_fini(v->s2);
        v->s2 = NULL;
        return vcore__arm64_vm_refused(v, err, &d);
    }
    return VCORE_OK;
}

void vcore__arm64_vm_teardown(vcore__arm64_vm_t *v)
{
    if (!v->s2)
        return;
    /* No PE may keep a translation through tables that go back to the host. */
    vcore_arm64_s2_tlbi_t all = {.scope = VCORE_ARM64_S2_TLBI_VMID};
    vcore__arm64_vm_tlbi(v, &all);
    vcore_arm64_s2_fini(v->s2);
    v->s2 = NULL;
}

/* Stage-2 permissions of a region: RAM is readable, writable and executable
 * at EL1 and EL0; a read-only region takes writes as permission faults
 * (reported as MMIO writes, vm.h). Normal Write-Back memory. */
static uint32_t vcore__arm64_vm_prot(const vcore_mem_region_t *r)
{
    uint32_t prot = VCORE_ARM64_S2_R | VCORE_ARM64_S2_X;
    if (!(r->flags & VCORE_MEM_READONLY))
        prot |= VCORE_ARM64_S2_W;
    return prot;
}

/* Removes [ipa, ipa + len), which this VM mapped itself. */
static int vcore__arm64_vm_unmap_range(vcore__arm64_vm_t *v, uint64_t ipa, uint64_t len)
{
    vcore_diag_t d = {.size = sizeof(d)};
    int err = vcore_arm64_s2_unmap(v->s2, ipa, len, NULL, &d);
    return err ? vcore__arm64_vm_refused(v, err, &d) : VCORE_OK;
}

int vcore__arm64_vm_map(vcore__arm64_vm_t *v, uint32_t slot, const vcore_mem_region_t *r)
{
    const vcore_host_t *host = vcore_vm_host(v->vm);
    /* slot < VCORE_VM_MAX_REGIONS: the core's slot (backend.h). */
    if (!host->virt_to_phys)
        return VCORE_ERR_INVAL;
    if (r->flags & VCORE_MEM_LOG_DIRTY)
        return VCORE_ERR_UNSUPPORTED;
    uint64_t gran = 1ull << v->geom->granule_shift;
    /* Each granule of a region must be one physically contiguous block. */
    if ((r->gpa | r->len) & (gran - 1u)) {
        vcore_vm_log(v->vm, VCORE_LOG_WARN, "arm64: region not aligned to the stage-2 granule");
        return VCORE_ERR_INVAL;
    }
    uint32_t prot = vcore__arm64_vm_prot(r);
    const uint8_t *hva = r->hva;
    uint64_t done = 0;
    int err = VCORE_OK;
    vcore_diag_t d = {.size = sizeof(d)};
    /* Physically contiguous runs, found page by page, one mapping each. */
    while (done < r->len) {
        uint64_t pa = host->virt_to_phys(host->ctx, hva + done);
        uint64_t run = VCORE_PAGE_SIZE;
        while (done + run < r->len &&
               host->virt_to_phys(host->ctx, hva + done + run) == pa + run)
            run += VCORE_PAGE_SIZE;
        if ((pa | run) & (gran - 1u)) {
            vcore_vm_log(v->vm, VCORE_LOG_WARN,
                         "arm64: guest memory not physically contiguous within a granule");
            err = VCORE_ERR_INVAL;
            break;
        }
        err = vcore_arm64_s2_map(v->s2, r->gpa + done, pa, run, prot, NULL, &d);
        if (err) {
            (void)vcore__arm64_vm_refused(v, err, &d);
            break;
        }
        done += run;
    }
    if (err) {
        /* Nothing of a refused region stays mapped. The range was empty
         * before (the core refuses overlaps), so this needs no table. */
        if (done)
            (void)vcore__arm64_vm_unmap_range(v, r->gpa, done);
        return err;
    }
    v->regions[slot] = *r;
    return VCORE_OK;
}

int vcore__arm64_vm_unmap(vcore__arm64_vm_t *v, uint32_t slot, const vcore_mem_region_t *r)
{
    int err = vcore__arm64_vm_unmap_range(v, r->gpa, r->len);
    if (err)
        return err;
    v->regions[slot].len = 0;
    return VCORE_OK;
}

bool vcore__arm64_vm_is_ram(void *ctx, uint64_t ipa)
{
    const vcore__arm64_vm_t *v = ctx;
    for (uint32_t s = 0; s < VCORE_VM_MAX_REGIONS; s++) {
        const vcore_mem_region_t *r = &v->regions[s];
        if (r->len && ipa >= r->gpa && ipa - r->gpa < r->len)
            return !(r->flags & VCORE_MEM_READONLY);
    }
    return false;
}
