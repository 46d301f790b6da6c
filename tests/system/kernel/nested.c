/*
 * nested.c - the L0 -> L1 -> L2 suite: the L1 hypervisor of l1/ runs
 *   - bare on the emulated CPU (the test kernel calls it at ring 0): the
 *     CPU's own VMX answers, which checks L1's expectations (written from
 *     the SDM) against the emulator, and records what the emulated CPU does
 *     with each broken VMCS;
 *   - nested, as the guest of a libvirtcore vCPU with nested VMX on the vmx
 *     backend: the library must give L1 the same answers, with L2 running
 *     on vmcs02, with L1's EPT (ept02) or without it: every case asserted.
 * One CASE line per L1 case and per broken VMCS.
 */
#include "cases.h"
#include "l1/l1.h"
#include "l1_boot.h"

#include "backend-vmx/vmx_prim.h"

/*
 * The nested kernel is linked with --wrap for two of the vmx backend's
 * primitives, to observe what L0 does on the (emulated) processor without
 * changing the library: every VM entry is counted (one per L0 exit), and a
 * VMREAD/VMWRITE the processor refuses is remembered.
 */
vcore__vmx_rc_t __real_vcore__vmx_enter(vcore__vmx_gprs_t *g);
vcore__vmx_rc_t __wrap_vcore__vmx_enter(vcore__vmx_gprs_t *g);
vcore__vmx_rc_t __real_vcore__vmx_write(uint32_t field, uint64_t value);
vcore__vmx_rc_t __wrap_vcore__vmx_write(uint32_t field, uint64_t value);
vcore__vmx_rc_t __real_vcore__vmx_read(uint32_t field, uint64_t *value);
vcore__vmx_rc_t __wrap_vcore__vmx_read(uint32_t field, uint64_t *value);

static uint64_t vtk_l0_entries;
static uint32_t vtk_l0_refused_field; /* last field a VMREAD/VMWRITE failed on, +1 */
static uint32_t vtk_l0_refused_error;

/* While on (between two of L1's marks), each L0 exit is tallied by the VMCS
 * it left (vmcs01: L1 ran; any other: L2 on vmcs02) and its basic reason. */
#define VTK_EXITS_N 12
typedef struct vtk_exits {
    bool l2;
    uint32_t reason;
    uint64_t n;
} vtk_exits_t;
static bool vtk_exits_on;
static uint64_t vtk_exits_vmcs01; /* the current VMCS when L1 wrote the mark */
static vtk_exits_t vtk_exits[VTK_EXITS_N];
static uint32_t vtk_exits_used;
static uint64_t vtk_exits_other; /* exits that found no free slot */

static void vtk_exits_exit(void)
{
    uint64_t reason = 0, vmcs = 0;
    /* SDM Vol. 3, "Basic VM-Exit Information": exit reason 4402H, bits 15:0 basic. */
    if (__real_vcore__vmx_read(0x4402u, &reason).kind || vcore__vmx_ptrst(&vmcs).kind)
        return;
    bool l2 = vmcs != vtk_exits_vmcs01;
    uint32_t basic = (uint32_t)reason & 0xffffu;
    for (uint32_t i = 0; i < vtk_exits_used; i++) {
        if (vtk_exits[i].l2 == l2 && vtk_exits[i].reason == basic) {
            vtk_exits[i].n++;
            return;
        }
    }
    if (vtk_exits_used == VTK_EXITS_N) {
        vtk_exits_other++;
        return;
    }
    vtk_exits[vtk_exits_used].l2 = l2;
    vtk_exits[vtk_exits_used].reason = basic;
    vtk_exits[vtk_exits_used].n = 1;
    vtk_exits_used++;
}

vcore__vmx_rc_t __wrap_vcore__vmx_enter(vcore__vmx_gprs_t *g)
{
    vtk_l0_entries++;
    vcore__vmx_rc_t rc = __real_vcore__vmx_enter(g);
    if (vtk_exits_on && rc.kind == 0)
        vtk_exits_exit();
    return rc;
}

vcore__vmx_rc_t __wrap_vcore__vmx_write(uint32_t field, uint64_t value)
{
    vcore__vmx_rc_t rc = __real_vcore__vmx_write(field, value);
    if (rc.kind) {
        vtk_l0_refused_field = field + 1;
        vtk_l0_refused_error = rc.error;
    }
    return rc;
}

vcore__vmx_rc_t __wrap_vcore__vmx_read(uint32_t field, uint64_t *value)
{
    vcore__vmx_rc_t rc = __real_vcore__vmx_read(field, value);
    if (rc.kind) {
        vtk_l0_refused_field = field + 1;
        vtk_l0_refused_error = rc.error;
    }
    return rc;
}

extern const uint8_t vtk_l1_image[], vtk_l1_image_end[];

static const char *const vtk_l1_case_names[] = {
#define VTK_L1_NAME(id, name, why) name,
    L1_CASE_LIST(VTK_L1_NAME)
#undef VTK_L1_NAME
};

/* Cases that need the library to run L2 (everything from a successful VMLAUNCH on). */
static bool vtk_l1_case_needs_entry(uint32_t c)
{
    return c >= L1_CASE_LAUNCH;
}

