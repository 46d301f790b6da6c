#!/bin/sh
# list_checks_svm.sh TOOL: `virtcore-check svm --list-checks` prints one line
# `CHECK_ID VMEXIT_INVALID "SECTION"` per VMRUN check, names unique, the
# three APM sections present, and --json lists the same checks.
set -u
out=$("$1" svm --list-checks) || { echo "FAIL: exit status $?"; exit 1; }
total=$(printf '%s\n' "$out" | wc -l)
good=$(printf '%s\n' "$out" | grep -c '^[A-Z][A-Z0-9_]* VMEXIT_INVALID "[A-Z][^"]*"$')
uniq=$(printf '%s\n' "$out" | cut -d' ' -f1 | sort -u | wc -l)
echo "checks: $total lines, $good well-formed, $uniq distinct names"
[ "$total" -ge 21 ] || { echo "FAIL: fewer than 21 checks"; exit 1; }
[ "$good" = "$total" ] || { echo "FAIL: malformed lines"; exit 1; }
[ "$uniq" = "$total" ] || { echo "FAIL: duplicate check names"; exit 1; }
for s in "Canonicalization and Consistency Checks" "Event Injection" "Nested Paging and VMRUN/#VMEXIT"; do
    printf '%s\n' "$out" | grep -q "\"$s\"" || { echo "FAIL: no check of \"$s\""; exit 1; }
done
if command -v python3 >/dev/null; then
    j=$("$1" svm --json --list-checks | python3 -c '
import json, sys
for c in json.load(sys.stdin)["checks"]:
    print("%s %s \"%s\"" % (c["id"], c["class"], c["section"]))') || { echo "FAIL: --json"; exit 1; }
    [ "$j" = "$out" ] || { echo "FAIL: --json lists other checks"; exit 1; }
fi
echo PASS
