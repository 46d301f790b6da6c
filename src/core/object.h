/*
 * object.h - private layout of the VM and vCPU objects.
 *
 * Each object is one block: the core's struct, then (16-byte aligned) the
 * backend's private state. The block comes from the host allocator
 * (*_create) or from caller storage (*_init_static); nothing else is
 * allocated, so a ring-0 embedder can place objects wherever it likes.
 */
#ifndef VCORE_CORE_OBJECT_H
#define VCORE_CORE_OBJECT_H

#include "deps.h"
#include "virtcore/backend.h"
#include "virtcore/error.h"

#define VCORE__VM_MAGIC 0x564d6376u   /* "vcMV" */
#define VCORE__VCPU_MAGIC 0x55504376u /* "vCPU" */
#define VCORE__ALIGN 16u

static inline size_t vcore__align_up(size_t n)
{
    return (n + (VCORE__ALIGN - 1)) & ~(size_t)(VCORE__ALIGN - 1);
}

struct vcore_vm {
    uint32_t magic;
    bool allocated;                      /* made by vcore_vm_create */
    size_t block_size;                   /* bytes of this object's block */
    vcore_vm_config_t cfg;               /* copy of the caller's config */
    vcore_host_t host;                   /* copy of the host services */
    const vcore_backend_t *be;
    vcore_mem_region_t regions[VCORE_VM_MAX_REGIONS]; /* len == 0: free slot */
    uint32_t nvcpus;
    vcore_vcpu_t *vcpus[VCORE_VM_MAX_VCPUS]; /* indexed by vCPU id */
    vcore_diag_t last_diag;
    void *priv;                          /* backend state, after this struct */
};

struct vcore_vcpu {
    uint32_t magic;
    bool allocated;       /* made by vcore_vcpu_create */
    bool bsp;             /* boot processor: RESET sets APIC_BASE.BSP */
    bool has_run;         /* the backend has entered the guest once */
    size_t block_size;
    vcore_vm_t *vm;
    uint32_t id;
    uint32_t cfg_vendor;  /* vendor until a CPUID table names one */
    /* The architectural model and its synchronisation with the backend:
     * valid = classes the model holds up to date, dirty = classes the
     * backend has not seen yet (dirty implies valid). */
    vcore_x86_state_t st;
    uint32_t valid;
    uint32_t dirty;
    /* CPUID table in force (runtime bits kept current) and its model. */
    vcore_x86_cpu_model_t model;
    uint32_t ncpuid;
    vcore_cpuid_entry_t cpuid[VCORE_CPUID_MAX_ENTRIES];
    /* Candidate table of a set in progress: kept here, not on the stack,
     * because ring-0 stacks are small (7 KiB would not fit). */
    vcore_cpuid_entry_t cpuid_scratch[VCORE_CPUID_MAX_ENTRIES];
    vcore_diag_t last_diag;
    void *priv;
};

/* Validates a handle; false for NULL or a foreign pointer. */
static inline bool vcore__vm_ok(const vcore_vm_t *vm)
{
    return vm && vm->magic == VCORE__VM_MAGIC;
}

static inline bool vcore__vcpu_ok(const vcore_vcpu_t *vcpu)
{
    return vcpu && vcpu->magic == VCORE__VCPU_MAGIC;
}

/* vcpu.c: pulls the classes the model does not hold from the backend. */
int vcore__vcpu_sync_in(vcore_vcpu_t *vcpu, uint32_t classes);
/* vcpu_cpuid.c: re-mirrors the runtime CPUID bits after a state change. */
void vcore__vcpu_cpuid_refresh(vcore_vcpu_t *vcpu);
/* vcpu_cpuid.c: the vendor whose rules apply to the vCPU now. */
uint32_t vcore__vcpu_vendor(const vcore_vcpu_t *vcpu);

#endif /* VCORE_CORE_OBJECT_H */
