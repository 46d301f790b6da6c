/*
 * vmcs_layout.h - byte layout of a vmcs12 page (private).
 *
 * Bytes 0..997 follow KVM's `struct vmcs12` field order (revision
 * 0x11e57ed0), a fixed ABI that travels in KVM_GET/SET_NESTED_STATE blobs.
 * The layout here is our own declaration of those facts; the offsets are
 * pinned by static assertions in vmcs_table.c. Fields the SDM defines but
 * KVM's layout does not hold live in the extension area from byte 1024 on.
 *
 * Member names are the field names of the public list (vmcs.h), so the
 * offset table is generated from that list with offsetof().
 */
#ifndef VCORE_CORE_X86_VMCS_LAYOUT_H
#define VCORE_CORE_X86_VMCS_LAYOUT_H

#include "../../deps.h"
#include "virtcore/x86/vmcs.h"

#if defined(__GNUC__)
#define VCORE__PACKED __attribute__((packed))
#else
#error "vmcs_layout.h needs a packed struct"
#endif

typedef struct VCORE__PACKED vcore__vmcs12 {
    /* SDM Vol. 3, "Format of the VMCS Region": revision id (bit 31 = shadow
     * indicator) and the VMX-abort indicator come first. */
    uint32_t revision;
    uint32_t abort;
    uint32_t launch_state; /* 0 = clear, 1 = launched (SDM "Software Use of the VMCS") */
    uint32_t pad0[7];
    /* 64-bit fields, KVM order */
    uint64_t IO_BITMAP_A;
    uint64_t IO_BITMAP_B;
    uint64_t MSR_BITMAP;
    uint64_t VM_EXIT_MSR_STORE_ADDR;
    uint64_t VM_EXIT_MSR_LOAD_ADDR;
    uint64_t VM_ENTRY_MSR_LOAD_ADDR;
    uint64_t TSC_OFFSET;
    uint64_t VIRTUAL_APIC_PAGE_ADDR;
    uint64_t APIC_ACCESS_ADDR;
    uint64_t POSTED_INTR_DESC_ADDR;
    uint64_t EPT_POINTER;
    uint64_t EOI_EXIT_BITMAP0;
    uint64_t EOI_EXIT_BITMAP1;
    uint64_t EOI_EXIT_BITMAP2;
    uint64_t EOI_EXIT_BITMAP3;
    uint64_t XSS_EXIT_BITMAP;
    uint64_t GUEST_PHYSICAL_ADDRESS;
    uint64_t VMCS_LINK_POINTER;
    uint64_t GUEST_IA32_DEBUGCTL;
    uint64_t GUEST_IA32_PAT;
    uint64_t GUEST_IA32_EFER;
    uint64_t GUEST_IA32_PERF_GLOBAL_CTRL;
    uint64_t GUEST_PDPTR0;
    uint64_t GUEST_PDPTR1;
    uint64_t GUEST_PDPTR2;
    uint64_t GUEST_PDPTR3;
    uint64_t GUEST_BNDCFGS;
    uint64_t HOST_IA32_PAT;
    uint64_t HOST_IA32_EFER;
    uint64_t HOST_IA32_PERF_GLOBAL_CTRL;
    uint64_t VMREAD_BITMAP;
    uint64_t VMWRITE_BITMAP;
    uint64_t VM_FUNCTION_CONTROL;
    uint64_t EPTP_LIST_ADDRESS;
    uint64_t PML_ADDRESS;
    uint64_t ENCLS_EXITING_BITMAP;
    uint64_t TSC_MULTIPLIER;
    uint64_t pad64[1];
    /* natural-width fields, stored as 64 bits */
    uint64_t CR0_GUEST_HOST_MASK;
    uint64_t CR4_GUEST_HOST_MASK;
    uint64_t CR0_READ_SHADOW;
    uint64_t CR4_READ_SHADOW;
    /* KVM keeps four unused slots here (former CR3-target values): we
     * store the CR3-target values in them, which KVM ignores. */
    uint64_t CR3_TARGET_VALUE0;
    uint64_t CR3_TARGET_VALUE1;
    uint64_t CR3_TARGET_VALUE2;
    uint64_t CR3_TARGET_VALUE3;
    uint64_t EXIT_QUALIFICATION;
    uint64_t GUEST_LINEAR_ADDRESS;
    uint64_t GUEST_CR0;
    uint64_t GUEST_CR3;
    uint64_t GUEST_CR4;
    uint64_t GUEST_ES_BASE;
    uint64_t GUEST_CS_BASE;
    uint64_t GUEST_SS_BASE;
    uint64_t GUEST_DS_BASE;
    uint64_t GUEST_FS_BASE;
    uint64_t GUEST_GS_BASE;
    uint64_t GUEST_LDTR_BASE;
    uint64_t GUEST_TR_BASE;
    uint64_t GUEST_GDTR_BASE;
    uint64_t GUEST_IDTR_BASE;
    uint64_t GUEST_DR7;
    uint64_t GUEST_RSP;
    uint64_t GUEST_RIP;
    uint64_t GUEST_RFLAGS;
    uint64_t GUEST_PENDING_DBG_EXCEPTIONS;
    uint64_t GUEST_SYSENTER_ESP;
    uint64_t GUEST_SYSENTER_EIP;
    uint64_t HOST_CR0;
    uint64_t HOST_CR3;
    uint64_t HOST_CR4;
    uint64_t HOST_FS_BASE;
    uint64_t HOST_GS_BASE;
    uint64_t HOST_TR_BASE;
    uint64_t HOST_GDTR_BASE;
    uint64_t HOST_IDTR_BASE;
    uint64_t HOST_IA32_SYSENTER_ESP;
    uint64_t HOST_IA32_SYSENTER_EIP;
    uint64_t HOST_RSP;
    uint64_t HOST_RIP;
    uint64_t padnat[8];
    /* 32-bit fields */
    uint32_t PIN_BASED_VM_EXEC_CONTROL;
    uint32_t CPU_BASED_VM_EXEC_CONTROL;
    uint32_t EXCEPTION_BITMAP;
    uint32_t PAGE_FAULT_ERROR_CODE_MASK;
    uint32_t PAGE_FAULT_ERROR_CODE_MATCH;
    uint32_t CR3_TARGET_COUNT;
    uint32_t VM_EXIT_CONTROLS;
    uint32_t VM_EXIT_MSR_STORE_COUNT;
    uint32_t VM_EXIT_MSR_LOAD_COUNT;
    uint32_t VM_ENTRY_CONTROLS;
    uint32_t VM_ENTRY_MSR_LOAD_COUNT;
    uint32_t VM_ENTRY_INTR_INFO_FIELD;
    uint32_t VM_ENTRY_EXCEPTION_ERROR_CODE;
    uint32_t VM_ENTRY_INSTRUCTION_LEN;
    uint32_t TPR_THRESHOLD;
    uint32_t SECONDARY_VM_EXEC_CONTROL;
    uint32_t VM_INSTRUCTION_ERROR;
    uint32_t VM_EXIT_REASON;
    uint32_t VM_EXIT_INTR_INFO;
    uint32_t VM_EXIT_INTR_ERROR_CODE;
    uint32_t IDT_VECTORING_INFO_FIELD;
    uint32_t IDT_VECTORING_ERROR_CODE;
    uint32_t VM_EXIT_INSTRUCTION_LEN;
    uint32_t VMX_INSTRUCTION_INFO;
    uint32_t GUEST_ES_LIMIT;
    uint32_t GUEST_CS_LIMIT;
    uint32_t GUEST_SS_LIMIT;
    uint32_t GUEST_DS_LIMIT;
    uint32_t GUEST_FS_LIMIT;
    uint32_t GUEST_GS_LIMIT;
    uint32_t GUEST_LDTR_LIMIT;
    uint32_t GUEST_TR_LIMIT;
    uint32_t GUEST_GDTR_LIMIT;
    uint32_t GUEST_IDTR_LIMIT;
    uint32_t GUEST_ES_AR_BYTES;
    uint32_t GUEST_CS_AR_BYTES;
    uint32_t GUEST_SS_AR_BYTES;
    uint32_t GUEST_DS_AR_BYTES;
    uint32_t GUEST_FS_AR_BYTES;
    uint32_t GUEST_GS_AR_BYTES;
    uint32_t GUEST_LDTR_AR_BYTES;
    uint32_t GUEST_TR_AR_BYTES;
    uint32_t GUEST_INTERRUPTIBILITY_INFO;
    uint32_t GUEST_ACTIVITY_STATE;
    uint32_t GUEST_SYSENTER_CS;
    uint32_t HOST_IA32_SYSENTER_CS;
    uint32_t VMX_PREEMPTION_TIMER_VALUE;
    uint32_t pad32[7];
    /* 16-bit fields */
    uint16_t VIRTUAL_PROCESSOR_ID;
    uint16_t POSTED_INTR_NV;
    uint16_t GUEST_ES_SELECTOR;
    uint16_t GUEST_CS_SELECTOR;
    uint16_t GUEST_SS_SELECTOR;
    uint16_t GUEST_DS_SELECTOR;
    uint16_t GUEST_FS_SELECTOR;
    uint16_t GUEST_GS_SELECTOR;
    uint16_t GUEST_LDTR_SELECTOR;
    uint16_t GUEST_TR_SELECTOR;
    uint16_t GUEST_INTR_STATUS;
    uint16_t HOST_ES_SELECTOR;
    uint16_t HOST_CS_SELECTOR;
    uint16_t HOST_SS_SELECTOR;
    uint16_t HOST_DS_SELECTOR;
    uint16_t HOST_FS_SELECTOR;
    uint16_t HOST_GS_SELECTOR;
    uint16_t HOST_TR_SELECTOR;
    uint16_t GUEST_PML_INDEX;
    /* ---- end of the KVM-compatible part (998 bytes) ---- */
    uint8_t pad_kvm[VCORE_VMCS12_EXT_OFFSET - VCORE_VMCS12_KVM_END];
    /* ---- extension area: SDM fields KVM's layout does not hold ---- */
    uint64_t EXECUTIVE_VMCS_POINTER;
    uint64_t VE_INFORMATION_ADDRESS;
    uint64_t SPP_TABLE_POINTER;
    uint64_t TERTIARY_VM_EXEC_CONTROL;
    uint64_t ENCLV_EXITING_BITMAP;
    uint64_t LOW_PASID_DIRECTORY;
    uint64_t HIGH_PASID_DIRECTORY;
    uint64_t SHARED_EPT_POINTER;
    uint64_t PCONFIG_EXITING_BITMAP;
    uint64_t HLAT_POINTER;
    uint64_t PID_POINTER_TABLE_ADDR;
    uint64_t SECONDARY_VM_EXIT_CONTROLS;
    uint64_t IA32_SPEC_CTRL_MASK;
    uint64_t IA32_SPEC_CTRL_SHADOW;
    uint64_t GUEST_IA32_RTIT_CTL;
    uint64_t GUEST_IA32_LBR_CTL;
    uint64_t GUEST_IA32_PKRS;
    uint64_t HOST_IA32_PKRS;
    uint64_t IO_RCX;
    uint64_t IO_RSI;
    uint64_t IO_RDI;
    uint64_t IO_RIP;
    uint64_t GUEST_S_CET;
    uint64_t GUEST_SSP;
    uint64_t GUEST_INTR_SSP_TABLE_ADDR;
    uint64_t HOST_S_CET;
    uint64_t HOST_SSP;
    uint64_t HOST_INTR_SSP_TABLE_ADDR;
    uint32_t PLE_GAP;
    uint32_t PLE_WINDOW;
    uint32_t NOTIFY_WINDOW;
    uint32_t GUEST_SMBASE;
    uint16_t EPTP_INDEX;
    uint16_t HLAT_PREFIX_SIZE;
    uint16_t LAST_PID_POINTER_INDEX;
    uint16_t GUEST_UINV;
} vcore__vmcs12_t;

