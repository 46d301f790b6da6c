/* VMCB model: layout, intercepts, clean bits, event encoding, exit codes,
 * named fields and raw access. Expected values are typed from the AMD APM
 * Vol. 2 tables ("Layout of VMCB", "SVM Intercept Exit Codes"). */
#include "support.h"

#include <stddef.h>
#include <string.h>
#include <virtcore/x86/vmcb.h>

#define FINFO(i) vcore_vmcb_field_info_t i = {.size = sizeof(vcore_vmcb_field_info_t)}

/* APM "VMCB Layout, Control Area" and "State Save Area": byte offsets. */
START_TEST(apm_offsets)
{
    static const struct {
        const char *name;
        uint32_t offset, bytes;
    } apm[] = {
        {"INTERCEPT_CR", 0x000, 4},        {"INTERCEPT_DR", 0x004, 4},
        {"INTERCEPT_EXCEPTIONS", 0x008, 4}, {"INTERCEPT_MISC1", 0x00c, 4},
        {"INTERCEPT_MISC2", 0x010, 4},     {"PAUSE_FILTER_THRESHOLD", 0x03c, 2},
        {"PAUSE_FILTER_COUNT", 0x03e, 2},  {"IOPM_BASE_PA", 0x040, 8},
        {"MSRPM_BASE_PA", 0x048, 8},       {"TSC_OFFSET", 0x050, 8},
        {"GUEST_ASID", 0x058, 4},          {"TLB_CONTROL", 0x05c, 1},
        {"INT_CTL", 0x060, 4},             {"INT_VECTOR", 0x064, 4},
        {"INT_STATE", 0x068, 4},           {"EXITCODE", 0x070, 8},
        {"EXITINFO1", 0x078, 8},           {"EXITINFO2", 0x080, 8},
        {"EXITINTINFO", 0x088, 8},         {"NESTED_CTL", 0x090, 8},
        {"EVENTINJ", 0x0a8, 8},            {"N_CR3", 0x0b0, 8},
        {"VIRT_EXT", 0x0b8, 8},            {"CLEAN_BITS", 0x0c0, 4},
        {"NRIP", 0x0c8, 8},                {"INSN_LEN", 0x0d0, 1},
        {"ES_SELECTOR", 0x400, 2},         {"ES_ATTRIB", 0x402, 2},
        {"ES_LIMIT", 0x404, 4},            {"ES_BASE", 0x408, 8},
        {"CS_SELECTOR", 0x410, 2},         {"SS_BASE", 0x428, 8},
        {"GDTR_LIMIT", 0x464, 4},          {"IDTR_BASE", 0x488, 8},
        {"TR_ATTRIB", 0x492, 2},           {"CPL", 0x4cb, 1},
        {"EFER", 0x4d0, 8},                {"CR4", 0x548, 8},
        {"CR3", 0x550, 8},                 {"CR0", 0x558, 8},
        {"DR7", 0x560, 8},                 {"DR6", 0x568, 8},
        {"RFLAGS", 0x570, 8},              {"RIP", 0x578, 8},
        {"RSP", 0x5d8, 8},                 {"RAX", 0x5f8, 8},
        {"STAR", 0x600, 8},                {"LSTAR", 0x608, 8},
        {"CSTAR", 0x610, 8},               {"SFMASK", 0x618, 8},
        {"KERNEL_GS_BASE", 0x620, 8},      {"SYSENTER_CS", 0x628, 8},
        {"SYSENTER_ESP", 0x630, 8},        {"SYSENTER_EIP", 0x638, 8},
        {"CR2", 0x640, 8},                 {"G_PAT", 0x668, 8},
        {"DBGCTL", 0x670, 8},              {"BR_FROM", 0x678, 8},
        {"BR_TO", 0x680, 8},               {"LASTEXCP_FROM", 0x688, 8},
        {"LASTEXCP_TO", 0x690, 8},
    };
    for (size_t i = 0; i < sizeof(apm) / sizeof(apm[0]); i++) {
        FINFO(f);
        ck_assert_msg(vcore_vmcb_field_by_name(apm[i].name, &f) == VCORE_OK, "%s", apm[i].name);
        ck_assert_msg(f.offset == apm[i].offset, "%s at %#x", apm[i].name, f.offset);
        ck_assert_uint_eq(f.bytes, apm[i].bytes);
        ck_assert_int_eq(f.save_area, apm[i].offset >= 0x400);
    }
    /* The structures agree with the same table. */
    ck_assert_uint_eq(sizeof(vcore_vmcb_t), 4096);
    ck_assert_uint_eq(offsetof(vcore_vmcb_t, save), 0x400);
    ck_assert_uint_eq(offsetof(vcore_vmcb_t, control.event_inj), 0x0a8);
    ck_assert_uint_eq(offsetof(vcore_vmcb_t, save.efer), 0x4d0);
    ck_assert_uint_eq(offsetof(vcore_vmcb_t, save.g_pat), 0x668);
}
END_TEST

