/* libFuzzer target: the nested VMX pipeline through vcore_vcpu_run() on the
 * mock. The input gives a vmcs12 (mutations of a valid 64-bit state: field
 * encoding and value pairs, any encoding, any value), L1 memory for the MSR
 * lists and bitmaps, pipeline options, and a stream of events: L1's
 * VMLAUNCH/VMRESUME/VMREAD/VMWRITE and exits of L2 with any exit reason,
 * qualification, interruption information and instruction length, VMfail
 * outcomes of the "processor" included.
 * Invariants: no crash or sanitizer report; the library never writes vmcs01
 * (every field of the mock's vmcs01 stays 0) and never does what the strict
 * VMCS store forbids; a run ends with a defined outcome.
 * Then the nested state (L2 running or not) is exported in KVM's format,
 * patched at fuzzer-chosen bytes and imported into a second vCPU: a refused
 * blob leaves that vCPU's exported state byte-identical; an accepted one
 * exports again and the export imports again; the second vCPU then runs
 * what is left of the script under the same invariants. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <virtcore/backend.h>
#include <virtcore/virtcore.h>
#include <virtcore/x86/nvmx_pipeline.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const vcore_backend_t vcore__backend_mock_ops;

#define RAM (1u << 20)
static uint8_t ram[RAM] __attribute__((aligned(4096)));
static uint8_t page[4096];

typedef struct fz_in {
    const uint8_t *d;
    size_t n, off;
} fz_in_t;

static uint64_t take(fz_in_t *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)(in->off < in->n ? in->d[in->off++] : 0) << (8 * i);
    return v;
}

static void must(int ok)
{
    if (!ok)
        abort();
}

static void set12(uint32_t enc, uint64_t v)
{
    must(vcore_vmcs12_set(page, enc, v) == VCORE_OK);
}

static void ref(void)
{
    memset(page, 0, sizeof(page));
    uint32_t rev = VCORE_VMCS12_REVISION;
    memcpy(page, &rev, 4);
    set12(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL, 0x16);
    set12(VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 0x04006172);
    set12(VCORE_VMCS_VM_EXIT_CONTROLS, 0x00036dfb | (1u << 9));
    set12(VCORE_VMCS_VM_ENTRY_CONTROLS, 0x000011fb | (1u << 9));
    set12(VCORE_VMCS_VMCS_LINK_POINTER, ~0ull);
    set12(VCORE_VMCS_HOST_CR0, 0x80050033);
    set12(VCORE_VMCS_HOST_CR3, 0x1000);
    set12(VCORE_VMCS_HOST_CR4, 0x2020);
    set12(VCORE_VMCS_HOST_CS_SELECTOR, 0x08);
    set12(VCORE_VMCS_HOST_TR_SELECTOR, 0x18);
    set12(VCORE_VMCS_HOST_RIP, 0x200000);
    set12(VCORE_VMCS_GUEST_CR0, 0x80050033);
    set12(VCORE_VMCS_GUEST_CR3, 0x1000);
    set12(VCORE_VMCS_GUEST_CR4, 0x2020);
    set12(VCORE_VMCS_GUEST_DR7, 0x400);
    set12(VCORE_VMCS_GUEST_RIP, 0x401000);
    set12(VCORE_VMCS_GUEST_RFLAGS, 0x2);
    set12(VCORE_VMCS_GUEST_CS_SELECTOR, 0x08);
    set12(VCORE_VMCS_GUEST_CS_LIMIT, 0xffffffff);
    set12(VCORE_VMCS_GUEST_CS_AR_BYTES, 0xa09b);
    set12(VCORE_VMCS_GUEST_SS_SELECTOR, 0x10);
    set12(VCORE_VMCS_GUEST_SS_LIMIT, 0xffffffff);
    set12(VCORE_VMCS_GUEST_SS_AR_BYTES, 0xc093);
    set12(VCORE_VMCS_GUEST_DS_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_ES_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_FS_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_GS_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_LDTR_AR_BYTES, 0x10000);
    set12(VCORE_VMCS_GUEST_TR_SELECTOR, 0x18);
    set12(VCORE_VMCS_GUEST_TR_LIMIT, 0x67);
    set12(VCORE_VMCS_GUEST_TR_AR_BYTES, 0x8b);
}

static void push_basic(vcore_vcpu_t *v, uint32_t reason, uint32_t op, uint32_t info, uint32_t basic)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    e.reason = reason;
    e.u.vmx_insn.op = op;
    e.u.vmx_insn.basic_reason = basic;
    e.u.vmx_insn.insn_info = info;
    e.u.vmx_insn.insn_len = 3;
    (void)vcore_mock_push_exit(v, &e); /* a full queue just drops the event */
}