typedef struct vtk_l1_var {
    const char *name;
    uint32_t kind; /* 0 VM exit, 1 VMfailInvalid, 2 VMfailValid */
    uint64_t value; /* error number or exit reason */
    uint64_t qual;
} vtk_l1_var_t;

static const vtk_l1_var_t vtk_l1_vars[] = {
#define VTK_L1_VAR(id, name, kind, v, q) {name, kind, v, q},
    L1_VAR_LIST(VTK_L1_VAR)
#undef VTK_L1_VAR
};

/* ---- text ---- */

typedef struct vtk_line {
    char buf[240];
    size_t len;
} vtk_line_t;

static void vtk_line_str(vtk_line_t *l, const char *s)
{
    while (*s && l->len + 1 < sizeof(l->buf))
        l->buf[l->len++] = *s++;
    l->buf[l->len] = '\0';
}

static void vtk_line_hex(vtk_line_t *l, uint64_t v)
{
    vtk_why_t w;
    w.len = 0;
    vtk_why_hex(&w, v);
    vtk_line_str(l, w.buf);
}

static void vtk_line_dec(vtk_line_t *l, uint64_t v)
{
    char tmp[21];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        if (l->len + 1 < sizeof(l->buf))
            l->buf[l->len++] = tmp[--n];
        else
            n--;
    l->buf[l->len] = '\0';
}

static void vtk_line_outcome(vtk_line_t *l, const l1_outcome_t *o)
{
    if (!o || o->state == L1_NOT_RUN) {
        vtk_line_str(l, "not-run");
        return;
    }
    switch (o->kind) {
    case 0:
        vtk_line_str(l, "exit(");
        vtk_line_hex(l, o->reason);
        vtk_line_str(l, ",q=");
        vtk_line_hex(l, o->qual);
        vtk_line_str(l, ")");
        break;
    case 1:
        vtk_line_str(l, "vmfail-invalid");
        break;
    case 2:
        vtk_line_str(l, "vmfail-valid(");
        vtk_line_hex(l, o->error);
        vtk_line_str(l, ")");
        break;
    default:
        vtk_line_str(l, "setup-failed(");
        vtk_line_hex(l, o->error);
        vtk_line_str(l, ")");
        break;
    }
}

static bool vtk_l1_outcome_is(const l1_outcome_t *o, const vtk_l1_var_t *want)
{
    if (o->state == L1_NOT_RUN || o->kind != want->kind)
        return false;
    if (o->kind == 2)
        return o->error == want->value;
    if (o->kind == 0)
        return o->reason == want->value && o->qual == want->qual;
    return o->kind == 1;
}

/* ---- loading L1 ---- */

static const l1_header_t *vtk_l1_load(uint8_t *region)
{
    size_t n = (size_t)(vtk_l1_image_end - vtk_l1_image);
    memset(region, 0, L1_SIZE);
    memcpy(region + (L1_IMAGE - L1_BASE), vtk_l1_image, n);
    const l1_header_t *h = (const l1_header_t *)(const void *)(region + (L1_IMAGE - L1_BASE));
    if (h->magic != L1_HEADER_MAGIC || h->end > L1_BASE + L1_SIZE)
        return NULL;
    return h;
}

/* Bare: L1 at its link address, called at ring 0; the VM exits L1 causes
 * leave the GDTR and IDTR limits at FFFFH ("Loading Host Segment and
 * Descriptor-Table Registers"), so the kernel's are put back. */
static const l1_report_t *vtk_l1_bare(uint64_t mode)
{
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } gdtr, idtr;
    uint8_t *region = (uint8_t *)(uintptr_t)L1_BASE;
    const l1_header_t *h = vtk_l1_load(region);
    if (!h)
        return NULL;
    void (*entry)(uint64_t, uint64_t) = (void (*)(uint64_t, uint64_t))(uintptr_t)h->entry;
    __asm__ volatile("sgdt %0" : "=m"(gdtr));
    __asm__ volatile("sidt %0" : "=m"(idtr));
    entry(mode, 0);
    __asm__ volatile("lgdt %0" : : "m"(gdtr));
    __asm__ volatile("lidt %0" : : "m"(idtr));
    return (const l1_report_t *)(uintptr_t)L1_REPORT;
}

/* Nested: one VM with the region as guest RAM at the same address. */
typedef struct vtk_l1_vm {
    vcore_vm_t *vm;
    vcore_vcpu_t *vcpu;
    uint8_t *mem;
    const l1_header_t *h;
    uint32_t l0_io80;    /* L2's OUT to port 80H seen by L0 (count) */
    uint8_t l0_io80_val;
    uint32_t apic_eois;  /* exits with VCORE_EXIT_F_APIC_EOI this run */
    uint32_t vmm_exits;  /* exits the run loop returned to this VMM */
    uint64_t marks[8];   /* VM entries counted at L1's marks 1..7 (0: not seen) */
    vtk_line_t stop;     /* why the run stopped, if not at L1's end */
    uint32_t stop_diag;  /* the vCPU's diagnostic when vcore_vcpu_run failed (0: none) */
    uint64_t stop_value; /* and its value */
    bool narrate;        /* print each L2 exit in words */
    uint64_t l2_seen;    /* L2 exits already narrated */
} vtk_l1_vm_t;