START_TEST(field_table_is_consistent)
{
    static uint8_t owner[4096];
    uint32_t n = vcore_vmcb_field_count(), prev = 0;
    memset(owner, 0, sizeof(owner));
    ck_assert_uint_ge(n, 100);
    for (uint32_t i = 0; i < n; i++) {
        FINFO(a);
        FINFO(b);
        FINFO(c);
        ck_assert_int_eq(vcore_vmcb_field_at(i, &a), VCORE_OK);
        /* in offset order, each one findable by name and by offset */
        ck_assert_uint_ge(a.offset, prev);
        prev = a.offset;
        ck_assert_int_eq(vcore_vmcb_field_by_name(a.name, &b), VCORE_OK);
        ck_assert_int_eq(vcore_vmcb_field_lookup(a.offset, &c), VCORE_OK);
        ck_assert_uint_eq(b.offset, a.offset);
        ck_assert_str_eq(c.name, a.name);
        ck_assert_uint_le(a.offset + a.bytes, 0x6e8);
        ck_assert_uint_eq(a.offset % a.bytes, 0); /* naturally aligned */
        for (uint32_t k = 0; k < a.bytes; k++) {
            ck_assert_msg(owner[a.offset + k] == 0, "%s overlaps", a.name);
            owner[a.offset + k] = 1;
        }
    }
    FINFO(x);
    ck_assert_int_eq(vcore_vmcb_field_at(n, &x), VCORE_ERR_RANGE);
    ck_assert_int_eq(vcore_vmcb_field_by_name("NO_SUCH_FIELD", &x), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vmcb_field_by_name("EXITCODE_", &x), VCORE_ERR_NOENT);
    ck_assert_int_eq(vcore_vmcb_field_lookup(0x018, &x), VCORE_ERR_NOENT); /* reserved */
    ck_assert_int_eq(vcore_vmcb_field_lookup(0x401, &x), VCORE_ERR_NOENT); /* inside ES_SELECTOR */
    ck_assert_int_eq(vcore_vmcb_field_at(0, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmcb_field_by_name(NULL, &x), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmcb_field_lookup(0, NULL), VCORE_ERR_INVAL);
    x.size = 1;
    ck_assert_int_eq(vcore_vmcb_field_at(0, &x), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vmcb_field_by_name("CR0", &x), VCORE_ERR_ABI);
    ck_assert_int_eq(vcore_vmcb_field_lookup(0x558, &x), VCORE_ERR_ABI);
}
END_TEST

/* APM "SVM Intercept Exit Codes". */
START_TEST(apm_exit_codes)
{
    ck_assert_int_eq(VCORE_VMEXIT_CR0_READ, 0x00);
    ck_assert_int_eq(VCORE_VMEXIT_CR15_READ, 0x0f);
    ck_assert_int_eq(VCORE_VMEXIT_CR0_WRITE, 0x10);
    ck_assert_int_eq(VCORE_VMEXIT_CR8_WRITE, 0x18);
    ck_assert_int_eq(VCORE_VMEXIT_DR7_READ, 0x27);
    ck_assert_int_eq(VCORE_VMEXIT_DR0_WRITE, 0x30);
    ck_assert_int_eq(VCORE_VMEXIT_EXCP0, 0x40);
    ck_assert_int_eq(VCORE_VMEXIT_EXCP14, 0x4e);
    ck_assert_int_eq(VCORE_VMEXIT_EXCP16, 0x50);
    ck_assert_int_eq(VCORE_VMEXIT_EXCP31, 0x5f);
    ck_assert_int_eq(VCORE_VMEXIT_INTR, 0x60);
    ck_assert_int_eq(VCORE_VMEXIT_VINTR, 0x64);
    ck_assert_int_eq(VCORE_VMEXIT_CPUID, 0x72);
    ck_assert_int_eq(VCORE_VMEXIT_IRET, 0x74);
    ck_assert_int_eq(VCORE_VMEXIT_HLT, 0x78);
    ck_assert_int_eq(VCORE_VMEXIT_IOIO, 0x7b);
    ck_assert_int_eq(VCORE_VMEXIT_MSR, 0x7c);
    ck_assert_int_eq(VCORE_VMEXIT_SHUTDOWN, 0x7f);
    ck_assert_int_eq(VCORE_VMEXIT_VMRUN, 0x80);
    ck_assert_int_eq(VCORE_VMEXIT_VMMCALL, 0x81);
    ck_assert_int_eq(VCORE_VMEXIT_XSETBV, 0x8d);
    ck_assert_int_eq(VCORE_VMEXIT_CR0_WRITE_TRAP, 0x90);
    ck_assert_int_eq(VCORE_VMEXIT_CR15_WRITE_TRAP, 0x9f);
    ck_assert_int_eq(VCORE_VMEXIT_NPF, 0x400);
    ck_assert_int_eq(VCORE_VMEXIT_VMGEXIT, 0x403);
    ck_assert_int_eq(VCORE_VMEXIT_INVALID, -1);
    ck_assert_int_eq(VCORE_VMEXIT_BUSY, -2);
    ck_assert_str_eq(vcore_vmcb_exit_name(0x72), "CPUID");
    ck_assert_str_eq(vcore_vmcb_exit_name(0x4e), "EXCP14");
    ck_assert_str_eq(vcore_vmcb_exit_name(0x5d), "EXCP29");
    ck_assert_str_eq(vcore_vmcb_exit_name(0x400), "NPF");
    ck_assert_str_eq(vcore_vmcb_exit_name(0xffffffffffffffffull), "INVALID");
    ck_assert_str_eq(vcore_vmcb_exit_name(0xfffffffffffffffcull), "INVALID_PMC");
    /* The 32-bit form of -1 is not the 64-bit EXITCODE. */
    ck_assert_str_eq(vcore_vmcb_exit_name(0xffffffffull), "UNKNOWN");
    ck_assert_str_eq(vcore_vmcb_exit_name(0x3ff), "UNKNOWN");
    ck_assert_uint_eq(VCORE_VMEXIT_INVALID_CODE, (uint64_t)(int64_t)VCORE_VMEXIT_INVALID);
}
END_TEST

/* APM "Layout of VMCB": intercept vectors at 00Ch (word 3) and 010h (word 4). */
START_TEST(apm_intercepts)
{
    vcore_vmcb_t v;
    memset(&v, 0, sizeof(v));
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_CR0_READ, 0);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_CR4_WRITE, 20);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_DR7_WRITE, 32 + 23);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_EXC14, 64 + 14);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_EXC31, 64 + 31);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_INTR, 96);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_CPUID, 96 + 18);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_HLT, 96 + 24);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_IOIO_PROT, 96 + 27);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_MSR_PROT, 96 + 28);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_SHUTDOWN, 96 + 31);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_VMRUN, 128);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_VMMCALL, 129);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_XSETBV, 128 + 13);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_CR0_WRITE_TRAP, 128 + 16);
    ck_assert_int_eq(VCORE_VMCB_INTERCEPT_INVPCID, 160 + 2);
    vcore_vmcb_intercept_set(&v.control, VCORE_VMCB_INTERCEPT_VMRUN, true);
    vcore_vmcb_intercept_set(&v.control, VCORE_VMCB_INTERCEPT_HLT, true);
    vcore_vmcb_intercept_set(&v.control, VCORE_VMCB_INTERCEPT_EXC14, true);
    vcore_vmcb_intercept_set(&v.control, VCORE_VMCB_INTERCEPT_CR8_WRITE, true);
    uint64_t w;
    ck_assert_int_eq(vcore_vmcb_read(&v, 0x010, 4, &w), VCORE_OK);
    ck_assert_uint_eq(w, 1);
    ck_assert_int_eq(vcore_vmcb_read(&v, 0x00c, 4, &w), VCORE_OK);
    ck_assert_uint_eq(w, 1u << 24);
    ck_assert_int_eq(vcore_vmcb_read(&v, 0x008, 4, &w), VCORE_OK);
    ck_assert_uint_eq(w, 1u << 14);
    ck_assert_int_eq(vcore_vmcb_read(&v, 0x000, 4, &w), VCORE_OK);
    ck_assert_uint_eq(w, 1u << 24);
    ck_assert(vcore_vmcb_intercept_test(&v.control, VCORE_VMCB_INTERCEPT_HLT));
    ck_assert(!vcore_vmcb_intercept_test(&v.control, VCORE_VMCB_INTERCEPT_PAUSE));
    vcore_vmcb_intercept_set(&v.control, VCORE_VMCB_INTERCEPT_HLT, false);
    ck_assert(!vcore_vmcb_intercept_test(&v.control, VCORE_VMCB_INTERCEPT_HLT));
    ck_assert(vcore_vmcb_intercept_test(&v.control, VCORE_VMCB_INTERCEPT_VMRUN));
    /* out of range: ignored, never set */
    vcore_vmcb_intercept_set(&v.control, 6 * 32, true);
    ck_assert(!vcore_vmcb_intercept_test(&v.control, 6 * 32));
    ck_assert_str_eq(vcore_vmcb_intercept_name(VCORE_VMCB_INTERCEPT_VMRUN), "VMRUN");
    ck_assert_str_eq(vcore_vmcb_intercept_name(VCORE_VMCB_INTERCEPT_CR3_WRITE), "CR3_WRITE");
    ck_assert_str_eq(vcore_vmcb_intercept_name(VCORE_VMCB_INTERCEPT_EXC20), "EXC20");
    ck_assert_str_eq(vcore_vmcb_intercept_name(VCORE_VMCB_INTERCEPT_CR5_WRITE_TRAP), "CR5_WRITE_TRAP");
    ck_assert_ptr_null(vcore_vmcb_intercept_name(160 + 31)); /* reserved bit */
    ck_assert_ptr_null(vcore_vmcb_intercept_name(6 * 32));
}
END_TEST

