/* Shadow VMCS sets (seed 001), bitmaps, sync functions. */
#include "support.h"
#include "test_nvmx_fixture.h"

static fx_t F;
static void setup(void) { fx_setup(&F); }
static void teardown(void) { fx_teardown(&F); }

static int bit(const uint8_t *bm, uint32_t enc)
{
    return (bm[(enc & 0x7fff) >> 3] >> (enc & 7)) & 1;
}

static uint32_t zeros(const uint8_t *bm)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < 4096 * 8; i++)
        n += !((bm[i >> 3] >> (i & 7)) & 1);
    return n;
}

START_TEST(sets)
{
    uint32_t nrw, nro;
    const uint32_t *rw = vcore_nvmx_shadow_fields(false, &nrw);
    const uint32_t *ro = vcore_nvmx_shadow_fields(true, &nro);
    ck_assert_uint_eq(nrw, 13);
    ck_assert_uint_eq(nro, 25);
    for (uint32_t i = 0; i < nrw; i++) {
        vcore_vmcs_field_info_t a = {.size = sizeof(a)};
        ck_assert_int_eq(vcore_vmcs_field_lookup(rw[i], &a), VCORE_OK);
        ck_assert_uint_eq(a.flags & VCORE_VMCS_FIELD_F_READ_ONLY, 0);
        ck_assert_uint_ne(rw[i], VCORE_VMCS_VM_INSTRUCTION_ERROR);
    }
    for (uint32_t i = 0; i < nro; i++) {
        vcore_vmcs_field_info_t a = {.size = sizeof(a)};
        ck_assert_int_eq(vcore_vmcs_field_lookup(ro[i], &a), VCORE_OK);
        ck_assert_uint_ne(ro[i], VCORE_VMCS_VM_INSTRUCTION_ERROR);
    }
}
END_TEST

START_TEST(bitmaps_follow_backend)
{
    static uint8_t r[4096], w[4096];
    vcore_nvmx_caps_t b;
    fx_caps(&b);
    ck_assert_int_eq(vcore_nvmx_shadow_bitmaps(&b, r, w), VCORE_OK);
    ck_assert_uint_eq(zeros(w), 13);
    ck_assert_uint_eq(zeros(r), 38);
    ck_assert_int_eq(bit(r, VCORE_VMCS_GUEST_RIP), 0);
    ck_assert_int_eq(bit(w, VCORE_VMCS_GUEST_RIP), 0);
    ck_assert_int_eq(bit(r, VCORE_VMCS_VM_EXIT_REASON), 0);
    ck_assert_int_eq(bit(w, VCORE_VMCS_VM_EXIT_REASON), 1);
    ck_assert_int_eq(bit(r, VCORE_VMCS_VM_INSTRUCTION_ERROR), 1);
    /* Written on every exit L1 handles: both bits clear; written rarely:
     * VMREAD without an exit, VMWRITE exits. */
    ck_assert_int_eq(bit(w, VCORE_VMCS_HOST_RSP), 0);
    ck_assert_int_eq(bit(w, VCORE_VMCS_HOST_RIP), 0);
    ck_assert_int_eq(bit(w, VCORE_VMCS_VM_ENTRY_INTR_INFO_FIELD), 0);
    ck_assert_int_eq(bit(r, VCORE_VMCS_GUEST_CR3), 0);
    ck_assert_int_eq(bit(w, VCORE_VMCS_GUEST_CR3), 1);
    ck_assert_int_eq(bit(r, VCORE_VMCS_EXCEPTION_BITMAP), 0);
    ck_assert_int_eq(bit(w, VCORE_VMCS_EXCEPTION_BITMAP), 1);
    /* no virtual-interrupt delivery in the backend: GUEST_INTR_STATUS exits */
    b.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~(1ull << (32 + 9));
    ck_assert_int_eq(vcore_nvmx_shadow_bitmaps(&b, r, w), VCORE_OK);
    ck_assert_int_eq(bit(r, VCORE_VMCS_GUEST_INTR_STATUS), 1);
    ck_assert_int_eq(bit(w, VCORE_VMCS_GUEST_INTR_STATUS), 1);
    ck_assert_uint_eq(zeros(w), 12);
    ck_assert_uint_eq(zeros(r), 37);
    /* no PML in the backend: GUEST_PML_INDEX exits */
    b.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~(1ull << (32 + 17));
    ck_assert_int_eq(vcore_nvmx_shadow_bitmaps(&b, r, w), VCORE_OK);
    ck_assert_int_eq(bit(r, VCORE_VMCS_GUEST_PML_INDEX), 1);
    ck_assert_uint_eq(zeros(w), 12);
    ck_assert_uint_eq(zeros(r), 36);
    /* no VMWRITE-any: L0 cannot fill read-only fields */
    b.msr[VCORE_NVMX_CAP_MISC] &= ~VCORE_VMX_MISC_VMWRITE_ANY;
    ck_assert_int_eq(vcore_nvmx_shadow_bitmaps(&b, r, w), VCORE_OK);
    ck_assert_uint_eq(zeros(r), 24); /* 36 less the 12 exit-information fields */
    /* no shadowing at all */
    b.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~VCORE_VMX_PROC2_SHADOW_VMCS;
    ck_assert_int_eq(vcore_nvmx_shadow_bitmaps(&b, r, w), VCORE_OK);
    ck_assert_uint_eq(zeros(r) + zeros(w), 0);
}
END_TEST

