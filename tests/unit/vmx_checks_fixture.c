/* Fixture of the VM-entry check tests (see vmx_checks_fixture.h). */
#include "vmx_checks_fixture.h"

uint8_t ck_hit[0x1000];

/* Bochs 2.7 corei7_skylake_x, MSRs 480H-491H as read inside Bochs. */
static const uint64_t ck_bochs_caps[VCORE_NVMX_NR_CAPS] = {
    0x00d810000000002bull, /* BASIC: revision 2BH, TRUE controls (55), memory type WB */
    0x0000007f00000016ull, /* PINBASED */
    0xf7f9fffe0401e172ull, /* PROCBASED */
    0x007fffff00036dffull, /* EXIT */
    0x0000ffff000011ffull, /* ENTRY */
    0x00000000600401e0ull, /* MISC: HLT/shutdown/SIPI, 4 CR3 targets, MSR lists 512, VMWRITE any, length-0 injection */
    0x0000000080000021ull, /* CR0_FIXED0 */
    0x00000000ffffffffull, /* CR0_FIXED1 */
    0x0000000000002000ull, /* CR4_FIXED0 */
    0x00000000003727ffull, /* CR4_FIXED1 */
    0x0000000000000034ull, /* VMCS_ENUM */
    0x02177fff00000000ull, /* PROCBASED2 */
    0x00000f0106334141ull, /* EPT_VPID_CAP */
    0x0000007f00000016ull, /* TRUE_PINBASED */
    0xf7f9fffe04006172ull, /* TRUE_PROCBASED */
    0x007fffff00036dfbull, /* TRUE_EXIT */
    0x0000ffff000011fbull, /* TRUE_ENTRY */
    0x0000000000000001ull, /* VMFUNC: EPTP switching */
};

static int ck_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    ck_t *k = ctx;
    k->reads++;
    if (gpa >= CK_RAM || len > CK_RAM - gpa)
        return VCORE_ERR_FAULT;
    memcpy(buf, k->ram + gpa, len);
    return VCORE_OK;
}

static int ck_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    (void)gpa;
    (void)buf;
    (void)len;
    ck_abort_msg("the checks must not write guest memory");
    return VCORE_ERR_FAULT;
}

void ck_set(ck_t *k, uint32_t enc, uint64_t v)
{
    vcore_vmcs_field_info_t fi = {.size = sizeof(fi)};
    ck_assert_int_eq(vcore_vmcs_field_lookup(enc, &fi), VCORE_OK);
    /* Raw bytes: a snapshot may carry what VMWRITE would have dropped. */
    if (fi.flags & VCORE_VMCS_FIELD_F_HIGH)
        memcpy(k->page + fi.offset + 4, &v, 4);
    else
        memcpy(k->page + fi.offset, &v, fi.bytes);
}

uint64_t ck_get(const ck_t *k, uint32_t enc)
{
    uint64_t v = 0;
    ck_assert_int_eq(vcore_vmcs12_get(k->page, enc, &v), VCORE_OK);
    return v;
}

void ck_cpuid(ck_t *k, uint32_t leaf, uint32_t sub, uint32_t reg, uint32_t v)
{
    vcore_cpuid_entry_t *e = NULL;
    for (uint32_t i = 0; i < k->ncpuid; i++)
        if (k->cpuid[i].function == leaf && k->cpuid[i].index == sub)
            e = &k->cpuid[i];
    if (!e) {
        ck_assert_uint_lt(k->ncpuid, 32);
        e = &k->cpuid[k->ncpuid++];
        memset(e, 0, sizeof(*e));
        e->function = leaf;
        e->index = sub;
        e->flags = VCORE_CPUID_FLAG_INDEX_SIGNIFICANT;
    }
    switch (reg) {
    case EAX: e->eax = v; break;
    case EBX: e->ebx = v; break;
    case ECX: e->ecx = v; break;
    default: e->edx = v; break;
    }
}

#define S(f, v) ck_set(k, VCORE_VMCS_##f, (v))

