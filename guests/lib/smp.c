/*
 * smp.c - starting application processors with INIT-SIPI-SIPI (SDM Vol.3 "MP Initialization
 * Protocol Algorithm", "Typical AP Initialization Sequence"; MP spec B.4) and running a C
 * function on them. The trampoline and the mode switch are in smp_trampoline.S; the AP reports back
 * through the shared flags smp_ap_started/smp_ap_done and the entry record smp_ap_entry.
 */
#include "guest.h"

/* smp_trampoline.S */
extern char smp_trampoline_start[], smp_trampoline_end[], smp_trampoline_record[];
extern char smp_trampoline_gdtr[];
extern uint64_t ap_boot_stack;
extern uint32_t ap_boot_cr3, ap_boot_cr0, ap_boot_cr4, ap_boot_efer;
void smp_ap_main(void);
void runtime_load_idt(void);

#define AP_STACK_BYTES 16384
/* Bounded waits (iterations of a PAUSE loop): no timer is assumed. */
#define AP_START_WAIT 20000000
#define AP_DONE_WAIT 200000000

volatile uint32_t smp_ap_started[SMP_MAX_CPUS];
volatile uint32_t smp_ap_done[SMP_MAX_CPUS];
volatile struct ap_entry_state smp_ap_entry;

static uint8_t ap_stacks[SMP_MAX_CPUS][AP_STACK_BYTES] __attribute__((aligned(16)));
static volatile ap_function ap_fn;
static volatile uint64_t ap_arg;
static volatile uint32_t ap_cpu;

/* Where the trampoline was copied for the latest start (SIPI vector << 12). */
static uint64_t trampoline_addr = SMP_TRAMPOLINE_ADDR;

/* The trampoline's record area, in its copy below 1 MiB (offsets as TR_* in smp_trampoline.S). */
static uint8_t *trampoline_record(void) {
    return (uint8_t *)(trampoline_addr + (uint64_t)(smp_trampoline_record - smp_trampoline_start));
}

static uint32_t rec32(const uint8_t *r, int off) {
    uint32_t v;
    memcpy(&v, r + off, 4);
    return v;
}

static uint16_t rec16(const uint8_t *r, int off) {
    uint16_t v;
    memcpy(&v, r + off, 2);
    return v;
}

static void decode_record(void) {
    const uint8_t *r = trampoline_record();
    volatile struct ap_entry_state *e = &smp_ap_entry;
    e->eax = rec32(r, 0);
    e->ebx = rec32(r, 4);
    e->ecx = rec32(r, 8);
    e->edx = rec32(r, 12);
    e->esi = rec32(r, 16);
    e->edi = rec32(r, 20);
    e->ebp = rec32(r, 24);
    e->esp = rec32(r, 28);
    e->eflags = rec32(r, 32);
    e->cs = rec32(r, 36);
    e->ds = rec32(r, 40);
    e->es = rec32(r, 44);
    e->fs = rec32(r, 48);
    e->gs = rec32(r, 52);
    e->ss = rec32(r, 56);
    e->ip = rec32(r, 60);
    e->cr0 = rec32(r, 64);
    e->cr2 = rec32(r, 68);
    e->cr3 = rec32(r, 72);
    e->cr4 = rec32(r, 76);
    e->dr6 = rec32(r, 80);
    e->dr7 = rec32(r, 84);
    e->efer_lo = rec32(r, 88);
    e->efer_hi = rec32(r, 92);
    e->gdtr_limit = rec16(r, 96);
    e->gdtr_base = rec32(r, 98);
    e->idtr_limit = rec16(r, 104);
    e->idtr_base = rec32(r, 106);
    e->fcw = rec16(r, 112);
    e->fsw = rec16(r, 114);
    e->ftw = rec16(r, 128 + 4); /* tag word of the 16-bit FNSTENV image (SDM Vol.1 8.1.10) */
    e->tsc = (uint64_t)rec32(r, 120) | ((uint64_t)rec32(r, 124) << 32);
    e->ivt_marker = rec32(r, 152);
    for (int i = 0; i < 3; i++) e->base_probe[i] = rec32(r, 156 + 4 * i);
    for (int i = 0; i < 10; i++) e->limit_fault[i] = r[168 + i];
}

void smp_ap_main(void) {
    runtime_load_idt();
    decode_record();
    uint32_t cpu = ap_cpu;
    __atomic_store_n(&smp_ap_started[cpu], 1, __ATOMIC_SEQ_CST);
    ap_fn(cpu, ap_arg);
    __atomic_store_n(&smp_ap_done[cpu], 1, __ATOMIC_SEQ_CST);
}

static void delay(int io_writes) {
    for (int i = 0; i < io_writes; i++) io_delay();
}

static int wait_flag(volatile uint32_t *flag, long loops) {
    for (long n = 0; n < loops; n++) {
        if (__atomic_load_n(flag, __ATOMIC_SEQ_CST)) return 0;
        __asm__ volatile("pause");
    }
    return -1;
}

int smp_start_ap(uint32_t dest_apic_id, uint32_t cpu, ap_function fn, uint64_t arg) {
    return smp_start_ap_vector(dest_apic_id, cpu, fn, arg, SMP_SIPI_VECTOR);
}

int smp_start_ap_vector(uint32_t dest_apic_id, uint32_t cpu, ap_function fn, uint64_t arg, uint8_t vector) {
    if (cpu == 0 || cpu >= SMP_MAX_CPUS || vector < 0x01 || vector > 0x9F) return -1;
    apic_init();
    trampoline_addr = (uint64_t)vector << 12;
    uint64_t size = (uint64_t)(smp_trampoline_end - smp_trampoline_start);
    memcpy((void *)trampoline_addr, smp_trampoline_start, size);
    uint8_t *gdtr = (uint8_t *)(trampoline_addr + (uint64_t)(smp_trampoline_gdtr - smp_trampoline_start));
    struct __attribute__((packed)) {
        uint16_t limit;
        uint64_t base;
    } bsp_gdtr;
    __asm__ volatile("sgdt %0" : "=m"(bsp_gdtr));
    memcpy(gdtr, &bsp_gdtr.limit, 2);
    uint32_t base32 = (uint32_t)bsp_gdtr.base;
    memcpy(gdtr + 2, &base32, 4);
    ap_boot_cr3 = (uint32_t)read_cr3();
    ap_boot_cr0 = (uint32_t)read_cr0();
    ap_boot_cr4 = (uint32_t)CR4_PAE;
    ap_boot_efer = (uint32_t)(EFER_LME | (rdmsr(MSR_IA32_EFER) & EFER_NXE));
    ap_boot_stack = (uint64_t)(ap_stacks[cpu] + AP_STACK_BYTES);
    ap_fn = fn;
    ap_arg = arg;
    ap_cpu = cpu;
    smp_ap_started[cpu] = 0;
    smp_ap_done[cpu] = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    if (apic_send_init(dest_apic_id)) return -1;
    delay(10000); /* 10 ms */
    if (apic_send_sipi(dest_apic_id, vector)) return -1;
    delay(200); /* 200 us */
    if (!smp_ap_started[cpu] && apic_send_sipi(dest_apic_id, vector)) return -1;
    return wait_flag(&smp_ap_started[cpu], AP_START_WAIT);
}

int smp_wait_ap(uint32_t cpu) {
    if (cpu == 0 || cpu >= SMP_MAX_CPUS) return -1;
    return wait_flag(&smp_ap_done[cpu], AP_DONE_WAIT);
}
