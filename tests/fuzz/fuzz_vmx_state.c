/* libFuzzer target: virtcore-check's STATE_FILE parser (tools/vcheck_text.c,
 * tools/vcheck_vmx_state.c) and the VM-entry checks on what it builds.
 * The first byte picks the CPU profile; the rest is the state text.
 *
 * Invariants: no crash; parsing the same text twice builds the same
 * snapshot; a refused text says where (a line within the text, a message);
 * the verdict is the same twice; report-all decides like verdict-only and
 * lists the verdict first; the snapshot is never written by the checks. */
#include "vcheck_vmx_state.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static vcheck_vmx_state_t st_a, st_b;
static uint8_t page_before[VCORE_VMCS12_SIZE];
static vcore_vmx_check_failure_t fails[1024];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vcheck_vmx_caps_t caps;
    vcheck_err_t ea, eb;
    vcore_vmx_check_input_t in;
    vcore_vmx_verdict_t a = {.size = sizeof(a)}, b = {.size = sizeof(b)}, c = {.size = sizeof(c)};
    const char *text;
    size_t len, lines = 1;
    int ra, rb;

    if (size < 1)
        return 0;
    if (vcheck_vmx_state_profile(vcheck_vmx_state_profile_name(data[0] % vcheck_vmx_state_profile_count()), &caps) != 0)
        abort();
    text = (const char *)data + 1;
    len = size - 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';

    vcheck_vmx_state_init(&st_a);
    vcheck_vmx_state_init(&st_b);
    memset(&ea, 0, sizeof(ea));
    memset(&eb, 0, sizeof(eb));
    ra = vcheck_vmx_state_parse(&st_a, text, len, &ea);
    rb = vcheck_vmx_state_parse(&st_b, text, len, &eb);
    if (ra != rb || (ra != 0 && ra != -1))
        abort(); /* deterministic, and 0 or -1 */
    if (ra != 0) {
        /* A refusal names a line of the text (0: the whole file) and says why. */
        if (ea.line > lines || ea.msg[0] == '\0' || ea.line != eb.line || strcmp(ea.msg, eb.msg) != 0 ||
            memchr(ea.msg, '\0', sizeof(ea.msg)) == NULL)
            abort();
        return 0;
    }
    if (memcmp(st_a.page, st_b.page, sizeof(st_a.page)) != 0 || st_a.ncells != st_b.ncells ||
        st_a.ncpuid != st_b.ncpuid || st_a.efer != st_b.efer || st_a.current_vmcs != st_b.current_vmcs ||
        st_a.resume != st_b.resume || st_a.launched != st_b.launched || st_a.movss_blocking != st_b.movss_blocking)
        abort();

    vcheck_vmx_state_input(&st_a, &caps, &in);
    memcpy(page_before, st_a.page, sizeof(page_before));
    if (vcore_vmx_check_entry(&in, &a, NULL, 0) != VCORE_OK)
        abort(); /* the parser only builds snapshots the checks take */
    if (vcore_vmx_check_entry(&in, &b, fails, 1024) != VCORE_OK)
        abort();
    if (vcore_vmx_check_entry(&in, &c, NULL, 0) != VCORE_OK)
        abort();
    if (memcmp(&a, &c, sizeof(a)) != 0)
        abort(); /* deterministic verdict */
    if (a.kind != b.kind || a.check != b.check || a.value != b.value || a.vm_error != b.vm_error ||
        a.exit_reason != b.exit_reason || a.qualification != b.qualification)
        abort(); /* report-all decides like verdict-only */
    if ((a.kind == VCORE_VMX_ENTRY_OK) != (b.failures == 0))
        abort();
    if (b.failures && (fails[0].check != a.check || fails[0].value != a.value))
        abort(); /* report-all's first entry is the verdict */
    if (memcmp(page_before, st_a.page, sizeof(page_before)) != 0)
        abort(); /* the checks only read */
    return 0;
}