/* Number of table rows: every field plus a _HIGH row per 64-bit field. */
#define VCORE__VMCS_COUNT1(name, enc) +1
#define VCORE__VMCS_NFIELDS (0 VCORE_VMCS_FIELD_LIST(VCORE__VMCS_COUNT1))
#define VCORE__VMCS_N64 (0 VCORE_VMCS_FIELDS_64(VCORE__VMCS_COUNT1))
#define VCORE__VMCS_NROWS (VCORE__VMCS_NFIELDS + VCORE__VMCS_N64)

/* Dense slot of an encoding: width(2) | type(2) | index(6) | high(1). The
 * SDM allows 9 index bits but no field uses an index above 63, so the table
 * stays 2048 slots; the lookup bounds-checks the index first. */
#define VCORE__VMCS_SLOT_INDEX_BITS 6u
#define VCORE__VMCS_NSLOTS (1u << (4u + VCORE__VMCS_SLOT_INDEX_BITS + 1u))
#define VCORE__VMCS_SLOT(enc)                                                  \
    (((((enc) >> 13) & 3u) << 8) | ((((enc) >> 10) & 3u) << 6) |               \
     ((((enc) >> 1) & 0x3fu) << 0)) * 2u + ((enc) & 1u)

/* Row identifiers, in table order (a 64-bit field is followed by its
 * _HIGH row): VCORE__ROW_<name> is the row of a field known at compile
 * time, no lookup needed. */
