/**
 * @file x86/vmcb.h
 * @brief The AMD SVM virtual machine control block (VMCB): layout, intercept
 *        vectors, clean bits, event encodings, exit codes and field names.
 *
 * APM Vol. 2, appendix "Layout of VMCB": a 4 KiB page holding the control
 * area (offsets 000h-3FFh) and the state-save area (from 400h). The
 * structures below reproduce it byte for byte; the library checks every
 * named offset at compile time.
 *
 * Every list that other lists or functions derive from is one X-macro:
 * the intercepts (VCORE_VMCB_INTERCEPT_LIST), the clean bits
 * (VCORE_VMCB_CLEAN_LIST), the exit codes (VCORE_VMCB_EXIT_LIST) and the
 * named fields for tools (VCORE_VMCB_FIELD_LIST, with
 * vcore_vmcb_field_by_name() and vcore_vmcb_field_lookup()).
 */
#ifndef VIRTCORE_X86_VMCB_H
#define VIRTCORE_X86_VMCB_H

#include "../common.h"
#include "../error.h"

VCORE_BEGIN_DECLS

/** @name Sizes
 * @{ */
#define VCORE_VMCB_SIZE 4096u        /**< Bytes in a VMCB (one 4 KiB page, 4 KiB aligned). */
#define VCORE_VMCB_SAVE_OFFSET 0x400u /**< Offset of the state-save area in the VMCB. */
#define VCORE_VMCB_MSRPM_SIZE 0x2000u /**< MSR permission map: 8 KiB ("MSR Intercepts"). */
/** I/O permission map: 12 KiB, of which 64K + 3 bits are used ("I/O Intercepts"). */
#define VCORE_VMCB_IOPM_SIZE 0x3000u
/** @} */

/**
 * @brief A segment register in the state-save area (16 bytes).
 *
 * The attribute word packs descriptor bits 47:40 (type, S, DPL, P) into
 * bits 7:0 and descriptor bits 55:52 (AVL, L, D/B, G) into bits 11:8.
 * The layout is the hardware's: this type never grows and has no size field.
 */
typedef struct vcore_vmcb_seg {
    uint16_t selector; /**< Segment selector. */
    uint16_t attrib;   /**< Attributes (VCORE_VMCB_ATTR_*). */
    uint32_t limit;    /**< Segment limit in bytes (already scaled by G). */
    uint64_t base;     /**< Segment base address. */
} vcore_vmcb_seg_t;

/** @name Segment attribute bits (vcore_vmcb_seg_t::attrib)
 * @{ */
#define VCORE_VMCB_ATTR_TYPE_MASK 0x000fu /**< Bits 3:0: segment type. */
#define VCORE_VMCB_ATTR_S 0x0010u         /**< Bit 4: code/data (1) or system (0) descriptor. */
#define VCORE_VMCB_ATTR_DPL_MASK 0x0060u  /**< Bits 6:5: descriptor privilege level. */
#define VCORE_VMCB_ATTR_P 0x0080u         /**< Bit 7: present. */
#define VCORE_VMCB_ATTR_AVL 0x0100u       /**< Bit 8: available to software. */
#define VCORE_VMCB_ATTR_L 0x0200u         /**< Bit 9: 64-bit code segment. */
#define VCORE_VMCB_ATTR_DB 0x0400u        /**< Bit 10: default operand size. */
#define VCORE_VMCB_ATTR_G 0x0800u         /**< Bit 11: granularity. */
/** @} */

/**
 * @brief Converts VMCS-layout access rights (regs.h, VCORE_X86_AR_*) to a VMCB attribute word.
 *
 * Bits 7:0 stay where they are; bits 15:12 (AVL, L, D/B, G) move to 11:8.
 * An unusable segment (VCORE_X86_AR_UNUSABLE) has no VMCB equivalent: it
 * becomes a not-present one (P clear), which is how SVM holds a null segment.
 * @param[in] ar Access rights in the VMCS layout.
 * @return The VMCB attribute word.
 */
static inline uint16_t vcore_vmcb_attr_from_ar(uint32_t ar)
{
    uint32_t a = (ar & 0xffu) | ((ar >> 4) & 0xf00u);
    if (ar & (1u << 16))
        a &= ~0x80u;
    return (uint16_t)a;
}

/**
 * @brief Converts a VMCB attribute word to VMCS-layout access rights (inverse of vcore_vmcb_attr_from_ar()).
 *
 * A not-present segment is reported unusable (bit 16), as a VMCS would hold it.
 * @param[in] attrib VMCB attribute word.
 * @return Access rights in the VMCS layout.
 */
static inline uint32_t vcore_vmcb_attr_to_ar(uint16_t attrib)
{
    uint32_t ar = ((uint32_t)attrib & 0xffu) | (((uint32_t)attrib & 0xf00u) << 4);
    if (!(attrib & VCORE_VMCB_ATTR_P))
        ar |= 1u << 16;
    return ar;
}

/**
 * @brief The control area (APM Vol. 2, appendix "Layout of VMCB", table "VMCB Layout, Control Area").
 */
