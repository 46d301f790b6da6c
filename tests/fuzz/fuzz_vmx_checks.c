/* libFuzzer target: the VM-entry checks on fuzzer-made snapshots. The
 * input chooses the capabilities (Bochs corei7_skylake_x or the library's
 * emulated set, with allowed-1 bits added), the snapshot scalars, a few
 * CPUID leaves, and either a raw vmcs12 page or mutations of a valid 64-bit
 * reference state; the rest of the input is L1 memory (MSR-load lists,
 * link-pointer VMCS headers, PDPTEs, VTPR).
 *
 * Invariants: no crash; the same verdict twice; report-all decides like
 * verdict-only and lists the verdict first; the vmcs12 page and memory are
 * never written. */
#include "fuzz_common.h"

#include <virtcore/x86/vmx_checks.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t fz_bochs[VCORE_NVMX_NR_CAPS] = {
    0x00d810000000002bull, 0x0000007f00000016ull, 0xf7f9fffe0401e172ull, 0x007fffff00036dffull,
    0x0000ffff000011ffull, 0x00000000600401e0ull, 0x0000000080000021ull, 0x00000000ffffffffull,
    0x0000000000002000ull, 0x00000000003727ffull, 0x0000000000000034ull, 0x02177fff00000000ull,
    0x00000f0106334141ull, 0x0000007f00000016ull, 0xf7f9fffe04006172ull, 0x007fffff00036dfbull,
    0x0000ffff000011fbull, 0x0000000000000001ull,
};

static int fz_no_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    (void)gpa;
    (void)buf;
    (void)len;
    abort(); /* the checks never write L1 memory */
}

static void fz_set(uint8_t *page, uint32_t enc, uint64_t v)
{
    if (vcore_vmcs12_set(page, enc, v) != VCORE_OK)
        abort(); /* every field of the reference state is a vmcs12 field */
}

