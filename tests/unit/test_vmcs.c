/* VMCS field table: every encoding, metadata, vmcs12 raw accessors. */
#include "support.h"

#include <string.h>
#include <virtcore/x86/vmcs.h>

#define INFO(i) vcore_vmcs_field_info_t i = {.size = sizeof(vcore_vmcs_field_info_t)}

/* Independent count of the lists (fields, and 64-bit fields for _HIGH). */
#define ONE(name, enc) +1
static const uint32_t n_fields = 0 VCORE_VMCS_FIELD_LIST(ONE);
static const uint32_t n_64 = 0 VCORE_VMCS_FIELDS_64(ONE);

START_TEST(every_row_is_consistent)
{
    uint32_t count = vcore_vmcs_field_count();
    static uint8_t owner[4096];
    ck_assert_uint_eq(count, n_fields + n_64);
    memset(owner, 0, sizeof(owner));
    for (uint32_t i = 0; i < count; i++) {
        INFO(a);
        INFO(b);
        ck_assert_int_eq(vcore_vmcs_field_at(i, &a), VCORE_OK);
        /* the O(1) lookup finds the same row */
        ck_assert_int_eq(vcore_vmcs_field_lookup(a.encoding, &b), VCORE_OK);
        ck_assert_str_eq(a.name, b.name);
        ck_assert_uint_eq(a.offset, b.offset);
        /* width and type are the encoding bits */
        ck_assert_uint_eq(a.width, (a.encoding >> 13) & 3u);
        ck_assert_uint_eq(a.type, (a.encoding >> 10) & 3u);
        ck_assert_uint_eq((a.encoding & VCORE_VMCS_ENC_RESERVED), 0);
        /* _HIGH only for 64-bit fields, odd encodings only for _HIGH */
        bool high = (a.flags & VCORE_VMCS_FIELD_F_HIGH) != 0;
        ck_assert_int_eq(high, (a.encoding & 1u) != 0);
        if (high) {
            ck_assert_uint_eq(a.width, VCORE_VMCS_WIDTH_64);
            ck_assert_ptr_nonnull(strstr(a.name, "_HIGH"));
        }
        /* read-only exactly for the VM-exit information type */
        ck_assert_int_eq((a.flags & VCORE_VMCS_FIELD_F_READ_ONLY) != 0,
                         a.type == VCORE_VMCS_TYPE_RO_DATA);
        /* storage size follows the width */
        uint32_t want = a.width == VCORE_VMCS_WIDTH_16 ? 2 : a.width == VCORE_VMCS_WIDTH_32 ? 4 : 8;
        ck_assert_uint_eq(a.bytes, want);
        ck_assert_uint_le(a.offset + a.bytes, VCORE_VMCS12_SIZE);
        ck_assert_uint_ge(a.offset, 40); /* header + launch state + padding come first */
        ck_assert_int_eq((a.flags & VCORE_VMCS_FIELD_F_KVM) != 0, a.offset < VCORE_VMCS12_KVM_END);
        /* name -> encoding round trip */
        uint32_t enc = 0;
        ck_assert_int_eq(vcore_vmcs_field_by_name(a.name, &enc), VCORE_OK);
        ck_assert_uint_eq(enc, a.encoding);
        ck_assert_str_eq(vcore_vmcs_field_name(a.encoding), a.name);
        /* storage of distinct fields never overlaps */
        if (!high) {
            for (uint32_t k = 0; k < a.bytes; k++) {
                ck_assert_msg(owner[a.offset + k] == 0, "%s overlaps", a.name);
                owner[a.offset + k] = 1;
            }
        }
    }
}
END_TEST

START_TEST(exhaustive_16bit_space)
{
    uint32_t valid = 0;
    for (uint32_t enc = 0; enc <= 0xffffu; enc++) {
        INFO(a);
        int err = vcore_vmcs_field_lookup(enc, &a);
        if (err == VCORE_OK) {
            valid++;
            ck_assert_uint_eq(a.encoding, enc);
        } else {
            ck_assert_int_eq(err, VCORE_ERR_NOENT);
            ck_assert_ptr_null(vcore_vmcs_field_name(enc));
        }
    }
    ck_assert_uint_eq(valid, vcore_vmcs_field_count());
}
END_TEST

