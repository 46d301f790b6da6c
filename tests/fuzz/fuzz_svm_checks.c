/* libFuzzer target: the VMRUN consistency checks on fuzzer-made snapshots.
 * The input chooses L1's physical-address width, SVM features, EFER and
 * CPUID (none, or a table whose feature words come from the input), and
 * either a raw VMCB page or writes of fuzzer values at fuzzer offsets into
 * a legal 64-bit reference VMCB.
 *
 * Invariants: no crash; the same verdict twice; report-all decides like
 * verdict-only and lists the verdict first; the verdict is VMRUN_OK
 * exactly when no check fails; the VMCB is never written. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <virtcore/x86/svm_checks.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fz_in {
    const uint8_t *d;
    size_t n, off;
} fz_in_t;

static uint64_t fz_take(fz_in_t *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v |= (uint64_t)(in->off < in->n ? in->d[in->off++] : 0) << (8 * i);
    return v;
}

/* A legal long-mode guest (the unit tests' reference). */
static void fz_reference(vcore_vmcb_t *v)
{
    memset(v, 0, sizeof(*v));
    vcore_vmcb_intercept_set(&v->control, VCORE_VMCB_INTERCEPT_VMRUN, true);
    v->control.iopm_base_pa = 0x100000;
    v->control.msrpm_base_pa = 0x104000;
    v->control.asid = 1;
    v->save.efer = 0x1d01;
    v->save.cr0 = 0x80000031;
    v->save.cr3 = 0x1000;
    v->save.cr4 = 0x20;
    v->save.dr6 = 0xffff0ff0;
    v->save.dr7 = 0x400;
    v->save.rflags = 2;
    v->save.cs.attrib = 0x29b;
    v->save.g_pat = 0x0007040600070406ull;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vcore_vmcb_t vmcb, copy;
    fz_in_t in = {data, size, 0};
    vcore_cpuid_entry_t t[4];
    vcore_svm_check_input_t x;
    vcore_svm_verdict_t a, b, c;
    vcore_svm_check_failure_t f[8];
    uint8_t mode = (uint8_t)fz_take(&in, 1);

    memset(&x, 0, sizeof(x));
    x.size = sizeof(x);
    x.vmcb12 = &vmcb;
    x.maxphyaddr = 32u + (uint32_t)(fz_take(&in, 1) % 21u);
    x.svm_features = (uint32_t)fz_take(&in, 4);
    x.l1_efer = fz_take(&in, 8);
    if (mode & 1) {
        t[0] = (vcore_cpuid_entry_t){0x80000000u, 0, 0, 0x8000001fu, 0, 0, 0};
        t[1] = (vcore_cpuid_entry_t){0x80000001u, 0, 0, 0, (uint32_t)fz_take(&in, 4), 0,
                                     (uint32_t)fz_take(&in, 4)};
        t[2] = (vcore_cpuid_entry_t){0x00000001u, 0, 0, 0, 0, (uint32_t)fz_take(&in, 4), 0};
        t[3] = (vcore_cpuid_entry_t){0x00000007u, 0, 0, 0, (uint32_t)fz_take(&in, 4),
                                     (uint32_t)fz_take(&in, 4), (uint32_t)fz_take(&in, 4)};
        x.cpuid = t;
        x.ncpuid = 4;
    }
    if (mode & 2) {
        /* a raw page */
        memset(&vmcb, 0, sizeof(vmcb));
        size_t left = in.n - in.off;
        memcpy(&vmcb, in.d + in.off, left < sizeof(vmcb) ? left : sizeof(vmcb));
    } else {
        /* writes into the reference */
        fz_reference(&vmcb);
        while (in.off < in.n) {
            uint32_t off = (uint32_t)fz_take(&in, 2) % VCORE_VMCB_SIZE;
            static const uint32_t widths[4] = {1, 2, 4, 8};
            uint32_t w = widths[fz_take(&in, 1) & 3u];
            uint64_t val = fz_take(&in, 8);
            (void)vcore_vmcb_write(&vmcb, off & ~(w - 1u), w, val);
        }
    }
    memcpy(&copy, &vmcb, sizeof(vmcb));

    /* zeroed first: the padding takes part in the memcmp below */
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    a.size = b.size = c.size = sizeof(a);
    if (vcore_svm_check_vmrun(&x, &a, NULL, 0) != VCORE_OK ||
        vcore_svm_check_vmrun(&x, &b, NULL, 0) != VCORE_OK ||
        vcore_svm_check_vmrun(&x, &c, f, 8) != VCORE_OK)
        abort();
    if (memcmp(&a, &b, sizeof(a)) != 0)
        abort(); /* deterministic */
    if (a.check != c.check || a.kind != c.kind || a.value != c.value || a.exit_code != c.exit_code)
        abort(); /* report-all decides like verdict-only */
    if ((c.failures == 0) != (a.kind == VCORE_SVM_VMRUN_OK))
        abort();
    if (c.failures != 0 && (f[0].check != a.check || f[0].value != a.value))
        abort();
    if (a.kind == VCORE_SVM_VMRUN_INVALID) {
        vcore_svm_check_info_t info = {.size = sizeof(info)};
        if (a.exit_code != VCORE_VMEXIT_INVALID_CODE || vcore_svm_check_describe(a.check, &info) != VCORE_OK)
            abort();
    }
    if (memcmp(&copy, &vmcb, sizeof(vmcb)) != 0)
        abort(); /* never written */
    return 0;
}
