/* libFuzzer target: KVM nested-state blobs. The input is XORed onto a valid
 * guest-mode blob (GUEST_MODE, VMXON and vmcs12 pointers, vmcs12 with KVM's
 * revision, launched, using VMCS shadowing, the shadow page with its
 * indicator), so short inputs reach every rule. Invariants: no crash; a
 * refused blob leaves the state unchanged; an accepted one exports back
 * to a blob the importer accepts again, which exports the same bytes. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put(uint8_t *b, size_t off, uint64_t v, size_t n)
{
    memcpy(b + off, &v, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t in[VCORE_KVM_NESTED_MAX_SIZE], out[VCORE_KVM_NESTED_MAX_SIZE],
        again[VCORE_KVM_NESTED_MAX_SIZE];
    vcore_nvmx_t *n = fz_nvmx(40);
    vcore_nvmx_info_t a = {.size = sizeof(a)}, b = {.size = sizeof(b)};
    uint32_t len = 0, len2 = 0;

    memset(in, 0, sizeof(in));
    put(in, 0, VCORE_KVM_NESTED_GUEST_MODE, 2);
    put(in, 4, sizeof(in), 4);
    put(in, 8, 0x10000, 8);
    put(in, 16, 0x11000, 8);
    put(in, 128, VCORE_VMCS12_REVISION, 4);
    put(in, 128 + VCORE_VMCS12_OFF_LAUNCH_STATE, 1, 4);
    if (vcore_vmcs12_set(in + 128, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, 1u << 31) != VCORE_OK ||
        vcore_vmcs12_set(in + 128, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 14) != VCORE_OK ||
        vcore_vmcs12_set(in + 128, VCORE_VMCS_VMCS_LINK_POINTER, 0x13000) != VCORE_OK)
        abort();
    put(in, 128 + 4096, VCORE_VMCS12_REVISION | VCORE_VMCS12_SHADOW_BIT, 4);
    for (size_t i = 0; i < size && i < sizeof(in); i++)
        in[i] ^= data[i];
    size_t ilen = size > sizeof(in) ? sizeof(in) : (size < 128 && size > 0 ? size : sizeof(in));

    if (vcore_nvmx_get_info(n, &a) != VCORE_OK)
        abort();
    if (vcore_nvmx_kvm_import(n, in, ilen, NULL) != VCORE_OK) {
        if (vcore_nvmx_get_info(n, &b) != VCORE_OK)
            abort();
        if (memcmp(&a, &b, sizeof(a)) != 0)
            abort();
        return 0;
    }
    if (vcore_nvmx_kvm_export(n, out, sizeof(out), &len) != VCORE_OK)
        abort();
    if (vcore_nvmx_kvm_import(n, out, len, NULL) != VCORE_OK)
        abort();
    if (vcore_nvmx_kvm_export(n, again, sizeof(again), &len2) != VCORE_OK || len2 != len ||
        memcmp(out, again, len) != 0)
        abort();
    return 0;
}
