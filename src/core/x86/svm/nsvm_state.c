/*
 * nsvm_state.c - creation of the nested-SVM state, VM_HSAVE_PA, GIF and the
 * conversions the other nsvm files share.
 */
#include "nsvm_priv.h"

size_t vcore_nsvm_size(void)
{
    return sizeof(vcore_nsvm_t);
}

int vcore_nsvm_init(void *mem, size_t len, const vcore_nsvm_config_t *cfg, vcore_nsvm_t **out,
                    vcore_diag_t *diag)
{
    if (!mem || !cfg || !out)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(cfg))
        return VCORE_ERR_ABI;
    if (len < sizeof(vcore_nsvm_t))
        return VCORE_ERR_NOMEM;
    if (((uintptr_t)mem & 7u) != 0 || cfg->l2_asid == 0 || cfg->maxphyaddr < 32 || cfg->maxphyaddr > 52)
        return VCORE_ERR_INVAL;
    if (cfg->svm_features & ~(uint32_t)VCORE_NSVM_FEATURES_EMULATED)
        return vcore__diag_set(diag, VCORE_DIAG_NSVM_FEATURES,
                               cfg->svm_features & ~(uint32_t)VCORE_NSVM_FEATURES_EMULATED);
    vcore_nsvm_t *n = (vcore_nsvm_t *)mem;
    vcore__memset(n, 0, sizeof(*n));
    n->maps_changed = true; /* nothing stated to a backend yet */
    n->features = cfg->svm_features;
    n->maxphyaddr = cfg->maxphyaddr;
    n->l2_asid = cfg->l2_asid;
    n->skinit = cfg->skinit;
    /* GIF is set at RESET (APM Vol. 2, "Global Interrupt Flag, STGI and CLGI
     * Instructions": "GIF ... is set by processor reset"). */
    n->gif = true;
    if (cfg->l0)
        n->l0 = *cfg->l0;
    if (cfg->l0_msrpm) {
        vcore__memcpy(n->l0_msrpm, cfg->l0_msrpm, sizeof(n->l0_msrpm));
        n->l0_msrpm_valid = true;
    }
    if (cfg->l0_iopm) {
        vcore__memcpy(n->l0_iopm, cfg->l0_iopm, sizeof(n->l0_iopm));
        n->l0_iopm_valid = true;
    }
    n->magic = VCORE__NSVM_MAGIC;
    *out = n;
    return VCORE_OK;
}

int vcore_nsvm_set_hsave_pa(vcore_nsvm_t *n, uint64_t pa, vcore_diag_t *diag)
{
    if (!vcore__nsvm_ok(n))
        return VCORE_ERR_INVAL;
    /* APM Vol. 2, "VM_HSAVE_PA MSR (C001_0117h)": the address of a 4-KiB
     * aligned page; bits 11:0 are MBZ and the address must be a legal
     * physical address. */
    if ((pa & 0xfffu) || !vcore__x86_phys_ok(pa, n->maxphyaddr))
        return vcore__diag_set(diag, VCORE_DIAG_NSVM_HSAVE_PA, pa);
    n->hsave_pa = pa;
    return VCORE_OK;
}

uint64_t vcore_nsvm_hsave_pa(const vcore_nsvm_t *n)
{
    return vcore__nsvm_ok(n) ? n->hsave_pa : 0;
}

bool vcore_nsvm_gif(const vcore_nsvm_t *n)
{
    return vcore__nsvm_ok(n) && n->gif;
}

bool vcore_nsvm_in_guest(const vcore_nsvm_t *n)
{
    return vcore__nsvm_ok(n) && n->guest_mode;
}

const vcore_vmcb_t *vcore_nsvm_vmcb02(const vcore_nsvm_t *n)
{
    return vcore__nsvm_ok(n) ? &n->vmcb02 : NULL;
}

const uint8_t *vcore_nsvm_msrpm02(const vcore_nsvm_t *n)
{
    return vcore__nsvm_ok(n) ? n->msrpm02 : NULL;
}

const uint8_t *vcore_nsvm_iopm02(const vcore_nsvm_t *n)
{
    return vcore__nsvm_ok(n) ? n->iopm02 : NULL;
}

void vcore__nsvm_seg_from_vmcb(vcore_x86_segment_t *s, const vcore_vmcb_seg_t *v)
{
    s->base = v->base;
    s->limit = v->limit;
    s->selector = v->selector;
    s->pad = 0;
    s->ar = vcore_vmcb_attr_to_ar(v->attrib);
}

void vcore__nsvm_seg_to_vmcb(vcore_vmcb_seg_t *v, const vcore_x86_segment_t *s)
{
    v->base = s->base;
    v->limit = s->limit;
    v->selector = s->selector;
    v->attrib = vcore_vmcb_attr_from_ar(s->ar);
}

bool vcore__nsvm_paging_differs(const vcore_x86_sregs_t *a, const vcore_x86_sregs_t *b)
{
    /* CR0.PG/WP, CR3, the CR4 paging bits and EFER.LMA/NXE decide how
     * linear addresses translate ("Page Translation and Protection"). */
    const uint64_t cr0 = VCORE__CR0_PG | VCORE__CR0_WP | VCORE__CR0_PE;
    const uint64_t cr4 = VCORE__CR4_PAE | VCORE__CR4_PSE | VCORE__CR4_PGE | VCORE__CR4_LA57 |
                         VCORE__CR4_PCIDE | VCORE__CR4_SMEP | VCORE__CR4_SMAP | VCORE__CR4_PKE;
    const uint64_t efer = VCORE__EFER_LMA | VCORE__EFER_NXE;
    return ((a->cr0 ^ b->cr0) & cr0) || a->cr3 != b->cr3 || ((a->cr4 ^ b->cr4) & cr4) ||
           ((a->efer ^ b->efer) & efer);
}

int vcore__nsvm_write12(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, uint32_t offset, uint64_t value,
                        uint32_t bytes)
{
    uint8_t b[8];
    for (uint32_t i = 0; i < bytes; i++)
        b[i] = (uint8_t)(value >> (8u * i));
    return mem->write(mem->ctx, n->vmcb12_pa + offset, b, bytes);
}