static const vtk_l1_layout_t vtk_l1_layout = {L1_BASE, L1_BOOT_PML4, L1_BOOT_PDPT, L1_BOOT_PD,
                                              L1_BOOT_GDT, L1_BOOT_TSS, L1_STACK_TOP};

/* Puts the vCPU at L1's entry in 64-bit mode. */
static int vtk_l1_start(vtk_l1_vm_t *v, uint64_t mode, uint64_t first)
{
    return vtk_l1_boot_start(v->vcpu, v->mem, &vtk_l1_layout, v->h->entry, v->h->halt, mode, first);
}

static int vtk_l1_vm_create(vtk_l1_vm_t *v, const vcore_nvmx_caps_t *caps, vtk_line_t *why)
{
    static uint8_t *mem;
    vcore_vm_config_t cfg;
    memset(v, 0, sizeof(*v));
    if (!mem)
        mem = vtk_alloc_2m(1);
    if (!mem) {
        vtk_line_str(why, "no memory for L1");
        return -1;
    }
    v->mem = mem;
    v->h = vtk_l1_load(mem);
    if (!v->h) {
        vtk_line_str(why, "bad L1 image");
        return -1;
    }
    vtk_l1_boot_area(mem, &vtk_l1_layout);
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_vmx();
    cfg.host = &vtk_host;
    int err = vcore_vm_create(&cfg, &v->vm);
    if (!err) {
        vcore_mem_region_t r = {sizeof(r), L1_BASE, L1_SIZE, mem, 0};
        err = vcore_vm_map_memory(v->vm, &r);
    }
    if (!err) {
        vcore_vcpu_config_t vc;
        vcore_vcpu_config_init(&vc);
        vc.nested = VCORE_NESTED_VMX;
        vc.nvmx_caps = caps;
        err = vcore_vcpu_create(v->vm, &vc, &v->vcpu);
    }
    if (!err)
        err = vtk_set_cpuid(v->vcpu, true);
    if (err) {
        vtk_line_str(why, "VM/vCPU setup: ");
        vtk_line_str(why, vcore_err_name(err));
        return -1;
    }
    return 0;
}

static void vtk_l1_vm_destroy(vtk_l1_vm_t *v)
{
    if (v->vcpu)
        vcore_vcpu_destroy(v->vcpu);
    if (v->vm)
        vcore_vm_destroy(v->vm);
    v->vcpu = NULL;
    v->vm = NULL;
}

/* What L0 did for L1 without the VMM seeing it, and why L2 did not run
 * (the demo prints this). */
static void vtk_l1_say_l0(const vtk_l1_vm_t *v)
{
    vcore_nvmx_t *n = vcore_vcpu_nvmx(v->vcpu);
    vcore_nvmx_info_t info;
    info.size = sizeof(info);
    if (!n || vcore_nvmx_get_info(n, &info) != 0)
        return;
    vtk_puts("L0 (test kernel + libvirtcore): L1's VMXON, VMCLEAR, VMPTRLD, VMPTRST, VMREADs and VMWRITEs "
             "were emulated inside vcore_vcpu_run (the VMM saw ");
    vtk_putdec(v->vmm_exits);
    vtk_puts(" exits: L1's console output and CPUID); L1's current VMCS is at ");
    vtk_puthex(info.current_vmptr);
    vtk_puts(", launch state ");
    vtk_puts(info.launch_state ? "launched" : "clear");
    vtk_puts("\nL0 (test kernel + libvirtcore): L1's VMLAUNCH of L2 stopped the run: ");
    vtk_puts(v->stop.buf);
    vtk_puts("\n");
}

/* The rule kinds of the reflection table, in words. */
static const char *vtk_rule_words(uint32_t kind)
{
    switch (kind) {
    case VCORE_NVMX_RULE_L0:
        return "always L0's";
    case VCORE_NVMX_RULE_ALWAYS:
        return "the instruction exits unconditionally";
    case VCORE_NVMX_RULE_PIN:
        return "pin-based control";
    case VCORE_NVMX_RULE_PROC:
        return "primary processor-based control";
    case VCORE_NVMX_RULE_PROC2:
        return "secondary processor-based control";
    case VCORE_NVMX_RULE_EXCEPTION:
        return "exception bitmap";
    case VCORE_NVMX_RULE_IO:
        return "I/O exiting / I/O bitmaps";
    case VCORE_NVMX_RULE_MSR:
        return "MSR bitmaps";
    case VCORE_NVMX_RULE_CR:
        return "CR masks / CR3 targets";
    default:
        return "rule";
    }
}

/* Each exit from L2 since the last call, in words: the library reports the
 * last one (vcore_nvmx_last()), the number of those in between. */