typedef struct vcore_vmcb_control {
    uint32_t intercept[6];      /**< 000h-017h: intercept vectors (VCORE_VMCB_INTERCEPT_LIST). */
    uint8_t reserved_018[36];   /**< 018h-03Bh: reserved. */
    uint16_t pause_filter_threshold; /**< 03Ch: PAUSE filter threshold. */
    uint16_t pause_filter_count;     /**< 03Eh: PAUSE filter count. */
    uint64_t iopm_base_pa;      /**< 040h: physical base of the I/O permission map (bits 11:0 ignored). */
    uint64_t msrpm_base_pa;     /**< 048h: physical base of the MSR permission map (bits 11:0 ignored). */
    uint64_t tsc_offset;        /**< 050h: added to the TSC the guest reads. */
    uint32_t asid;              /**< 058h: guest address-space identifier (0 is the host's). */
    uint8_t tlb_control;        /**< 05Ch: TLB control (VCORE_VMCB_TLB_*). */
    uint8_t reserved_05d[3];    /**< 05Dh-05Fh: reserved. */
    uint32_t int_ctl;           /**< 060h: virtual interrupt control (VCORE_VMCB_INT_*). */
    uint32_t int_vector;        /**< 064h: bits 7:0 V_INTR_VECTOR. */
    uint32_t int_state;         /**< 068h: interrupt shadow, guest interrupt mask (VCORE_VMCB_STATE_*). */
    uint8_t reserved_06c[4];    /**< 06Ch-06Fh: reserved. */
    uint64_t exit_code;         /**< 070h: EXITCODE (VCORE_VMCB_EXIT_LIST). */
    uint64_t exit_info1;        /**< 078h: EXITINFO1. */
    uint64_t exit_info2;        /**< 080h: EXITINFO2. */
    uint64_t exit_int_info;     /**< 088h: EXITINTINFO (EVENTINJ format). */
    uint64_t nested_ctl;        /**< 090h: NP_ENABLE and other enables (VCORE_VMCB_NESTED_*). */
    uint64_t avic_apic_bar;     /**< 098h: AVIC APIC base address (bits 51:0). */
    uint64_t ghcb_pa;           /**< 0A0h: guest physical address of the GHCB (SEV-ES). */
    uint64_t event_inj;         /**< 0A8h: EVENTINJ (VCORE_VMCB_EVENT_*), error code in bits 63:32. */
    uint64_t n_cr3;             /**< 0B0h: nested page-table root (nCR3). */
    uint64_t virt_ext;          /**< 0B8h: LBR and VMSAVE/VMLOAD virtualization (VCORE_VMCB_VIRT_*). */
    uint32_t clean;             /**< 0C0h: VMCB clean bits (VCORE_VMCB_CLEAN_LIST). */
    uint32_t reserved_0c4;      /**< 0C4h: reserved. */
    uint64_t next_rip;          /**< 0C8h: nRIP, the address of the next sequential instruction. */
    uint8_t insn_len;           /**< 0D0h: number of guest instruction bytes fetched. */
    uint8_t insn_bytes[15];     /**< 0D1h-0DFh: guest instruction bytes. */
    uint64_t avic_backing_page; /**< 0E0h: AVIC APIC backing page pointer. */
    uint8_t reserved_0e8[8];    /**< 0E8h-0EFh: reserved. */
    uint64_t avic_logical_table;  /**< 0F0h: AVIC logical APIC ID table pointer. */
    uint64_t avic_physical_table; /**< 0F8h: AVIC physical APIC ID table pointer (bits 7:0: max index). */
    uint8_t reserved_100[8];    /**< 100h-107h: reserved. */
    uint64_t vmsa_pa;           /**< 108h: VMSA pointer (SEV-ES). */
    uint8_t reserved_110[0x3e0 - 0x110]; /**< 110h-3DFh: reserved (SEV-SNP and later features). */
    uint8_t host_use[32];       /**< 3E0h-3FFh: reserved for the host's own use. */
} vcore_vmcb_control_t;

/**
 * @brief The state-save area (APM Vol. 2, appendix "Layout of VMCB", table
 *        "VMCB Layout, State Save Area"); offsets below are from its start, 400h.
 */
typedef struct vcore_vmcb_save {
    vcore_vmcb_seg_t es;        /**< 000h: ES. */
    vcore_vmcb_seg_t cs;        /**< 010h: CS. */
    vcore_vmcb_seg_t ss;        /**< 020h: SS. */
    vcore_vmcb_seg_t ds;        /**< 030h: DS. */
    vcore_vmcb_seg_t fs;        /**< 040h: FS (VMLOAD/VMSAVE). */
    vcore_vmcb_seg_t gs;        /**< 050h: GS (VMLOAD/VMSAVE). */
    vcore_vmcb_seg_t gdtr;      /**< 060h: GDTR (limit bits 15:0 and base only). */
    vcore_vmcb_seg_t ldtr;      /**< 070h: LDTR (VMLOAD/VMSAVE). */
    vcore_vmcb_seg_t idtr;      /**< 080h: IDTR (limit bits 15:0 and base only). */
    vcore_vmcb_seg_t tr;        /**< 090h: TR (VMLOAD/VMSAVE). */
    uint8_t reserved_0a0[42];   /**< 0A0h-0C9h: reserved. */
    uint8_t vmpl;               /**< 0CAh: VMPL (SEV-SNP). */
    uint8_t cpl;                /**< 0CBh: current privilege level. */
    uint8_t reserved_0cc[4];    /**< 0CCh-0CFh: reserved. */
    uint64_t efer;              /**< 0D0h: EFER. */
    uint8_t reserved_0d8[112];  /**< 0D8h-147h: reserved. */
    uint64_t cr4;               /**< 148h: CR4. */
    uint64_t cr3;               /**< 150h: CR3. */
    uint64_t cr0;               /**< 158h: CR0. */
    uint64_t dr7;               /**< 160h: DR7. */
    uint64_t dr6;               /**< 168h: DR6. */
    uint64_t rflags;            /**< 170h: RFLAGS. */
    uint64_t rip;               /**< 178h: RIP. */
    uint8_t reserved_180[88];   /**< 180h-1D7h: reserved. */
    uint64_t rsp;               /**< 1D8h: RSP. */
    uint64_t s_cet;             /**< 1E0h: S_CET. */
    uint64_t ssp;               /**< 1E8h: SSP. */
    uint64_t isst_addr;         /**< 1F0h: ISST_ADDR. */
    uint64_t rax;               /**< 1F8h: RAX. */
    uint64_t star;              /**< 200h: STAR (VMLOAD/VMSAVE). */
    uint64_t lstar;             /**< 208h: LSTAR (VMLOAD/VMSAVE). */
    uint64_t cstar;             /**< 210h: CSTAR (VMLOAD/VMSAVE). */
    uint64_t sfmask;            /**< 218h: SFMASK (VMLOAD/VMSAVE). */
    uint64_t kernel_gs_base;    /**< 220h: KernelGsBase (VMLOAD/VMSAVE). */
    uint64_t sysenter_cs;       /**< 228h: SYSENTER_CS (VMLOAD/VMSAVE). */
    uint64_t sysenter_esp;      /**< 230h: SYSENTER_ESP (VMLOAD/VMSAVE). */
    uint64_t sysenter_eip;      /**< 238h: SYSENTER_EIP (VMLOAD/VMSAVE). */
    uint64_t cr2;               /**< 240h: CR2. */
    uint8_t reserved_248[32];   /**< 248h-267h: reserved. */
    uint64_t g_pat;             /**< 268h: guest PAT (used only with nested paging). */
    uint64_t dbgctl;            /**< 270h: DBGCTL (LBR virtualization). */
    uint64_t br_from;           /**< 278h: BR_FROM. */
    uint64_t br_to;             /**< 280h: BR_TO. */
    uint64_t lastexcp_from;     /**< 288h: LASTEXCPFROM. */
    uint64_t lastexcp_to;       /**< 290h: LASTEXCPTO. */
    uint8_t reserved_298[72];   /**< 298h-2DFh: reserved. */
    uint64_t spec_ctrl;         /**< 2E0h: guest SPEC_CTRL. */
} vcore_vmcb_save_t;

