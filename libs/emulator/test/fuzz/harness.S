// Prologue and epilogue copied around random instructions by harness.c. Position independent:
// the state pointer travels in TPIDR_EL0. State layout: x0..x30 at 0, saved sp at 248, nzcv 256,
// fpcr 264, fpsr 272, callee-saved x19..x30 at 280, v0..v31 at 384.
        .text
        .globl fuzz_prologue, fuzz_prologue_end, fuzz_epilogue, fuzz_epilogue_end
fuzz_prologue:
        msr tpidr_el0, x0
        stp x19, x20, [x0, #280]
        stp x21, x22, [x0, #296]
        stp x23, x24, [x0, #312]
        stp x25, x26, [x0, #328]
        stp x27, x28, [x0, #344]
        stp x29, x30, [x0, #360]
        mov x1, sp
        str x1, [x0, #248]
        add x1, x0, #384
        ldp q0, q1, [x1, #0]
        ldp q2, q3, [x1, #32]
        ldp q4, q5, [x1, #64]
        ldp q6, q7, [x1, #96]
        ldp q8, q9, [x1, #128]
        ldp q10, q11, [x1, #160]
        ldp q12, q13, [x1, #192]
        ldp q14, q15, [x1, #224]
        ldp q16, q17, [x1, #256]
        ldp q18, q19, [x1, #288]
        ldp q20, q21, [x1, #320]
        ldp q22, q23, [x1, #352]
        ldp q24, q25, [x1, #384]
        ldp q26, q27, [x1, #416]
        ldp q28, q29, [x1, #448]
        ldp q30, q31, [x1, #480]
        ldr x1, [x0, #256]
        msr nzcv, x1
        ldr x1, [x0, #264]
        msr fpcr, x1
        msr fpsr, xzr
        ldp x1, x2, [x0, #8]
        ldp x3, x4, [x0, #24]
        ldp x5, x6, [x0, #40]
        ldp x7, x8, [x0, #56]
        ldp x9, x10, [x0, #72]
        ldp x11, x12, [x0, #88]
        ldp x13, x14, [x0, #104]
        ldp x15, x16, [x0, #120]
        ldp x17, x18, [x0, #136]
        ldp x19, x20, [x0, #152]
        ldp x21, x22, [x0, #168]
        ldp x23, x24, [x0, #184]
        ldp x25, x26, [x0, #200]
        ldp x27, x28, [x0, #216]
        ldp x29, x30, [x0, #232]
        ldr x0, [x0, #0]
fuzz_prologue_end:

fuzz_epilogue:
        stp x0, x1, [sp, #-16]!
        mrs x0, tpidr_el0
        stp x2, x3, [x0, #16]
        stp x4, x5, [x0, #32]
        stp x6, x7, [x0, #48]
        stp x8, x9, [x0, #64]
        stp x10, x11, [x0, #80]
        stp x12, x13, [x0, #96]
        stp x14, x15, [x0, #112]
        stp x16, x17, [x0, #128]
        stp x18, x19, [x0, #144]
        stp x20, x21, [x0, #160]
        stp x22, x23, [x0, #176]
        stp x24, x25, [x0, #192]
        stp x26, x27, [x0, #208]
        stp x28, x29, [x0, #224]
        str x30, [x0, #240]
        ldp x2, x3, [sp], #16
        stp x2, x3, [x0, #0]
        mrs x1, nzcv
        str x1, [x0, #256]
        mrs x1, fpsr
        str x1, [x0, #272]
        add x1, x0, #384
        stp q0, q1, [x1, #0]
        stp q2, q3, [x1, #32]
        stp q4, q5, [x1, #64]
        stp q6, q7, [x1, #96]
        stp q8, q9, [x1, #128]
        stp q10, q11, [x1, #160]
        stp q12, q13, [x1, #192]
        stp q14, q15, [x1, #224]
        stp q16, q17, [x1, #256]
        stp q18, q19, [x1, #288]
        stp q20, q21, [x1, #320]
        stp q22, q23, [x1, #352]
        stp q24, q25, [x1, #384]
        stp q26, q27, [x1, #416]
        stp q28, q29, [x1, #448]
        stp q30, q31, [x1, #480]
        msr fpcr, xzr
        ldr x1, [x0, #248]
        mov sp, x1
        ldp x19, x20, [x0, #280]
        ldp x21, x22, [x0, #296]
        ldp x23, x24, [x0, #312]
        ldp x25, x26, [x0, #328]
        ldp x27, x28, [x0, #344]
        ldp x29, x30, [x0, #360]
        ret
fuzz_epilogue_end:
