/*
 * vcpu_nested_msrbmp.c - vmcs02's MSR bitmap (SDM Vol. 3, "MSR-Bitmap
 * Address"; RDMSR and WRMSR in "Instructions That Cause VM Exits
 * Conditionally").
 *
 * vmcs02 runs with "use MSR bitmaps" and a page the vCPU's nested state
 * owns (drawn from the host with vmcs02, freed with it). An RDMSR or WRMSR
 * of L2 runs without a VM exit only when all three hold:
 *  (a) L1 lets it through: vmcs12 has "use MSR bitmaps" and the access's
 *      bit in L1's bitmap is 0 (without L1's bitmaps every access is L1's);
 *  (b) L0 lets it through: its bit in vmcs01's bitmap is 0 (the backend's
 *      vmx_msr_exits; without that op, never);
 *  (c) the MSR is a candidate of the table below: L2's value of it really
 *      is in the processor while L2 runs.
 * Every other bit of the page is 1, so nothing L0 intercepts (its x2APIC
 * MSRs, say: the CVE-2019-3887 class) and nothing the vCPU model emulates
 * reaches L2; such an exit is L1's or L0's by the reflection table
 * (nvmx_reflect.c), and L0 handles it with L2's value (vcpu_nested_l0.c).
 *
 * L1's bits are read from L1's page once per VM entry from L1, only those
 * of the candidates, into a word; the page is written only when that word
 * changes. L1 may change its bitmap only while no logical processor runs
 * with it ("Software Access to Related Structures"): between entries,
 * never while L2 runs. L1's page is found in L0's memory through the VM's
 * memory map (vcore__vcpu_nested_apic_page()) and kept while the map's
 * generation stays the same; an address with no memory behind it lets
 * nothing through.
 *
 * The x2APIC MSRs (800H-8FFH) are no candidates: L2's value of them is
 * never in the processor. With L1's "virtualize x2APIC mode" (vmcs02 has
 * it when vmcs12 does) some of their accesses never reach an APIC at all:
 * the processor virtualizes them on the virtual-APIC page, which is L1's
 * (vcpu_nested_apic.c), exactly as it would for L1 ("Virtualizing
 * MSR-Based APIC Accesses"). Those accesses take L1's bit directly,
 * whatever L0's bitmap says: RDMSR of 800H-8FFH with "APIC-register
 * virtualization" (reads 8 bytes at offset (ECX & FFH) << 4 of the page),
 * else RDMSR of 808H (VTPR); WRMSR of 808H (TPR virtualization), and with
 * "virtual-interrupt delivery" WRMSR of 80BH (EOI virtualization) and 83FH
 * (self-IPI virtualization). Every other access to the range goes to the
 * real x2APIC - L1's, which L0 or the VMM models - and stays intercepted,
 * as the whole range does without L1's control.
 */
#include "vcpu_nested.h"

/* The candidates: X(MSR, why its value is L2's in the processor). Bit 2n
 * of a word is candidate n's RDMSR, bit 2n + 1 its WRMSR. IA32_EFER and
 * IA32_PAT are not candidates: L2's values of them are the library's
 * copies (vcpu_nested_efer.c, vcpu_nested_pat.c), which RDMSR must read
 * and WRMSR must check. */
#define NESTED_MSRBMP_CANDIDATES(X)                                                                            \
    /* vmcs02's guest SYSENTER fields: every VM entry loads them and every \
     * VM exit saves them ("Loading Guest Control Registers, Debug         \
     * Registers, and MSRs", "Saving Control Registers, Debug Registers,   \
     * and MSRs"), and an exit to L1 copies them into vmcs12. */           \
    X(VCORE_MSR_IA32_SYSENTER_CS)                                                                              \
    X(VCORE_MSR_IA32_SYSENTER_ESP)                                                                             \
    X(VCORE_MSR_IA32_SYSENTER_EIP)                                                                             \
    /* The FS and GS base: vmcs02's guest segment bases, loaded and saved  \
     * the same way ("Loading Guest Segment Registers and Descriptor-Table \
     * Registers", "Saving Segment Registers and Descriptor-Table          \
     * Registers"). */                                                     \
    X(VCORE_MSR_IA32_FS_BASE)                                                                                  \
    X(VCORE_MSR_IA32_GS_BASE)                                                                                  \
    /* MSRs L1 and L2 share: the vCPU's, which a backend that lets L1 reach \
     * them switches for every VMCS of the vCPU, vmcs02 too (backend.h,    \
     * vmx_msr_exits). L2 sees L1's value unless L1's VM-entry MSR-load    \
     * list gives it one (into the vCPU's, vcpu_nested_msrload.c), as on   \
     * L1's own processor, and every exit of L2 drops the core's copy      \
     * (vcpu_nested_exit.c), as SWAPGS already needs. */                   \
    X(VCORE_MSR_IA32_KERNEL_GS_BASE)                                                                           \
    X(VCORE_MSR_IA32_STAR)                                                                                     \
    X(VCORE_MSR_IA32_LSTAR)                                                                                    \
    X(VCORE_MSR_IA32_CSTAR)                                                                                    \
    X(VCORE_MSR_IA32_FMASK)

#define NESTED_MSRBMP_ROW(msr) (msr),
static const uint32_t nested_msrbmp_msrs[] = {NESTED_MSRBMP_CANDIDATES(NESTED_MSRBMP_ROW)};
#undef NESTED_MSRBMP_ROW
#define NESTED_MSRBMP_N ((uint32_t)VCORE__ARRAY_SIZE(nested_msrbmp_msrs))
VCORE__STATIC_ASSERT(VCORE__ARRAY_SIZE(nested_msrbmp_msrs) <= 16u, nested_msrbmp_word);

bool vcore__vcpu_nested_msrbmp_usable(const vcore_vcpu_t *vcpu, uint32_t hw_proc)
{
    const vcore_host_t *h = &vcpu->vm->host;
    return (hw_proc & VCORE__PROC_MSR_BITMAPS) && h->alloc_pages && h->free_pages && h->virt_to_phys;
}

int vcore__vcpu_nested_msrbmp_setup(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_host_t *h = &vcpu->vm->host;
    const vcore_backend_t *ops = &vcpu->vm->ops;
    if (nv->msrbmp02 || !vcore__vcpu_nested_msrbmp_usable(vcpu, nv->hw_allowed1[VCORE__VMCS_CTL_PROC]))
        return VCORE_OK;
    uint64_t pa = 0;
    uint8_t *page = h->alloc_pages(h->ctx, 1, &pa);
    if (!page)
        return VCORE_ERR_NOMEM;
    /* Every access exits until L1's bits are known. */
    vcore__memset(page, 0xff, VCORE_PAGE_SIZE);
    uint32_t l0 = 0;
    for (uint32_t i = 0; ops->vmx_msr_exits && i < NESTED_MSRBMP_N; i++) {
        if (!ops->vmx_msr_exits(vcpu, vcpu->priv, nested_msrbmp_msrs[i], false))
            l0 |= 1u << (2u * i);
        if (!ops->vmx_msr_exits(vcpu, vcpu->priv, nested_msrbmp_msrs[i], true))
            l0 |= 2u << (2u * i);
    }
    nv->msrbmp02 = page;
    nv->msrbmp02_pa = pa;
    nv->msrbmp_l0 = l0;
    nv->msrbmp02_cur = 0;
    nv->msrbmp02_x2apic = false;
    nv->msrbmp12 = NULL;
    return VCORE_OK;
}

int vcore__vcpu_nested_msrbmp_const(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    return nv->msrbmp02 ? vcore__vcpu_nested_wr(vcpu, VCORE_VMCS_MSR_BITMAP, nv->msrbmp02_pa) : VCORE_OK;
}

/* L1's bitmap page in L0's memory, or NULL without L1's bitmaps or
 * memory behind its address. */
static const uint8_t *vcore__vcpu_nested_msrbmp_page12(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    if (!(v->CPU_BASED_VM_EXEC_CONTROL & VCORE__PROC_MSR_BITMAPS))
        return NULL;
    if (!nv->msrbmp12 || nv->msrbmp12_gpa != v->MSR_BITMAP || nv->msrbmp12_gen != vcpu->vm->map_gen) {
        nv->msrbmp12 = vcore__vcpu_nested_apic_page(vcpu, v->MSR_BITMAP, false);
        nv->msrbmp12_gpa = v->MSR_BITMAP;
        nv->msrbmp12_gen = vcpu->vm->map_gen;
    }
    return nv->msrbmp12;
}

/* The candidate accesses L1 lets through, from L1's page p (read once). */
static uint32_t vcore__vcpu_nested_msrbmp_l1(const vcore_nvmx_t *nv, const uint8_t *p)
{
    uint32_t pass = 0;
    for (uint32_t i = 0; i < 2u * NESTED_MSRBMP_N; i++) {
        uint32_t byte = 0, bit = 0;
        /* Only what L0 lets through can pass. */
        if (!((nv->msrbmp_l0 >> i) & 1u) ||
            !vcore_nvmx_msr_bitmap_pos(nested_msrbmp_msrs[i / 2u], (i & 1u) != 0, &byte, &bit))
            continue;
        if (!((p[byte] >> bit) & 1u))
            pass |= 1u << i;
    }
    return pass;
}

/* The x2APIC MSRs ("x2APIC Register Address Space"): the range's bits
 * (32 bytes each in the read and write bitmaps for low MSRs) start where
 * 800H's do. */
#define NESTED_MSRBMP_X2APIC_BASE 0x800u
#define NESTED_MSRBMP_X2APIC_TPR 0x808u
#define NESTED_MSRBMP_X2APIC_EOI 0x80bu
#define NESTED_MSRBMP_X2APIC_SELF_IPI 0x83fu
#define NESTED_MSRBMP_X2APIC_BYTES (0x100u / 8u)