/* A 64-bit guest on a 64-bit host, flat segments, no EPT: every check passes. */
static void ck_ref64(ck_t *k)
{
    memset(k->page, 0, sizeof(k->page));
    memcpy(k->page, &(uint32_t){CK_REV}, 4);
    /* Controls: the allowed-0 settings of the TRUE MSRs, 64-bit host and guest. */
    S(PIN_BASED_VM_EXEC_CONTROL, 0x16);
    S(CPU_BASED_VM_EXEC_CONTROL, 0x04006172);
    S(VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9));
    S(VM_ENTRY_CONTROLS, 0x000011fb | (1u << 9));
    S(VMCS_LINK_POINTER, ~0ull);
    /* Host state. */
    S(HOST_CR0, 0x80050033); /* PG WP NE ET MP PE */
    S(HOST_CR3, 0x1000);
    S(HOST_CR4, 0x2020);     /* VMXE PAE */
    S(HOST_CS_SELECTOR, 0x08);
    S(HOST_SS_SELECTOR, 0x10);
    S(HOST_DS_SELECTOR, 0x10);
    S(HOST_ES_SELECTOR, 0x10);
    S(HOST_TR_SELECTOR, 0x18);
    S(HOST_TR_BASE, 0x4000);
    S(HOST_GDTR_BASE, 0x5000);
    S(HOST_IDTR_BASE, 0x6000);
    S(HOST_RSP, 0x9000);
    S(HOST_RIP, 0xffffffff81000000ull);
    /* Guest state. */
    S(GUEST_CR0, 0x80050033);
    S(GUEST_CR3, 0x1000);
    S(GUEST_CR4, 0x2020);
    S(GUEST_DR7, 0x400);
    S(GUEST_RSP, 0x8000);
    S(GUEST_RIP, 0x401000);
    S(GUEST_RFLAGS, 0x2);
    S(GUEST_CS_SELECTOR, 0x08);
    S(GUEST_CS_LIMIT, 0xffffffff);
    S(GUEST_CS_AR_BYTES, 0xa09b); /* G L P S type 11 */
    S(GUEST_SS_SELECTOR, 0x10);
    S(GUEST_SS_LIMIT, 0xffffffff);
    S(GUEST_SS_AR_BYTES, 0xc093); /* G D/B P S type 3 */
    S(GUEST_DS_SELECTOR, 0x10);
    S(GUEST_DS_LIMIT, 0xffffffff);
    S(GUEST_DS_AR_BYTES, 0xc093);
    S(GUEST_ES_SELECTOR, 0x10);
    S(GUEST_ES_LIMIT, 0xffffffff);
    S(GUEST_ES_AR_BYTES, 0xc093);
    S(GUEST_FS_AR_BYTES, 0x10000); /* unusable */
    S(GUEST_GS_AR_BYTES, 0x10000);
    S(GUEST_LDTR_AR_BYTES, 0x10000);
    S(GUEST_TR_SELECTOR, 0x18);
    S(GUEST_TR_BASE, 0x4000);
    S(GUEST_TR_LIMIT, 0x67);
    S(GUEST_TR_AR_BYTES, 0x8b); /* P, busy 32/64-bit TSS */
    S(GUEST_GDTR_BASE, 0x5000);
    S(GUEST_GDTR_LIMIT, 0x27);
    S(GUEST_IDTR_BASE, 0x6000);
    S(GUEST_IDTR_LIMIT, 0xfff);
}

/* Real mode with unrestricted guest (needs EPT). */
static void ck_real_urg(ck_t *k)
{
    ck_ref64(k);
    S(CPU_BASED_VM_EXEC_CONTROL, 0x04006172u | (1u << 31));
    S(SECONDARY_VM_EXEC_CONTROL, (1u << 1) | (1u << 7)); /* EPT, unrestricted guest */
    S(EPT_POINTER, 0x5001e);                             /* WB, 4 levels */
    S(VM_ENTRY_CONTROLS, 0x000011fb);
    S(GUEST_CR0, 0x30); /* NE ET */
    S(GUEST_CR4, 0x2000);
    S(GUEST_CS_SELECTOR, 0xf000);
    S(GUEST_CS_BASE, 0xf0000);
    S(GUEST_CS_LIMIT, 0xffff);
    S(GUEST_CS_AR_BYTES, 0x9b);
    for (uint32_t f = VCORE_VMCS_GUEST_ES_SELECTOR; f <= VCORE_VMCS_GUEST_DS_SELECTOR; f += 2) {
        if (f == VCORE_VMCS_GUEST_CS_SELECTOR)
            continue;
        ck_set(k, f, 0);
        ck_set(k, f - VCORE_VMCS_GUEST_ES_SELECTOR + VCORE_VMCS_GUEST_ES_LIMIT, 0xffff);
        ck_set(k, f - VCORE_VMCS_GUEST_ES_SELECTOR + VCORE_VMCS_GUEST_ES_AR_BYTES, 0x93);
    }
    S(GUEST_RIP, 0xfff0);
}