/* APM "VMCB Clean Field" and "Event Injection". */
START_TEST(apm_clean_bits_and_events)
{
    ck_assert_int_eq(VCORE_VMCB_CLEAN_I, 1 << 0);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_IOPM, 1 << 1);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_ASID, 1 << 2);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_TPR, 1 << 3);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_NP, 1 << 4);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_CRX, 1 << 5);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_DRX, 1 << 6);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_DT, 1 << 7);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_SEG, 1 << 8);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_CR2, 1 << 9);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_LBR, 1 << 10);
    ck_assert_int_eq(VCORE_VMCB_CLEAN_AVIC, 1 << 11);
    /* #GP(0x18): vector 13, type 3, EV, V, error code in 63:32 */
    ck_assert_uint_eq(vcore_vmcb_event(13, VCORE_VMCB_EVENT_TYPE_EXCEPTION, true, 0x18),
                      0x0000001880000b0dull);
    /* INTR 0x30 */
    ck_assert_uint_eq(vcore_vmcb_event(0x30, VCORE_VMCB_EVENT_TYPE_INTR, false, 0x1234), 0x80000030ull);
    /* NMI: type 2 */
    ck_assert_uint_eq(vcore_vmcb_event(2, VCORE_VMCB_EVENT_TYPE_NMI, false, 0), 0x80000202ull);
    /* INT 0x80: type 4 */
    ck_assert_uint_eq(vcore_vmcb_event(0x80, VCORE_VMCB_EVENT_TYPE_SOFT_INT, false, 0), 0x80000480ull);
}
END_TEST

