/*
 * nsvm_npt.c - L2 guest-physical -> L1 guest-physical through L1's nested
 * page table (APM Vol. 2, "Nested Paging"): the table at nCR3 of the VMCB12
 * copy, in the paging mode L1 had at VMRUN ("the nested page table uses the
 * same format as the host's paging mode at VMRUN"). Every access the nested
 * walk checks is a user access ("Nested Table Walk"), so U/S must be set at
 * every level and read-only pages refuse writes regardless of CR0.WP. Each
 * entry is read once per walk; a fault gives EXITINFO1 of the #NPF L1 sees.
 */
#include "nsvm_priv.h"

#define NPT_P (1ull << 0)
#define NPT_RW (1ull << 1)
#define NPT_US (1ull << 2)
#define NPT_PS (1ull << 7)
#define NPT_NX (1ull << 63)

typedef struct npt_walk {
    const vcore_nvmx_mem_t *mem;
    uint32_t access;
    bool nx_on;       /* host EFER.NXE: bit 63 is NX, else reserved */
    uint64_t rsvd_hi; /* bits 51:MAXPHYADDR (and 63 without NXE) */
    uint64_t code;    /* the #NPF error code being built */
} npt_walk_t;

static int npt_fault(npt_walk_t *w, uint64_t bits)
{
    w->code |= bits;
    return VCORE_ERR_FAULT;
}

static int npt_read(npt_walk_t *w, uint64_t pa, uint32_t bytes, uint64_t *e)
{
    uint8_t b[8] = {0};
    /* An entry outside RAM reads as all ones ("physical accesses never fault"):
     * present with every reserved bit set, a reserved-bit fault. */
    if (w->mem->read(w->mem->ctx, pa, b, bytes) != VCORE_OK)
        vcore__memset(b, 0xff, sizeof(b));
    *e = 0;
    for (uint32_t i = 0; i < bytes; i++)
        *e |= (uint64_t)b[i] << (8u * i);
    return VCORE_OK;
}

/* Presence, reserved bits and the user/write/execute rights of one entry. */
static int npt_check(npt_walk_t *w, uint64_t e, uint64_t rsvd)
{
    if (!(e & NPT_P))
        return npt_fault(w, 0);
    if (e & rsvd)
        return npt_fault(w, VCORE_VMCB_NPF_P | VCORE_VMCB_NPF_RSV);
    if (!(e & NPT_US))
        return npt_fault(w, VCORE_VMCB_NPF_P);
    if (w->access == VCORE_NSVM_WRITE && !(e & NPT_RW))
        return npt_fault(w, VCORE_VMCB_NPF_P);
    if (w->access == VCORE_NSVM_FETCH && w->nx_on && (e & NPT_NX))
        return npt_fault(w, VCORE_VMCB_NPF_P);
    return VCORE_OK;
}