/* Virtual-8086 mode in a 32-bit PAE guest. */
static void ck_v86(ck_t *k)
{
    ck_ref64(k);
    S(VM_ENTRY_CONTROLS, 0x000011fb);
    S(GUEST_RFLAGS, 0x20002);
    for (uint32_t i = 0; i < 6; i++) {
        ck_set(k, VCORE_VMCS_GUEST_ES_SELECTOR + 2 * i, 0x1000);
        ck_set(k, VCORE_VMCS_GUEST_ES_BASE + 2 * i, 0x10000);
        ck_set(k, VCORE_VMCS_GUEST_ES_LIMIT + 2 * i, 0xffff);
        ck_set(k, VCORE_VMCS_GUEST_ES_AR_BYTES + 2 * i, 0xf3);
    }
    S(GUEST_RIP, 0x100);
}

/* 32-bit protected mode with PAE paging: PDPTEs at CK_PDPT. */
static void ck_pae32(ck_t *k)
{
    ck_ref64(k);
    S(VM_ENTRY_CONTROLS, 0x000011fb);
    S(GUEST_CS_AR_BYTES, 0xc09b);
    S(GUEST_CR3, CK_PDPT);
}

/* A 64-bit guest at CPL 3. */
static void ck_ring3(ck_t *k)
{
    ck_ref64(k);
    S(GUEST_CS_SELECTOR, 0x0b);
    S(GUEST_CS_AR_BYTES, 0xa0fb);
    S(GUEST_SS_SELECTOR, 0x13);
    S(GUEST_SS_AR_BYTES, 0xc0f3);
    S(GUEST_DS_SELECTOR, 0x13);
    S(GUEST_DS_AR_BYTES, 0xc0f3);
    S(GUEST_ES_SELECTOR, 0x13);
    S(GUEST_ES_AR_BYTES, 0xc0f3);
}
#undef S

void ck_state(ck_t *k, uint32_t st)
{
    switch (st) {
    case ST_REAL_URG: ck_real_urg(k); break;
    case ST_V86: ck_v86(k); break;
    case ST_PAE32: ck_pae32(k); break;
    case ST_RING3: ck_ring3(k); break;
    default: ck_ref64(k); break;
    }
}

void ck_init(ck_t *k)
{
    memset(k, 0, sizeof(*k));
    k->caps.size = sizeof(k->caps);
    memcpy(k->caps.msr, ck_bochs_caps, sizeof(ck_bochs_caps));
    k->ram = calloc(1, CK_RAM);
    ck_assert_ptr_nonnull(k->ram);
    memcpy(k->ram + CK_VMCS, &(uint32_t){CK_REV}, 4);
    k->mem.size = sizeof(k->mem);
    k->mem.ctx = k;
    k->mem.read = ck_read;
    k->mem.write = ck_write;
    k->in.size = sizeof(k->in);
    k->in.vmcs12 = k->page;
    k->in.caps = &k->caps;
    k->in.maxphyaddr = 40;
    k->in.l1_efer = 0xd01;
    k->in.current_vmptr = CK_VMCS;
    k->in.vmxon_ptr = CK_VMXON;
    k->in.cpuid = k->cpuid;
    k->in.mem = &k->mem;
    k->out.size = sizeof(k->out);
    ck_state(k, ST_REF64);
}

void ck_fini(ck_t *k)
{
    free(k->ram);
    k->ram = NULL;
}

/* The plain and TRUE capability MSRs of a control word. */
static int ck_true_of(uint32_t i)
{
    switch (i) {
    case VCORE_NVMX_CAP_PINBASED: return VCORE_NVMX_CAP_TRUE_PINBASED;
    case VCORE_NVMX_CAP_PROCBASED: return VCORE_NVMX_CAP_TRUE_PROCBASED;
    case VCORE_NVMX_CAP_EXIT: return VCORE_NVMX_CAP_TRUE_EXIT;
    case VCORE_NVMX_CAP_ENTRY: return VCORE_NVMX_CAP_TRUE_ENTRY;
    default: return -1;
    }
}

