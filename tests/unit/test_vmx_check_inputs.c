/*
 * test_vmx_check_inputs.c - the VM-entry rules run only for changed inputs
 * (core/x86/vmx/check_inputs.c) decide exactly like all the rules.
 *
 * For every case of the check tables (one or more per rule, each breaking
 * its rule from a state that passes): the passing state is checked first,
 * the case's mutations are applied, and the rules whose inputs changed
 * (from the fields that really changed, as the nested pipeline computes
 * them) must give the verdict of every rule, which is the SDM's verdict the
 * case states; the deciding rule must be among those run. A mutation of
 * something the pipeline treats as a new context (capabilities, CPUID,
 * L1's EFER, MAXPHYADDR, the current-VMCS pointer) runs every rule.
 */
#include <stdio.h>
#include <string.h>

#include "core/x86/vmx/check_priv.h"
#include "support.h"
#include "test_vmx_checks.h"

/* Every field encoding of the public list. */
static const uint32_t in_fields[] = {
#define IN_ENC(name, enc) (enc),
    VCORE_VMCS_FIELD_LIST(IN_ENC)
#undef IN_ENC
};

/* Decided by some case through the changed-input run (index id - 0x4000). */
static uint8_t in_decided[0x1000];

/* Context mutations: the pipeline runs every rule after them. */
static bool in_context_op(const ck_mu_t *m)
{
    switch (m->op) {
    case OP_CAPSET:
    case OP_CAPOR:
    case OP_CAPANDN:
    case OP_ALLOW:
    case OP_CPUID:
    case OP_REV:
        return true;
    case OP_IN:
        return m->a == IN_EFER || m->a == IN_MAXPHY || m->a == IN_VMPTR || m->a == IN_NOMEM || m->a == IN_MSRCB;
    default:
        return false;
    }
}

/* The inputs that changed between two vmcs12 pages. */
static uint32_t in_changed(const uint8_t *before, const uint8_t *after)
{
    uint32_t run = VCORE_VMX_IN_ALWAYS;
    for (size_t i = 0; i < sizeof(in_fields) / sizeof(in_fields[0]); i++) {
        uint64_t a = 0, b = 0;
        ck_assert_int_eq(vcore_vmcs12_get(before, in_fields[i], &a), VCORE_OK);
        ck_assert_int_eq(vcore_vmcs12_get(after, in_fields[i], &b), VCORE_OK);
        if (a != b)
            run |= vcore__vmx_check_field_input(in_fields[i]);
    }
    return run;
}

static const ck_case_t *in_case_at(int i)
{
    for (unsigned t = 0; t < ck_ntables; t++) {
        if ((size_t)i < ck_tables[t].n)
            return &ck_tables[t].cases[i];
        i -= (int)ck_tables[t].n;
    }
    return NULL;
}

static int in_case_count(void)
{
    int n = 0;
    for (unsigned t = 0; t < ck_ntables; t++)
        n += (int)ck_tables[t].n;
    return n;
}