static void push(vcore_vcpu_t *v, uint32_t reason, uint32_t op, uint32_t info)
{
    push_basic(v, reason, op, info, 0);
}

static void vmcs01_untouched(vcore_vcpu_t *v)
{
    /* vmcs01 is L0's: the pipeline reads it, never writes it. */
    vcore_vmcs_field_info_t fi = {.size = sizeof(fi)};
    for (uint32_t i = 0; i < vcore_vmcs_field_count(); i++) {
        uint64_t val = 1;
        must(vcore_vmcs_field_at(i, &fi) == VCORE_OK);
        must(vcore_mock_vmcs_peek(v, NULL, fi.encoding, &val) == VCORE_OK && val == 0);
    }
    must(vcore_mock_count(v, VCORE_MOCK_OP_VMCS_VIOLATION) == 0);
}

/* Runs until the scripts are used up (the mock then says UNSCRIPTED) or
 * the pipeline refuses; every other error would be a bug. */
static void run_all(vcore_vcpu_t *v)
{
    vcore_exit_t out;
    memset(&out, 0, sizeof(out));
    out.size = sizeof(out);
    for (uint32_t i = 0; i < 64; i++) {
        int err = vcore_vcpu_run(v, &out);
        if (err == VCORE_ERR_UNSCRIPTED || err == VCORE_ERR_UNSUPPORTED || err == VCORE_ERR_HWFAIL)
            break;
        must(err == VCORE_OK);
        if (out.flags & VCORE_EXIT_F_NEEDS_REPLY)
            break;
    }
}

/* L1: 64-bit with paging, CR4.VMXE, IA32_FEATURE_CONTROL locked with VMX. */
static void l1(vcore_vcpu_t *v)
{
    vcore_cpuid_entry_t c[] = {
        {.function = 0, .eax = 1, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69},
        {.function = 1, .eax = 0x50654, .ecx = (1u << 5), .edx = (1u << 6) | (1u << 3) | 1u},
        {.function = 0x80000000, .eax = 0x80000008},
        {.function = 0x80000001, .edx = (1u << 29) | (1u << 20)},
        {.function = 0x80000008, .eax = 0x3028},
    };
    must(vcore_vcpu_set_cpuid(v, c, 5) == VCORE_OK);
    uint64_t pte[3] = {0x2000 | 3, 0x3000 | 3, 0x83};
    must(vcore_vm_write_guest(vcore_vcpu_vm(v), 0x1000, &pte[0], 8) == VCORE_OK);
    must(vcore_vm_write_guest(vcore_vcpu_vm(v), 0x2000, &pte[1], 8) == VCORE_OK);
    must(vcore_vm_write_guest(vcore_vcpu_vm(v), 0x3000, &pte[2], 8) == VCORE_OK);
    vcore_x86_sregs_t s = {.size = sizeof(s)};
    must(vcore_vcpu_get_sregs(v, &s) == VCORE_OK);
    s.cr0 = 0x80050033ull;
    s.cr3 = 0x1000;
    s.cr4 = 0x2020;
    s.efer = 0xd00;
    for (int i = 0; i < 6; i++) {
        s.seg[i].limit = 0xffffffff;
        s.seg[i].selector = 0x10;
        s.seg[i].ar = 0xc093;
    }
    s.seg[1].selector = 0x8;
    s.seg[1].ar = 0xa09b;
    must(vcore_vcpu_set_sregs(v, &s) == VCORE_OK);
    must(vcore_vcpu_set_msr(v, 0x3a, 5) == VCORE_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_in_t in = {data, size, 0};
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = &vcore__backend_mock_ops;
    cfg.max_vcpus = 2;
    vcore_vm_t *vm;
    vcore_vcpu_t *v;
    must(vcore_vm_create(&cfg, &vm) == VCORE_OK);
    memset(ram, 0, sizeof(ram));
    vcore_mem_region_t r = {.size = sizeof(r), .gpa = 0, .len = RAM, .hva = ram};
    must(vcore_vm_map_memory(vm, &r) == VCORE_OK);
    vcore_vcpu_config_t vc;
    vcore_vcpu_config_init(&vc);
    vc.nested = VCORE_NESTED_VMX;
    must(vcore_vcpu_create(vm, &vc, &v) == VCORE_OK);
    vcore_nvmx_t *nv = vcore_vcpu_nvmx(v);
    must(vcore_nvmx_set_options(nv, (uint32_t)take(&in, 1) & 7u) == VCORE_OK);
    /* Patches of the exported nested-state blob: offset, byte. */
    uint32_t npatch = (uint32_t)take(&in, 1) & 7u, patch_off[8];
    uint8_t patch_val[8];
    for (uint32_t i = 0; i < npatch; i++) {
        patch_off[i] = (uint32_t)take(&in, 2) % (128u + 4096u);
        patch_val[i] = (uint8_t)take(&in, 1);
    }
    l1(v);
    /* vmcs12: the reference state with up to 16 fuzzer-chosen field writes. */
    ref();
    uint32_t nmut = (uint32_t)take(&in, 1) & 15u;
    for (uint32_t i = 0; i < nmut; i++) {
        uint32_t enc = (uint32_t)take(&in, 2);
        uint64_t val = take(&in, 8);
        (void)vcore_vmcs12_set(page, enc, val); /* unknown encodings are skipped */
    }
    /* L1 memory: MSR lists and bitmaps live in the first 64 KiB above 0x30000. */
    uint32_t nmem = (uint32_t)take(&in, 1) & 31u;
    for (uint32_t i = 0; i < nmem; i++) {
        uint64_t gpa = 0x30000u + (take(&in, 2) & 0xfff8u);
        uint64_t val = take(&in, 8);
        must(vcore_vm_write_guest(vm, gpa, &val, 8) == VCORE_OK);
    }
    uint32_t rev = VCORE_VMCS12_REVISION;
    uint64_t p = 0x10000;
    must(vcore_vm_write_guest(vm, 0x10000, &rev, 4) == VCORE_OK);
    must(vcore_vm_write_guest(vm, 0x11000, page, sizeof(page)) == VCORE_OK);
    must(vcore_vm_write_guest(vm, 0x20000, &p, 8) == VCORE_OK);
    vcore_x86_regs_t regs = {.size = sizeof(regs)};
    must(vcore_vcpu_get_regs(v, &regs) == VCORE_OK);
    regs.gpr[3] = 0x20000;
    must(vcore_vcpu_set_regs(v, &regs) == VCORE_OK);
    const uint32_t mem_rbx = (2u << 7) | (3u << 15) | (1u << 22) | (3u << 23);
    push(v, VCORE_EXIT_VMX_INSN, VCORE_NVMX_VMXON, mem_rbx);
    vcore_exit_t out;
    memset(&out, 0, sizeof(out));
    out.size = sizeof(out);
    push(v, VCORE_EXIT_HLT, 0, 0);
    must(vcore_vcpu_run(v, &out) == VCORE_OK && out.reason == VCORE_EXIT_HLT);
    p = 0x11000;
    must(vcore_vm_write_guest(vm, 0x20000, &p, 8) == VCORE_OK);
    push(v, VCORE_EXIT_VMX_INSN, VCORE_NVMX_VMPTRLD, mem_rbx);
    /* The event stream. */
    for (uint32_t step = 0; step < 24 && in.off < in.n; step++) {
        uint32_t k = (uint32_t)take(&in, 1);
        switch (k & 7u) {
        case 0:
            push(v, VCORE_EXIT_VMX_INSN, VCORE_NVMX_VMLAUNCH, 0);
            break;
        case 1:
            push(v, VCORE_EXIT_VMX_INSN, VCORE_NVMX_VMRESUME, 0);
            break;
        case 2:
        case 3: { /* VMREAD / VMWRITE, register operands RCX, RDX */
            must(vcore_vcpu_get_regs(v, &regs) == VCORE_OK);
            regs.gpr[2] = take(&in, 2);
            regs.gpr[1] = take(&in, 8);
            must(vcore_vcpu_set_regs(v, &regs) == VCORE_OK);
            /* The processor's basic exit reason for the op, or (bit 3) the
             * other one's, which no processor reports: nothing may crash. */
            bool read = (k & 7u) == 2;
            push_basic(v, VCORE_EXIT_VMX_INSN, read ? VCORE_NVMX_VMREAD : VCORE_NVMX_VMWRITE,
                       (1u << 10) | (1u << 3) | (2u << 7) | (2u << 28),
                       read != ((k >> 3) & 1u) ? VCORE_VMX_EXIT_VMREAD : VCORE_VMX_EXIT_VMWRITE);
            break;
        }
        default: { /* an outcome of the processor for vmcs02 */
            vcore_mock_vmcs_exit_t x;
            memset(&x, 0, sizeof(x));
            x.size = sizeof(x);
            x.kind = (uint32_t)(k >> 3) % 3u;
            x.vm_error = (uint32_t)take(&in, 1) & 31u;
            x.exit_reason = (uint32_t)take(&in, 1) % 80u;
            if (k & 0x80u)
                x.exit_reason |= 1u << 31;
            x.nfields = 4;
            x.fields[0].encoding = VCORE_VMCS_EXIT_QUALIFICATION;
            x.fields[0].value = take(&in, 8);
            x.fields[1].encoding = VCORE_VMCS_VM_EXIT_INTR_INFO;
            x.fields[1].value = take(&in, 4);
            x.fields[2].encoding = VCORE_VMCS_VM_EXIT_INSTRUCTION_LEN;
            x.fields[2].value = take(&in, 1) & 15u;
            x.fields[3].encoding = VCORE_VMCS_IDT_VECTORING_INFO_FIELD;
            x.fields[3].value = take(&in, 4);
            (void)vcore_mock_push_vmcs_exit(v, &x);
            break;
        }
        }
    }
    run_all(v);
    vmcs01_untouched(v);
    /* The state in KVM's format into a second vCPU. */
    static uint8_t blob[VCORE_KVM_NESTED_MAX_SIZE], before[VCORE_KVM_NESTED_MAX_SIZE],
        after[VCORE_KVM_NESTED_MAX_SIZE];
    uint32_t len = 0, n0 = 0, n1 = 0;
    int gerr = vcore_nvmx_vcpu_get_state(v, blob, sizeof(blob), &len);
    must(gerr == VCORE_OK || gerr == VCORE_ERR_STATE || gerr == VCORE_ERR_HWFAIL);
    if (gerr == VCORE_OK) {
        vcore_vcpu_t *w;
        vc.id = 1;
        must(vcore_vcpu_create(vm, &vc, &w) == VCORE_OK);
        l1(w);
        for (uint32_t i = 0; i < npatch; i++)
            blob[patch_off[i]] ^= patch_val[i];
        must(vcore_nvmx_vcpu_get_state(w, before, sizeof(before), &n0) == VCORE_OK);
        if (vcore_nvmx_vcpu_set_state(w, blob, sizeof(blob), NULL) != VCORE_OK) {
            must(vcore_nvmx_vcpu_get_state(w, after, sizeof(after), &n1) == VCORE_OK);
            must(n0 == n1 && memcmp(before, after, n0) == 0);
        } else {
            must(vcore_nvmx_vcpu_get_state(w, after, sizeof(after), &n1) == VCORE_OK);
            must(vcore_nvmx_vcpu_set_state(w, after, n1, NULL) == VCORE_OK);
            must(vcore_nvmx_vcpu_get_state(w, before, sizeof(before), &n0) == VCORE_OK);
            must(n0 == n1 && memcmp(before, after, n0) == 0);
            /* the rest of v's script, now on w */
            for (uint32_t i = 0; i < 4; i++) {
                vcore_mock_vmcs_exit_t x;
                memset(&x, 0, sizeof(x));
                x.size = sizeof(x);
                x.exit_reason = (uint32_t)take(&in, 1) % 80u;
                x.nfields = 1;
                x.fields[0].encoding = VCORE_VMCS_EXIT_QUALIFICATION;
                x.fields[0].value = take(&in, 8);
                (void)vcore_mock_push_vmcs_exit(w, &x);
                push(w, VCORE_EXIT_HLT, 0, 0);
            }
            run_all(w);
        }
        vmcs01_untouched(w);
    }
    vcore_vm_destroy(vm);
    return 0;
}