START_TEST(rejects_reserved_and_unknown)
{
    INFO(a);
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_GUEST_RIP | 0x1000u, &a), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_GUEST_RIP | 0x8000u, &a), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_GUEST_RIP | 0x80000000u, &a), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_GUEST_RIP + 1, &a), VCORE_ERR_NOENT); /* no _HIGH of natural */
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL + 1, &a),
                     VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vmcs_field_lookup(0x0016, &a), VCORE_ERR_NOENT); /* unused 16-bit index */
    ck_assert_int_eq(vcore_vmcs_field_lookup(0x482c, &a), VCORE_ERR_NOENT); /* hole at 482CH */
    ck_assert_int_eq(vcore_vmcs_field_lookup(0x63fe, &a), VCORE_ERR_NOENT); /* index 0x1ff */
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_GUEST_RIP, NULL), VCORE_ERR_INVAL);
    a.size = 1;
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_GUEST_RIP, &a), VCORE_ERR_ABI);
    a.size = sizeof(a);
    ck_assert_int_eq(vcore_vmcs_field_at(vcore_vmcs_field_count(), &a), VCORE_ERR_RANGE);
    uint32_t enc;
    ck_assert_int_eq(vcore_vmcs_field_by_name("GUEST_CR9", &enc), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vmcs_field_by_name(NULL, &enc), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(sdm_spot_checks)
{
    INFO(a);
    /* Encodings from SDM Vol. 3, "Field Encoding in VMCS". */
    ck_assert_uint_eq(VCORE_VMCS_GUEST_RIP, 0x681e);
    ck_assert_uint_eq(VCORE_VMCS_EPT_POINTER_HIGH, 0x201b);
    ck_assert_uint_eq(VCORE_VMCS_VM_INSTRUCTION_ERROR, 0x4400);
    ck_assert_uint_eq(VCORE_VMCS_VMX_PREEMPTION_TIMER_VALUE, 0x482e);
    ck_assert_uint_eq(VCORE_VMCS_HOST_RIP, 0x6c16);
    /* KVM struct vmcs12 offsets (nested-state ABI). */
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_IO_BITMAP_A, &a), VCORE_OK);
    ck_assert_uint_eq(a.offset, 40);
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_CR0_GUEST_HOST_MASK, &a), VCORE_OK);
    ck_assert_uint_eq(a.offset, 344);
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, &a), VCORE_OK);
    ck_assert_uint_eq(a.offset, 744);
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_VIRTUAL_PROCESSOR_ID, &a), VCORE_OK);
    ck_assert_uint_eq(a.offset, 960);
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_GUEST_PML_INDEX, &a), VCORE_OK);
    ck_assert_uint_eq(a.offset, 996);
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_GUEST_PHYSICAL_ADDRESS_HIGH, &a), VCORE_OK);
    ck_assert_str_eq(a.name, "GUEST_PHYSICAL_ADDRESS_HIGH");
    ck_assert_uint_eq(a.type, VCORE_VMCS_TYPE_RO_DATA);
    ck_assert_uint_ne(a.flags & VCORE_VMCS_FIELD_F_READ_ONLY, 0);
    ck_assert_int_eq(vcore_vmcs_field_lookup(VCORE_VMCS_HLAT_POINTER, &a), VCORE_OK);
    ck_assert_uint_ge(a.offset, VCORE_VMCS12_EXT_OFFSET);
    /* Highest index: IA32_SPEC_CTRL_SHADOW (204CH) has index 26H. */
    ck_assert_uint_eq(vcore_vmcs_enum_max_index(), 0x26);
}
END_TEST

