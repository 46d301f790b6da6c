/*
 * main.c - vcore-longmode: a minimal VMM on libvirtcore's public API.
 *
 * Runs the guest of guest.S on the kvm backend: 2 MiB of RAM at guest-
 * physical 0, the guest image at 0x10000, the vCPU started in real mode at
 * 1000:0000. It answers what the guest asks:
 *   - OUT to port 0xE9: text, printed line by line with a "[guest]" prefix
 *     (the guest writes the prefix itself);
 *   - MMIO at 0x10000000 (no memory there): a read is answered with
 *     1122334455667788H, a write is printed;
 *   - RDMSR/WRMSR of 4B564DFFH, an MSR the kernel does not implement, which
 *     the kvm backend routes to user space: RDMSR is answered with
 *     FEEDFACE12345678H, WRMSR is printed;
 *   - HLT ends the run; the VMM then prints the final mode registers.
 *
 * Exit status: 0 when the guest reached HLT having done all of the above,
 * 77 when /dev/kvm is not usable here (the README's demo then falls back to
 * the mock backend), 1 on any failure.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <virtcore/virtcore.h>

extern const unsigned char vcore_longmode_guest[];
extern const size_t vcore_longmode_guest_size;

#define RAM_SIZE (2u << 20)
#define GUEST_BASE 0x10000u
#define MMIO_GPA 0x10000000ull
#define DEMO_MSR 0x4b564dffu
#define DEBUG_PORT 0xe9u
#define MMIO_REPLY 0x1122334455667788ull
#define RDMSR_REPLY 0xfeedface12345678ull

/* What the guest must have done for the run to count as a success. */
struct seen {
    unsigned text, mmio_read, mmio_write, rdmsr, wrmsr;
};

static int fail(int err, const char *what)
{
    fprintf(stderr, "vcore-longmode: %s: %s (%s)\n", what, vcore_strerror(err),
            vcore_err_name(err));
    return 1;
}

/* Starts the vCPU in real mode at GUEST_BASE:0 (CS selector 1000H). */
static int start_real_mode(vcore_vcpu_t *vcpu)
{
    vcore_x86_sregs_t sregs = {.size = sizeof sregs};
    vcore_x86_regs_t regs = {.size = sizeof regs};
    int err = vcore_vcpu_get_sregs(vcpu, &sregs);
    if (err)
        return fail(err, "get sregs");
    sregs.seg[VCORE_X86_CS].selector = (uint16_t)(GUEST_BASE >> 4);
    sregs.seg[VCORE_X86_CS].base = GUEST_BASE;
    err = vcore_vcpu_set_sregs(vcpu, &sregs);
    if (err)
        return fail(err, "set sregs");
    err = vcore_vcpu_get_regs(vcpu, &regs);
    if (err)
        return fail(err, "get regs");
    regs.rip = 0;
    err = vcore_vcpu_set_regs(vcpu, &regs);
    return err ? fail(err, "set regs") : 0;
}

/* Gives the guest the CPUID table the host KVM supports. */
static int set_host_cpuid(vcore_vm_t *vm, vcore_vcpu_t *vcpu)
{
    static vcore_cpuid_entry_t table[VCORE_CPUID_MAX_ENTRIES];
    uint32_t n = 0;
    int err = vcore_kvm_get_supported_cpuid(vm, table, VCORE_CPUID_MAX_ENTRIES, &n);
    if (err)
        return fail(err, "KVM_GET_SUPPORTED_CPUID");
    /* Some hosts (e.g. this machine's kvm_pvm) enumerate XSAVE components
     * in leaf 0DH while CPUID.1:ECX.XSAVE[26] is clear; the library refuses
     * that as inconsistent (SDM Vol. 1, "Enumeration of CPU Support for
     * XSAVE Instructions and XSAVE-Supported Features"). Make the table
     * consistent the way the host behaves: the guest can use XSAVE. */
    uint32_t xsave_lo = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (table[i].function == 0xd && table[i].index == 0)
            xsave_lo = table[i].eax;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (table[i].function == 1 && (xsave_lo & 3u) == 3u && !(table[i].ecx & (1u << 26))) {
            table[i].ecx |= 1u << 26;
            printf("[vmm] CPUID.1:ECX.XSAVE set (leaf 0DH lists components %#x)\n", xsave_lo);
        }
    }
    err = vcore_vcpu_set_cpuid(vcpu, table, n);
    if (err) {
        vcore_diag_t d = {.size = sizeof d};
        if (vcore_vcpu_last_diag(vcpu, &d) != VCORE_OK)
            d.name = "?";
        fprintf(stderr, "vcore-longmode: CPUID table refused: %s\n", d.name);
        return fail(err, "set CPUID");
    }
    printf("[vmm] CPUID: %u entries from KVM_GET_SUPPORTED_CPUID installed\n", n);
    return 0;
}

