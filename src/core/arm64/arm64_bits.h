/*
 * arm64_bits.h - architectural bit positions used inside src/core/arm64.
 *
 * Internal only: each field of VTCR_EL2, VTTBR_EL2, HPFAR_EL2, PAR_EL1,
 * ESR_EL2, ID_AA64MMFR0_EL1 / ID_AA64MMFR1_EL1 and of the stage-2
 * descriptors is defined here once, named as the Arm ARM register
 * descriptions name it.
 */
#ifndef VCORE_CORE_ARM64_BITS_H
#define VCORE_CORE_ARM64_BITS_H

#include <stdint.h>

#define VCORE__A64_BIT(n) (1ull << (n))
/* Bits hi..lo set (hi >= lo, hi <= 63). */
#define VCORE__A64_GENMASK(hi, lo) ((~0ull >> (63 - (hi))) & ~((1ull << (lo)) - 1ull))
/* Field extraction: (v >> shift) & ((1 << width) - 1). */
#define VCORE__A64_FIELD(v, shift, width) (((v) >> (shift)) & ((1ull << (width)) - 1ull))

/* ---- ID_AA64MMFR0_EL1 (Arm ARM, "ID_AA64MMFR0_EL1") ---- */
#define VCORE__MMFR0_PARANGE_SHIFT 0    /* PARange[3:0]: implemented physical address size. */
#define VCORE__MMFR0_TGRAN16_SHIFT 20   /* TGran16[23:20]: 0 NI, 1 IMP, 2 IMP with 52-bit (LPA2). */
#define VCORE__MMFR0_TGRAN64_SHIFT 24   /* TGran64[27:24]: 0 IMP, 0xF NI. */
#define VCORE__MMFR0_TGRAN4_SHIFT 28    /* TGran4[31:28]: 0 IMP, 1 IMP with 52-bit, 0xF NI. */
#define VCORE__MMFR0_TGRAN16_2_SHIFT 32 /* TGran16_2[35:32]: stage 2, see below. */
#define VCORE__MMFR0_TGRAN64_2_SHIFT 36 /* TGran64_2[39:36]: stage 2. */
#define VCORE__MMFR0_TGRAN4_2_SHIFT 40  /* TGran4_2[43:40]: stage 2. */
/* Values of the TGran<N>_2 fields. */
#define VCORE__TGRAN_2_AS_STAGE1 0u     /* Support is given by the stage-1 field. */
#define VCORE__TGRAN_2_NI 1u            /* Not implemented at stage 2. */
#define VCORE__TGRAN_2_IMP 2u           /* Implemented at stage 2. */
#define VCORE__TGRAN_2_LPA2 3u          /* Implemented with 52-bit addresses (4KB, 16KB). */

/* ---- ID_AA64MMFR1_EL1 (Arm ARM, "ID_AA64MMFR1_EL1") ---- */
#define VCORE__MMFR1_VMIDBITS_SHIFT 4   /* VMIDBits[7:4]: 0 = 8 bits, 2 = 16 bits. */
#define VCORE__MMFR1_VMIDBITS_16 2u
#define VCORE__MMFR1_XNX_SHIFT 28       /* XNX[31:28]: 1 = FEAT_XNX (stage 2 XN[1:0]). */