static void in_run_case(const ck_case_t *cs)
{
    ck_t *k = malloc(sizeof(*k));
    static uint8_t before[VCORE_VMCS12_SIZE];
    vcore_vmx_verdict_t all = {.size = sizeof(all)}, some = {.size = sizeof(some)};
    size_t n = sizeof(cs->mu) / sizeof(cs->mu[0]), i;
    bool context = false;

    ck_assert_ptr_nonnull(k);
    ck_init(k);
    /* The passing state: the case's reference state (BASE) with its context
     * (capabilities, CPUID, L1 EFER...) when that still passes; else the
     * reference state alone and the context changes with the fields. */
    for (i = 0; i < n && cs->mu[i].op != OP_END; i++)
        if (cs->mu[i].op == OP_BASE || in_context_op(&cs->mu[i]))
            ck_apply(k, &cs->mu[i], 1);
    k->in.ncpuid = k->ncpuid;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &all, NULL, 0), VCORE_OK);
    bool primed_context = all.kind == VCORE_VMX_ENTRY_OK;
    if (!primed_context) {
        ck_fini(k);
        ck_init(k);
        for (i = 0; i < n && cs->mu[i].op != OP_END; i++)
            if (cs->mu[i].op == OP_BASE)
                ck_apply(k, &cs->mu[i], 1);
        k->in.ncpuid = k->ncpuid;
        ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &all, NULL, 0), VCORE_OK);
    }
    ck_assert_msg(all.kind == VCORE_VMX_ENTRY_OK, "%s: the reference state fails check %#x", cs->name, all.check);
    memcpy(before, k->page, sizeof(before));
    /* The instruction's inputs at the passing entry (the pipeline keeps them). */
    bool was_resume = k->in.resume, was_movss = k->in.movss_blocking;
    uint32_t was_launch = k->in.launch_state;
    for (i = 0; i < n && cs->mu[i].op != OP_END; i++) {
        if (cs->mu[i].op == OP_BASE || (primed_context && in_context_op(&cs->mu[i])))
            continue;
        context |= in_context_op(&cs->mu[i]);
        ck_apply(k, &cs->mu[i], 1);
    }
    /* The MSR-load list (read from L1 memory) is checked on every entry:
     * the pipeline loads it entry by entry, outside the gated run. */
    uint32_t run = context ? ~0u : in_changed(before, k->page) | VCORE__VMX_RUN_MSR_LOAD;
    ck_assert_int_eq(vcore_vmx_check_entry(&k->in, &all, NULL, 0), VCORE_OK);
    ck_assert_int_eq(vcore__vmx_check_run(&k->in, run, &some), VCORE_OK);
    ck_assert_msg(some.kind == all.kind && some.check == all.check && some.vm_error == all.vm_error &&
                      some.exit_reason == all.exit_reason && some.qualification == all.qualification &&
                      some.value == all.value,
                  "%s: the changed-input rules (inputs %#x) decide kind %u check %#x, all rules kind %u check %#x",
                  cs->name, run, some.kind, some.check, all.kind, all.check);
    /* The pipeline's run: the rules outside vmcs12 only where their
     * condition can hold (vcore__vmx_check_outside()), the basic rules only
     * when the instruction's inputs differ from the passing entry's. */
    uint32_t gated = ~0u;
    if (!context) {
        gated = (run & ~VCORE_VMX_IN_ALWAYS) | vcore__vmx_check_outside((const vcore__vmcs12_t *)(const void *)k->page);
        if (k->in.resume != was_resume || k->in.movss_blocking != was_movss || k->in.launch_state != was_launch)
            gated |= VCORE__VMX_RUN_BASIC;
    }
    ck_assert_int_eq(vcore__vmx_check_run(&k->in, gated, &some), VCORE_OK);
    ck_assert_msg(some.kind == all.kind && some.check == all.check && some.vm_error == all.vm_error &&
                      some.exit_reason == all.exit_reason && some.qualification == all.qualification &&
                      some.value == all.value,
                  "%s: the gated rules (run %#x) decide kind %u check %#x, all rules kind %u check %#x", cs->name,
                  gated, some.kind, some.check, all.kind, all.check);
    /* The SDM's verdict, as the case states it. */
    ck_assert_msg(some.kind == cs->kind && some.check == cs->check, "%s: kind %u check %#x, expected %u %#x",
                  cs->name, some.kind, some.check, cs->kind, cs->check);
    if (some.check) {
        /* The deciding rule ran: one of its inputs changed. */
        ck_assert_msg(vcore__vmx_check_inputs(some.check) & run, "%s: rule %#x decided without a changed input",
                      cs->name, some.check);
        if (!context)
            in_decided[some.check - 0x4000] = 1;
    }
    ck_fini(k);
    free(k);
}

START_TEST(each_case_changed_inputs)
{
    const ck_case_t *cs = in_case_at(_i);
    ck_assert_ptr_nonnull(cs);
    in_run_case(cs);
}
END_TEST

/* Each rule is decided through the changed-input run by some case that
 * changes only vmcs12 fields, memory or the instruction: every input
 * column is exercised by a mutation of that rule's own inputs. Rules that
 * only a capability or CPUID change can break are listed by name. */
