#!/bin/sh
# list_checks.sh TOOL: `virtcore-check vmx --list-checks` prints one line
# `CHECK_ID CLASS "SECTION"` per check, at least 214, names unique, and
# --json lists the same checks.
set -u
out=$("$1" vmx --list-checks) || { echo "FAIL: exit status $?"; exit 1; }
total=$(printf '%s\n' "$out" | wc -l)
good=$(printf '%s\n' "$out" | grep -c '^[A-Z][A-Z0-9_]* \(PRE\|VMFAIL_CTL\|VMFAIL_HOST\|EXIT_GUEST\|EXIT_PDPTE\|EXIT_LINK\|EXIT_MSR_LOAD\) "[A-Z][^"]*"$')
uniq=$(printf '%s\n' "$out" | cut -d' ' -f1 | sort -u | wc -l)
echo "checks: $total lines, $good well-formed, $uniq distinct names"
[ "$total" -ge 214 ] || { echo "FAIL: fewer than 214 checks"; exit 1; }
[ "$good" = "$total" ] || { echo "FAIL: malformed lines"; exit 1; }
[ "$uniq" = "$total" ] || { echo "FAIL: duplicate check names"; exit 1; }
for c in PRE VMFAIL_CTL VMFAIL_HOST EXIT_GUEST EXIT_PDPTE EXIT_LINK EXIT_MSR_LOAD; do
    printf '%s: %s\n' "$c" "$(printf '%s\n' "$out" | grep -c "^[^ ]* $c ")"
done
if command -v python3 >/dev/null; then
    j=$("$1" vmx --json --list-checks | python3 -c '
import json, sys
for c in json.load(sys.stdin)["checks"]:
    print("%s %s \"%s\"" % (c["id"], c["class"], c["section"]))') || { echo "FAIL: --json"; exit 1; }
    [ "$j" = "$out" ] || { echo "FAIL: --json lists other checks"; exit 1; }
fi
echo PASS