enum vcore__vmcs_row_id {
#define VCORE__ROW_ID(name, enc) VCORE__ROW_##name,
#define VCORE__ROW_ID2(name, enc) VCORE__ROW_##name, VCORE__ROW_##name##_HIGH,
    VCORE_VMCS_FIELDS_16(VCORE__ROW_ID)
    VCORE_VMCS_FIELDS_64(VCORE__ROW_ID2)
    VCORE_VMCS_FIELDS_32(VCORE__ROW_ID)
    VCORE_VMCS_FIELDS_NATURAL(VCORE__ROW_ID)
#undef VCORE__ROW_ID
#undef VCORE__ROW_ID2
    VCORE__ROW_COUNT
};

/* One metadata row (const table in vmcs_table.c). */
typedef struct vcore__vmcs_row {
    const char *name;
    uint16_t encoding;
    uint16_t offset;
    uint8_t width;
    uint8_t type;
    uint8_t flags;
    uint8_t bytes;
} vcore__vmcs_row_t;

extern const vcore__vmcs_row_t vcore__vmcs_rows[];
extern const uint16_t vcore__vmcs_slots[];

/* O(1): row of an encoding, or NULL. */
const vcore__vmcs_row_t *vcore__vmcs_row(uint32_t encoding);

/*
 * Fields that exist only on processors supporting a VMX control (SDM Vol. 3,
 * "Guest-State Area", "Host-State Area", "VM-Execution Control Fields"):
 * "this field is supported only on processors that support the 1-setting of
 * the ... control". VMREAD/VMWRITE of such a field on a processor without
 * the control fails with VMfailValid 12 ("VMREAD/VMWRITE from/to unsupported
 * VMCS component"). A guard names up to two controls as (control word, bit);
 * the field exists when the processor allows the 1-setting of either.
 * Control words in the order the pipeline keeps them: 0 pin-based,
 * 1 primary processor-based, 2 secondary processor-based, 3 VM-exit,
 * 4 VM-entry.
 */