/* ---- VTCR_EL2 (Arm ARM, "VTCR_EL2") ---- */
#define VCORE__VTCR_T0SZ_SHIFT 0        /* T0SZ[5:0]: IPA size is 64 - T0SZ. */
#define VCORE__VTCR_SL0_SHIFT 6         /* SL0[7:6]: start level (meaning depends on TG0). */
#define VCORE__VTCR_IRGN0_SHIFT 8       /* IRGN0[9:8]: inner cacheability of walks. */
#define VCORE__VTCR_ORGN0_SHIFT 10      /* ORGN0[11:10]: outer cacheability of walks. */
#define VCORE__VTCR_SH0_SHIFT 12        /* SH0[13:12]: shareability of walks. */
#define VCORE__VTCR_TG0_SHIFT 14        /* TG0[15:14]: granule, 0 = 4KB, 1 = 64KB, 2 = 16KB. */
#define VCORE__VTCR_PS_SHIFT 16         /* PS[18:16]: output address size (PARange encoding). */
#define VCORE__VTCR_VS VCORE__A64_BIT(19)   /* VS: 16-bit VMID. */
#define VCORE__VTCR_RES1 VCORE__A64_BIT(31) /* Bit 31 is RES1. */
#define VCORE__VTCR_DS VCORE__A64_BIT(32)   /* DS: FEAT_LPA2 52-bit descriptors (4KB, 16KB). */
#define VCORE__VTCR_SL2 VCORE__A64_BIT(33)  /* SL2: with SL0 = 0, start at level -1 (4KB, DS = 1). */
#define VCORE__VTCR_WBWA 1u             /* IRGN0/ORGN0 0b01: Write-Back Read-Allocate Write-Allocate. */
#define VCORE__VTCR_SH_INNER 3u         /* SH0 0b11: Inner Shareable. */
#define VCORE__VTCR_TG0_4K 0u           /* TG0 encodings. */
#define VCORE__VTCR_TG0_64K 1u
#define VCORE__VTCR_TG0_16K 2u

/* ---- VTTBR_EL2 (Arm ARM, "VTTBR_EL2") ---- */
#define VCORE__VTTBR_CNP VCORE__A64_BIT(0)  /* CnP: Common not Private. */
#define VCORE__VTTBR_VMID_SHIFT 48          /* VMID[63:48] (bits[55:48] with 8-bit VMIDs). */
#define VCORE__VTTBR_BADDR_HI_SHIFT 2       /* 52-bit output: BADDR[51:48] in bits[5:2]. */

/* ---- HPFAR_EL2 (Arm ARM, "HPFAR_EL2") ---- */
#define VCORE__HPFAR_FIPA_SHIFT 4           /* FIPA[43:4] = IPA[51:12]. */
#define VCORE__HPFAR_FIPA_WIDTH 40

/* ---- PAR_EL1 (Arm ARM, "PAR_EL1") ---- */
#define VCORE__PAR_F VCORE__A64_BIT(0)      /* F: the AT instruction aborted. */
#define VCORE__PAR_PA_MASK VCORE__A64_GENMASK(51, 12) /* PA[51:12] when F = 0. */

/* ---- ESR_EL2 (Arm ARM, "ESR_EL2") ---- */
#define VCORE__ESR_EC_SHIFT 26              /* EC[31:26]: exception class. */
#define VCORE__ESR_EC_WIDTH 6
#define VCORE__ESR_EC_IABT_LOW 0x20u        /* Instruction Abort from a lower Exception level. */
#define VCORE__ESR_EC_DABT_LOW 0x24u        /* Data Abort from a lower Exception level. */
#define VCORE__ESR_IL VCORE__A64_BIT(25)    /* IL: 32-bit instruction. */
#define VCORE__ESR_ISV VCORE__A64_BIT(24)   /* ISV: bits[23:14] hold a valid syndrome. */
#define VCORE__ESR_SAS_SHIFT 22             /* SAS[23:22]: access size, 1 << SAS bytes. */
#define VCORE__ESR_SSE VCORE__A64_BIT(21)   /* SSE: the load sign-extends. */
#define VCORE__ESR_SRT_SHIFT 16             /* SRT[20:16]: register transferred. */
#define VCORE__ESR_SF VCORE__A64_BIT(15)    /* SF: 64-bit register. */
#define VCORE__ESR_AR VCORE__A64_BIT(14)    /* AR: acquire/release. */
#define VCORE__ESR_FNV VCORE__A64_BIT(10)   /* FnV: FAR not valid. */
#define VCORE__ESR_EA VCORE__A64_BIT(9)     /* EA: external abort type. */
#define VCORE__ESR_CM VCORE__A64_BIT(8)     /* CM: cache maintenance / AT instruction. */
#define VCORE__ESR_S1PTW VCORE__A64_BIT(7)  /* S1PTW: stage-2 fault on a stage-1 walk. */
#define VCORE__ESR_WNR VCORE__A64_BIT(6)    /* WnR: write (data aborts). */
#define VCORE__ESR_FSC_MASK 0x3fu           /* DFSC/IFSC[5:0]: fault status code. */