START_TEST(raw_access_semantics)
{
    static uint8_t page[4096];
    uint64_t v;
    memset(page, 0, sizeof(page));
    /* width truncation */
    ck_assert_int_eq(vcore_vmcs12_set(page, VCORE_VMCS_GUEST_CS_SELECTOR, 0x12345678), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_get(page, VCORE_VMCS_GUEST_CS_SELECTOR, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x5678);
    ck_assert_int_eq(vcore_vmcs12_set(page, VCORE_VMCS_EXCEPTION_BITMAP, 0xaabbccdd11223344ull), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_get(page, VCORE_VMCS_EXCEPTION_BITMAP, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x11223344u);
    /* 64-bit field, then its _HIGH half */
    ck_assert_int_eq(vcore_vmcs12_set(page, VCORE_VMCS_EPT_POINTER, 0x1111222233334444ull), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_get(page, VCORE_VMCS_EPT_POINTER_HIGH, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x11112222u);
    ck_assert_int_eq(vcore_vmcs12_set(page, VCORE_VMCS_EPT_POINTER_HIGH, 0xdeadbeefcafef00dull), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_get(page, VCORE_VMCS_EPT_POINTER, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xcafef00d33334444ull);
    /* access rights: reserved bits 11:8 and 31:17 dropped */
    ck_assert_int_eq(vcore_vmcs12_set(page, VCORE_VMCS_GUEST_TR_AR_BYTES, 0xffffffffu), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_get(page, VCORE_VMCS_GUEST_TR_AR_BYTES, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x1f0ffu);
    /* a non-AR 32-bit field keeps all bits */
    ck_assert_int_eq(vcore_vmcs12_set(page, VCORE_VMCS_GUEST_TR_LIMIT, 0xffffffffu), VCORE_OK);
    ck_assert_int_eq(vcore_vmcs12_get(page, VCORE_VMCS_GUEST_TR_LIMIT, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xffffffffu);
    ck_assert_int_eq(vcore_vmcs12_set(page, 0x7777, 1), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vmcs12_get(NULL, VCORE_VMCS_GUEST_RIP, &v), VCORE_ERR_INVAL);
}
END_TEST

START_TEST(every_field_round_trips)
{
    static uint8_t page[4096];
    memset(page, 0, sizeof(page));
    uint32_t count = vcore_vmcs_field_count();
    /* write a distinct pattern to every full field, then read all back */
    for (uint32_t i = 0; i < count; i++) {
        INFO(a);
        ck_assert_int_eq(vcore_vmcs_field_at(i, &a), VCORE_OK);
        if (a.flags & VCORE_VMCS_FIELD_F_HIGH)
            continue;
        ck_assert_int_eq(vcore_vmcs12_set(page, a.encoding, 0x0101010101010101ull * (i + 1)), VCORE_OK);
    }
    for (uint32_t i = 0; i < count; i++) {
        INFO(a);
        uint64_t v, want;
        ck_assert_int_eq(vcore_vmcs_field_at(i, &a), VCORE_OK);
        if (a.flags & VCORE_VMCS_FIELD_F_HIGH)
            continue;
        want = 0x0101010101010101ull * (i + 1);
        if (a.bytes == 2)
            want &= 0xffff;
        else if (a.bytes == 4)
            want &= (a.flags & VCORE_VMCS_FIELD_F_AR) ? 0x1f0ffu : 0xffffffffu;
        ck_assert_int_eq(vcore_vmcs12_get(page, a.encoding, &v), VCORE_OK);
        ck_assert_msg(v == want, "%s: %llx != %llx", a.name, (unsigned long long)v,
                      (unsigned long long)want);
    }
}
END_TEST

static Suite *vmcs_suite(void)
{
    Suite *s = suite_create("vmcs");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, every_row_is_consistent);
    tcase_add_test(tc, exhaustive_16bit_space);
    tcase_add_test(tc, rejects_reserved_and_unknown);
    tcase_add_test(tc, sdm_spot_checks);
    tcase_add_test(tc, raw_access_semantics);
    tcase_add_test(tc, every_field_round_trips);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(vmcs_suite());
}