static void vtk_l1_say_l2_exit(vtk_l1_vm_t *v, const vcore_exit_t *e)
{
    vcore_nvmx_last_t l;
    l.size = sizeof(l);
    if (vcore_nvmx_last(vcore_vcpu_nvmx(v->vcpu), &l) != 0 || l.l2_exits == v->l2_seen)
        return;
    uint64_t n = l.l2_exits - v->l2_seen;
    v->l2_seen = l.l2_exits;
    vtk_puts("L0 (test kernel + libvirtcore): L2 exit ");
    const char *name = vcore_vmx_exit_reason_name(l.exit_reason & 0xffffu);
    vtk_puts(name ? name : "?");
    if (l.owner == VCORE_NVMX_OWNER_L1) {
        vtk_puts(" -> L1, because ");
        if (l.kind == VCORE_NVMX_RULE_ALWAYS) {
            vtk_puts("the instruction exits unconditionally");
        } else {
            vtk_puts("vmcs12 ");
            const char *f = vcore_vmcs_field_name(l.field);
            vtk_puts(f ? f : "?");
            vtk_puts(" (");
            vtk_puts(vtk_rule_words(l.kind));
            if (l.kind == VCORE_NVMX_RULE_PIN || l.kind == VCORE_NVMX_RULE_PROC || l.kind == VCORE_NVMX_RULE_PROC2) {
                vtk_puts(", bit ");
                vtk_putdec(l.arg);
            }
            vtk_puts(") asks for it");
        }
    } else {
        vtk_puts(" -> L0, because ");
        if (l.kind == VCORE_NVMX_RULE_L0) {
            vtk_puts("it is always L0's");
        } else {
            vtk_puts("vmcs12 ");
            const char *f = vcore_vmcs_field_name(l.field);
            vtk_puts(f ? f : "?");
            vtk_puts(" (");
            vtk_puts(vtk_rule_words(l.kind));
            vtk_puts(") does not ask for it");
        }
        vtk_puts((e->flags & VCORE_EXIT_F_L2) ? "; the VMM got it as " : "; completed inside vcore_vcpu_run");
        if (e->flags & VCORE_EXIT_F_L2)
            vtk_puts(vcore_exit_reason_name(e->reason));
    }
    if (n > 1) {
        vtk_puts(" (after ");
        vtk_putdec(n - 1);
        vtk_puts(" more L2 exit(s) L0 completed inside vcore_vcpu_run)");
    }
    vtk_puts("\n");
}

/* Runs L1 until it halts (returns 0) or stops for another reason (1, with
 * v->stop saying what L0 saw). L1's console bytes (port E9H) are copied to
 * the kernel's console. */
