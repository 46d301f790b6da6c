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
#include "diag_set.h"

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
    const vcore_backend_t *be;           /* the caller's table (identity, for backends) */
    vcore_backend_t ops;                 /* the table with absent trailing ops NULL (ABI growth) */
    vcore_mem_region_t regions[VCORE_VM_MAX_REGIONS]; /* len == 0: free slot */
    uint32_t last_region;                /* slot of the last region an access hit (a hint) */
    uint32_t map_gen;                    /* bumped when memory is unmapped (shadow EPTs drop what they derived) */
    uint32_t nvcpus;
    vcore_vcpu_t *vcpus[VCORE_VM_MAX_VCPUS]; /* indexed by vCPU id */
    vcore_diag_t last_diag;
    struct vcore__hv *hv;                /* Hyper-V enlightenments (x86/hyperv); NULL unless enabled */
    void *priv;                          /* backend state, after this struct */
};

/* The x86 part of a vCPU: the architectural model and the CPUID tables. */
typedef struct vcore__x86_vcpu {
    vcore_x86_state_t st;
    uint32_t cfg_vendor;  /* vendor until a CPUID table names one */
    /* CPUID table in force (runtime bits kept current) and its model. */
    vcore_x86_cpu_model_t model;
    uint32_t ncpuid;
    vcore_cpuid_entry_t cpuid[VCORE_CPUID_MAX_ENTRIES];
    /* Candidate table of a set in progress: kept here, not on the stack,
     * because ring-0 stacks are small (7 KiB would not fit). */
    vcore_cpuid_entry_t cpuid_scratch[VCORE_CPUID_MAX_ENTRIES];
    /* Inputs of the runtime CPUID bits as last mirrored (CR4.OSXSAVE/OSPKE,
     * APIC_BASE.EN, MISC_ENABLE.MONITOR, XCR0): a state change that leaves
     * them alone does not rescan the table. */
    uint64_t mirrored_cr4, mirrored_apic_base, mirrored_misc_enable, mirrored_xcr0;
    bool mirrored_valid;
    /* Event delivery (vcpu_events.c): what the core queued and must still
     * deliver (VCORE__QUEUED_* bits), the windows it opened for them, and
     * the windows the VMM asked for itself (the backend sees their union). */
    uint32_t queued;
    bool core_irq_window, core_nmi_window;
    bool vmm_irq_window, vmm_nmi_window;
    bool shutdown_pending; /* exceptions combined into a triple fault */
    bool init_latched;     /* INIT arrived in VMX root operation */
} vcore__x86_vcpu_t;

/* The arm64 part of a vCPU. */
typedef struct vcore__arm64_vcpu {
    vcore_arm64_state_t st;
} vcore__arm64_vcpu_t;

struct vcore_vcpu {
    uint32_t magic;
    bool allocated;       /* made by vcore_vcpu_create */
    bool bsp;             /* boot processor: RESET sets APIC_BASE.BSP */
    bool has_run;         /* the backend has entered the guest once */
    size_t block_size;
    vcore_vm_t *vm;
    uint32_t id;
    uint32_t arch;        /* vcore_arch_t, the VM's */
    /* The architectural model and its synchronisation with the backend,
     * per state group: valid = groups the model holds up to date, dirty =
     * groups the backend has not seen yet (dirty implies valid). */
    vcore_vcpu_state_t state; /* tagged pointer into x86->st or arm64->st */
    uint32_t valid;
    uint32_t dirty;
    uint32_t held;              /* groups the backend holds (its state_groups, 0 = all) */
    /* Times the x86 TSC group was marked dirty: the backend makes the TSC
     * it is given with vmcs01's TSC offset, which nested VMX reads once
     * (vcpu_nested_tsc.c) and again when this has moved. */
    uint32_t tsc_writes;
    vcore__x86_vcpu_t *x86;     /* NULL unless arch is x86-64 */
    vcore__arm64_vcpu_t *arm64; /* NULL unless arch is arm64 */
    vcore_nvmx_t *nvmx;         /* nested VMX state; NULL unless enabled */
    vcore_nsvm_t *nsvm;         /* nested SVM state; NULL unless enabled */
    uint32_t reply_pending;     /* reason of the exit waiting for a reply, 0 if none */
    uint32_t exit_flags_owed;   /* VCORE_EXIT_F_* the next exit handed to the VMM carries (vcore_vcpu_run) */
    /* The run loop's before-entry steps run on every entry: an arm64 vCPU,
     * nested SVM or a Hyper-V VM (fixed when the vCPU is set up: Hyper-V
     * is enabled before any vCPU exists). */
    bool entry_always;
    bool hv; /* the VM has Hyper-V (vm->hv), fixed for the vCPU's life: one load for the run loop */
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

/* Accepts a public struct whose size is at least the first published size. */
#define VCORE__SIZE_AT_LEAST(p, min) ((p)->size >= (min))

/* vcpu.c: the architectural RESET of a valid vCPU (cannot fail). */
void vcore__vcpu_reset(vcore_vcpu_t *vcpu);
/* vcpu.c: releases a vCPU's backend state and its slot in the VM (not its memory). */
void vcore__vcpu_teardown(vcore_vcpu_t *vcpu);
/* vcpu_sync.c: returns VCORE_ERR_UNSUPPORTED with the WRONG_ARCH diagnostic. */
int vcore__vcpu_wrong_arch(vcore_vcpu_t *vcpu);

/* vm.c: the memory region holding gpa, or NULL. */
const vcore_mem_region_t *vcore__vm_region_at(const vcore_vm_t *vm, uint64_t gpa);

/* host.c: copies a caller's host services into a full-size structure;
 * members past the caller's size (an older header) are absent (zero). */
void vcore__host_normalize(const vcore_host_t *host, vcore_host_t *out);

/* vcore__vcpu_sync_in, vcore__vcpu_mark_dirty, vcore__vcpu_backend_groups. */
#include "vcpu_sync.h"

#endif /* VCORE_CORE_OBJECT_H */