START_TEST(every_rule_decided_from_changed_fields)
{
    for (int i = 0; i < in_case_count(); i++)
        in_run_case(in_case_at(i));
    uint32_t missing = 0;
    for (uint32_t i = 0; i < vcore_vmx_check_count(); i++) {
        vcore_vmx_check_info_t info = {.size = sizeof(info)};
        ck_assert_int_eq(vcore_vmx_check_at(i, &info), VCORE_OK);
        if (!in_decided[info.id - 0x4000]) {
            printf("vmx_check_inputs: %s decided only after a capability/CPUID/context change\n", info.name);
            missing++;
        }
    }
    /* Rules about capabilities (reserved controls, tertiary and secondary
     * exit controls, EPT pointer capabilities...) need a capability change
     * to fail from a passing state; they run every time the capabilities
     * change. The count is pinned so a new gap is seen. */
    ck_assert_uint_le(missing, 13);
}
END_TEST

/* The field map: exit-information fields are inputs of no rule; a field a
 * rule reads is an input bit or OTHER; the fields the pipeline writes on
 * every exit to L1 have their own bits. Written from SDM Vol. 3, "VM
 * Entries" (which fields VM entry checks). */
START_TEST(field_inputs)
{
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_VM_EXIT_REASON), 0);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_EXIT_QUALIFICATION), 0);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_VM_INSTRUCTION_ERROR), 0);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_GUEST_RSP), 0);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_EXCEPTION_BITMAP), 0);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_GUEST_RIP), VCORE_VMX_IN_RIP);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_GUEST_RFLAGS), VCORE_VMX_IN_RFLAGS);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_GUEST_IA32_EFER), VCORE_VMX_IN_EFER);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_GUEST_IA32_EFER_HIGH), VCORE_VMX_IN_EFER);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_GUEST_INTERRUPTIBILITY_INFO), VCORE_VMX_IN_INTR);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_GUEST_CS_SELECTOR), VCORE_VMX_IN_OTHER);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_PIN_BASED_VM_EXEC_CONTROL), VCORE_VMX_IN_OTHER);
    ck_assert_uint_eq(vcore__vmx_check_field_input(VCORE_VMCS_HOST_RIP), VCORE_VMX_IN_OTHER);
    ck_assert_uint_eq(vcore__vmx_check_field_input(0xffffu), 0);
    /* Every rule reads OTHER; the rules of L1 memory run always. */
    ck_assert_uint_eq(vcore__vmx_check_inputs(VCORE_VMX_CHECK_EXEC_PIN_ALLOWED0), VCORE_VMX_IN_OTHER);
    ck_assert(vcore__vmx_check_inputs(VCORE_VMX_CHECK_MSR_LOAD_COUNT) & VCORE_VMX_IN_ALWAYS);
    ck_assert(vcore__vmx_check_inputs(VCORE_VMX_CHECK_GUEST_RIP_HIGH) & VCORE_VMX_IN_RIP);
    ck_assert_uint_eq(vcore__vmx_check_inputs(0x4fff), 0);
}
END_TEST

/* The changed-row bitmap is read for `words` words only: a row past them
 * (here GUEST_RIP's) is not a change; within them it is. */
START_TEST(changed_reads_only_the_words_given)
{
    const vcore__vmcs_row_t *r = vcore__vmcs_row(VCORE_VMCS_GUEST_RIP);
    ck_assert_ptr_nonnull(r);
    uint32_t id = (uint32_t)(r - vcore__vmcs_rows);
    uint64_t rows[8] = {0};
    ck_assert_uint_lt(id / 64u, 8);
    rows[id / 64u] = 1ull << (id % 64u);
    ck_assert_uint_eq(vcore__vmx_check_changed(rows, id / 64u), VCORE_VMX_IN_ALWAYS);
    ck_assert_uint_eq(vcore__vmx_check_changed(rows, id / 64u + 1u), VCORE_VMX_IN_ALWAYS | VCORE_VMX_IN_RIP);
    /* A bit past the last row names no field (the row table is not read there). */
    uint64_t past[(VCORE__VMCS_NROWS + 64u) / 64u + 1u] = {0};
    past[VCORE__VMCS_NROWS / 64u] = 1ull << (VCORE__VMCS_NROWS % 64u);
    ck_assert_uint_eq(vcore__vmx_check_changed(past, (uint32_t)(sizeof(past) / sizeof(past[0]))), VCORE_VMX_IN_ALWAYS);
}
END_TEST

/* The changed-row bitmap (the pipeline's) and the field map give the same
 * inputs for every row of the VMCS table, one row changed at a time and
 * all the rows of a word together: a row left out of the row masks would
 * let a change of its field pass unchecked. */
