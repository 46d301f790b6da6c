/* libFuzzer target: KVM nested-state blobs. Invariants: no crash; a
 * refused blob leaves the state unchanged; an accepted one exports back
 * to a blob the importer accepts again. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[VCORE_KVM_NESTED_MAX_SIZE];
    vcore_nvmx_t *n = fz_nvmx(40);
    vcore_nvmx_info_t a = {.size = sizeof(a)}, b = {.size = sizeof(b)};
    uint32_t len = 0;

    if (vcore_nvmx_get_info(n, &a) != VCORE_OK)
        abort();
    if (vcore_nvmx_kvm_import(n, data, size, NULL) != VCORE_OK) {
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
    return 0;
}