static int vtk_l1_run(vtk_l1_vm_t *v)
{
    vcore_exit_t e;
    memset(&e, 0, sizeof(e));
    e.size = sizeof(e);
    v->stop.len = 0;
    v->stop.buf[0] = '\0';
    v->stop_diag = 0;
    v->stop_value = 0;
    v->vmm_exits = 0;
    v->l2_seen = 0;
    v->apic_eois = 0;
    for (uint32_t n = 0; n < 200000; n++) {
        vtk_l0_refused_field = 0;
        int err = vcore_vcpu_run(v->vcpu, &e);
        if (v->narrate)
            vtk_l1_say_l2_exit(v, &e);
        if (err) {
            vcore_diag_t d;
            d.size = sizeof(d);
            vtk_line_str(&v->stop, "vcore_vcpu_run: ");
            vtk_line_str(&v->stop, vcore_err_name(err));
            if (vcore_vcpu_last_diag(v->vcpu, &d) == 0 && d.id) {
                v->stop_diag = d.id;
                v->stop_value = d.value;
                vtk_line_str(&v->stop, " diag ");
                vtk_line_str(&v->stop, d.name);
                vtk_line_str(&v->stop, " value ");
                vtk_line_hex(&v->stop, d.value);
            }
            if (vtk_l0_refused_field) {
                vtk_line_str(&v->stop, "; the CPU refused VMREAD/VMWRITE of field ");
                vtk_line_hex(&v->stop, vtk_l0_refused_field - 1);
                vtk_line_str(&v->stop, " (error ");
                vtk_line_hex(&v->stop, vtk_l0_refused_error);
                vtk_line_str(&v->stop, ")");
            }
            vtk_l1_say_l0(v);
            return 1;
        }
        v->vmm_exits++;
        /* The EOI of posted-interrupt processing (this VMM models no local
         * APIC: it counts them for L1, which reads the count on
         * L1_PORT_EOI). */
        if (e.flags & VCORE_EXIT_F_APIC_EOI)
            v->apic_eois++;
        switch (e.reason) {
        case VCORE_EXIT_IO:
            if (!e.u.io.is_in && e.u.io.port == L1_PORT_LOG) {
                for (uint32_t i = 0; i < e.u.io.width * e.u.io.count; i++)
                    vtk_putc((char)e.u.io.data[i]);
                continue;
            }
            if (!e.u.io.is_in && e.u.io.port == L1_PORT_MARK && e.u.io.width == 1 && e.u.io.data[0] < 8) {
                v->marks[e.u.io.data[0]] = vtk_l0_entries;
                /* L0's exits of the L2 CPUID round trips (marks 4 to 5), by reason. */
                /* ... and of L1's MSR-bitmap case (marks 6 to 7). */
                if (e.u.io.data[0] == 4 || e.u.io.data[0] == L1_MARK_MSR_START) {
                    vtk_exits_used = 0;
                    vtk_exits_other = 0;
                    vtk_exits_on = vcore__vmx_ptrst(&vtk_exits_vmcs01).kind == 0;
                } else if (e.u.io.data[0] == 5 || e.u.io.data[0] == L1_MARK_MSR_STOP) {
                    vtk_exits_on = false;
                }
                continue;
            }
            if (e.u.io.is_in && e.u.io.port == L1_PORT_MARK && e.u.io.width == 1 && e.u.io.count == 1) {
                /* L2's RDMSR (31) and WRMSR (32) exits to L0 in the last
                 * window; an overflowing tally answers FFH. */
                uint64_t msr_exits = vtk_exits_other ? 0xff : 0;
                for (uint32_t i = 0; i < vtk_exits_used; i++)
                    if (vtk_exits[i].l2 && (vtk_exits[i].reason == 31 || vtk_exits[i].reason == 32))
                        msr_exits += vtk_exits[i].n;
                e.u.io.data[0] = (uint8_t)(msr_exits > 0xff ? 0xff : msr_exits);
                continue;
            }
            if (e.u.io.is_in && e.u.io.port == L1_PORT_EOI && e.u.io.width == 1 && e.u.io.count == 1) {
                e.u.io.data[0] = (uint8_t)(v->apic_eois > 0xff ? 0xff : v->apic_eois);
                continue;
            }
            if (!e.u.io.is_in && e.u.io.port == L1_PORT_IRQ && e.u.io.width == 1 && !(e.flags & VCORE_EXIT_F_L2)) {
                /* L1 asks for an external interrupt (its posted-interrupt
                 * notification): pending until the vCPU recognizes it. */
                int ierr = vcore_vcpu_inject_interrupt(v->vcpu, e.u.io.data[0]);
                if (ierr) {
                    vtk_line_str(&v->stop, "vcore_vcpu_inject_interrupt: ");
                    vtk_line_str(&v->stop, vcore_err_name(ierr));
                    return 1;
                }
                continue;
            }
            if (!e.u.io.is_in && e.u.io.port == L2_PORT_INIT && (e.flags & VCORE_EXIT_F_L2)) {
                /* L2 asks for an INIT signal to the vCPU (L1's INIT case). */
                int ierr = vcore_vcpu_init_signal(v->vcpu);
                if (ierr) {
                    vtk_line_str(&v->stop, "vcore_vcpu_init_signal: ");
                    vtk_line_str(&v->stop, vcore_err_name(ierr));
                    return 1;
                }
                continue;
            }
            if (!e.u.io.is_in && e.u.io.port == L2_PORT_PASS && e.u.io.width == 1) {
                v->l0_io80++;
                v->l0_io80_val = e.u.io.data[0];
                vtk_puts("L0 (test kernel + libvirtcore): L2 exit OUT 80H = ");
                vtk_puthex(e.u.io.data[0]);
                vtk_puts(": handled by L0 because L1's I/O bitmap A bit 80H is clear\n");
                continue;
            }
            vtk_line_str(&v->stop, "unexpected I/O exit, port ");
            vtk_line_hex(&v->stop, e.u.io.port);
            return 1;
        case VCORE_EXIT_CPUID: {
            /* The VMM answers CPUID from the vCPU's table (L1 checks the VMX bit). */
            vcore_cpuid_entry_t ce;
            if (vcore_vcpu_cpuid_query(v->vcpu, e.u.cpuid.function, e.u.cpuid.index, &ce) != 0)
                memset(&ce, 0, sizeof(ce));
            e.u.cpuid.eax = ce.eax;
            e.u.cpuid.ebx = ce.ebx;
            e.u.cpuid.ecx = ce.ecx;
            e.u.cpuid.edx = ce.edx;
            continue;
        }
        case VCORE_EXIT_RDMSR: {
            /* L2's RDMSR that L1 lets through (not intercepted by its MSR
             * bitmap): the VMM answers from the vCPU's MSRs, which L1 and
             * L2 share (IA32_KERNEL_GS_BASE, set by L1's MSR-load lists). */
            uint64_t val = 0;
            if (!(e.flags & VCORE_EXIT_F_L2) || vcore_vcpu_get_msr(v->vcpu, e.u.msr.index, &val) != 0) {
                vtk_line_str(&v->stop, "unexpected RDMSR exit, MSR ");
                vtk_line_hex(&v->stop, e.u.msr.index);
                return 1;
            }
            e.u.msr.value = val;
            continue;
        }
        case VCORE_EXIT_HLT:
            return 0;
        case VCORE_EXIT_VMX_INSN:
            vtk_line_str(&v->stop, "vcore_vcpu_run returned L1's ");
            vtk_line_str(&v->stop, e.u.vmx_insn.op == VCORE_NVMX_VMLAUNCH   ? "VMLAUNCH"
                                   : e.u.vmx_insn.op == VCORE_NVMX_VMRESUME ? "VMRESUME"
                                                                            : "VMX instruction");
            vtk_line_str(&v->stop, " to the VMM as VCORE_EXIT_VMX_INSN (basic reason ");
            vtk_line_hex(&v->stop, e.u.vmx_insn.basic_reason);
            vtk_line_str(&v->stop, "): L2 never ran");
            vtk_l1_say_l0(v);
            return 1;
        default:
            vtk_line_str(&v->stop, "unexpected exit ");
            vtk_line_str(&v->stop, vcore_exit_reason_name(e.reason));
            vtk_line_str(&v->stop, " raw ");
            vtk_line_hex(&v->stop, e.raw.reason);
            return 1;
        }
    }
    vtk_line_str(&v->stop, "L1 did not finish in 200000 exits");
    return 1;
}