#define VCORE__VMCS_CTL_PIN 0u
#define VCORE__VMCS_CTL_PROC 1u
#define VCORE__VMCS_CTL_PROC2 2u
#define VCORE__VMCS_CTL_EXIT 3u
#define VCORE__VMCS_CTL_ENTRY 4u
/* One control: bit 15 set (a guard is present), bits 10:8 word, bits 4:0 bit. */
#define VCORE__VMCS_G(w, b) (0x8000u | ((uint32_t)VCORE__VMCS_CTL_##w << 8) | (uint32_t)(b))
/* Either of two controls: the second in bits 31:16. */
#define VCORE__VMCS_G2(w1, b1, w2, b2) (VCORE__VMCS_G(w1, b1) | (VCORE__VMCS_G(w2, b2) << 16))

/* X(NAME, guard) for 64-bit fields (the guard covers the _HIGH row too). */
#define VCORE__VMCS_GUARDS_64(X)                                                              \
    X(GUEST_IA32_PAT, VCORE__VMCS_G2(ENTRY, 14, EXIT, 18))      /* load / save IA32_PAT */      \
    X(GUEST_IA32_EFER, VCORE__VMCS_G2(ENTRY, 15, EXIT, 20))     /* load / save IA32_EFER */     \
    X(GUEST_IA32_PERF_GLOBAL_CTRL, VCORE__VMCS_G2(ENTRY, 13, EXIT, 30)) /* load / save */      \
    X(GUEST_PDPTR0, VCORE__VMCS_G(PROC2, 1))                    /* enable EPT */                \
    X(GUEST_PDPTR1, VCORE__VMCS_G(PROC2, 1))                                                    \
    X(GUEST_PDPTR2, VCORE__VMCS_G(PROC2, 1))                                                    \
    X(GUEST_PDPTR3, VCORE__VMCS_G(PROC2, 1))                                                    \
    X(GUEST_BNDCFGS, VCORE__VMCS_G2(ENTRY, 16, EXIT, 23))       /* load / clear IA32_BNDCFGS */ \
    X(EOI_EXIT_BITMAP0, VCORE__VMCS_G(PROC2, 9))                /* virtual-interrupt delivery */ \
    X(EOI_EXIT_BITMAP1, VCORE__VMCS_G(PROC2, 9))                                                \
    X(EOI_EXIT_BITMAP2, VCORE__VMCS_G(PROC2, 9))                                                \
    X(EOI_EXIT_BITMAP3, VCORE__VMCS_G(PROC2, 9))                                                \
    X(GUEST_IA32_RTIT_CTL, VCORE__VMCS_G2(ENTRY, 18, EXIT, 25)) /* load / clear IA32_RTIT_CTL */ \
    X(GUEST_IA32_LBR_CTL, VCORE__VMCS_G2(ENTRY, 21, EXIT, 26))  /* load guest / clear IA32_LBR_CTL */ \
    X(GUEST_IA32_PKRS, VCORE__VMCS_G(ENTRY, 22))                /* load PKRS */                 \
    X(HOST_IA32_PAT, VCORE__VMCS_G(EXIT, 19))                   /* load IA32_PAT */             \
    X(HOST_IA32_EFER, VCORE__VMCS_G(EXIT, 21))                  /* load IA32_EFER */            \
    X(HOST_IA32_PERF_GLOBAL_CTRL, VCORE__VMCS_G(EXIT, 12))      /* load IA32_PERF_GLOBAL_CTRL */ \
    X(HOST_IA32_PKRS, VCORE__VMCS_G(EXIT, 29))                  /* load PKRS */

/* X(NAME, guard) for 16-bit, 32-bit and natural-width fields. */
#define VCORE__VMCS_GUARDS_1(X)                                                                \
    X(GUEST_INTR_STATUS, VCORE__VMCS_G(PROC2, 9))               /* virtual-interrupt delivery */ \
    X(GUEST_PML_INDEX, VCORE__VMCS_G(PROC2, 17))                /* enable PML */                \
    X(VMX_PREEMPTION_TIMER_VALUE, VCORE__VMCS_G(PIN, 6))        /* activate VMX-preemption timer */ \
    X(GUEST_S_CET, VCORE__VMCS_G(ENTRY, 20))                    /* load CET state */            \
    X(GUEST_SSP, VCORE__VMCS_G(ENTRY, 20))                                                      \
    X(GUEST_INTR_SSP_TABLE_ADDR, VCORE__VMCS_G(ENTRY, 20))                                      \
    X(HOST_S_CET, VCORE__VMCS_G(EXIT, 28))                      /* load CET state */            \
    X(HOST_SSP, VCORE__VMCS_G(EXIT, 28))                                                        \
    X(HOST_INTR_SSP_TABLE_ADDR, VCORE__VMCS_G(EXIT, 28))

/* The guard column of the table, one entry per row (0: always present). */
extern const uint32_t vcore__vmcs_guards[];

/* Whether a row's field exists on a processor whose allowed-1 control
 * settings are allowed1[5] (the order above). */
static inline bool vcore__vmcs_row_present(const vcore__vmcs_row_t *r, const uint32_t allowed1[5])
{
    uint32_t g = vcore__vmcs_guards[r - vcore__vmcs_rows];
    if (!g)
        return true;
    for (uint32_t i = 0; i < 2; i++, g >>= 16) {
        uint32_t w = (g >> 8) & 7u;
        if ((g & 0x8000u) && w < 5 && ((allowed1[w] >> (g & 31u)) & 1u))
            return true;
    }
    return false;
}

/* Raw field read/write on a page (little-endian host assumed, like x86). */
/* A 2-, 4- or 8-byte field at a byte offset of a vmcs12 page (zero-extended). */
uint64_t vcore__vmcs12_get_bytes(const uint8_t *page, uint32_t offset, uint32_t bytes);
void vcore__vmcs12_put_bytes(uint8_t *page, uint32_t offset, uint32_t bytes, uint64_t value);
/* A field by its row: _HIGH rows address bits 63:32, access-rights rows keep
 * only the bits the SDM defines. */
uint64_t vcore__vmcs12_load(const uint8_t *page, const vcore__vmcs_row_t *r);
void vcore__vmcs12_store(uint8_t *page, const vcore__vmcs_row_t *r, uint64_t value);

/* Access-rights bits the processor keeps (SDM "Guest Register State"):
 * 7:0, 15:12, 16; bits 11:8 and 31:17 are reserved and read back as 0. */
#define VCORE__VMCS_AR_KEEP 0x1f0ffu

#endif /* VCORE_CORE_X86_VMCS_LAYOUT_H */
