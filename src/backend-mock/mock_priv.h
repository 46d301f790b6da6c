/* mock_priv.h - private state of the mock backend, shared by its two files. */
#ifndef VCORE_MOCK_PRIV_H
#define VCORE_MOCK_PRIV_H

#include "core/deps.h"
#include "virtcore/backend.h"
#include "virtcore/error.h"
#include "virtcore/mock.h"

/* Bytes of the buffer that carries string-I/O data (one page, as KVM). */
#define VCORE__MOCK_IO_BUF 4096u

/* VM-level counters (VM_INIT, VM_MAP, VM_UNMAP). */
typedef struct vcore__mock_vm {
    uint64_t counts[VCORE_MOCK_OP_COUNT];
} vcore__mock_vm_t;

typedef struct vcore__mock_vcpu {
    vcore_x86_state_t st;                        /* the "hardware" registers */
    vcore_exit_t script[VCORE_MOCK_MAX_SCRIPT];  /* ring of scripted exits */
    uint32_t head;
    uint32_t count;
    uint64_t counts[VCORE_MOCK_OP_COUNT];
    int fail_next[VCORE_MOCK_OP_COUNT];          /* one-shot injected errors */
    uint32_t pending;                            /* reason of the exit awaiting a reply, 0 if none */
    bool have_reply;
    vcore_exit_t last_reply;
    int kicked;                                  /* set by kick (atomic), consumed by run */
    uint32_t ncpuid;
    vcore_cpuid_entry_t cpuid[VCORE_CPUID_MAX_ENTRIES];
    uint8_t io_buf[VCORE__MOCK_IO_BUF];
} vcore__mock_vcpu_t;

extern const vcore_backend_t vcore__backend_mock_ops;

/* The mock state of a vCPU, or NULL if it does not run on the mock. */
vcore__mock_vcpu_t *vcore__mock_of(const vcore_vcpu_t *vcpu);

#endif