/* Segment attributes: VMCB bits 11:8 are descriptor bits 55:52 (VMCS AR 15:12). */
START_TEST(attr_conversion)
{
    /* 64-bit code: type B, S, P, L, G -> VMCS AR 0xa09b, VMCB 0x0a9b */
    ck_assert_uint_eq(vcore_vmcb_attr_from_ar(0xa09bu), 0x0a9bu);
    ck_assert_uint_eq(vcore_vmcb_attr_to_ar(0x0a9bu), 0xa09bu);
    /* flat 32-bit data: G, D/B, P, S, type 3 */
    ck_assert_uint_eq(vcore_vmcb_attr_from_ar(0xc093u), 0x0c93u);
    ck_assert_uint_eq(vcore_vmcb_attr_to_ar(0x0c93u), 0xc093u);
    /* an unusable VMCS segment is a not-present VMCB one, and back */
    ck_assert_uint_eq(vcore_vmcb_attr_from_ar(0x10000u | 0x93u), 0x13u);
    ck_assert_uint_eq(vcore_vmcb_attr_to_ar(0x0013u), 0x10013u);
    /* AVL and DPL survive */
    ck_assert_uint_eq(vcore_vmcb_attr_from_ar(0x10e3u), 0x01e3u);
    ck_assert_uint_eq(vcore_vmcb_attr_to_ar(0x01e3u), 0x10e3u);
}
END_TEST

