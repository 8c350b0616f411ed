/*
 * A bare-metal EL1 program for the system-mode CPU (test/baremetal.test.ts), loaded and entered at
 * 0x40000000 with the MMU off: it zeroes its page tables with DC ZVA, maps RAM and the UART
 * (4K granule, 48-bit VA), turns the MMU on, runs code at EL0 that makes an SVC, then sleeps in WFI
 * until the virtual timer's interrupt arrives through the GICv3 CPU interface, and powers off with
 * PSCI SYSTEM_OFF over HVC. It reports each step on a PL011 data register at 0x09000000.
 *
 * Map: 0x00000000-0x3fffffff device (level-1 block), 0x40000000-0x401fffff code, read-only at EL1
 * and EL0 (level-2 block), 0x40200000-0x403fffff data and stack, EL1 read/write, execute-never.
 */
#define UART      0x09000000
#define TABLES    0x40200000
#define STACK_TOP 0x40400000
#define PSCI_SYSTEM_OFF 0x84000008

	.text
	.globl _start
_start:
	ldr	x0, =STACK_TOP
	mov	sp, x0
	ldr	x0, =vectors
	msr	vbar_el1, x0

	/* Zero three 4 KiB tables, 64 bytes per DC ZVA (DCZID_EL0.BS = 4). */
	ldr	x0, =TABLES
	add	x1, x0, #0x3000
1:	dc	zva, x0
	add	x0, x0, #64
	cmp	x0, x1
	b.lo	1b

	ldr	x0, =TABLES			/* L0 */
	add	x1, x0, #0x1000			/* L1 */
	add	x2, x0, #0x2000			/* L2 */
	orr	x3, x1, #3
	str	x3, [x0]			/* L0[0] -> L1 */
	ldr	x3, =0x0060000000000405	/* L1[0]: device block (AttrIndx 1), AF, UXN, PXN */
	str	x3, [x1]
	orr	x3, x2, #3
	str	x3, [x1, #8]			/* L1[1] -> L2 */
	ldr	x3, =0x400007c1			/* L2[0]: code, AP read-only EL1/EL0, AF, inner shareable */
	str	x3, [x2]
	ldr	x3, =0x0060000040200701		/* L2[1]: data, EL1 read/write, AF, UXN, PXN */
	str	x3, [x2, #8]

	ldr	x0, =0x00ff			/* MAIR: 0 normal write-back, 1 device nGnRnE */
	msr	mair_el1, x0
	ldr	x0, =0x500803510		/* TCR: IPS 48, EPD1, inner shareable WB walks, 4K, T0SZ 16 */
	msr	tcr_el1, x0
	ldr	x0, =TABLES
	msr	ttbr0_el1, x0
	isb
	mrs	x0, sctlr_el1
	orr	x0, x0, #1			/* M */
	orr	x0, x0, #(1 << 2)		/* C */
	orr	x0, x0, #(1 << 12)		/* I */
	msr	sctlr_el1, x0
	isb
	ldr	x0, =msg_mmu
	bl	puts

	/* EL0: one SVC with an argument, then SVC #2 to come back. */
	ldr	x0, =user
	msr	elr_el1, x0
	msr	spsr_el1, xzr
	eret

after_user:
	ldr	x0, =msg_svc
	bl	puts
	/* The virtual timer 1000 ticks from now, its PPI enabled at the CPU interface. */
	mov	x0, #0xff
	msr	icc_pmr_el1, x0
	mov	x0, #1
	msr	icc_igrpen1_el1, x0
	mov	x0, #1000
	msr	cntv_tval_el0, x0
	mov	x0, #1
	msr	cntv_ctl_el0, x0
	msr	daifclr, #2
2:	wfi
	ldr	x1, =flag
	ldr	x0, [x1]
	cbz	x0, 2b
	ldr	x0, =msg_done
	bl	puts
	ldr	x0, =PSCI_SYSTEM_OFF
	hvc	#0
3:	b	3b

/* x0: NUL-terminated string; clobbers x1, x2. */
puts:
	ldr	x1, =UART
4:	ldrb	w2, [x0], #1
	cbz	w2, 5f
	strb	w2, [x1]
	b	4b
5:	ret

user:
	mov	x0, #7
	svc	#1
	svc	#2
6:	b	6b

svc_handler:
	mrs	x9, esr_el1
	lsr	x10, x9, #26
	cmp	x10, #0x15
	b.ne	bad
	and	x10, x9, #0xffff
	cmp	x10, #2
	b.eq	after_user			/* stay at EL1 on SP_EL1 */
	cmp	x10, #1
	b.ne	bad
	cmp	x0, #7
	b.ne	bad
	eret

irq_handler:
	mrs	x9, icc_iar1_el1
	cmp	x9, #27
	b.ne	bad
	msr	cntv_ctl_el0, xzr		/* timer off: its line drops */
	msr	icc_eoir1_el1, x9
	ldr	x10, =flag
	mov	x11, #1
	str	x11, [x10]
	ldr	x0, =msg_irq
	bl	puts
	eret

bad:
	ldr	x0, =msg_bad
	bl	puts
	ldr	x0, =PSCI_SYSTEM_OFF
	hvc	#0

	.balign	2048
vectors:
	.org	vectors + 0x200			/* current EL, SP_ELx: synchronous */
	b	bad
	.org	vectors + 0x280			/* current EL, SP_ELx: IRQ */
	b	irq_handler
	.org	vectors + 0x400			/* lower EL, AArch64: synchronous */
	b	svc_handler
	.org	vectors + 0x480
	b	bad

msg_mmu:	.asciz "mmu on\n"
msg_svc:	.asciz "svc from el0\n"
msg_irq:	.asciz "timer irq 27\n"
msg_done:	.asciz "done\n"
msg_bad:	.asciz "unexpected exception\n"
	.balign	8
	.ltorg

	/* Data lives in the read/write block. */
	.equ	flag, 0x40300000
