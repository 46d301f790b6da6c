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

static int vtk_env_init(vtk_env_t *env)
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

void kmain(void)
{
    static vtk_env_t env;
    uint64_t t0 = vtk_rdtsc();
    uint32_t pass = 0, fail = 0, skip = 0, rec = 0;

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

    vtk_puts("VTK-BEGIN cases=");
    vtk_putdec(vtk_ncases);
    vtk_puts("\n");
    if (vtk_env_init(&env) != 0) {
        vtk_puts("VTK-SETUP-FAILED\n");
        vtk_shutdown();
    }
    for (uint32_t i = 0; i < vtk_ncases; i++) {
        const vtk_case_t *c = &vtk_cases[i];
        vtk_why_t why;
        why.len = 0;
        why.buf[0] = '\0';
        vtk_puts("RUN ");
        vtk_puts(c->name);
        vtk_puts("\n");
        int r = c->run(&env, &why);
        if (c->kind == VTK_RECORD && r == VTK_PASS) {
            rec++;
            continue; /* the case printed its RECORD line */
        }
        vtk_puts("CASE ");
        vtk_puts(c->name);
        vtk_puts(r == VTK_PASS ? " PASS" : r == VTK_SKIP ? " SKIP " : " FAIL ");
        vtk_puts(why.buf);
        vtk_puts("\n");
        if (r == VTK_PASS)
            pass++;
        else if (r == VTK_SKIP)
            skip++;
        else
            fail++;
    }
    vtk_puts("SUMMARY pass=");
    vtk_putdec(pass);
    vtk_puts(" fail=");
    vtk_putdec(fail);
    vtk_puts(" skip=");
    vtk_putdec(skip);
    vtk_puts(" record=");
    vtk_putdec(rec);
    vtk_puts(" tsc=");
    vtk_putdec(vtk_rdtsc() - t0);
    vtk_puts("\nVTK-END\n");
    vtk_shutdown();
}