static int run_guest(vcore_vcpu_t *vcpu, struct seen *seen)
{
    vcore_exit_t ex;
    char line[256];
    size_t len = 0;
    memset(&ex, 0, sizeof ex);
    ex.size = sizeof ex;
    for (unsigned n = 0; n < 100000; n++) {
        int err = vcore_vcpu_run(vcpu, &ex);
        if (err)
            return fail(err, "run");
        switch (ex.reason) {
        case VCORE_EXIT_IO:
            if (ex.u.io.port == DEBUG_PORT && !ex.u.io.is_in) {
                for (uint32_t i = 0; i < ex.u.io.width * ex.u.io.count; i++) {
                    char c = (char)ex.u.io.data[i];
                    if (c == '\n' || len == sizeof line - 1) {
                        line[len] = 0;
                        printf("%s\n", line);
                        len = 0;
                        seen->text++;
                    } else {
                        line[len++] = c;
                    }
                }
            } else if (ex.u.io.is_in) {
                memset(ex.u.io.data, 0xff, (size_t)ex.u.io.width * ex.u.io.count);
                printf("[vmm] IN port %#x: no device, answered all ones\n", ex.u.io.port);
            }
            break;
        case VCORE_EXIT_MMIO:
            if (ex.u.mmio.is_write) {
                uint64_t v = 0;
                memcpy(&v, ex.u.mmio.data, ex.u.mmio.len);
                printf("[vmm] MMIO write gpa=%#" PRIx64 " len=%u value=%#" PRIx64 "\n",
                       ex.u.mmio.gpa, ex.u.mmio.len, v);
                seen->mmio_write += ex.u.mmio.gpa == MMIO_GPA + 8 && v == ~MMIO_REPLY;
            } else {
                uint64_t v = MMIO_REPLY;
                memcpy(ex.u.mmio.data, &v, sizeof v);
                printf("[vmm] MMIO read  gpa=%#" PRIx64 " len=%u -> %#" PRIx64 "\n",
                       ex.u.mmio.gpa, ex.u.mmio.len, v);
                seen->mmio_read += ex.u.mmio.gpa == MMIO_GPA;
            }
            break;
        case VCORE_EXIT_RDMSR:
            ex.u.msr.value = ex.u.msr.index == DEMO_MSR ? RDMSR_REPLY : 0;
            ex.u.msr.error = ex.u.msr.index == DEMO_MSR ? 0 : 1;
            printf("[vmm] RDMSR %#x (kernel reason %u) -> %#" PRIx64 "%s\n", ex.u.msr.index,
                   ex.u.msr.why, ex.u.msr.value, ex.u.msr.error ? " #GP" : "");
            seen->rdmsr += ex.u.msr.index == DEMO_MSR;
            break;
        case VCORE_EXIT_WRMSR:
            ex.u.msr.error = ex.u.msr.index == DEMO_MSR ? 0 : 1;
            printf("[vmm] WRMSR %#x = %#" PRIx64 " (kernel reason %u)\n", ex.u.msr.index,
                   ex.u.msr.value, ex.u.msr.why);
            seen->wrmsr += ex.u.msr.index == DEMO_MSR && ex.u.msr.value == 0x0123456789abcdefull;
            break;
        case VCORE_EXIT_HLT:
            printf("[vmm] HLT after %u exits\n", n + 1);
            return 0;
        default:
            fprintf(stderr, "vcore-longmode: unexpected exit %s (kvm reason %u)\n",
                    vcore_exit_reason_name(ex.reason), ex.raw.reason);
            return 1;
        }
    }
    fprintf(stderr, "vcore-longmode: the guest did not halt\n");
    return 1;
}