/* ---- the suite ---- */

/* The L2 exit program, prefix "bare." or "nested.<variant>.". */
/* ept: whether L1 was offered EPT (IA32_VMX_PROCBASED_CTLS2 bit 33, allowed-1
 * "enable EPT"): L1 then must use it, and must not when it was not. */
/* skip_why (may be NULL): a reason the cases that need L2 are SKIP. */
static void vtk_l1_print_cases(const char *prefix, const l1_report_t *r, const char *stop, const char *skip_why,
                               bool ept)
{
    for (uint32_t c = 0; c < L1_NCASES; c++) {
        vtk_line_t l;
        l.len = 0;
        l.buf[0] = '\0';
        uint32_t st = r ? r->cases[c].state : L1_NOT_RUN;
        int res = st == L1_PASS ? VTK_PASS : st == L1_SKIP ? VTK_SKIP : VTK_FAIL;
        if (st == L1_FAIL || st == L1_SKIP)
            vtk_line_str(&l, r->cases[c].detail);
        if (c == L1_CASE_EPT && st != L1_NOT_RUN && (st == L1_SKIP) == ept) {
            vtk_line_str(&l, ept ? " (but EPT was offered to L1)" : " (but EPT was not offered to L1)");
            res = VTK_FAIL;
        }
        if (st == L1_NOT_RUN) {
            vtk_line_str(&l, "not reached: ");
            vtk_line_str(&l, stop && *stop ? stop : "L1 stopped earlier");
        }
        if (skip_why && vtk_l1_case_needs_entry(c)) {
            vtk_line_t s;
            s.len = 0;
            vtk_line_str(&s, skip_why);
            vtk_line_str(&s, "; L1 saw ");
            vtk_line_str(&s, st == L1_PASS ? "PASS" : st == L1_SKIP ? "SKIP" : "FAIL");
            vtk_line_str(&s, ": ");
            vtk_line_str(&s, l.buf);
            l = s;
            res = VTK_SKIP;
        }
        vtk_case_line(prefix, vtk_l1_case_names[c], VTK_CHECK, res, l.buf);
    }
}

static int case_bare_l2(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    const l1_report_t *r = vtk_l1_bare(0);
    bool ept = (vcore__vmx_rdmsr(0x48b) >> 33) & 1;
    vtk_l1_print_cases("bare.", r, r && r->done ? "" : "L1 did not finish", NULL, ept);
    return VTK_PRINTED;
}

static l1_outcome_t vtk_bare_vars[L1_NVARS];

/* The broken VMCSs on the emulated CPU: recorded, and compared with the SDM. */
static int case_bare_vmfail(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    const l1_report_t *r = vtk_l1_bare(L1_MODE_VMFAIL);
    for (uint32_t v = 0; v < L1_NVARS; v++) {
        vtk_line_t l;
        l.len = 0;
        if (r)
            vtk_bare_vars[v] = r->vars[v];
        vtk_line_outcome(&l, r ? &r->vars[v] : NULL);
        if (!r || !vtk_l1_outcome_is(&r->vars[v], &vtk_l1_vars[v]))
            vtk_line_str(&l, " (differs from the SDM)");
        vtk_case_line("bare.", vtk_l1_vars[v].name, VTK_RECORD, VTK_PASS, l.buf);
    }
    return VTK_PRINTED;
}

/* L1 offered everything (EPT, VMCS shadowing... as the library and the CPU allow). */
static int vtk_nested_l2(const char *prefix, const vcore_nvmx_caps_t *caps, uint64_t mode, uint32_t opts)
{
    static vtk_l1_vm_t v;
    vtk_line_t why;
    why.len = 0;
    why.buf[0] = '\0';
    const l1_report_t *r = NULL;
    const char *stop = why.buf;
    bool ept = false;
    if (vtk_l1_vm_create(&v, caps, &why) == 0 && vcore_nvmx_set_options(vcore_vcpu_nvmx(v.vcpu), opts) == 0 &&
        vtk_l1_start(&v, mode | L1_MODE_NESTED, 0) == 0) {
        ept = (vcore_nvmx_caps(vcore_vcpu_nvmx(v.vcpu))->msr[VCORE_NVMX_CAP_PROCBASED2] >> 33) & 1;
        v.narrate = true;
        int rc = vtk_l1_run(&v);
        r = (const l1_report_t *)(const void *)(v.mem + (L1_REPORT - L1_BASE));
        if (r->magic != L1_REPORT_MAGIC)
            r = NULL;
        stop = rc ? v.stop.buf : "";
    }
    vtk_l1_print_cases(prefix, r, stop, NULL, ept);
    vtk_l1_vm_destroy(&v);
    return VTK_PRINTED;
}

static int case_nested_l2(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    return vtk_nested_l2("nested.", NULL, 0, 0);
}

/* L1 offered everything, L0 without hardware VMCS shadowing
 * (VCORE_NVMX_OPT_NO_HW_SHADOW): each of L1's VMREAD/VMWRITE exits to L0
 * and is emulated. */
