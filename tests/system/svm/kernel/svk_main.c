/*
 * svk_main.c - the SVM test kernel's main: host services with the
 * processor's storage, one VM on the svm backend, the case table, one
 * result line per case over port E9H.
 */
#include "svk.h"

void kmain(void);

void svk_why_str(svk_why_t *w, const char *s)
{
    while (*s && w->len + 1 < sizeof(w->buf))
        w->buf[w->len++] = *s++;
    w->buf[w->len] = '\0';
}

void svk_why_hex(svk_why_t *w, uint64_t v)
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
    svk_why_str(w, tmp);
}

void svk_why_dec(svk_why_t *w, uint64_t v)
{
    char tmp[21];
    int i = 20;
    tmp[i] = '\0';
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v && i > 0);
    svk_why_str(w, &tmp[i]);
}

void svk_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
    uint32_t a = leaf, b, c = sub, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    out[0] = a;
    out[1] = b;
    out[2] = c;
    out[3] = d;
}

/* ---- host services (the embedder's side: docs/embedding.md) ---- */

static void *svk_host_alloc(void *ctx, size_t len)
{
    (void)ctx;
    return vtk_alloc_pages((len + 4095u) / 4096u);
}

static void svk_host_free(void *ctx, void *ptr, size_t len)
{
    /* A bump arena never frees; the test kernel is short-lived. */
    (void)ctx;
    (void)ptr;
    (void)len;
}

static void *svk_host_alloc_pages(void *ctx, size_t count, uint64_t *phys)
{
    (void)ctx;
    void *p = vtk_alloc_pages(count);
    if (p)
        *phys = (uint64_t)(uintptr_t)p; /* identity mapped */
    return p;
}

static void svk_host_free_pages(void *ctx, void *va, size_t count)
{
    (void)ctx;
    (void)va;
    (void)count;
}

static uint64_t svk_host_virt_to_phys(void *ctx, const void *va)
{
    (void)ctx;
    return (uint64_t)(uintptr_t)va;
}

static void svk_host_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    vtk_puts("LOG ");
    vtk_putdec((uint64_t)level);
    vtk_puts(" ");
    vtk_puts(msg);
    vtk_puts("\n");
}

/* One processor (both emulators run one): its index and its storage, with
 * the page that becomes its host save area (VM_HSAVE_PA). */
static uint32_t svk_host_cpu_index(void *ctx)
{
    (void)ctx;
    return 0;
}

static uint8_t svk_cpu0_page[4096] __attribute__((aligned(4096)));
static vcore_host_cpu_t svk_cpus[1] = {{svk_cpu0_page, 0, 0, 0, 0, 0}};

const vcore_host_t svk_host = {
    .size = sizeof(vcore_host_t),
    .ctx = NULL,
    .alloc = svk_host_alloc,
    .free = svk_host_free,
    .alloc_pages = svk_host_alloc_pages,
    .free_pages = svk_host_free_pages,
    .virt_to_phys = svk_host_virt_to_phys,
    .log = svk_host_log,
    .log_level = VCORE_LOG_WARN,
    .cpu_index = svk_host_cpu_index,
    .cpus = svk_cpus,
    .ncpus = 1,
};

/* The vCPU's CPUID: the processor's leaves 0, 1, 80000000H, 80000001H and
 * 80000008H, so the model enumerates long mode, PAE and NX; leaf 7 is left
 * out (no FSGSBASE, SMEP ...) and SVM is hidden from the guest. */
int svk_set_cpuid(vcore_vcpu_t *vcpu)
{
    static const uint32_t leaves[] = {0, 1, 0x80000000u, 0x80000001u, 0x80000008u};
    vcore_cpuid_entry_t t[5];
    for (unsigned i = 0; i < 5; i++) {
        uint32_t r[4];
        svk_cpuid(leaves[i], 0, r);
        t[i].function = leaves[i];
        t[i].index = 0;
        t[i].flags = 0;
        t[i].eax = r[0];
        t[i].ebx = r[1];
        t[i].ecx = r[2];
        t[i].edx = r[3];
    }
    t[0].eax = 1;           /* highest basic leaf in the table */
    t[2].eax = 0x80000008u; /* highest extended leaf */
    t[3].ecx &= ~(1u << 2); /* no SVM for the guest */
    return vcore_vcpu_set_cpuid(vcpu, t, 5);
}