/* ---- Stage-2 descriptors (Arm ARM D8, VMSAv8-64 descriptor formats) ---- */
#define VCORE__S2D_VALID VCORE__A64_BIT(0)  /* Valid. */
#define VCORE__S2D_TABLE VCORE__A64_BIT(1)  /* Levels < 3: 1 table, 0 block; level 3: 1 page. */
#define VCORE__S2D_MEMATTR_SHIFT 2          /* MemAttr[3:0] (bits[5:2]), with HCR_EL2.FWB = 0. */
#define VCORE__S2D_MEMATTR_NORMAL_WB 0xfull /* 0b1111: Normal, Outer and Inner Write-Back Cacheable. */
#define VCORE__S2D_MEMATTR_DEVICE_NGNRE 0x1ull /* 0b0001: Device-nGnRE. */
#define VCORE__S2D_S2AP_R VCORE__A64_BIT(6) /* S2AP[0]: read access. */
#define VCORE__S2D_S2AP_W VCORE__A64_BIT(7) /* S2AP[1]: write access. */
#define VCORE__S2D_SH_SHIFT 8               /* SH[9:8] shareability (DS = 0): 0b11 Inner. */
#define VCORE__S2D_SH_INNER 3ull
#define VCORE__S2D_AF VCORE__A64_BIT(10)    /* AF: Access flag. */
#define VCORE__S2D_XN_SHIFT 53              /* XN[1:0] (bits[54:53]); bit 53 RES0 without FEAT_XNX. */
#define VCORE__S2D_XN_ALLOW 0ull            /* 0b00: EL1 and EL0 may execute. */
#define VCORE__S2D_XN_EL1_ONLY_BLOCKED 1ull /* 0b01: EL1 may not, EL0 may (FEAT_XNX). */
#define VCORE__S2D_XN_NONE 2ull             /* 0b10: neither may execute. */
#define VCORE__S2D_XN_EL0_BLOCKED 3ull      /* 0b11: EL1 may, EL0 may not (FEAT_XNX). */
#define VCORE__S2D_LPA_OA_SHIFT 12          /* 64KB + 52-bit: OA[51:48] in bits[15:12]. */
#define VCORE__S2D_LPA2_OA_SHIFT 8          /* DS = 1: OA[51:50] in bits[9:8]. */
/* Attribute bits the builder writes in a leaf (everything but the address). */
#define VCORE__S2D_LEAF_ATTRS                                                  \
    (VCORE__A64_GENMASK(5, 2) | VCORE__S2D_S2AP_R | VCORE__S2D_S2AP_W |        \
     VCORE__S2D_AF | VCORE__A64_GENMASK(54, 53))

/*
 * Invalid entries. The hardware ignores bits[63:1] of a descriptor whose
 * bit 0 is clear, so the builder gives invalid entries three meanings
 * during a commit: 0 = empty; a table descriptor with bit 0 clear =
 * "pending": the new table is complete and the entry becomes valid after
 * the TLB maintenance; the same with bit 63 set = "retired": the old
 * subtree is freed after the TLB maintenance. Outside a commit every
 * invalid entry is 0.
 */
#define VCORE__S2D_RETIRED VCORE__A64_BIT(63)

#endif /* VCORE_CORE_ARM64_BITS_H */