START_TEST(changed_rows_match_field_inputs)
{
    uint64_t rows[(VCORE__VMCS_NROWS + 63u) / 64u];
    uint32_t words = (uint32_t)(sizeof(rows) / sizeof(rows[0]));
    uint32_t other = 0, named = 0;
    for (uint32_t w = 0; w < words; w++) {
        uint32_t want = VCORE_VMX_IN_ALWAYS;
        for (uint32_t b = 0; b < 64u && w * 64u + b < VCORE__VMCS_NROWS; b++) {
            const vcore__vmcs_row_t *r = &vcore__vmcs_rows[w * 64u + b];
            uint32_t in = vcore__vmx_check_field_input(r->encoding);
            memset(rows, 0, sizeof(rows));
            rows[w] = 1ull << b;
            ck_assert_msg(vcore__vmx_check_changed(rows, words) == (in | VCORE_VMX_IN_ALWAYS),
                          "row %u (%s): changed %#x, field input %#x", w * 64u + b, r->name,
                          vcore__vmx_check_changed(rows, words), in);
            want |= in;
            other += in == VCORE_VMX_IN_OTHER;
            named += in != 0 && in != VCORE_VMX_IN_OTHER;
        }
        memset(rows, 0, sizeof(rows));
        rows[w] = ~0ull;
        ck_assert_uint_eq(vcore__vmx_check_changed(rows, words), want);
    }
    /* Every named field and its _HIGH half (IA32_EFER) has its own row;
     * most fields a rule reads are OTHER. */
    ck_assert_uint_eq(named, 14);
    ck_assert_uint_gt(other, 100);
}
END_TEST

/* Nothing changed: only the rules that always run; an unchanged passing
 * state still passes, a failing memory input still fails. */
START_TEST(nothing_changed)
{
    ck_t *k = malloc(sizeof(*k));
    vcore_vmx_verdict_t v = {.size = sizeof(v)};
    ck_assert_ptr_nonnull(k);
    ck_init(k);
    k->in.ncpuid = k->ncpuid;
    uint64_t rows[4] = {0, 0, 0, 0};
    uint32_t run = vcore__vmx_check_changed(rows, 4);
    ck_assert_uint_eq(run, VCORE_VMX_IN_ALWAYS);
    ck_assert_int_eq(vcore__vmx_check_run(&k->in, run, &v), VCORE_OK);
    ck_assert_uint_eq(v.kind, VCORE_VMX_ENTRY_OK);
    /* VMLAUNCH of a launched VMCS: the basic rules read the launch state. */
    k->in.launch_state = 1;
    ck_assert_int_eq(vcore__vmx_check_run(&k->in, run, &v), VCORE_OK);
    ck_assert_uint_eq(v.check, VCORE_VMX_CHECK_BASIC_LAUNCH_NOT_CLEAR);
    ck_assert_uint_eq(v.vm_error, 4);
    ck_fini(k);
    free(k);
}
END_TEST

/* Every rule reading what lies outside vmcs12 (the table's ALWAYS column)
 * has its section's run bit, so a run that asks for that section runs it;
 * the MSR-load rules keep theirs (the list is loaded entry by entry). */
START_TEST(outside_rules_have_a_run_bit)
{
    const uint32_t gates = VCORE__VMX_RUN_BASIC | VCORE__VMX_RUN_VTPR | VCORE__VMX_RUN_LINK | VCORE__VMX_RUN_PDPTE;
    uint32_t gated = 0;
    for (uint32_t i = 0; i < vcore_vmx_check_count(); i++) {
        vcore_vmx_check_info_t info = {.size = sizeof(info)};
        ck_assert_int_eq(vcore_vmx_check_at(i, &info), VCORE_OK);
        uint32_t in = vcore__vmx_check_inputs(info.id);
        ck_assert(in & VCORE_VMX_IN_OTHER);
        if (!(in & VCORE_VMX_IN_ALWAYS)) {
            ck_assert_msg(!(in & gates), "%s: a run bit without ALWAYS", info.name);
            continue;
        }
        if (info.cls == VCORE_VMX_CLASS_EXIT_MSR_LOAD) {
            ck_assert_msg(!(in & gates), "%s", info.name);
            continue;
        }
        ck_assert_msg(__builtin_popcount(in & gates) == 1, "%s: inputs %#x", info.name, in);
        gated++;
    }
    /* 5 basic rules, VTPR, 5 link-pointer rules, 8 PDPTE rules. */
    ck_assert_uint_eq(gated, 19);
    ck_assert_uint_eq(vcore__vmx_check_inputs(VCORE_VMX_CHECK_EXEC_TPR_THRESHOLD_VTPR) & gates, VCORE__VMX_RUN_VTPR);
    ck_assert_uint_eq(vcore__vmx_check_inputs(VCORE_VMX_CHECK_BASIC_MOV_SS) & gates, VCORE__VMX_RUN_BASIC);
    ck_assert_uint_eq(vcore__vmx_check_inputs(VCORE_VMX_CHECK_GUEST_LINK_REVISION) & gates, VCORE__VMX_RUN_LINK);
    ck_assert_uint_eq(vcore__vmx_check_inputs(VCORE_VMX_CHECK_GUEST_PDPTE3_WIDTH) & gates, VCORE__VMX_RUN_PDPTE);
}
END_TEST