/* One access of the x2APIC range takes L1's bit (p12) on vmcs02's page. */
static void vcore__vcpu_nested_msrbmp_take(uint8_t *page, const uint8_t *p12, uint32_t msr, bool write)
{
    uint32_t byte = 0, bit = 0;
    if (!vcore_nvmx_msr_bitmap_pos(msr, write, &byte, &bit))
        return;
    uint8_t m = (uint8_t)(1u << bit);
    page[byte] = (uint8_t)((page[byte] & ~m) | (p12[byte] & m));
}

/* The x2APIC range of vmcs02's page: all ones, then with L1's "virtualize
 * x2APIC mode" and bitmap (p12) L1's bits for the accesses the processor
 * virtualizes ("Virtualizing MSR-Based APIC Accesses"). Written at every
 * entry while L1 has the control (L1's bits may change between entries),
 * once more when it drops it. */
static void vcore__vcpu_nested_msrbmp_x2apic(vcore_vcpu_t *vcpu, const uint8_t *p12)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore__vmcs12_t *v = vcore__vcpu_nested_v12(vcpu);
    uint32_t proc2 =
        (v->CPU_BASED_VM_EXEC_CONTROL & VCORE_VMX_PROC_ACTIVATE_SECONDARY) ? v->SECONDARY_VM_EXEC_CONTROL : 0u;
    bool on = p12 && (proc2 & VCORE__PROC2_X2APIC);
    if (!on && !nv->msrbmp02_x2apic)
        return;
    uint32_t rd = 0, wr = 0, bit = 0;
    (void)vcore_nvmx_msr_bitmap_pos(NESTED_MSRBMP_X2APIC_BASE, false, &rd, &bit);
    (void)vcore_nvmx_msr_bitmap_pos(NESTED_MSRBMP_X2APIC_BASE, true, &wr, &bit);
    uint8_t *page = nv->msrbmp02;
    vcore__memset(page + rd, 0xff, NESTED_MSRBMP_X2APIC_BYTES);
    vcore__memset(page + wr, 0xff, NESTED_MSRBMP_X2APIC_BYTES);
    if (on) {
        if (proc2 & VCORE__PROC2_APIC_REG)
            vcore__memcpy(page + rd, p12 + rd, NESTED_MSRBMP_X2APIC_BYTES);
        else
            vcore__vcpu_nested_msrbmp_take(page, p12, NESTED_MSRBMP_X2APIC_TPR, false);
        vcore__vcpu_nested_msrbmp_take(page, p12, NESTED_MSRBMP_X2APIC_TPR, true);
        if (proc2 & VCORE__PROC2_VID) {
            vcore__vcpu_nested_msrbmp_take(page, p12, NESTED_MSRBMP_X2APIC_EOI, true);
            vcore__vcpu_nested_msrbmp_take(page, p12, NESTED_MSRBMP_X2APIC_SELF_IPI, true);
        }
    }
    nv->msrbmp02_x2apic = on;
}

void vcore__vcpu_nested_msrbmp_update(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    if (!nv->msrbmp02)
        return;
    const uint8_t *p12 = vcore__vcpu_nested_msrbmp_page12(vcpu);
    vcore__vcpu_nested_msrbmp_x2apic(vcpu, p12);
    uint32_t pass = nv->msrbmp_l0 && p12 ? vcore__vcpu_nested_msrbmp_l1(nv, p12) : 0u;
    if (pass == nv->msrbmp02_cur)
        return;
    /* Every candidate bit, not only the changed ones: the page then holds
     * exactly the word, whatever it held before. */
    uint8_t *page = nv->msrbmp02;
    for (uint32_t i = 0; i < 2u * NESTED_MSRBMP_N; i++) {
        uint32_t byte = 0, bit = 0;
        if (!vcore_nvmx_msr_bitmap_pos(nested_msrbmp_msrs[i / 2u], (i & 1u) != 0, &byte, &bit))
            continue;
        uint8_t m = (uint8_t)(1u << bit);
        page[byte] = ((pass >> i) & 1u) ? (uint8_t)(page[byte] & ~m) : (uint8_t)(page[byte] | m);
    }
    nv->msrbmp02_cur = pass;
}

void vcore__vcpu_nested_msrbmp_fini(vcore_vcpu_t *vcpu)
{
    vcore_nvmx_t *nv = vcpu->nvmx;
    const vcore_host_t *h = &vcpu->vm->host;
    if (nv->msrbmp02)
        h->free_pages(h->ctx, nv->msrbmp02, 1);
    nv->msrbmp02 = NULL;
    nv->msrbmp12 = NULL;
    nv->msrbmp02_cur = 0;
    nv->msrbmp02_x2apic = false;
}
