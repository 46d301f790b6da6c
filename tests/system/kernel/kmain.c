/*
 * kmain.c - the test kernel's main: sets up the CPU and one VM, runs the
 * case table, prints one result line per case over port E9H, shuts down.
 */
#include "cases.h"

void kmain(void);

void vtk_why_str(vtk_why_t *w, const char *s)
{
    while (*s && w->len + 1 < sizeof(w->buf))
        w->buf[w->len++] = *s++;
    w->buf[w->len] = '\0';
}

void vtk_why_hex(vtk_why_t *w, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[19];
    int n = 0, i;
    tmp[n++] = '0';
    tmp[n++] = 'x';
    for (i = 60; i > 0 && ((v >> i) & 0xf) == 0; i -= 4)
        ;
    for (; i >= 0; i -= 4)
        tmp[n++] = digits[(v >> i) & 0xf];
    tmp[n] = '\0';
    vtk_why_str(w, tmp);
}

static uint64_t vtk_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

/* The guest's CPUID table: a few leaves of the host's own, so that the
 * model enumerates long mode, PAE and NX (the core checks EFER against it);
 * leaf 7 is left out, so SMEP, SMAP, FSGSBASE... are hidden from the guest.
 * Without nx, CPUID.80000001H:EDX.NX (bit 20) is hidden too. */
int vtk_set_cpuid(vcore_vcpu_t *vcpu, bool nx)
{
    static const uint32_t leaves[] = {0, 1, 0x80000000u, 0x80000001u, 0x80000008u};
    vcore_cpuid_entry_t t[5];
    for (unsigned i = 0; i < 5; i++) {
        uint32_t a = leaves[i], b, c = 0, d;
        __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
        t[i].function = leaves[i];
        t[i].index = 0;
        t[i].flags = 0;
        t[i].eax = a;
        t[i].ebx = b;
        t[i].ecx = c;
        t[i].edx = d;
    }
    t[0].eax = 1;           /* highest basic leaf in the table */
    t[2].eax = 0x80000008u; /* highest extended leaf */
    if (!nx)
        t[3].edx &= ~(1u << 20);
    return vcore_vcpu_set_cpuid(vcpu, t, 5);
}

static __attribute__((unused)) int vtk_env_init(vtk_env_t *env)
{
    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_vmx();
    cfg.host = &vtk_host;
    if (!cfg.backend) {
        vtk_puts("SETUP vmx backend not built in\n");
        return -1;
    }
    int err = vcore_vm_create(&cfg, &env->vm);
    if (err) {
        vtk_puts("SETUP vcore_vm_create failed: ");
        vtk_puts(vcore_err_name(err));
        vtk_puts("\n");
        return -1;
    }
    env->ram_size = 2u << 20;
    env->ram = vtk_alloc_2m(1);
    if (!env->ram)
        return -1;
    vcore_mem_region_t r = {sizeof(r), 0, env->ram_size, env->ram, 0};
    err = vcore_vm_map_memory(env->vm, &r);
    if (!err)
        err = vcore_vcpu_create(env->vm, NULL, &env->vcpu);
    if (!err)
        err = vtk_set_cpuid(env->vcpu, true);
    if (err) {
        vtk_puts("SETUP map/vcpu failed: ");
        vtk_puts(vcore_err_name(err));
        vtk_puts("\n");
        return -1;
    }
    env->proc2_caps = vtk_rdmsr(0x48b);
    return 0;
}

static vtk_tally_t vtk_tally;

void vtk_case_line(const char *prefix, const char *name, int kind, int result, const char *detail)
{
    if (kind == VTK_RECORD) {
        vtk_puts("RECORD ");
        vtk_puts(prefix);
        vtk_puts(name);
        vtk_puts(" ");
        vtk_puts(detail);
        vtk_puts("\n");
        vtk_tally.rec++;
        return;
    }
    vtk_tally_case(&vtk_tally, prefix, name, result, detail);
}

/* The kernel image built with VTK_NESTED_SUITE runs the nested suite
 * (it creates its own VMs; the bare L1 runs need the processor outside
 * VMX operation, so no case environment is set up). */
#ifdef VTK_NESTED_SUITE
#define VTK_TABLE vtk_nested_cases
#define VTK_NTABLE vtk_nested_ncases
#else
#define VTK_TABLE vtk_cases
#define VTK_NTABLE vtk_ncases
#endif

void kmain(void)
{
    static vtk_env_t env;
    uint64_t t0 = vtk_rdtsc();
    uint32_t lines = 0;

    vtk_cpu_init();
    vtk_host_init();
    /* Mask every line of both 8259 PICs: with external-interrupt exiting a
     * pending host interrupt (the BIOS left the PIT running) makes every
     * VM entry exit at once, and this kernel never takes interrupts. */
    vtk_outb(0x21, 0xff);
    vtk_outb(0xa1, 0xff);
    /* VMX requires CR0.NE (IA32_VMX_CR0_FIXED0); the BIOS left it clear.
     * Setting it is the embedder's job: the library never changes CR0. */
    uint64_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 |= 1u << 5;
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
    /* The vmx backend switches the guests' x87/SSE state with FXSAVE and
     * FXRSTOR, which need CR4.OSFXSR (and CR0.EM = CR0.TS = 0, as the BIOS
     * left them). */
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 |= 1u << 9;
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));

    for (uint32_t i = 0; i < VTK_NTABLE; i++)
        lines += VTK_TABLE[i].lines ? VTK_TABLE[i].lines : 1;
    vtk_puts("VTK-BEGIN cases=");
    vtk_putdec(lines);
    vtk_puts("\n");
#ifndef VTK_NESTED_SUITE
    if (vtk_env_init(&env) != 0) {
        vtk_puts("VTK-SETUP-FAILED\n");
        vtk_shutdown();
    }
#endif
    for (uint32_t i = 0; i < VTK_NTABLE; i++) {
        const vtk_case_t *c = &VTK_TABLE[i];
        vtk_why_t why;
        why.len = 0;
        why.buf[0] = '\0';
        vtk_puts("RUN ");
        vtk_puts(c->name);
        vtk_puts("\n");
        int r = c->run(&env, &why);
        if (r == VTK_PRINTED)
            continue; /* the case printed its own lines */
        if (c->kind == VTK_RECORD && r == VTK_PASS) {
            vtk_tally.rec++;
            continue; /* the case printed its RECORD line */
        }
        vtk_case_line("", c->name, VTK_CHECK, r, why.buf);
    }
    vtk_tally_summary(&vtk_tally, true, t0);
    vtk_shutdown();
}
