/*
 * s2_fault.c - decoding guest data and instruction aborts taken to EL2
 * (Arm ARM, "ESR_EL2": ISS encoding for an exception from a Data Abort /
 * Instruction Abort; "HPFAR_EL2"; "PAR_EL1").
 *
 * Pure: the backend reads ESR_EL2, FAR_EL2, HPFAR_EL2 (and, when
 * vcore_arm64_abort_needs_at() says so, runs AT S1E1R/W and reads PAR_EL1);
 * this file turns them into a vcore_exit_t. The EL2 backend and the KVM
 * arm64 path share it.
 */
#include "arm64.h"

/* Fault kind and lookup level from a DFSC/IFSC value. */
static void vcore__s2_fsc(uint32_t fsc, uint8_t *kind, int8_t *level)
{
    *level = VCORE_EXIT_LEVEL_NONE;
    uint32_t ll = fsc & 3u;
    switch (fsc & 0x3cu) {
    case 0x00: /* 0b0000LL Address size fault, level LL */
        *kind = VCORE_EXIT_FAULT_ADDRESS_SIZE;
        *level = (int8_t)ll;
        return;
    case 0x04: /* 0b0001LL Translation fault, level LL */
        *kind = VCORE_EXIT_FAULT_TRANSLATION;
        *level = (int8_t)ll;
        return;
    case 0x08: /* 0b0010LL Access flag fault, level LL (level 0 with FEAT_LPA2) */
        *kind = VCORE_EXIT_FAULT_ACCESS_FLAG;
        *level = (int8_t)ll;
        return;
    case 0x0c: /* 0b0011LL Permission fault, level LL (level 0 with FEAT_LPA2) */
        *kind = VCORE_EXIT_FAULT_PERMISSION;
        *level = (int8_t)ll;
        return;
    case 0x14: /* 0b0101LL Synchronous External abort on a table walk, level LL */
    case 0x1c: /* 0b0111LL parity/ECC error on a table walk, level LL */
        *kind = VCORE_EXIT_FAULT_EXTERNAL;
        *level = (int8_t)ll;
        return;
    case 0x24: /* 0b1001LL Granule Protection Fault on a table walk, level LL */
        *kind = VCORE_EXIT_FAULT_OTHER;
        *level = (int8_t)ll;
        return;
    default:
        break;
    }
    switch (fsc) {
    case 0x29: /* 0b101001 Address size fault, level -1 (FEAT_LPA2) */
        *kind = VCORE_EXIT_FAULT_ADDRESS_SIZE;
        *level = -1;
        return;
    case 0x2b: /* 0b101011 Translation fault, level -1 (FEAT_LPA2) */
        *kind = VCORE_EXIT_FAULT_TRANSLATION;
        *level = -1;
        return;
    case 0x10: /* 0b010000 Synchronous External abort, not on a walk */
    case 0x18: /* 0b011000 parity/ECC error, not on a walk */
        *kind = VCORE_EXIT_FAULT_EXTERNAL;
        return;
    case 0x13: /* 0b010011 Synchronous External abort on a walk, level -1 */
    case 0x1b: /* 0b011011 parity/ECC error on a walk, level -1 */
        *kind = VCORE_EXIT_FAULT_EXTERNAL;
        *level = -1;
        return;
    case 0x21: /* 0b100001 Alignment fault */
        *kind = VCORE_EXIT_FAULT_ALIGNMENT;
        return;
    case 0x23: /* 0b100011 Granule Protection Fault on a walk, level -1 */
        *kind = VCORE_EXIT_FAULT_OTHER;
        *level = -1;
        return;
    default: /* tag check, TLB conflict, unsupported atomic update, IMPLEMENTATION DEFINED */
        *kind = VCORE_EXIT_FAULT_OTHER;
        return;
    }
}

static uint32_t vcore__s2_ec(uint64_t esr)
{
    return (uint32_t)VCORE__A64_FIELD(esr, VCORE__ESR_EC_SHIFT, VCORE__ESR_EC_WIDTH);
}

