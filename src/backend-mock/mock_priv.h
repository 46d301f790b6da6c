/* mock_priv.h - private state of the mock backend, shared by its files. */
#ifndef VCORE_MOCK_PRIV_H
#define VCORE_MOCK_PRIV_H

#include "core/deps.h"
#include "virtcore/backend.h"
#include "virtcore/error.h"
#include "virtcore/mock.h"
#include "virtcore/x86/vmcs.h"
#include "virtcore/x86/nvmx_pipeline.h"
#include "virtcore/x86/vmcb.h"

/* Bytes of the buffer that carries string-I/O data (one page, as KVM). */
#define VCORE__MOCK_IO_BUF 4096u
/* Hardware VMCS objects per vCPU (vmcs01 is number 0). */
#define VCORE__MOCK_NVMCS 8u
/* Queued VMCS entry outcomes per vCPU. */
#define VCORE__MOCK_VMCS_SCRIPT 16u
/* Per-field counters are indexed by vmcs12 offset / 2 (every field starts
 * on an even offset of the 4 KiB page; a _HIGH half shares its field's). */
#define VCORE__MOCK_FIELD_SLOTS (VCORE_VMCS12_SIZE / 2u)

/* VM-level state: counters (VM_INIT, VM_MAP, VM_UNMAP) and the VMX caps. */
typedef struct vcore__mock_vm {
    uint64_t counts[VCORE_MOCK_OP_COUNT];
    bool have_caps;
    vcore_nvmx_caps_t caps;
} vcore__mock_vm_t;

/* One hardware VMCS of the strict store ("VMCS Life Cycle"). */
struct vcore_hw_vmcs {
    bool in_use;
    bool shadow;                  /* shadow-VMCS indicator (revision bit 31) */
    bool launched;                /* launch state: false = clear */
    vcore_vmcs_ctl_shadow_t ctl;  /* write avoidance for the major controls */
    uint64_t reads, writes;       /* VMREADs / VMWRITEs of this VMCS that reached the store */
    uint8_t page[VCORE_VMCS12_SIZE]; /* field values, vmcs12 layout */
};

/* Hardware VMCB objects per vCPU and queued VMCB exits. */
#define VCORE__MOCK_NVMCB 4u
#define VCORE__MOCK_VMCB_SCRIPT 16u

/* One hardware VMCB of the strict store (backend.h, VMCB ops). */
struct vcore_hw_vmcb {
    bool in_use;
    bool ran;             /* ran once: the clean bits may be used */
    uint32_t dirty;       /* clean bits cleared by writes since the last run */
    uint32_t pending;     /* reason of the exit awaiting a reply, 0 if none */
    uint32_t npt;         /* vcore_hw_vmcb_npt_t */
    uint32_t flush;       /* flush requests for the next run */
    uint32_t npt_maps;    /* pages in the shadow nested table */
    bool maps_set;        /* a setup copied permission maps */
    vcore_vmcb_t page;
};

typedef struct vcore__mock_vcpu {
    uint32_t arch;
    vcore_x86_state_t st;                        /* the "hardware" registers (x86) */
    vcore_arm64_state_t a64;                     /* the "hardware" registers (arm64) */
    vcore_exit_t script[VCORE_MOCK_MAX_SCRIPT];  /* ring of scripted exits */
    uint32_t head;
    uint32_t count;
    uint64_t counts[VCORE_MOCK_OP_COUNT];
    uint64_t state_sets[32], state_gets[32];     /* transfers per state group (bit index) */
    int fail_next[VCORE_MOCK_OP_COUNT];          /* one-shot injected errors */
    uint32_t pending;                            /* reason of the exit awaiting a reply, 0 if none */
    bool have_reply;
    vcore_exit_t last_reply;
    bool have_event;
    vcore_mock_event_t last_event;
    bool have_flush;
    vcore_mock_flush_t last_flush;
    bool have_invept;
    bool no_vpid02;                              /* vcpu_vpid02 answers UNSUPPORTED */
    bool have_vpid02_flush;
    vcore_mock_flush_t last_vpid02_flush;        /* the last vcpu_flush_vpid02 */
    uint64_t last_invept;                        /* EPT pointer of the last vcpu_invept */
    /* vmcs01's MSR bitmap as vmx_msr_exits reports it, inverted: a set bit
     * is an access L1 runs without an exit (none by default). */
    uint8_t msr_pass01[VCORE_NVMX_BITMAP_SIZE];
    bool tsc_offsetting;   /* a TSC state write sets vmcs01's TSC offset to tsc - host_tsc */
    uint64_t host_tsc;
    int kicked;                                  /* set by kick (atomic), consumed by run */
    uint32_t ncpuid;
    vcore_cpuid_entry_t cpuid[VCORE_CPUID_MAX_ENTRIES];
    uint8_t io_buf[VCORE__MOCK_IO_BUF];
    /* Hardware VMCS store. */
    struct vcore_hw_vmcs vmcs[VCORE__MOCK_NVMCS];
    struct vcore_hw_vmcs *current;               /* current VMCS, NULL if none */
    vcore_mock_vmcs_exit_t vmcs_script[VCORE__MOCK_VMCS_SCRIPT];
    uint32_t vmcs_head, vmcs_count;
    uint32_t field_reads[VCORE__MOCK_FIELD_SLOTS];
    uint32_t field_writes[VCORE__MOCK_FIELD_SLOTS];
    uint64_t group_reads[VCORE_MOCK_VMCS_GROUP_COUNT];
    uint64_t group_writes[VCORE_MOCK_VMCS_GROUP_COUNT];
    struct vcore_hw_vmcs *last_entered;          /* the VMCS of the last vmcs_enter */
    bool no_ctl_shadow;                          /* measurement: every control write reaches the store */
    /* VMCS shadowing of vmcs01 ("VMCS Shadowing"). */
    struct vcore_hw_vmcs *shadow_link;           /* the linked shadow VMCS; NULL: control 14 is 0 */
    bool have_bitmaps;                           /* the VMREAD/VMWRITE bitmaps were given */
    uint8_t vmread_bitmap[VCORE_NVMX_BITMAP_SIZE];
    uint8_t vmwrite_bitmap[VCORE_NVMX_BITMAP_SIZE];
    /* Hardware VMCB store. */
    struct vcore_hw_vmcb vmcb[VCORE__MOCK_NVMCB];
    struct vcore_hw_vmcb *vmcb_last;             /* the VMCB of the last vmcb_run */
    vcore_mock_vmcb_exit_t vmcb_script[VCORE__MOCK_VMCB_SCRIPT];
    uint32_t vmcb_head, vmcb_count;
    uint64_t vmcb_gprs[16];                      /* the GPRs of the last vmcb_run */
    vcore_mock_vmcb_info_t vmcb_info;
    uint32_t vmcb_reads[VCORE_VMCB_SIZE];
    uint32_t vmcb_writes[VCORE_VMCB_SIZE];
} vcore__mock_vcpu_t;