/* The VMM's WRMSR rule for MSRs the library does not model. */
static bool ck_msr_accept(void *ctx, uint32_t index, uint64_t value)
{
    (void)index;
    (void)value;
    return *(const bool *)ctx;
}
static const bool ck_yes = true, ck_no = false;

static void ck_msr_entry(ck_t *k, uint32_t i, uint64_t lo, uint64_t data)
{
    ck_assert_uint_lt(16ull * i + 16, CK_RAM - CK_MSRS);
    memcpy(k->ram + CK_MSRS + 16 * i, &lo, 8);
    memcpy(k->ram + CK_MSRS + 16 * i + 8, &data, 8);
    ck_set(k, VCORE_VMCS_VM_ENTRY_MSR_LOAD_ADDR, CK_MSRS);
    if (ck_get(k, VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT) < i + 1u)
        ck_set(k, VCORE_VMCS_VM_ENTRY_MSR_LOAD_COUNT, i + 1u);
}

void ck_apply(ck_t *k, const ck_mu_t *mu, size_t n)
{
    for (size_t i = 0; i < n && mu[i].op != OP_END; i++) {
        const ck_mu_t *m = &mu[i];
        uint64_t v;
        int t;
        switch (m->op) {
        case OP_BASE: ck_state(k, m->a); break;
        case OP_SET: ck_set(k, m->a, m->b); break;
        case OP_OR: ck_set(k, m->a, ck_get(k, m->a) | m->b); break;
        case OP_ANDN: ck_set(k, m->a, ck_get(k, m->a) & ~m->b); break;
        case OP_CAPSET: k->caps.msr[m->a] = m->b; break;
        case OP_CAPOR: k->caps.msr[m->a] |= m->b; break;
        case OP_CAPANDN: k->caps.msr[m->a] &= ~m->b; break;
        case OP_ALLOW:
            k->caps.msr[m->a] |= m->b << 32;
            t = ck_true_of(m->a);
            if (t >= 0)
                k->caps.msr[t] |= m->b << 32;
            break;
        case OP_CPUID: ck_cpuid(k, m->a, (uint32_t)(m->b >> 8), (uint32_t)(m->b & 0xff), (uint32_t)m->c); break;
        case OP_MEM8: k->ram[m->b] = (uint8_t)m->c; break;
        case OP_MEM32: memcpy(k->ram + m->b, &(uint32_t){(uint32_t)m->c}, 4); break;
        case OP_MEM64: memcpy(k->ram + m->b, &m->c, 8); break;
        case OP_MSR: ck_msr_entry(k, m->a, m->b, m->c); break;
        case OP_MSRS:
            for (v = 0; v < m->a; v++)
                ck_msr_entry(k, (uint32_t)v, m->b, m->c);
            break;
        case OP_IN:
            switch (m->a) {
            case IN_MOVSS: k->in.movss_blocking = m->b != 0; break;
            case IN_RESUME: k->in.resume = m->b != 0; break;
            case IN_LAUNCHED: k->in.launch_state = (uint32_t)m->b; break;
            case IN_VMPTR: k->in.current_vmptr = m->b; break;
            case IN_EFER: k->in.l1_efer = m->b; break;
            case IN_MAXPHY: k->in.maxphyaddr = (uint32_t)m->b; break;
            case IN_NOMEM: k->in.mem = NULL; break;
            case IN_MSRCB:
                k->in.msr_writable = ck_msr_accept;
                k->in.msr_ctx = (void *)(uintptr_t)(m->b ? &ck_yes : &ck_no);
                break;
            default: ck_abort_msg("bad IN");
            }
            break;
        case OP_REV: memcpy(k->page, &(uint32_t){(uint32_t)m->b}, 4); break;
        default: ck_abort_msg("bad op %u", m->op);
        }
    }
    k->in.ncpuid = k->ncpuid;
}

/* Position of a check in the table (architectural order). */
static uint32_t ck_pos(uint32_t id)
{
    vcore_vmx_check_info_t info = {.size = sizeof(info)};
    for (uint32_t i = 0; i < vcore_vmx_check_count(); i++) {
        ck_assert_int_eq(vcore_vmx_check_at(i, &info), VCORE_OK);
        if (info.id == id)
            return i;
    }
    ck_abort_msg("check %#x not in the table", id);
    return 0;
}