static bool vcore__s2_is_lower_abort(uint64_t esr)
{
    uint32_t ec = vcore__s2_ec(esr);
    return ec == VCORE__ESR_EC_DABT_LOW || ec == VCORE__ESR_EC_IABT_LOW;
}

/* Arm ARM, "HPFAR_EL2": written for stage-2 Translation, Access flag and
 * Address size faults, and for Translation, Access flag and Permission
 * faults on the stage-2 translation of a stage-1 table walk; UNKNOWN for
 * every other exception (a stage-2 Permission fault on the access itself
 * included). */
static bool vcore__s2_hpfar_valid(uint64_t esr)
{
    uint8_t kind;
    int8_t level;
    vcore__s2_fsc((uint32_t)(esr & VCORE__ESR_FSC_MASK), &kind, &level);
    if (kind == VCORE_EXIT_FAULT_TRANSLATION || kind == VCORE_EXIT_FAULT_ACCESS_FLAG ||
        kind == VCORE_EXIT_FAULT_ADDRESS_SIZE)
        return true;
    return kind == VCORE_EXIT_FAULT_PERMISSION && (esr & VCORE__ESR_S1PTW);
}

bool vcore_arm64_abort_needs_at(uint64_t esr)
{
    if (!vcore__s2_is_lower_abort(esr) || (esr & VCORE__ESR_FNV))
        return false;
    return !vcore__s2_hpfar_valid(esr);
}

int vcore_arm64_abort_decode(const vcore_arm64_abort_t *in, vcore_exit_t *exit, vcore_diag_t *diag)
{
    if (!in || !exit)
        return VCORE_ERR_INVAL;
    if (!VCORE__SIZE_OK(in) || !VCORE__SIZE_OK(exit))
        return VCORE_ERR_ABI;
    uint64_t esr = in->esr;
    if (!vcore__s2_is_lower_abort(esr))
        return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_ABORT_NOT_LOWER_EL, esr);

    vcore__memset(&exit->reason, 0, sizeof(*exit) - offsetof(vcore_exit_t, reason));
    bool data = vcore__s2_ec(esr) == VCORE__ESR_EC_DABT_LOW;
    uint32_t fsc = (uint32_t)(esr & VCORE__ESR_FSC_MASK);
    uint32_t flags = 0;
    vcore__s2_fsc(fsc, &exit->u.mmio.fault, &exit->u.mmio.level);
    exit->u.mmio.fsc = (uint8_t)fsc;

    if (!data)
        flags |= VCORE_EXIT_MMIO_F_FETCH;
    if (esr & VCORE__ESR_S1PTW)
        flags |= VCORE_EXIT_MMIO_F_S1PTW;
    if (esr & VCORE__ESR_EA)
        flags |= VCORE_EXIT_MMIO_F_EXTERNAL;
    if (data && (esr & VCORE__ESR_CM))
        flags |= VCORE_EXIT_MMIO_F_CACHE_MAINT;
    bool far_ok = !(esr & VCORE__ESR_FNV);
    if (far_ok) {
        flags |= VCORE_EXIT_MMIO_F_VA_VALID;
        exit->u.mmio.va = in->far;
    }
    /* The page offset comes from FAR_EL2 when it is valid. */
    uint64_t off_far = far_ok ? in->far : 0;
    uint64_t ipa = 0;
    if (vcore__s2_hpfar_valid(esr)) {
        ipa = vcore_arm64_hpfar_to_ipa(in->hpfar, off_far);
        flags |= VCORE_EXIT_MMIO_F_IPA_VALID;
    } else if (in->par_valid && far_ok && vcore_arm64_par_to_ipa(in->par, off_far, &ipa) == VCORE_OK) {
        flags |= VCORE_EXIT_MMIO_F_IPA_VALID;
    }
    exit->u.mmio.gpa = ipa;
    exit->u.mmio.is_write = (uint8_t)(data && (esr & VCORE__ESR_WNR) ? 1 : 0);

    if (data && (esr & VCORE__ESR_ISV)) {
        /* Instruction syndrome (data aborts only): a single-register load or store. */
        flags |= VCORE_EXIT_MMIO_F_SYNDROME;
        exit->u.mmio.len = 1u << VCORE__A64_FIELD(esr, VCORE__ESR_SAS_SHIFT, 2);
        exit->u.mmio.reg = (uint8_t)VCORE__A64_FIELD(esr, VCORE__ESR_SRT_SHIFT, 5);
        if (esr & VCORE__ESR_SSE)
            flags |= VCORE_EXIT_MMIO_F_SIGN_EXTEND;
        if (esr & VCORE__ESR_SF)
            flags |= VCORE_EXIT_MMIO_F_REG64;
        if (esr & VCORE__ESR_AR)
            flags |= VCORE_EXIT_MMIO_F_ACQ_REL;
    }
    exit->u.mmio.flags = flags;

    uint8_t kind = exit->u.mmio.fault;
    bool stage2_kind = kind == VCORE_EXIT_FAULT_TRANSLATION || kind == VCORE_EXIT_FAULT_ACCESS_FLAG ||
                       kind == VCORE_EXIT_FAULT_PERMISSION;
    uint32_t need = VCORE_EXIT_MMIO_F_SYNDROME | VCORE_EXIT_MMIO_F_IPA_VALID;
    bool mmio = data && stage2_kind && (flags & need) == need &&
                !(flags & (VCORE_EXIT_MMIO_F_S1PTW | VCORE_EXIT_MMIO_F_CACHE_MAINT)) &&
                !(in->is_ram && in->is_ram(in->ctx, ipa));
    if (mmio) {
        exit->reason = VCORE_EXIT_MMIO;
        if (exit->u.mmio.is_write) {
            uint32_t r = exit->u.mmio.reg;
            /* Register 31 is XZR/WZR for loads and stores. */
            uint64_t v = (in->x && r < 31u) ? in->x[r] : 0;
            for (uint32_t i = 0; i < exit->u.mmio.len; i++)
                exit->u.mmio.data[i] = (uint8_t)(v >> (8u * i));
        } else {
            exit->flags |= VCORE_EXIT_F_NEEDS_REPLY;
        }
    } else {
        exit->reason = VCORE_EXIT_STAGE2_FAULT;
    }
    exit->raw.source = VCORE_EXIT_SRC_ARM64;
    exit->raw.reason = vcore__s2_ec(esr);
    exit->raw.qualification = esr;
    exit->raw.data[0] = in->far;
    exit->raw.data[1] = in->hpfar;
    exit->raw.data[2] = in->par_valid ? in->par : 0;
    return VCORE_OK;
}