/** @brief A whole VMCB page. */
typedef struct vcore_vmcb {
    vcore_vmcb_control_t control; /**< 000h-3FFh. */
    vcore_vmcb_save_t save;       /**< 400h-6E7h. */
    uint8_t reserved_6e8[VCORE_VMCB_SIZE - 0x6e8]; /**< Rest of the page. */
} vcore_vmcb_t;

/**
 * @brief The intercepts: X(NAME, word, bit).
 *
 * APM Vol. 2, appendix "Layout of VMCB": @c word is the index of the 32-bit
 * intercept vector in vcore_vmcb_control_t::intercept (word 0 at 000h: CR
 * reads 15:0, CR writes 31:16; word 1 at 004h: DR reads and writes; word 2
 * at 008h: exceptions; words 3-5 at 00Ch-014h: instructions and events).
 * The identifier of an intercept is word * 32 + bit.
 */
#define VCORE__VMCB_X16(X, P, S, w, b0)                                                              \
    X(P##0##S, w, (b0) + 0) X(P##1##S, w, (b0) + 1) X(P##2##S, w, (b0) + 2) X(P##3##S, w, (b0) + 3)     \
    X(P##4##S, w, (b0) + 4) X(P##5##S, w, (b0) + 5) X(P##6##S, w, (b0) + 6) X(P##7##S, w, (b0) + 7)     \
    X(P##8##S, w, (b0) + 8) X(P##9##S, w, (b0) + 9) X(P##10##S, w, (b0) + 10)                          \
    X(P##11##S, w, (b0) + 11) X(P##12##S, w, (b0) + 12) X(P##13##S, w, (b0) + 13)                      \
    X(P##14##S, w, (b0) + 14) X(P##15##S, w, (b0) + 15)
/* The same for names numbered 16-31 (exception vectors 16-31). */
#define VCORE__VMCB_X16_HI(X, P, w, b0)                                                             \
    X(P##16, w, (b0) + 0) X(P##17, w, (b0) + 1) X(P##18, w, (b0) + 2) X(P##19, w, (b0) + 3)         \
    X(P##20, w, (b0) + 4) X(P##21, w, (b0) + 5) X(P##22, w, (b0) + 6) X(P##23, w, (b0) + 7)         \
    X(P##24, w, (b0) + 8) X(P##25, w, (b0) + 9) X(P##26, w, (b0) + 10) X(P##27, w, (b0) + 11)       \
    X(P##28, w, (b0) + 12) X(P##29, w, (b0) + 13) X(P##30, w, (b0) + 14) X(P##31, w, (b0) + 15)
/** @brief The intercept list (see above). */
#define VCORE_VMCB_INTERCEPT_LIST(X)                                                                \
    VCORE__VMCB_X16(X, CR, _READ, 0, 0)                                                             \
    VCORE__VMCB_X16(X, CR, _WRITE, 0, 16)                                                           \
    VCORE__VMCB_X16(X, DR, _READ, 1, 0)                                                             \
    VCORE__VMCB_X16(X, DR, _WRITE, 1, 16)                                                           \
    VCORE__VMCB_X16(X, EXC, , 2, 0)                                                                 \
    VCORE__VMCB_X16_HI(X, EXC, 2, 16)                                                                \
    X(INTR, 3, 0) X(NMI, 3, 1) X(SMI, 3, 2) X(INIT, 3, 3) X(VINTR, 3, 4) X(CR0_SEL_WRITE, 3, 5)      \
    X(IDTR_READ, 3, 6) X(GDTR_READ, 3, 7) X(LDTR_READ, 3, 8) X(TR_READ, 3, 9)                       \
    X(IDTR_WRITE, 3, 10) X(GDTR_WRITE, 3, 11) X(LDTR_WRITE, 3, 12) X(TR_WRITE, 3, 13)               \
    X(RDTSC, 3, 14) X(RDPMC, 3, 15) X(PUSHF, 3, 16) X(POPF, 3, 17) X(CPUID, 3, 18) X(RSM, 3, 19)    \
    X(IRET, 3, 20) X(INTN, 3, 21) X(INVD, 3, 22) X(PAUSE, 3, 23) X(HLT, 3, 24) X(INVLPG, 3, 25)      \
    X(INVLPGA, 3, 26) X(IOIO_PROT, 3, 27) X(MSR_PROT, 3, 28) X(TASK_SWITCH, 3, 29)                  \
    X(FERR_FREEZE, 3, 30) X(SHUTDOWN, 3, 31)                                                        \
    X(VMRUN, 4, 0) X(VMMCALL, 4, 1) X(VMLOAD, 4, 2) X(VMSAVE, 4, 3) X(STGI, 4, 4) X(CLGI, 4, 5)     \
    X(SKINIT, 4, 6) X(RDTSCP, 4, 7) X(ICEBP, 4, 8) X(WBINVD, 4, 9) X(MONITOR, 4, 10)                \
    X(MWAIT, 4, 11) X(MWAIT_ARMED, 4, 12) X(XSETBV, 4, 13) X(RDPRU, 4, 14) X(EFER_WRITE_TRAP, 4, 15) \
    VCORE__VMCB_X16(X, CR, _WRITE_TRAP, 4, 16)                                                      \
    X(INVLPGB, 5, 0) X(INVLPGB_ILLEGAL, 5, 1) X(INVPCID, 5, 2) X(MCOMMIT, 5, 3) X(TLBSYNC, 5, 4)    \
    X(BUSLOCK, 5, 5) X(IDLE_HLT, 5, 6)

/** @brief Intercept identifiers (word * 32 + bit), e.g. VCORE_VMCB_INTERCEPT_VMRUN. */
typedef enum vcore_vmcb_intercept {
#define VCORE__VMCB_INTERCEPT_ENUM(name, w, b) VCORE_VMCB_INTERCEPT_##name = (w) * 32 + (b),
    VCORE_VMCB_INTERCEPT_LIST(VCORE__VMCB_INTERCEPT_ENUM)
#undef VCORE__VMCB_INTERCEPT_ENUM
    VCORE_VMCB_INTERCEPT_END_ = 6 * 32 /**< One past the last identifier. */
} vcore_vmcb_intercept_t;

/**
 * @brief Sets or clears an intercept in a control area.
 * @param[in,out] c The control area.
 * @param[in] id A vcore_vmcb_intercept_t (out-of-range identifiers are ignored).
 * @param[in] on Set (true) or clear it.
 */
static inline void vcore_vmcb_intercept_set(vcore_vmcb_control_t *c, uint32_t id, bool on)
{
    if (id >= VCORE_VMCB_INTERCEPT_END_)
        return;
    if (on)
        c->intercept[id / 32] |= 1u << (id % 32);
    else
        c->intercept[id / 32] &= ~(1u << (id % 32));
}

/**
 * @brief Tells whether an intercept is set in a control area.
 * @param[in] c The control area.
 * @param[in] id A vcore_vmcb_intercept_t.
 * @return true if set; false if clear or out of range.
 */
static inline bool vcore_vmcb_intercept_test(const vcore_vmcb_control_t *c, uint32_t id)
{
    return id < VCORE_VMCB_INTERCEPT_END_ && ((c->intercept[id / 32] >> (id % 32)) & 1u) != 0;
}

/**
 * @brief Name of an intercept, e.g. "VMRUN", "CR0_WRITE", "EXC14".
 * @param[in] id A vcore_vmcb_intercept_t.
 * @return A static string, or NULL for a bit the APM leaves reserved.
 */
VCORE_API const char *vcore_vmcb_intercept_name(uint32_t id);

/**
 * @brief Where an MSR's two bits lie in the MSR permission map (APM Vol. 2,
 *        "MSR Intercepts"): 0000_0000-0000_1FFF from byte 0, C000_0000-C000_1FFF
 *        from byte 800H, C001_0000-C001_1FFF from byte 1000H; the read bit
 *        first, the write bit next to it.
 * @param[out] byte Byte offset in the 8 KiB map.
 * @param[out] bit Bit of the read intercept in that byte (the write bit is bit + 1).
 * @return false for an MSR outside the three ranges (always intercepted).
 */
static inline bool vcore_vmcb_msrpm_pos(uint32_t msr, uint32_t *byte, uint32_t *bit)
{
    uint32_t base;
    if (msr <= 0x1fffu)
        base = 0u;
    else if (msr >= 0xc0000000u && msr <= 0xc0001fffu)
        base = 0x800u;
    else if (msr >= 0xc0010000u && msr <= 0xc0011fffu)
        base = 0x1000u;
    else
        return false;
    *byte = base + ((msr & 0x1fffu) * 2u) / 8u;
    *bit = ((msr & 0x1fffu) * 2u) % 8u;
    return true;
}

/**
 * @brief The VMCB clean bits: X(NAME, bit, "what the bit covers").
 *
 * APM Vol. 2, "VMCB Clean Field": a set bit tells the processor that the
 * fields it covers are unchanged since the last VMRUN of this VMCB with the
 * same ASID on this processor, so it may use a cached copy. Bits 31:12 are
 * reserved for future use (software sets them to 0).
 */
#define VCORE_VMCB_CLEAN_LIST(X)                                                                    \
    X(I, 0, "intercept vectors, TSC offset, PAUSE filter count and threshold")                        \
    X(IOPM, 1, "IOPM_BASE and MSRPM_BASE")                                                          \
    X(ASID, 2, "ASID")                                                                              \
    X(TPR, 3, "V_TPR, V_IRQ, V_INTR_PRIO, V_IGN_TPR, V_INTR_MASKING, V_INTR_VECTOR")                \
    X(NP, 4, "nested-paging enable, nCR3, G_PAT")                                                   \
    X(CRX, 5, "CR0, CR3, CR4, EFER")                                                                \
    X(DRX, 6, "DR6, DR7")                                                                           \
    X(DT, 7, "GDTR, IDTR")                                                                          \
    X(SEG, 8, "ES, CS, SS, DS and CPL")                                                             \
    X(CR2, 9, "CR2")                                                                                \
    X(LBR, 10, "DBGCTL, BR_FROM, BR_TO, LASTEXCPFROM, LASTEXCPTO")                                  \
    X(AVIC, 11, "AVIC APIC BAR, backing page, logical and physical table pointers")

/** @brief Clean-bit masks, e.g. VCORE_VMCB_CLEAN_CRX. */
enum vcore_vmcb_clean {
#define VCORE__VMCB_CLEAN_ENUM(name, bit, what) VCORE_VMCB_CLEAN_##name = 1 << (bit),
    VCORE_VMCB_CLEAN_LIST(VCORE__VMCB_CLEAN_ENUM)
#undef VCORE__VMCB_CLEAN_ENUM
    VCORE_VMCB_CLEAN_ALL_ = 0xfff /**< Every defined clean bit. */
};

/**
 * @brief The clean bit that covers a VMCB field (APM Vol. 2, "VMCB Clean Field").
 * @param[in] offset Byte offset of the field in the VMCB (any byte of it).
 * @return The VCORE_VMCB_CLEAN_* mask; 0 for a field no clean bit covers
 *         (the processor reads it at every VMRUN: RIP, RSP, RAX, RFLAGS,
 *         EVENTINJ, the exit information, the VMLOAD/VMSAVE state).
 */
VCORE_API uint32_t vcore_vmcb_clean_bit(uint32_t offset);

/**
 * @brief Whether a VMCB field is one a hypervisor's own software never
 *        writes in a VMCB it runs: host-physical addresses and ASID
 *        (IOPM_BASE_PA, MSRPM_BASE_PA, GUEST_ASID, TLB_CONTROL, NESTED_CTL,
 *        N_CR3), CLEAN_BITS, and what the processor writes on \#VMEXIT
 *        (EXITCODE, EXITINFO1/2, EXITINTINFO, NRIP, INSN_LEN).
 *
 * For the backend ABI (backend.h, VMCB ops): these belong to the backend.
 * @param[in] offset Byte offset of the field's start.
 * @return true for those fields.
 */
VCORE_API bool vcore_vmcb_field_backend_owned(uint32_t offset);

/**
 * @name EVENTINJ and EXITINTINFO (APM Vol. 2, "Event Injection")
 * The same 64-bit format: vector, type, error-code-valid and valid bits in
 * 31:0, the error code in 63:32.
 * @{
 */
#define VCORE_VMCB_EVENT_VECTOR_MASK 0xffull       /**< Bits 7:0: vector (ignored for NMI). */
#define VCORE_VMCB_EVENT_TYPE_SHIFT 8              /**< Bits 10:8: event type. */
#define VCORE_VMCB_EVENT_TYPE_MASK (7ull << 8)     /**< Mask of the type field. */
#define VCORE_VMCB_EVENT_EV (1ull << 11)           /**< Bit 11: push the error code. */
#define VCORE_VMCB_EVENT_RESERVED 0x7ffff000ull    /**< Bits 30:12: reserved. */
#define VCORE_VMCB_EVENT_V (1ull << 31)            /**< Bit 31: valid. */
#define VCORE_VMCB_EVENT_ERRCODE_SHIFT 32          /**< Bits 63:32: error code. */
#define VCORE_VMCB_EVENT_TYPE_INTR 0u              /**< External or virtual interrupt (INTR). */
#define VCORE_VMCB_EVENT_TYPE_NMI 2u               /**< Non-maskable interrupt. */
#define VCORE_VMCB_EVENT_TYPE_EXCEPTION 3u         /**< Exception (fault or trap). */
#define VCORE_VMCB_EVENT_TYPE_SOFT_INT 4u          /**< Software interrupt (INTn). */
/** @} */

/**
 * @brief Builds an EVENTINJ value.
 * @param[in] vector Vector.
 * @param[in] type VCORE_VMCB_EVENT_TYPE_*.
 * @param[in] has_error_code Set EV and put @p error_code in bits 63:32.
 * @param[in] error_code The error code.
 * @return The value, with the valid bit set.
 */
static inline uint64_t vcore_vmcb_event(uint8_t vector, uint32_t type, bool has_error_code,
                                        uint32_t error_code)
{
    return VCORE_VMCB_EVENT_V | ((uint64_t)(type & 7u) << VCORE_VMCB_EVENT_TYPE_SHIFT) | vector |
           (has_error_code ? (VCORE_VMCB_EVENT_EV | ((uint64_t)error_code << 32)) : 0u);
}

/** @name TLB_CONTROL (control area 05Ch; APM Vol. 2, "TLB Control")
 * @{ */
#define VCORE_VMCB_TLB_NOTHING 0u      /**< Do nothing. */
#define VCORE_VMCB_TLB_FLUSH_ALL 1u    /**< Flush the entire TLB (all ASIDs). */
#define VCORE_VMCB_TLB_FLUSH_ASID 3u   /**< Flush this guest's TLB entries. */
#define VCORE_VMCB_TLB_FLUSH_LOCAL 7u  /**< Flush this guest's non-global TLB entries. */
/** @} */

/** @name Virtual interrupt control (control area 060h, vcore_vmcb_control_t::int_ctl)
 * @{ */
#define VCORE_VMCB_INT_V_TPR_MASK 0xffu          /**< Bits 7:0: V_TPR (bits 3:0 used). */
#define VCORE_VMCB_INT_V_IRQ (1u << 8)           /**< Bit 8: a virtual interrupt is pending. */
#define VCORE_VMCB_INT_V_GIF (1u << 9)           /**< Bit 9: virtual GIF. */
#define VCORE_VMCB_INT_V_NMI (1u << 11)          /**< Bit 11: a virtual NMI is pending. */
#define VCORE_VMCB_INT_V_NMI_MASK (1u << 12)     /**< Bit 12: virtual NMIs are masked. */
#define VCORE_VMCB_INT_V_INTR_PRIO_SHIFT 16      /**< Bits 19:16: priority of the virtual interrupt. */
#define VCORE_VMCB_INT_V_INTR_PRIO_MASK (0xfu << 16) /**< Mask of V_INTR_PRIO. */
#define VCORE_VMCB_INT_V_IGN_TPR (1u << 20)      /**< Bit 20: the virtual interrupt ignores V_TPR. */
#define VCORE_VMCB_INT_V_INTR_MASKING (1u << 24) /**< Bit 24: virtualize interrupt masking (guest IF and CR8). */
#define VCORE_VMCB_INT_V_GIF_ENABLE (1u << 25)   /**< Bit 25: virtual GIF enable. */
#define VCORE_VMCB_INT_V_NMI_ENABLE (1u << 26)   /**< Bit 26: virtual NMI enable. */
#define VCORE_VMCB_INT_AVIC_ENABLE (1u << 31)    /**< Bit 31: AVIC enable. */
/** @} */

/** @name Interrupt state (control area 068h, vcore_vmcb_control_t::int_state)
 * @{ */
#define VCORE_VMCB_STATE_INTERRUPT_SHADOW (1u << 0) /**< Bit 0: the guest is in an interrupt shadow (STI or MOV SS). */
#define VCORE_VMCB_STATE_GUEST_IF (1u << 1)         /**< Bit 1: GUEST_INTERRUPT_MASK, the guest's RFLAGS.IF (written on \#VMEXIT). */
/** @} */

/** @name Nested control (control area 090h) and virtualization extensions (0B8h)
 * @{ */
#define VCORE_VMCB_NESTED_NP_ENABLE (1ull << 0)  /**< 090h bit 0: nested paging. */
#define VCORE_VMCB_NESTED_SEV (1ull << 1)        /**< 090h bit 1: SEV. */
#define VCORE_VMCB_NESTED_SEV_ES (1ull << 2)     /**< 090h bit 2: SEV encrypted state. */
#define VCORE_VMCB_NESTED_GMET (1ull << 3)       /**< 090h bit 3: guest-mode execute trap. */
#define VCORE_VMCB_VIRT_LBR (1ull << 0)          /**< 0B8h bit 0: LBR virtualization. */
#define VCORE_VMCB_VIRT_VMSAVE_VMLOAD (1ull << 1) /**< 0B8h bit 1: virtualized VMSAVE/VMLOAD. */
/** @} */

/**
 * @name CPUID Fn8000_000A_EDX: the SVM features
 * APM Vol. 3, "CPUID Fn8000_000A_EDX SVM Feature Identification".
 * @{
 */
#define VCORE_SVM_FEAT_NP (1u << 0)            /**< Nested paging. */
#define VCORE_SVM_FEAT_LBRV (1u << 1)          /**< LBR virtualization. */
#define VCORE_SVM_FEAT_SVML (1u << 2)          /**< SVM lock. */
#define VCORE_SVM_FEAT_NRIPS (1u << 3)         /**< nRIP saved on \#VMEXIT. */
#define VCORE_SVM_FEAT_TSC_RATE (1u << 4)      /**< TSC ratio MSR. */
#define VCORE_SVM_FEAT_VMCB_CLEAN (1u << 5)    /**< VMCB clean bits. */
#define VCORE_SVM_FEAT_FLUSH_BY_ASID (1u << 6) /**< TLB_CONTROL values 3 and 7. */
#define VCORE_SVM_FEAT_DECODE_ASSISTS (1u << 7) /**< Decode assists. */
#define VCORE_SVM_FEAT_PAUSE_FILTER (1u << 10) /**< PAUSE intercept filter. */
#define VCORE_SVM_FEAT_PAUSE_THRESHOLD (1u << 12) /**< PAUSE filter threshold. */
#define VCORE_SVM_FEAT_AVIC (1u << 13)         /**< AVIC. */
#define VCORE_SVM_FEAT_VMSAVE_VIRT (1u << 15)  /**< Virtualized VMSAVE/VMLOAD. */
#define VCORE_SVM_FEAT_VGIF (1u << 16)         /**< Virtual GIF. */
#define VCORE_SVM_FEAT_GMET (1u << 17)         /**< Guest-mode execute trap. */
#define VCORE_SVM_FEAT_VNMI (1u << 25)         /**< Virtual NMI. */
/** @} */

/**
 * @name IOIO intercept: EXITINFO1 (APM Vol. 2, "IOIO Intercept")
 * EXITINFO2 holds the rIP of the instruction after the IN/OUT.
 * @{
 */
#define VCORE_VMCB_IOIO_IN (1ull << 0)       /**< Bit 0: IN/INS (1) or OUT/OUTS (0). */
#define VCORE_VMCB_IOIO_STR (1ull << 2)      /**< Bit 2: string instruction. */
#define VCORE_VMCB_IOIO_REP (1ull << 3)      /**< Bit 3: REP prefix. */
#define VCORE_VMCB_IOIO_SZ8 (1ull << 4)      /**< Bit 4: 8-bit operand. */
#define VCORE_VMCB_IOIO_SZ16 (1ull << 5)     /**< Bit 5: 16-bit operand. */
#define VCORE_VMCB_IOIO_SZ32 (1ull << 6)     /**< Bit 6: 32-bit operand. */
#define VCORE_VMCB_IOIO_A16 (1ull << 7)      /**< Bit 7: 16-bit address size. */
#define VCORE_VMCB_IOIO_A32 (1ull << 8)      /**< Bit 8: 32-bit address size. */
#define VCORE_VMCB_IOIO_A64 (1ull << 9)      /**< Bit 9: 64-bit address size. */
#define VCORE_VMCB_IOIO_SEG_SHIFT 10         /**< Bits 12:10: effective segment (decode assists). */
#define VCORE_VMCB_IOIO_PORT_SHIFT 16        /**< Bits 31:16: port. */
/** @} */

/**
 * @name Nested page fault: EXITINFO1 (APM Vol. 2, "Nested versus Guest Page Faults, Fault Ordering")
 * EXITINFO2 holds the faulting guest physical address.
 * @{
 */
#define VCORE_VMCB_NPF_P (1ull << 0)           /**< The nested page was present (protection fault). */
#define VCORE_VMCB_NPF_RW (1ull << 1)          /**< The access was a write. */
#define VCORE_VMCB_NPF_US (1ull << 2)          /**< The access was a user access. */
#define VCORE_VMCB_NPF_RSV (1ull << 3)         /**< A reserved bit was set in a nested paging entry. */
#define VCORE_VMCB_NPF_ID (1ull << 4)          /**< The access was an instruction fetch. */
#define VCORE_VMCB_NPF_FINAL (1ull << 32)      /**< The fault hit the final guest physical address. */
#define VCORE_VMCB_NPF_TABLE (1ull << 33)      /**< The fault hit a guest page-table access. */
/** @} */

/** @brief Decode assists, CR/DR access intercepts: EXITINFO1 bit 63 says MOV CRx/DRx (GPR number in bits 3:0). */
#define VCORE_VMCB_CR_MOV (1ull << 63)

/**
 * @name What the svm backend reports
 * For every exit of the svm backend vcore_exit_t::raw.source is
 * VCORE_EXIT_SRC_SVM, raw.reason holds EXITCODE bits 31:0 and
 * raw.qualification EXITINFO1; raw.data[0] is the whole 64-bit EXITCODE,
 * raw.data[1] EXITINFO2, raw.data[2] EXITINTINFO, raw.data[3] the guest RIP
 * at the exit and raw.data[4] the address of the instruction after the one
 * that exited where the exit has one (nRIP, IOIO's EXITINFO2, or the
 * decoded length), 0 otherwise. VMEXIT_INVALID comes back as
 * VCORE_EXIT_HW_ERROR with u.hw_error.kind 3. Exits the backend cannot
 * complete are VCORE_EXIT_INTERNAL_ERROR with one of the sub-errors below
 * in u.internal.suberror, the guest-physical or linear address in data[0]
 * and EXITINFO1 in data[1]. Intercepts it does not decode further (the
 * guest's SVM instructions, XSETBV, INVD, MONITOR/MWAIT, INVLPGA) are
 * VCORE_EXIT_RAW.
 * @{
 */
#define VCORE_SVM_INTERNAL_NPF_FETCH 1u    /**< A nested page fault of an instruction fetch (no RAM there). */
#define VCORE_SVM_INTERNAL_NPF_NOT_DATA 2u /**< A nested page fault of the guest's page walk or of an event delivery. */
#define VCORE_SVM_INTERNAL_MMIO_DECODE 3u  /**< The access outside RAM is not a MOV the backend decodes. */
#define VCORE_SVM_INTERNAL_STRING_IO 4u    /**< An element of INS/OUTS is not in guest RAM. */
#define VCORE_SVM_INTERNAL_INSN_DECODE 5u  /**< The intercepted instruction could not be read or decoded. */
/** @} */

/**
 * @brief The exit codes: X(NAME, base, offset), the code being base + offset.
 * APM Vol. 2, appendix "SVM Intercept Exit Codes".
 *
 * EXITCODE is a 64-bit field: VMEXIT_INVALID and the other negative codes
 * fill all 64 bits.
 */
#define VCORE_VMCB_EXIT_LIST(X)                                                                     \
    VCORE__VMCB_X16(X, CR, _READ, 0x00, 0) VCORE__VMCB_X16(X, CR, _WRITE, 0x10, 0)                  \
    VCORE__VMCB_X16(X, DR, _READ, 0x20, 0) VCORE__VMCB_X16(X, DR, _WRITE, 0x30, 0)                  \
    VCORE__VMCB_X16(X, EXCP, , 0x40, 0) VCORE__VMCB_X16_HI(X, EXCP, 0x50, 0)                         \
    X(INTR, 0x60, 0) X(NMI, 0x61, 0) X(SMI, 0x62, 0) X(INIT, 0x63, 0) X(VINTR, 0x64, 0)             \
    X(CR0_SEL_WRITE, 0x65, 0) X(IDTR_READ, 0x66, 0) X(GDTR_READ, 0x67, 0) X(LDTR_READ, 0x68, 0)     \
    X(TR_READ, 0x69, 0) X(IDTR_WRITE, 0x6a, 0) X(GDTR_WRITE, 0x6b, 0) X(LDTR_WRITE, 0x6c, 0)        \
    X(TR_WRITE, 0x6d, 0) X(RDTSC, 0x6e, 0) X(RDPMC, 0x6f, 0) X(PUSHF, 0x70, 0) X(POPF, 0x71, 0)     \
    X(CPUID, 0x72, 0) X(RSM, 0x73, 0) X(IRET, 0x74, 0) X(SWINT, 0x75, 0) X(INVD, 0x76, 0)           \
    X(PAUSE, 0x77, 0) X(HLT, 0x78, 0) X(INVLPG, 0x79, 0) X(INVLPGA, 0x7a, 0) X(IOIO, 0x7b, 0)       \
    X(MSR, 0x7c, 0) X(TASK_SWITCH, 0x7d, 0) X(FERR_FREEZE, 0x7e, 0) X(SHUTDOWN, 0x7f, 0)            \
    X(VMRUN, 0x80, 0) X(VMMCALL, 0x81, 0) X(VMLOAD, 0x82, 0) X(VMSAVE, 0x83, 0) X(STGI, 0x84, 0)    \
    X(CLGI, 0x85, 0) X(SKINIT, 0x86, 0) X(RDTSCP, 0x87, 0) X(ICEBP, 0x88, 0) X(WBINVD, 0x89, 0)     \
    X(MONITOR, 0x8a, 0) X(MWAIT, 0x8b, 0) X(MWAIT_CONDITIONAL, 0x8c, 0) X(XSETBV, 0x8d, 0)          \
    X(RDPRU, 0x8e, 0) X(EFER_WRITE_TRAP, 0x8f, 0) VCORE__VMCB_X16(X, CR, _WRITE_TRAP, 0x90, 0)      \
    X(INVLPGB, 0xa0, 0) X(INVLPGB_ILLEGAL, 0xa1, 0) X(INVPCID, 0xa2, 0) X(MCOMMIT, 0xa3, 0)         \
    X(TLBSYNC, 0xa4, 0) X(BUSLOCK, 0xa5, 0) X(IDLE_HLT, 0xa6, 0)                                    \
    X(NPF, 0x400, 0) X(AVIC_INCOMPLETE_IPI, 0x401, 0) X(AVIC_NOACCEL, 0x402, 0) X(VMGEXIT, 0x403, 0) \
    X(INVALID, -1, 0) X(BUSY, -2, 0) X(IDLE_REQUIRED, -3, 0) X(INVALID_PMC, -4, 0)

/**
 * @brief Exit codes as enumerators, e.g. VCORE_VMEXIT_CPUID = 0x72, VCORE_VMEXIT_INVALID = -1.
 *
 * Compare with the 64-bit EXITCODE as (uint64_t)(int64_t)VCORE_VMEXIT_INVALID.
 */
typedef enum vcore_vmexit_code {
#define VCORE__VMCB_EXIT_ENUM(name, base, off) VCORE_VMEXIT_##name = (base) + (off),
    VCORE_VMCB_EXIT_LIST(VCORE__VMCB_EXIT_ENUM)
#undef VCORE__VMCB_EXIT_ENUM
} vcore_vmexit_code_t;

/** @brief VMEXIT_INVALID as the 64-bit EXITCODE holds it. */
#define VCORE_VMEXIT_INVALID_CODE 0xffffffffffffffffull

/**
 * @brief Name of an exit code, e.g. "CPUID", "EXCP14", "NPF", "INVALID".
 * @param[in] code The 64-bit EXITCODE.
 * @return A static string; "UNKNOWN" for a code the APM does not define.
 */
VCORE_API const char *vcore_vmcb_exit_name(uint64_t code);

/**
 * @brief The named VMCB fields for tools: X(NAME, offset, bytes).
 *
 * Offsets are from the start of the VMCB (state-save fields from 400h);
 * every field of vcore_vmcb_t except the reserved ranges. Segment
 * registers are split into their selector, attribute, limit and base.
 */
#define VCORE__VMCB_SEG_FIELDS(X, S, off)                                                           \
    X(S##_SELECTOR, (off), 2) X(S##_ATTRIB, (off) + 2, 2) X(S##_LIMIT, (off) + 4, 4) X(S##_BASE, (off) + 8, 8)
/** @brief The field list (see above). */
#define VCORE_VMCB_FIELD_LIST(X)                                                                    \
    X(INTERCEPT_CR, 0x000, 4) X(INTERCEPT_DR, 0x004, 4) X(INTERCEPT_EXCEPTIONS, 0x008, 4)           \
    X(INTERCEPT_MISC1, 0x00c, 4) X(INTERCEPT_MISC2, 0x010, 4) X(INTERCEPT_MISC3, 0x014, 4)          \
    X(PAUSE_FILTER_THRESHOLD, 0x03c, 2) X(PAUSE_FILTER_COUNT, 0x03e, 2)                             \
    X(IOPM_BASE_PA, 0x040, 8) X(MSRPM_BASE_PA, 0x048, 8) X(TSC_OFFSET, 0x050, 8)                    \
    X(GUEST_ASID, 0x058, 4) X(TLB_CONTROL, 0x05c, 1) X(INT_CTL, 0x060, 4) X(INT_VECTOR, 0x064, 4)   \
    X(INT_STATE, 0x068, 4) X(EXITCODE, 0x070, 8) X(EXITINFO1, 0x078, 8) X(EXITINFO2, 0x080, 8)      \
    X(EXITINTINFO, 0x088, 8) X(NESTED_CTL, 0x090, 8) X(AVIC_APIC_BAR, 0x098, 8) X(GHCB_PA, 0x0a0, 8) \
    X(EVENTINJ, 0x0a8, 8) X(N_CR3, 0x0b0, 8) X(VIRT_EXT, 0x0b8, 8) X(CLEAN_BITS, 0x0c0, 4)          \
    X(NRIP, 0x0c8, 8) X(INSN_LEN, 0x0d0, 1) X(AVIC_BACKING_PAGE, 0x0e0, 8)                          \
    X(AVIC_LOGICAL_TABLE, 0x0f0, 8) X(AVIC_PHYSICAL_TABLE, 0x0f8, 8) X(VMSA_PA, 0x108, 8)           \
    VCORE__VMCB_SEG_FIELDS(X, ES, 0x400) VCORE__VMCB_SEG_FIELDS(X, CS, 0x410)                       \
    VCORE__VMCB_SEG_FIELDS(X, SS, 0x420) VCORE__VMCB_SEG_FIELDS(X, DS, 0x430)                       \
    VCORE__VMCB_SEG_FIELDS(X, FS, 0x440) VCORE__VMCB_SEG_FIELDS(X, GS, 0x450)                       \
    VCORE__VMCB_SEG_FIELDS(X, GDTR, 0x460) VCORE__VMCB_SEG_FIELDS(X, LDTR, 0x470)                   \
    VCORE__VMCB_SEG_FIELDS(X, IDTR, 0x480) VCORE__VMCB_SEG_FIELDS(X, TR, 0x490)                     \
    X(VMPL, 0x4ca, 1) X(CPL, 0x4cb, 1) X(EFER, 0x4d0, 8) X(CR4, 0x548, 8) X(CR3, 0x550, 8)          \
    X(CR0, 0x558, 8) X(DR7, 0x560, 8) X(DR6, 0x568, 8) X(RFLAGS, 0x570, 8) X(RIP, 0x578, 8)         \
    X(RSP, 0x5d8, 8) X(S_CET, 0x5e0, 8) X(SSP, 0x5e8, 8) X(ISST_ADDR, 0x5f0, 8) X(RAX, 0x5f8, 8)    \
    X(STAR, 0x600, 8) X(LSTAR, 0x608, 8) X(CSTAR, 0x610, 8) X(SFMASK, 0x618, 8)                     \
    X(KERNEL_GS_BASE, 0x620, 8) X(SYSENTER_CS, 0x628, 8) X(SYSENTER_ESP, 0x630, 8)                  \
    X(SYSENTER_EIP, 0x638, 8) X(CR2, 0x640, 8) X(G_PAT, 0x668, 8) X(DBGCTL, 0x670, 8)               \
    X(BR_FROM, 0x678, 8) X(BR_TO, 0x680, 8) X(LASTEXCP_FROM, 0x688, 8) X(LASTEXCP_TO, 0x690, 8)     \
    X(SPEC_CTRL, 0x6e0, 8)

/** @brief Metadata of one named VMCB field. */
typedef struct vcore_vmcb_field_info {
    size_t size;      /**< sizeof(vcore_vmcb_field_info_t), set by the caller. */
    const char *name; /**< Upper-snake name, e.g. "EXITCODE", "CS_ATTRIB" (static). */
    uint32_t offset;  /**< Byte offset in the VMCB. */
    uint32_t bytes;   /**< Width in bytes: 1, 2, 4 or 8. */
    bool save_area;   /**< The field lies in the state-save area (offset >= 400h). */
} vcore_vmcb_field_info_t;

/**
 * @brief Number of named fields.
 * @return The count (constant).
 */
VCORE_API uint32_t vcore_vmcb_field_count(void);

/**
 * @brief Describes the i-th named field (in offset order).
 * @param[in] i Index, 0 .. vcore_vmcb_field_count() - 1.
 * @param[out] info Receives the metadata; @c info->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p info is NULL.
 * @retval VCORE_ERR_ABI @p info->size is wrong.
 * @retval VCORE_ERR_RANGE @p i is past the end of the table.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmcb_field_at(uint32_t i, vcore_vmcb_field_info_t *info);

/**
 * @brief Finds a named field by name ("EXITCODE", "CS_ATTRIB").
 * @param[in] name NUL-terminated name, case sensitive.
 * @param[out] info Receives the metadata; @c info->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL argument.
 * @retval VCORE_ERR_ABI @p info->size is wrong.
 * @retval VCORE_ERR_NOENT No field has that name.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmcb_field_by_name(const char *name, vcore_vmcb_field_info_t *info);

/**
 * @brief Finds the named field that starts at an offset.
 * @param[in] offset Byte offset in the VMCB.
 * @param[out] info Receives the metadata; @c info->size must be set.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL @p info is NULL.
 * @retval VCORE_ERR_ABI @p info->size is wrong.
 * @retval VCORE_ERR_NOENT No named field starts there.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmcb_field_lookup(uint32_t offset, vcore_vmcb_field_info_t *info);

/**
 * @brief Reads @p bytes bytes (little endian) at @p offset of a VMCB image.
 *
 * A raw access for tools: any offset and width inside the page, named or not.
 * @param[in] vmcb A ::VCORE_VMCB_SIZE-byte image.
 * @param[in] offset Byte offset.
 * @param[in] bytes 1, 2, 4 or 8.
 * @param[out] value Receives the zero-extended value.
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL pointer or a width other than 1, 2, 4, 8.
 * @retval VCORE_ERR_RANGE The access does not lie inside the page.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmcb_read(const void *vmcb, uint32_t offset, uint32_t bytes,
                                                uint64_t *value);

/**
 * @brief Writes the low @p bytes bytes of @p value (little endian) at @p offset of a VMCB image.
 * @param[in,out] vmcb A ::VCORE_VMCB_SIZE-byte image.
 * @param[in] offset Byte offset.
 * @param[in] bytes 1, 2, 4 or 8.
 * @param[in] value The value (bits above the width are ignored).
 * @return VCORE_OK on success.
 * @retval VCORE_ERR_INVAL A NULL pointer or a width other than 1, 2, 4, 8.
 * @retval VCORE_ERR_RANGE The access does not lie inside the page.
 */
VCORE_API VCORE_WARN_UNUSED int vcore_vmcb_write(void *vmcb, uint32_t offset, uint32_t bytes,
                                                 uint64_t value);

VCORE_END_DECLS

#endif /* VIRTCORE_X86_VMCB_H */