/* QEMU's brand string names it; Bochs' ryzen model carries AMD's. */
bool svk_is_qemu(void)
{
    uint32_t r[4];
    svk_cpuid(0x80000000u, 0, r);
    if (r[0] < 0x80000004u)
        return false;
    char brand[49];
    for (uint32_t i = 0; i < 3; i++) {
        svk_cpuid(0x80000002u + i, 0, r);
        for (uint32_t k = 0; k < 16; k++)
            brand[i * 16 + k] = (char)(r[k / 4] >> (8 * (k % 4)));
    }
    brand[48] = 0;
    for (uint32_t i = 0; i + 4 <= 48; i++)
        if (brand[i] == 'Q' && brand[i + 1] == 'E' && brand[i + 2] == 'M' && brand[i + 3] == 'U')
            return true;
    return false;
}

static int svk_env_init(svk_env_t *env)
{
    uint32_t r[4];
    svk_cpuid(0x8000000au, 0, r);
    env->svm_features = r[3];
    svk_cpuid(0x80000008u, 0, r);
    env->maxphyaddr = r[0] & 0xffu;
    env->qemu = svk_is_qemu();
    vtk_puts("SETUP emulator=");
    vtk_puts(env->qemu ? "qemu" : "bochs");
    vtk_puts(" svm-features=");
    vtk_puthex(env->svm_features);
    vtk_puts(" maxphyaddr=");
    vtk_putdec(env->maxphyaddr);
    vtk_puts("\n");

    vcore_vm_config_t cfg;
    vcore_vm_config_init(&cfg);
    cfg.backend = vcore_backend_svm();
    cfg.host = &svk_host;
    cfg.max_vcpus = 2;
    if (!cfg.backend) {
        vtk_puts("SETUP svm backend not built in\n");
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
    vcore_mem_region_t reg = {sizeof(reg), 0, env->ram_size, env->ram, 0};
    err = vcore_vm_map_memory(env->vm, &reg);
    if (!err)
        err = vcore_vcpu_create(env->vm, NULL, &env->vcpu);
    if (!err)
        err = svk_set_cpuid(env->vcpu);
    if (err) {
        vtk_puts("SETUP map/vcpu failed: ");
        vtk_puts(vcore_err_name(err));
        vtk_puts("\n");
        return -1;
    }
    return 0;
}

void kmain(void)
{
    static svk_env_t env;
    uint64_t t0 = vtk_rdtsc();
    vtk_tally_t tally = {0, 0, 0, 0};

    vtk_cpu_init();
    /* CR4.OSFXSR: the svm backend switches the guest's x87/SSE state with
     * FXSAVE/FXRSTOR, XMM registers included (svm_fpu.c). */
    uint64_t cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | (1u << 9)));
    svk_cpus[0].page_phys = (uint64_t)(uintptr_t)svk_cpu0_page; /* identity mapped */
    /* Mask both 8259 PICs: the kernel takes no interrupts, and a pending
     * one would end every guest run at once (INTR is intercepted). */
    vtk_outb(0x21, 0xff);
    vtk_outb(0xa1, 0xff);
#ifdef SVK_NESTED_SUITE
    /* svk-nested.img: the L0 -> L1 -> L2 suite instead of the case table. */
    svk_nested_main(&env);
#endif

    vtk_puts("VTK-BEGIN cases=");
    vtk_putdec(svk_ncases);
    vtk_puts("\n");
    if (svk_env_init(&env) != 0) {
        vtk_puts("VTK-SETUP-FAILED\n");
        vtk_shutdown();
    }
    for (uint32_t i = 0; i < svk_ncases; i++) {
        const svk_case_t *c = &svk_cases[i];
        svk_why_t why;
        why.len = 0;
        why.buf[0] = '\0';
        vtk_puts("RUN ");
        vtk_puts(c->name);
        vtk_puts("\n");
        int r = c->run(&env, &why);
        vtk_tally_case(&tally, "", c->name, r, why.buf);
    }
    vtk_tally_summary(&tally, false, t0);
    vtk_shutdown();
}