static int case_nested_l2_no_hw_shadow(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    return vtk_nested_l2("nested_nohwshadow.", NULL, 0, VCORE_NVMX_OPT_NO_HW_SHADOW);
}

/* L1 offered neither EPT nor VMCS shadowing (vcore_vcpu_config_t::nvmx_caps):
 * it runs L2 on its own paging, as a hypervisor does on such a CPU. */
static int case_nested_l2_no_ept(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    static vtk_l1_vm_t v;
    static vcore_nvmx_caps_t caps;
    vtk_line_t w;
    w.len = 0;
    w.buf[0] = '\0';
    if (vtk_l1_vm_create(&v, NULL, &w) != 0) {
        vtk_l1_print_cases("nested_noept.", NULL, w.buf, NULL, false);
        return VTK_PRINTED;
    }
    caps = *vcore_nvmx_caps(vcore_vcpu_nvmx(v.vcpu));
    vtk_l1_vm_destroy(&v);
    /* Secondary controls, allowed-1 (bits 63:32): EPT (1), unrestricted
     * guest (7, needs EPT) and VMCS shadowing (14) removed; no EPT/VPID caps. */
    caps.msr[VCORE_NVMX_CAP_PROCBASED2] &= ~(((1ull << 1) | (1ull << 7) | (1ull << 14)) << 32);
    caps.msr[VCORE_NVMX_CAP_EPT_VPID] = 0;
    return vtk_nested_l2("nested_noept.", &caps, 0, 0);
}

/* The broken VMCSs through the library; when the library returns L1's
 * VMLAUNCH to the VMM, L1 is restarted at the next variant. */
static int case_nested_vmfail(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    static vtk_l1_vm_t v;
    static vtk_line_t stops[L1_NVARS];
    vtk_line_t w;
    w.len = 0;
    w.buf[0] = '\0';
    const l1_report_t *r = NULL;
    for (uint32_t i = 0; i < L1_NVARS; i++)
        stops[i].len = 0, stops[i].buf[0] = '\0';
    if (vtk_l1_vm_create(&v, NULL, &w) == 0) {
        r = (const l1_report_t *)(const void *)(v.mem + (L1_REPORT - L1_BASE));
        uint64_t first = 0;
        while (first < L1_NVARS) {
            if (first && vcore_vcpu_reset(v.vcpu) != 0) {
                vtk_line_str(&w, "vcore_vcpu_reset failed");
                break;
            }
            if (vtk_l1_start(&v, L1_MODE_VMFAIL | L1_MODE_NESTED, first) != 0) {
                vtk_line_str(&w, "cannot start L1");
                break;
            }
            if (vtk_l1_run(&v) == 0)
                break;
            uint32_t at = r->magic == L1_REPORT_MAGIC ? r->next_var : 0;
            if (at >= L1_NVARS || at < first) {
                vtk_line_str(&w, v.stop.buf);
                break;
            }
            stops[at] = v.stop;
            first = at + 1;
        }
        if (r->magic != L1_REPORT_MAGIC)
            r = NULL;
    }
    /* The comparison itself: an outcome never recorded, or one no variant
     * expects, matches nothing. */
    l1_outcome_t none, bogus;
    memset(&none, 0, sizeof(none));
    memset(&bogus, 0, sizeof(bogus));
    bogus.state = L1_PASS;
    bogus.reason = 0xffff;
    for (uint32_t i = 0; i < L1_NVARS; i++)
        if (vtk_l1_outcome_is(&none, &vtk_l1_vars[i]) || vtk_l1_outcome_is(&bogus, &vtk_l1_vars[i]))
            r = NULL;
    for (uint32_t i = 0; i < L1_NVARS; i++) {
        vtk_line_t l;
        l.len = 0;
        l.buf[0] = '\0';
        const l1_outcome_t *o = r ? &r->vars[i] : NULL;
        bool sdm = o && vtk_l1_outcome_is(o, &vtk_l1_vars[i]);
        bool bochs = vtk_l1_outcome_is(&vtk_bare_vars[i], &vtk_l1_vars[i]);
        int res = sdm ? VTK_PASS : VTK_FAIL;
        vtk_line_str(&l, "l1-saw=");
        vtk_line_outcome(&l, o);
        vtk_line_str(&l, " emulated-cpu=");
        vtk_line_outcome(&l, &vtk_bare_vars[i]);
        vtk_line_str(&l, bochs ? " (= SDM)" : " (differs from the SDM)");
        if (o && o->state == L1_NOT_RUN) {
            vtk_line_str(&l, "; ");
            vtk_line_str(&l, stops[i].len ? stops[i].buf : w.buf);
        }
        vtk_case_line("nested.", vtk_l1_vars[i].name, VTK_CHECK, res, l.buf);
    }
    vtk_l1_vm_destroy(&v);
    return VTK_PRINTED;
}

/* L0's exits per L1 operation, counted on the (emulated) processor: VM
 * entries of the vmx backend between two of L1's marks, less the one that
 * resumes L1 after the first mark, over L1_MEASURE_N operations. */