START_TEST(raw_access)
{
    static uint8_t page[4096];
    uint64_t v = 0;
    memset(page, 0, sizeof(page));
    ck_assert_int_eq(vcore_vmcb_write(page, 0x58, 4, 0x1122334455667788ull), VCORE_OK);
    ck_assert_uint_eq(page[0x58], 0x88);
    ck_assert_uint_eq(page[0x5b], 0x55);
    ck_assert_uint_eq(page[0x5c], 0); /* only 4 bytes */
    ck_assert_int_eq(vcore_vmcb_read(page, 0x58, 4, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x55667788u);
    ck_assert_int_eq(vcore_vmcb_read(page, 0x58, 2, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0x7788u);
    ck_assert_int_eq(vcore_vmcb_write(page, 0xff8, 8, 0xa5a5a5a5a5a5a5a5ull), VCORE_OK);
    ck_assert_int_eq(vcore_vmcb_read(page, 0xff8, 8, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xa5a5a5a5a5a5a5a5ull);
    ck_assert_int_eq(vcore_vmcb_write(page, 0xfff, 1, 0x1ff), VCORE_OK);
    ck_assert_int_eq(vcore_vmcb_read(page, 0xfff, 1, &v), VCORE_OK);
    ck_assert_uint_eq(v, 0xff);
    ck_assert_int_eq(vcore_vmcb_read(page, 0xff9, 8, &v), VCORE_ERR_RANGE);
    ck_assert_int_eq(vcore_vmcb_write(page, 0x1000, 1, 0), VCORE_ERR_RANGE);
    ck_assert_int_eq(vcore_vmcb_write(page, 0xffffffffu, 2, 0), VCORE_ERR_RANGE);
    ck_assert_int_eq(vcore_vmcb_read(page, 0, 3, &v), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmcb_write(page, 0, 0, 0), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmcb_write(page, 0, 16, 0), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmcb_read(NULL, 0, 8, &v), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmcb_read(page, 0, 8, NULL), VCORE_ERR_INVAL);
    ck_assert_int_eq(vcore_vmcb_write(NULL, 0, 8, 0), VCORE_ERR_INVAL);
}
END_TEST

static Suite *vmcb_suite(void)
{
    Suite *s = suite_create("vmcb");
    TCase *tc = tcase_create("vmcb");
    tcase_add_test(tc, apm_offsets);
    tcase_add_test(tc, field_table_is_consistent);
    tcase_add_test(tc, apm_exit_codes);
    tcase_add_test(tc, apm_intercepts);
    tcase_add_test(tc, apm_clean_bits_and_events);
    tcase_add_test(tc, attr_conversion);
    tcase_add_test(tc, raw_access);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(vmcb_suite());
}