typedef struct rec {
    uint32_t n;
    uint32_t enc[64];
    uint64_t val[64];
} rec_t;

static int rec_write(void *ctx, uint32_t enc, uint64_t v)
{
    rec_t *r = ctx;
    r->enc[r->n] = enc;
    r->val[r->n++] = v;
    return VCORE_OK;
}

static int hw_read(void *ctx, uint32_t enc, uint64_t *v)
{
    rec_t *r = ctx;
    r->enc[r->n++] = enc;
    *v = enc == VCORE_VMCS_GUEST_RIP ? 0x4242 : 0;
    return VCORE_OK;
}

START_TEST(sync_touches_only_the_sets)
{
    static uint8_t r[4096], w[4096];
    static rec_t rec;
    vcore_nvmx_caps_t b;
    fx_caps(&b);
    ck_assert_int_eq(vcore_nvmx_shadow_bitmaps(&b, r, w), VCORE_OK);
    fx_current(&F);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_RIP, 0x1000);
    fx_vmwrite(&F, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS, 0x123456789ull);
    memset(&rec, 0, sizeof(rec));
    ck_assert_int_eq(vcore_nvmx_shadow_sync_to(F.n, r, rec_write, &rec), VCORE_OK);
    ck_assert_uint_eq(rec.n, 37); /* 13 + 25 minus the _HIGH half */
    for (uint32_t i = 0; i < rec.n; i++) {
        ck_assert_int_eq(bit(r, rec.enc[i]), 0);
        if (rec.enc[i] == VCORE_VMCS_GUEST_RIP)
            ck_assert_uint_eq(rec.val[i], 0x1000);
        if (rec.enc[i] == VCORE_VMCS_GUEST_PHYSICAL_ADDRESS)
            ck_assert_uint_eq(rec.val[i], 0x123456789ull);
    }
    vcore_nvmx_clear_dirty(F.n);
    memset(&rec, 0, sizeof(rec));
    ck_assert_int_eq(vcore_nvmx_shadow_sync_from(F.n, w, hw_read, &rec), VCORE_OK);
    ck_assert_uint_eq(rec.n, 13);
    fx_vmread(&F, VCORE_VMCS_GUEST_RIP);
    ck_assert_uint_eq(F.res.gpr_value, 0x4242);
    ck_assert(vcore_nvmx_is_dirty(F.n, VCORE_VMCS_GUEST_RIP));
    /* read-only fields are never read back */
    fx_vmread(&F, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS);
    ck_assert_uint_eq(F.res.gpr_value, 0x123456789ull);
    /* A VMWRITE bitmap with every bit clear: every field L1 may write is
     * read back (13 + 13 rarely written), no exit-information field (L0
     * writes those; SDM "VM-Exit Information Fields" are read-only to L1). */
    memset(w, 0, sizeof(w));
    memset(&rec, 0, sizeof(rec));
    ck_assert_int_eq(vcore_nvmx_shadow_sync_from(F.n, w, hw_read, &rec), VCORE_OK);
    ck_assert_uint_eq(rec.n, 26);
    for (uint32_t i = 0; i < rec.n; i++) {
        vcore_vmcs_field_info_t a = {.size = sizeof(a)};
        ck_assert_int_eq(vcore_vmcs_field_lookup(rec.enc[i], &a), VCORE_OK);
        ck_assert_uint_eq(a.flags & VCORE_VMCS_FIELD_F_READ_ONLY, 0);
    }
    fx_vmread(&F, VCORE_VMCS_GUEST_PHYSICAL_ADDRESS);
    ck_assert_uint_eq(F.res.gpr_value, 0x123456789ull);
}
END_TEST

static Suite *shadow_suite(void)
{
    Suite *s = suite_create("nvmx_shadow");
    TCase *tc = tcase_create("shadow");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sets);
    tcase_add_test(tc, bitmaps_follow_backend);
    tcase_add_test(tc, sync_touches_only_the_sets);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(shadow_suite());
}
