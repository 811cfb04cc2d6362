/* Bare-metal start for running tests/test.c on a Cortex-M4F under QEMU
 * (mps2-an386): a two-entry vector table at address 0 (initial stack pointer,
 * reset handler) and a reset handler that enables the FPU and enters newlib's
 * rdimon crt0 (`_start`), whose I/O and exit go through semihosting.
 * Link with -Wl,-u,vectors -Wl,--section-start=.vectors=0x0. */
#include <stdint.h>

extern void _start(void);

void reset(void) {
  /* CPACR: full access to CP10 and CP11 (the FPU) before any float instruction. */
  *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb");
  _start();
}

/* The top of SSRAM2/3 used as stack: 0x2000_0000 + 1 MiB. */
__attribute__((section(".vectors"), used)) const void *vectors[2] = {
    (void *)0x20100000, (void *)reset};