/* The conditions under which the rules reading L1 memory can fail (SDM
 * Vol. 3, "Checks on VM-Execution Control Fields": VTPR with "use TPR
 * shadow" and neither "virtualize APIC accesses" nor "virtual-interrupt
 * delivery"; "Checks on Guest Non-Register State": the referenced VMCS
 * when the link pointer is not FFFFFFFF_FFFFFFFFH; "Checks on Guest
 * Page-Directory-Pointer-Table Entries": CR0.PG, CR4.PAE and not IA-32e
 * mode guest). */
START_TEST(outside_conditions)
{
    static uint8_t pg[VCORE_VMCS12_SIZE];
    const vcore__vmcs12_t *v = (const vcore__vmcs12_t *)(const void *)pg;
    const uint32_t tpr = 1u << 21, sec = 1u << 31, apic = 1u << 0, vid = 1u << 9;
    memset(pg, 0, sizeof(pg));
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_VMCS_LINK_POINTER, ~0ull), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), 0);
    /* VTPR */
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, tpr), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), VCORE__VMX_RUN_VTPR);
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, vid), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), VCORE__VMX_RUN_VTPR); /* secondary controls not active */
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, tpr | sec), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), 0);
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, apic), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), 0);
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_SECONDARY_VM_EXEC_CONTROL, 1u << 1), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), VCORE__VMX_RUN_VTPR);
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_CPU_BASED_VM_EXEC_CONTROL, sec), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), 0);
    /* The VMCS link pointer */
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_VMCS_LINK_POINTER, 0x5000), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), VCORE__VMX_RUN_LINK);
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_VMCS_LINK_POINTER, ~1ull), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), VCORE__VMX_RUN_LINK);
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_VMCS_LINK_POINTER, ~0ull), VCORE_OK);
    /* PAE paging outside IA-32e mode */
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_GUEST_CR0, 0x80000001ull), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), 0);
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_GUEST_CR4, 0x20), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), VCORE__VMX_RUN_PDPTE);
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_VM_ENTRY_CONTROLS, 1u << 9), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), 0);
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_VM_ENTRY_CONTROLS, ~(1u << 9)), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), VCORE__VMX_RUN_PDPTE);
    ck_assert_int_eq(vcore_vmcs12_set(pg, VCORE_VMCS_GUEST_CR0, 0x1ull), VCORE_OK);
    ck_assert_uint_eq(vcore__vmx_check_outside(v), 0);
}
END_TEST

static Suite *vmx_check_inputs_suite(void)
{
    Suite *s = suite_create("vmx_check_inputs");
    TCase *tc = tcase_create("cases");
    tcase_add_loop_test(tc, each_case_changed_inputs, 0, in_case_count());
    suite_add_tcase(s, tc);
    tc = tcase_create("table");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, every_rule_decided_from_changed_fields);
    tcase_add_test(tc, field_inputs);
    tcase_add_test(tc, nothing_changed);
    tcase_add_test(tc, changed_reads_only_the_words_given);
    tcase_add_test(tc, changed_rows_match_field_inputs);
    tcase_add_test(tc, outside_rules_have_a_run_bit);
    tcase_add_test(tc, outside_conditions);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return vcore_test_run(vmx_check_inputs_suite());
}
