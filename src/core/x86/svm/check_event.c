/*
 * check_event.c - the VMRUN rules on EVENTINJ (APM Vol. 2, "Event
 * Injection"): "VMRUN exits with VMEXIT_INVALID error code if either:
 * reserved values of TYPE have been specified, or TYPE = 3 (exception) has
 * been specified with a vector that does not correspond to an exception
 * (this includes vector 2, which is an NMI, not an exception)."
 *
 * Nothing is checked without the valid bit; the vector of an NMI (TYPE 2)
 * is ignored by the processor, and an interrupt (TYPE 0 or 4) may use any
 * vector.
 */
#include "svm_chk.h"

void vcore__svm_check_event(vcore__svm_chk_t *c)
{
    uint64_t ev = c->ctl.event_inj;
    uint32_t type = (uint32_t)((ev & VCORE_VMCB_EVENT_TYPE_MASK) >> VCORE_VMCB_EVENT_TYPE_SHIFT);
    uint32_t vector = (uint32_t)(ev & VCORE_VMCB_EVENT_VECTOR_MASK);

    if (!(ev & VCORE_VMCB_EVENT_V))
        return;
    VCORE__SVM_CHK(c, type != VCORE_VMCB_EVENT_TYPE_INTR && type != VCORE_VMCB_EVENT_TYPE_NMI &&
                          type != VCORE_VMCB_EVENT_TYPE_EXCEPTION && type != VCORE_VMCB_EVENT_TYPE_SOFT_INT,
                   EVENTINJ_TYPE, ev);
    VCORE__SVM_CHK(c, type == VCORE_VMCB_EVENT_TYPE_EXCEPTION &&
                          (vector > 31 || !((c->exc_vectors >> vector) & 1u)),
                   EVENTINJ_VECTOR, ev);
}
