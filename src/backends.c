/*
 * backends.c - the table of built-in backends.
 *
 * Not in src/core: the core never refers to a backend. Each getter exists in
 * every build and returns NULL when its backend was not compiled in.
 */
#include "backends_config.h"
#include "core/deps.h"
#include "virtcore/backend.h"
#include "virtcore/backends.h"
#include "virtcore/error.h"

#if VIRTCORE_BACKEND_MOCK
extern const vcore_backend_t vcore__backend_mock_ops;
#endif
#if VIRTCORE_BACKEND_KVM
extern const vcore_backend_t vcore__backend_kvm_ops;
#endif
#if VIRTCORE_BACKEND_VMX
extern const vcore_backend_t vcore__backend_vmx_ops;
#endif
#if VIRTCORE_BACKEND_SVM
extern const vcore_backend_t vcore__backend_svm_ops;
#endif
#if VIRTCORE_BACKEND_ARM64
extern const vcore_backend_t vcore__backend_arm64_ops;
#endif

const vcore_backend_t *vcore_backend_mock(void)
{
#if VIRTCORE_BACKEND_MOCK
    return &vcore__backend_mock_ops;
#else
    return NULL;
#endif
}

const vcore_backend_t *vcore_backend_kvm(void)
{
#if VIRTCORE_BACKEND_KVM
    return &vcore__backend_kvm_ops;
#else
    return NULL;
#endif
}

const vcore_backend_t *vcore_backend_vmx(void)
{
#if VIRTCORE_BACKEND_VMX
    return &vcore__backend_vmx_ops;
#else
    return NULL;
#endif
}

const vcore_backend_t *vcore_backend_svm(void)
{
#if VIRTCORE_BACKEND_SVM
    return &vcore__backend_svm_ops;
#else
    return NULL;
#endif
}

const vcore_backend_t *vcore_backend_arm64(void)
{
#if VIRTCORE_BACKEND_ARM64
    return &vcore__backend_arm64_ops;
#else
    return NULL;
#endif
}

/* Preference order for vcore_backend_best(): hardware first, mock last. */
static const vcore_backend_t *(*const vcore__backend_getters[])(void) = {
    vcore_backend_kvm, vcore_backend_vmx, vcore_backend_svm, vcore_backend_arm64,
    vcore_backend_mock,
};

static bool vcore__streq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

const vcore_backend_t *vcore_backend_by_name(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(vcore__backend_getters); i++) {
        const vcore_backend_t *be = vcore__backend_getters[i]();
        if (be && vcore__streq(be->name, name))
            return be;
    }
    return NULL;
}

static bool vcore__backend_runs(const vcore_backend_t *be, const vcore_host_t *host)
{
    if (!be || vcore_backend_validate(be) != VCORE_OK)
        return false;
    return !be->probe || be->probe(host) == VCORE_OK;
}

bool vcore_backend_available(const char *name)
{
    return vcore__backend_runs(vcore_backend_by_name(name), vcore_host_default());
}

const vcore_backend_t *vcore_backend_best(uint32_t arch, const vcore_host_t *host)
{
    if (arch != VCORE_ARCH_X86_64 && arch != VCORE_ARCH_ARM64)
        return NULL;
    if (!host)
        host = vcore_host_default();
    for (size_t i = 0; i < VCORE__ARRAY_SIZE(vcore__backend_getters); i++) {
        const vcore_backend_t *be = vcore__backend_getters[i]();
        if (be && (be->arches & (1u << arch)) && vcore__backend_runs(be, host))
            return be;
    }
    return NULL;
}