uint32_t ck_run(ck_t *k)
{
    vcore_vmx_verdict_t a = {.size = sizeof(a)}, b = {.size = sizeof(b)}, c2 = {.size = sizeof(c2)};

    k->in.ncpuid = k->ncpuid;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &a, NULL, 0), VCORE_OK);
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &b, k->fail, CK_MAXFAIL), VCORE_OK);
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &c2, NULL, 0), VCORE_OK);
    /* Deterministic, and report-all decides like verdict-only. */
    ck_assert(memcmp(&a, &c2, sizeof(a)) == 0);
    ck_assert_uint_eq(a.kind, b.kind);
    ck_assert_uint_eq(a.vm_error, b.vm_error);
    ck_assert_uint_eq(a.exit_reason, b.exit_reason);
    ck_assert_uint_eq(a.qualification, b.qualification);
    ck_assert_uint_eq(a.check, b.check);
    ck_assert_uint_eq(a.value, b.value);
    if (a.kind == VCORE_VMX_ENTRY_OK) {
        ck_assert_uint_eq(b.failures, 0);
        ck_assert_uint_eq(a.failures, 0);
    } else {
        ck_assert_uint_ge(b.failures, 1);
        ck_assert_uint_eq(a.failures, 1);
        /* Report-all's first entry is the verdict. */
        ck_assert_uint_eq(k->fail[0].check, a.check);
        ck_assert_uint_eq(k->fail[0].value, a.value);
        if (a.kind == VCORE_VMX_ENTRY_FAIL_EXIT && (a.exit_reason & 0xffff) == 34)
            ck_assert_uint_eq(k->fail[0].index, a.qualification);
        ck_hit[a.check - 0x4000] = 1;
    }
    /* Report-all lists failures in architectural order: table order, and
     * MSR-load entries by index after everything else. */
    for (uint32_t i = 0; i < b.failures && i < CK_MAXFAIL; i++) {
        ck_hit[k->fail[i].check - 0x4000] = 1;
        if (i == 0)
            continue;
        if (k->fail[i].index != 0)
            ck_assert_uint_gt(k->fail[i].index, k->fail[i - 1].index);
        else
            ck_assert_uint_gt(ck_pos(k->fail[i].check), ck_pos(k->fail[i - 1].check));
    }
    k->out = b;
    return b.failures;
}

bool ck_reported(const ck_t *k, uint32_t id)
{
    for (uint32_t i = 0; i < k->out.failures && i < CK_MAXFAIL; i++)
        if (k->fail[i].check == id)
            return true;
    return false;
}

void ck_case_run(const ck_case_t *cs)
{
    ck_t *k = malloc(sizeof(*k));
    ck_assert_ptr_nonnull(k);
    ck_init(k);
    ck_apply(k, cs->mu, sizeof(cs->mu) / sizeof(cs->mu[0]));
    ck_run(k);
    ck_assert_msg(k->out.kind == cs->kind && k->out.check == cs->check,
                  "%s: kind %u check %#x (value %#llx), expected kind %u check %#x", cs->name, k->out.kind,
                  k->out.check, (unsigned long long)k->out.value, cs->kind, cs->check);
    if (cs->kind == VCORE_VMX_VMFAIL_VALID)
        ck_assert_msg(k->out.vm_error == cs->num, "%s: VM-instruction error %u, expected %u", cs->name,
                      k->out.vm_error, cs->num);
    if (cs->kind == VCORE_VMX_ENTRY_FAIL_EXIT) {
        ck_assert_msg(k->out.exit_reason == (0x80000000u | cs->num), "%s: exit reason %#x, expected %#x",
                      cs->name, k->out.exit_reason, 0x80000000u | cs->num);
        ck_assert_msg(k->out.qualification == cs->qual, "%s: qualification %llu, expected %llu", cs->name,
                      (unsigned long long)k->out.qualification, (unsigned long long)cs->qual);
    }
    if (cs->report)
        ck_assert_msg(ck_reported(k, cs->report), "%s: %#x not reported", cs->name, cs->report);
    ck_fini(k);
    free(k);
}