int vcore_arm64_mmio_complete(const vcore_exit_t *exit, uint64_t *x, vcore_diag_t *diag)
{
    if (!exit || !x)
        return VCORE_ERR_INVAL;
    if (exit->reason != VCORE_EXIT_MMIO || exit->raw.source != VCORE_EXIT_SRC_ARM64 ||
        !(exit->u.mmio.flags & VCORE_EXIT_MMIO_F_SYNDROME) || exit->u.mmio.is_write ||
        exit->u.mmio.len == 0 || exit->u.mmio.len > 8 || exit->u.mmio.reg > 31)
        return vcore__diag_set(diag, VCORE_DIAG_ARM64_S2_MMIO_NOT_READ, exit->reason);
    uint32_t len = exit->u.mmio.len;
    uint64_t v = 0;
    for (uint32_t i = 0; i < len; i++)
        v |= (uint64_t)exit->u.mmio.data[i] << (8u * i);
    if (len < 8 && (exit->u.mmio.flags & VCORE_EXIT_MMIO_F_SIGN_EXTEND)) {
        uint64_t sign = 1ull << (8u * len - 1u);
        v = (v ^ sign) - sign; /* two's-complement sign extension from the access size */
    }
    if (!(exit->u.mmio.flags & VCORE_EXIT_MMIO_F_REG64))
        v &= 0xffffffffull; /* a write to Wt zeroes bits[63:32] of Xt */
    if (exit->u.mmio.reg < 31)
        x[exit->u.mmio.reg] = v;
    return VCORE_OK;
}