/* The valid 64-bit reference state of the unit tests (Bochs capabilities). */
static void fz_reference(uint8_t *p)
{
    uint32_t rev = 0x2b;
    memset(p, 0, VCORE_VMCS12_SIZE);
    memcpy(p, &rev, 4);
    fz_set(p, VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16);
    fz_set(p, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172);
    fz_set(p, VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036ffb);
    fz_set(p, VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000013fb);
    fz_set(p, VCORE_VMCS_VMCS_LINK_POINTER, ~0ull);
    fz_set(p, VCORE_VMCS_HOST_CR0, 0x80050033);
    fz_set(p, VCORE_VMCS_HOST_CR3, 0x1000);
    fz_set(p, VCORE_VMCS_HOST_CR4, 0x2020);
    fz_set(p, VCORE_VMCS_HOST_CS_SELECTOR, 0x08);
    fz_set(p, VCORE_VMCS_HOST_SS_SELECTOR, 0x10);
    fz_set(p, VCORE_VMCS_HOST_TR_SELECTOR, 0x18);
    fz_set(p, VCORE_VMCS_HOST_RIP, 0x401000);
    fz_set(p, VCORE_VMCS_GUEST_CR0, 0x80050033);
    fz_set(p, VCORE_VMCS_GUEST_CR3, 0x1000);
    fz_set(p, VCORE_VMCS_GUEST_CR4, 0x2020);
    fz_set(p, VCORE_VMCS_GUEST_RIP, 0x401000);
    fz_set(p, VCORE_VMCS_GUEST_RFLAGS, 2);
    fz_set(p, VCORE_VMCS_GUEST_CS_SELECTOR, 0x08);
    fz_set(p, VCORE_VMCS_GUEST_CS_LIMIT, 0xffffffff);
    fz_set(p, VCORE_VMCS_GUEST_CS_AR_BYTES, 0xa09b);
    fz_set(p, VCORE_VMCS_GUEST_SS_SELECTOR, 0x10);
    fz_set(p, VCORE_VMCS_GUEST_SS_LIMIT, 0xffffffff);
    fz_set(p, VCORE_VMCS_GUEST_SS_AR_BYTES, 0xc093);
    fz_set(p, VCORE_VMCS_GUEST_DS_AR_BYTES, 0x10000);
    fz_set(p, VCORE_VMCS_GUEST_ES_AR_BYTES, 0x10000);
    fz_set(p, VCORE_VMCS_GUEST_FS_AR_BYTES, 0x10000);
    fz_set(p, VCORE_VMCS_GUEST_GS_AR_BYTES, 0x10000);
    fz_set(p, VCORE_VMCS_GUEST_LDTR_AR_BYTES, 0x10000);
    fz_set(p, VCORE_VMCS_GUEST_TR_SELECTOR, 0x18);
    fz_set(p, VCORE_VMCS_GUEST_TR_LIMIT, 0x67);
    fz_set(p, VCORE_VMCS_GUEST_TR_AR_BYTES, 0x8b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t page[VCORE_VMCS12_SIZE] __attribute__((aligned(8)));
    static uint8_t before[VCORE_VMCS12_SIZE];
    static vcore_vmx_check_failure_t fails[64];
    vcore_nvmx_caps_t caps = {.size = sizeof(caps)};
    vcore_cpuid_entry_t cpuid[4];
    vcore_nvmx_mem_t mem = {.size = sizeof(mem), .ctx = NULL, .read = fz_read, .write = fz_no_write};
    vcore_vmx_check_input_t in = {.size = sizeof(in)};
    vcore_vmx_verdict_t a = {.size = sizeof(a)}, b = {.size = sizeof(b)}, c = {.size = sizeof(c)};
    fz_in_t x = {data, size, 0};
    uint64_t mode = fz_take(&x, 1);

    /* Capabilities: one of two consistent sets, with some allowed-1 bits added. */
    if (mode & 1)
        (void)vcore_nvmx_caps_emulated(&caps); /* fills the set; the status reports only a NULL argument */
    else
        memcpy(caps.msr, fz_bochs, sizeof(caps.msr));
    for (unsigned i = 0; i < 2; i++) {
        uint64_t k = fz_take(&x, 1) % VCORE_NVMX_NR_CAPS;
        caps.msr[k] |= fz_take(&x, 4) << 32;
    }
    caps.msr[VCORE_NVMX_CAP_MISC] ^= fz_take(&x, 4) & 0x7e0001e0ull; /* activity states, list size, flags */

    /* Snapshot scalars. */
    in.vmcs12 = page;
    in.caps = &caps;
    in.maxphyaddr = 32 + (uint32_t)(fz_take(&x, 1) % 21);
    in.l1_efer = (mode & 2) ? 0xd01 : fz_take(&x, 2);
    in.movss_blocking = (mode & 4) != 0;
    in.resume = (mode & 8) != 0;
    in.launch_state = (mode & 16) ? 1 : 0;
    in.current_vmptr = (mode & 32) ? fz_take(&x, 8) : 0x1000;
    in.vmxon_ptr = 0x2000;
    in.mem = (mode & 64) ? NULL : &mem;
    memset(cpuid, 0, sizeof(cpuid));
    cpuid[0].function = 7;
    cpuid[0].flags = VCORE_CPUID_FLAG_INDEX_SIGNIFICANT;
    cpuid[0].ebx = (uint32_t)fz_take(&x, 4);
    cpuid[0].ecx = (uint32_t)fz_take(&x, 4);
    cpuid[0].edx = (uint32_t)fz_take(&x, 4);
    cpuid[1].function = 0xa;
    cpuid[1].eax = (uint32_t)fz_take(&x, 4);
    cpuid[1].edx = (uint32_t)fz_take(&x, 1);
    cpuid[2].function = 1;
    cpuid[2].ecx = (uint32_t)fz_take(&x, 4);
    cpuid[3].function = 0xd;
    cpuid[3].index = 1;
    cpuid[3].flags = VCORE_CPUID_FLAG_INDEX_SIGNIFICANT;
    cpuid[3].eax = (uint32_t)fz_take(&x, 1);
    cpuid[3].ecx = (uint32_t)fz_take(&x, 4);
    in.cpuid = cpuid;
    in.ncpuid = 4;

    /* vmcs12: raw bytes, or field writes on the reference state. */
    if (mode & 128) {
        memset(page, 0, sizeof(page));
        for (size_t i = 0; i < sizeof(page) && x.off < x.n; i++)
            page[i] = (uint8_t)fz_take(&x, 1);
    } else {
        vcore_vmcs_field_info_t fi = {.size = sizeof(fi)};
        fz_reference(page);
        for (unsigned m = fz_take(&x, 1) % 8; m > 0; m--) {
            if (vcore_vmcs_field_at((uint32_t)(fz_take(&x, 2) % vcore_vmcs_field_count()), &fi) == VCORE_OK)
                fz_set(page, fi.encoding, fz_take(&x, 8));
        }
    }
    /* L1 memory: what is left of the input. */
    memset(fz_ram, 0, FZ_RAM);
    if (x.off < x.n)
        memcpy(fz_ram, x.d + x.off, x.n - x.off < FZ_RAM ? x.n - x.off : FZ_RAM);
    memcpy(before, page, sizeof(page));

    if (vcore_vmx_check_entry(&in, &a, NULL, 0) != VCORE_OK)
        abort();
    if (vcore_vmx_check_entry(&in, &b, fails, 64) != VCORE_OK)
        abort();
    if (vcore_vmx_check_entry(&in, &c, NULL, 0) != VCORE_OK)
        abort();
    if (memcmp(&a, &c, sizeof(a)) != 0)
        abort(); /* deterministic */
    if (a.kind != b.kind || a.check != b.check || a.value != b.value || a.vm_error != b.vm_error ||
        a.exit_reason != b.exit_reason || a.qualification != b.qualification)
        abort(); /* report-all decides like verdict-only */
    if ((a.kind == VCORE_VMX_ENTRY_OK) != (b.failures == 0))
        abort();
    if (b.failures && (fails[0].check != a.check || fails[0].value != a.value))
        abort(); /* report-all's first entry is the verdict */
    if (a.kind != VCORE_VMX_ENTRY_OK) {
        vcore_vmx_check_info_t info = {.size = sizeof(info)};
        if (vcore_vmx_check_describe(a.check, &info) != VCORE_OK)
            abort();
    }
    if (memcmp(before, page, sizeof(page)) != 0)
        abort(); /* the snapshot is read-only */
    return 0;
}