static void vtk_measure_line(const char *prefix, const char *name, const vtk_l1_vm_t *v, uint32_t a, uint32_t b,
                             uint32_t n, const char *stop, int kind, bool tally)
{
    vtk_line_t l;
    l.len = 0;
    l.buf[0] = '\0';
    int res = VTK_PASS;
    if (v->marks[a] && v->marks[b] && n) {
        uint64_t d = v->marks[b] - v->marks[a] - 1;
        vtk_line_str(&l, "l0_exits=");
        vtk_line_dec(&l, d);
        vtk_line_str(&l, " ops=");
        vtk_line_dec(&l, n);
        vtk_line_str(&l, " per_op=");
        vtk_line_dec(&l, d / n);
        vtk_line_str(&l, ".");
        vtk_line_dec(&l, (d * 100 / n) % 100 / 10);
        vtk_line_dec(&l, (d * 100 / n) % 10);
        /* Every exit from the resume after mark a to the one at mark b. */
        for (uint32_t i = 0; tally && i < vtk_exits_used; i++) {
            vtk_line_str(&l, i ? ", " : " by-reason: ");
            vtk_line_str(&l, vtk_exits[i].l2 ? "L2 " : "L1 ");
            vtk_line_str(&l, vcore_vmx_exit_reason_name(vtk_exits[i].reason));
            vtk_line_str(&l, "=");
            vtk_line_dec(&l, vtk_exits[i].n);
        }
        if (tally && vtk_exits_other) {
            vtk_line_str(&l, ", other=");
            vtk_line_dec(&l, vtk_exits_other);
        }
    } else {
        vtk_line_str(&l, "not-measured: ");
        vtk_line_str(&l, stop && *stop ? stop : "L1 did not reach the marks");
        res = VTK_FAIL;
    }
    vtk_case_line(prefix, name, kind, kind == VTK_RECORD ? VTK_PASS : res, l.buf);
}

/* The counting program with L0's options opts (VCORE_NVMX_OPT_*), lines
 * "<prefix>measure.*". */
static int vtk_nested_measure(const char *prefix, uint32_t opts)
{
    static vtk_l1_vm_t v;
    vtk_line_t w;
    w.len = 0;
    w.buf[0] = '\0';
    const char *stop = w.buf;
    uint32_t trips = 0;
    memset(v.marks, 0, sizeof(v.marks));
    vtk_exits_used = 0;
    if (vtk_l1_vm_create(&v, NULL, &w) == 0 &&
        vcore_nvmx_set_options(vcore_vcpu_nvmx(v.vcpu), opts) == 0 &&
        vtk_l1_start(&v, L1_MODE_MEASURE | L1_MODE_NO_EPT | L1_MODE_NESTED | L1_MODE_QUIET, 0) == 0) {
        if (vtk_l1_run(&v) != 0)
            stop = v.stop.buf;
        const l1_report_t *r = (const l1_report_t *)(const void *)(v.mem + (L1_REPORT - L1_BASE));
        trips = r->magic == L1_REPORT_MAGIC ? r->cpuid_round_trips : 0;
    }
    /* L1's VMWRITEs, VMREADs and L2 CPUID round trips are counted (a case
     * fails if they cannot be); the numbers themselves are measurements. */
    vtk_measure_line(prefix, "measure.l0_exits_per_l1_vmwrite", &v, 1, 2, L1_MEASURE_N, stop, VTK_CHECK, false);
    vtk_measure_line(prefix, "measure.l0_exits_per_l1_vmread", &v, 2, 3, L1_MEASURE_N, stop, VTK_CHECK, false);
    vtk_measure_line(prefix, "measure.l0_exits_per_l2_cpuid_round_trip", &v, 4, 5, trips, stop, VTK_CHECK, true);
    vtk_l1_vm_destroy(&v);
    return VTK_PRINTED;
}

/* With L0's hardware VMCS shadowing (where the CPU has it). */
static int case_nested_measure(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    return vtk_nested_measure("nested.", 0);
}

/* Without it: every VMREAD/VMWRITE of L1 exits and is emulated. */
static int case_nested_measure_no_hw_shadow(vtk_env_t *env, vtk_why_t *why)
{
    (void)env;
    (void)why;
    return vtk_nested_measure("nested_nohwshadow.", VCORE_NVMX_OPT_NO_HW_SHADOW);
}

/* Bare runs first: they need the processor outside VMX operation, which
 * holds until the first vCPU is created. */
const vtk_case_t vtk_nested_cases[] = {
    {"bare.l2", VTK_CHECK, case_bare_l2, L1_NCASES},
    {"bare.vmfail", VTK_RECORD, case_bare_vmfail, L1_NVARS},
    {"nested.l2", VTK_CHECK, case_nested_l2, L1_NCASES},
    {"nested_noept.l2", VTK_CHECK, case_nested_l2_no_ept, L1_NCASES},
    {"nested.vmfail", VTK_CHECK, case_nested_vmfail, L1_NVARS},
    {"nested.measure", VTK_CHECK, case_nested_measure, 3},
    {"nested_nohwshadow.l2", VTK_CHECK, case_nested_l2_no_hw_shadow, L1_NCASES},
    {"nested_nohwshadow.measure", VTK_CHECK, case_nested_measure_no_hw_shadow, 3},
};
const uint32_t vtk_nested_ncases = sizeof(vtk_nested_cases) / sizeof(vtk_nested_cases[0]);