extern const vcore_backend_t vcore__backend_mock_ops;

/* The mock state of a vCPU, or NULL if it does not run on the mock: by
 * the run op, not the table's address (a test may register a copy of the
 * table with some ops or sizes changed). */
static inline vcore__mock_vcpu_t *vcore__mock_of(const vcore_vcpu_t *vcpu)
{
    const vcore_backend_t *be = vcore_vcpu_backend(vcpu);
    if (!be || be->vcpu_run != vcore__backend_mock_ops.vcpu_run)
        return NULL;
    return vcore_vcpu_backend_priv(vcpu);
}
/* Counts an op and returns the one-shot error injected for it, if any. */
static inline int vcore__mock_op(vcore__mock_vcpu_t *m, uint32_t op)
{
    m->counts[op]++;
    int err = m->fail_next[op];
    m->fail_next[op] = 0;
    return err;
}

/* mock_events.c: delivers injected events and reports open windows before a run.
 * Returns true when *exit holds a window exit (nothing scripted is consumed). */
bool vcore__mock_events_run(vcore__mock_vcpu_t *m, vcore_exit_t *exit);

/* mock_vmcs.c: the hardware VMCS ops. */
int vcore__mock_vmx_caps(vcore_vm_t *vm, void *priv, vcore_nvmx_caps_t *out);
int vcore__mock_vmcs_alloc(vcore_vcpu_t *vcpu, void *priv, bool shadow, vcore_hw_vmcs_t **out);
void vcore__mock_vmcs_free(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs);
int vcore__mock_vmcs_load(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs);
int vcore__mock_vmcs_clear(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs);
int vcore__mock_vmcs_read(vcore_vcpu_t *vcpu, void *priv, uint32_t field, uint64_t *value);
int vcore__mock_vmcs_read_many(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *vmcs, const uint32_t *fields,
                               uint64_t *values, uint32_t count);
int vcore__mock_vmcs_write(vcore_vcpu_t *vcpu, void *priv, uint32_t field, uint64_t value);
int vcore__mock_vmcs_enter(vcore_vcpu_t *vcpu, void *priv, vcore_hw_entry_t *out);
int vcore__mock_vmcs_shadow_link(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcs_t *shadow,
                                 const uint8_t *vmread_bitmap, const uint8_t *vmwrite_bitmap);
/* mock_vmcb.c: the hardware VMCB ops. */
int vcore__mock_vmcb_alloc(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t **out);
void vcore__mock_vmcb_free(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb);
int vcore__mock_vmcb_read(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint32_t offset, uint32_t bytes,
                          uint64_t *value);
int vcore__mock_vmcb_write(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint32_t offset, uint32_t bytes,
                           uint64_t value);
int vcore__mock_vmcb_setup(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, const vcore_hw_vmcb_setup_t *s);
int vcore__mock_vmcb_npt_map(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, uint64_t gpa, uint64_t vm_gpa,
                             uint32_t prot);
int vcore__mock_vmcb_run(vcore_vcpu_t *vcpu, void *priv, vcore_hw_vmcb_t *vmcb, vcore_x86_regs_t *gprs,
                         vcore_exit_t *exit);
/* mock_vmcs.c: vmcs01 of a new vCPU. */
void vcore__mock_vmcs_init(vcore__mock_vcpu_t *m);

#endif