static int print_final_state(vcore_vcpu_t *vcpu)
{
    vcore_x86_sregs_t s = {.size = sizeof s};
    int err = vcore_vcpu_get_sregs(vcpu, &s);
    if (err)
        return fail(err, "get sregs");
    printf("[vmm] final CR0=%#" PRIx64 " CR4=%#" PRIx64 " EFER=%#" PRIx64 " CS.ar=%#x (L=%u)\n",
           s.cr0, s.cr4, s.efer, s.seg[VCORE_X86_CS].ar,
           (s.seg[VCORE_X86_CS].ar & VCORE_X86_AR_L) ? 1u : 0u);
    /* EFER.LMA (bit 10) and CS.L: the guest really is in 64-bit mode. */
    if (!(s.efer & (1u << 10)) || !(s.seg[VCORE_X86_CS].ar & VCORE_X86_AR_L)) {
        fprintf(stderr, "vcore-longmode: the guest is not in 64-bit mode\n");
        return 1;
    }
    return 0;
}

int main(void)
{
    const vcore_backend_t *be = vcore_backend_kvm();
    if (!be || !vcore_backend_available("kvm")) {
        printf("vcore-longmode: /dev/kvm is not usable here (%s); nothing run\n",
               be ? "cannot open /dev/kvm or wrong API version" : "kvm backend not built");
        return 77;
    }

    /* The default host services, with warnings shown: the kvm backend
     * logs the kernel's errno when an ioctl is refused. */
    vcore_host_t host = *vcore_host_default();
    host.log_level = VCORE_LOG_WARN;
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = be;
    cfg.host = &host;
    vcore_vm_t *vm = NULL;
    int err = vcore_vm_create(&cfg, &vm);
    if (err == VCORE_ERR_NODEV) {
        printf("vcore-longmode: /dev/kvm is not usable here; nothing run\n");
        return 77;
    }
    if (err)
        return fail(err, "create VM");
    printf("[vmm] backend: kvm (/dev/kvm)\n");

    int rc = 1;
    vcore_vcpu_t *vcpu = NULL;
    void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ram == MAP_FAILED) {
        perror("vcore-longmode: mmap");
        goto out_vm;
    }
    if (vcore_longmode_guest_size > RAM_SIZE - GUEST_BASE - 0x10000)
        goto out_ram;
    memcpy((uint8_t *)ram + GUEST_BASE, vcore_longmode_guest, vcore_longmode_guest_size);
    printf("[vmm] guest image: %zu bytes at %#x\n", vcore_longmode_guest_size, GUEST_BASE);

    vcore_mem_region_t r = {.size = sizeof r, .gpa = 0, .len = RAM_SIZE, .hva = ram};
    err = vcore_vm_map_memory(vm, &r);
    if (err) {
        fail(err, "map RAM");
        goto out_ram;
    }
    err = vcore_vcpu_create(vm, NULL, &vcpu);
    if (err) {
        fail(err, "create vCPU");
        goto out_ram;
    }
    if (set_host_cpuid(vm, vcpu) || start_real_mode(vcpu))
        goto out_vcpu;

    struct seen seen = {0};
    if (run_guest(vcpu, &seen) || print_final_state(vcpu))
        goto out_vcpu;
    if (!seen.text || seen.mmio_read != 1 || seen.mmio_write != 1 || seen.rdmsr != 1 ||
        seen.wrmsr != 1) {
        fprintf(stderr, "vcore-longmode: missing steps (mmio r/w %u/%u, msr r/w %u/%u)\n",
                seen.mmio_read, seen.mmio_write, seen.rdmsr, seen.wrmsr);
        goto out_vcpu;
    }
    printf("[vmm] success: real -> protected -> long mode, CPUID, port I/O, MMIO, MSRs, HLT\n");
    rc = 0;

out_vcpu:
    vcore_vcpu_destroy(vcpu);
out_ram:
    /* The VM goes first: its memory slot refers to the RAM. */
    vcore_vm_destroy(vm);
    vm = NULL;
    munmap(ram, RAM_SIZE);
out_vm:
    vcore_vm_destroy(vm);
    return rc;
}