int vcore_nsvm_npt_walk(const vcore_nsvm_t *n, const vcore_nvmx_mem_t *mem, uint64_t l2_gpa, uint32_t access,
                        bool table_walk, uint64_t *l1_gpa, uint64_t *npf_info1)
{
    if (!vcore__nsvm_ok(n) || !mem || !mem->read || !l1_gpa || !npf_info1 || access > VCORE_NSVM_FETCH)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(mem))
        return VCORE_ERR_ABI;
    if (!n->guest_mode || !(n->vmcb12.control.nested_ctl & VCORE_VMCB_NESTED_NP_ENABLE))
        return VCORE_ERR_STATE;
    const vcore_x86_sregs_t *h = &n->host.sregs;
    npt_walk_t w;
    w.mem = mem;
    w.access = access;
    w.nx_on = (h->efer & VCORE__EFER_NXE) != 0;
    w.rsvd_hi = ((1ull << 52) - 1) & ~((1ull << n->maxphyaddr) - 1);
    if (!w.nx_on)
        w.rsvd_hi |= NPT_NX;
    /* "Nested Page Fault": US is set (user access), RW for writes, ID for
     * fetches; bit 32 for the final address, bit 33 for a guest table. */
    w.code = VCORE_VMCB_NPF_US | (access == VCORE_NSVM_WRITE ? VCORE_VMCB_NPF_RW : 0u) |
             (access == VCORE_NSVM_FETCH ? VCORE_VMCB_NPF_ID : 0u) |
             (table_walk ? VCORE_VMCB_NPF_TABLE : VCORE_VMCB_NPF_FINAL);
    uint64_t phys = ((1ull << n->maxphyaddr) - 1) & ~0xfffull;
    uint64_t ncr3 = n->vmcb12.control.n_cr3;
    uint64_t e = 0, table;
    int lvl, levels, err;

    if (!(h->cr4 & VCORE__CR4_PAE)) {
        /* 32-bit paging: 4-byte entries, 4-MiB pages with CR4.PSE; no NX. */
        uint32_t a = (uint32_t)l2_gpa;
        w.nx_on = false;
        if (l2_gpa >> 32) {
            *npf_info1 = w.code | VCORE_VMCB_NPF_P | VCORE_VMCB_NPF_RSV;
            return VCORE_ERR_FAULT;
        }
        (void)npt_read(&w, (ncr3 & 0xfffff000ull) + ((a >> 22) & 0x3ffu) * 4u, 4, &e);
        err = npt_check(&w, e, 0);
        if (!err && (e & NPT_PS) && (h->cr4 & VCORE__CR4_PSE)) {
            *l1_gpa = (e & 0xffc00000ull) | (a & 0x3fffffu);
            return VCORE_OK;
        }
        if (!err) {
            (void)npt_read(&w, (e & 0xfffff000ull) + ((a >> 12) & 0x3ffu) * 4u, 4, &e);
            err = npt_check(&w, e, 0);
        }
        if (err) {
            *npf_info1 = w.code;
            return err;
        }
        *l1_gpa = (e & 0xfffff000ull) | (a & 0xfffu);
        return VCORE_OK;
    }
    if (h->efer & VCORE__EFER_LMA) {
        levels = (h->cr4 & VCORE__CR4_LA57) ? 5 : 4;
        table = ncr3 & phys;
        if (l2_gpa >> (12 + 9 * levels)) {
            *npf_info1 = w.code | VCORE_VMCB_NPF_P | VCORE_VMCB_NPF_RSV;
            return VCORE_ERR_FAULT;
        }
    } else {
        /* Legacy PAE: four PDPTEs at nCR3[31:5] (bits 4:0 ignored,
         * CVE-2024-50115 class); a PDPTE has no R/W, U/S or NX bits. */
        if (l2_gpa >> 32) {
            *npf_info1 = w.code | VCORE_VMCB_NPF_P | VCORE_VMCB_NPF_RSV;
            return VCORE_ERR_FAULT;
        }
        (void)npt_read(&w, (ncr3 & 0xffffffe0ull) + ((l2_gpa >> 30) & 3u) * 8u, 8, &e);
        if (!(e & NPT_P))
            err = npt_fault(&w, 0);
        else if ((e & 0x1e6ull) || (e & w.rsvd_hi) || (e & NPT_NX))
            err = npt_fault(&w, VCORE_VMCB_NPF_P | VCORE_VMCB_NPF_RSV);
        else
            err = VCORE_OK;
        if (err) {
            *npf_info1 = w.code;
            return err;
        }
        table = e & phys;
        levels = 2;
    }
    for (lvl = levels; lvl >= 1; lvl--) {
        uint32_t shift = 12u + 9u * (uint32_t)(lvl - 1);
        (void)npt_read(&w, table + ((l2_gpa >> shift) & 0x1ffu) * 8u, 8, &e);
        /* PS is reserved in the top levels of long mode (no 512-GiB pages),
         * and in a PDPE when L1's processor has no 1-GiB pages (CPUID
         * Fn8000_0001_EDX[Page1GB]): the nested table has the host's format
         * and features ("Nested Paging"; "1-Gbyte Page Translation"). */
        uint64_t rsvd = w.rsvd_hi | ((lvl >= 4 || (lvl == 3 && n->no_pages_1g)) ? NPT_PS : 0u);
        err = npt_check(&w, e, rsvd);
        if (!err && (e & NPT_PS) && lvl >= 2) {
            uint64_t page = 1ull << shift;
            /* Bits shift-1:13 of a large-page entry are reserved (12 is PAT). */
            if (e & (page - 1) & ~0x1fffull)
                err = npt_fault(&w, VCORE_VMCB_NPF_P | VCORE_VMCB_NPF_RSV);
            else {
                *l1_gpa = (e & phys & ~(page - 1)) | (l2_gpa & (page - 1));
                return VCORE_OK;
            }
        }
        if (err) {
            *npf_info1 = w.code;
            return err;
        }
        table = e & phys;
    }
    *l1_gpa = table | (l2_gpa & 0xfffu);
    return VCORE_OK;
}
