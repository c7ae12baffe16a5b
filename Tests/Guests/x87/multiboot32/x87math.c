/* x87 floating point compiled for the 387 (-m32 -mfpmath=387, see the Makefile's x87/ rule):
 * long double series and arithmetic whose results IEEE 754 fixes bit for bit (add, subtract,
 * multiply, divide, square root, integer conversion, each rounded as the control word says), so
 * vmm, QEMU TCG and KVM must print the same, and each is checked against its exact value.
 * Transcendentals are left out: their last bits are the implementation's (SDM vol. 1, 8.3.10). */
#include "guest.h"

typedef union {
    long double value;
    struct { uint64_t significand; uint16_t sign_exponent; } bits;
} extended;

/* The FPU is off after reset as far as a careful OS is concerned: clear CR0.EM (no emulation),
 * set MP (WAIT honours TS) and NE (native #MF), then FNINIT (SDM vol. 3, 9.2.1 and 10.2). */
static void enable_x87(void) {
    uint32_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    cr0 = (cr0 & ~(1u << 2)) | (1u << 1) | (1u << 5);
    __asm__ volatile("mov %0, %%cr0; fninit" : : "r"(cr0));
}

static void set_control(uint16_t control) { __asm__ volatile("fldcw %0" : : "m"(control)); }
static uint16_t status(void) { uint16_t word; __asm__ volatile("fnstsw %0" : "=a"(word)); return word; }
static void clear_exceptions(void) { __asm__ volatile("fnclex"); }

static void show(const char *name, long double value) {
    extended x = { .value = value };
    printf("%s = %04x:%016llx\n", name, x.bits.sign_exponent, (unsigned long long)x.bits.significand);
}

static void check(const char *name, long double value, uint16_t sign_exponent, uint64_t significand) {
    extended x = { .value = value };
    show(name, value);
    if (x.bits.sign_exponent != sign_exponent || x.bits.significand != significand) {
        fail("%s: expected %04x:%016llx", name, sign_exponent, (unsigned long long)significand);
    }
}

/* Machin's formula, pi = 16 atan(1/5) - 4 atan(1/239), with the atan series in long double. */
static long double atan_inverse(int n) {
    long double x = 1.0L / n, square = x * x, term = x, sum = 0;
    for (int k = 0; k < 40; k++) {
        long double part = term / (2 * k + 1);
        sum = (k & 1) ? sum - part : sum + part;
        term *= square;
    }
    return sum;
}

/* Newton's iteration for sqrt(2), against FSQRT. */
static long double newton_sqrt(long double a) {
    long double x = 1;
    for (int k = 0; k < 8; k++) x = (x + a / x) / 2;
    return x;
}

static volatile long double zero = 0, one = 1, three = 3, two_and_a_half = 2.5L, minus_one = -1;

void guest_main(void) {
    enable_x87();
    long double pi_series = 16 * atan_inverse(5) - 4 * atan_inverse(239);
    show("pi (Machin, long double)", pi_series);
    long double pi;
    __asm__("fldpi" : "=t"(pi));
    check("pi (FLDPI)", pi, 0x4000, 0xc90fdaa22168c235ULL);
    extended series = { .value = pi_series };
    int64_t ulps = (int64_t)(series.bits.significand - 0xc90fdaa22168c235ULL);
    printf("pi series - FLDPI = %d ulp\n", (int)ulps);
    if (series.bits.sign_exponent != 0x4000 || ulps < -4 || ulps > 4) fail("the pi series is off");

    long double root;
    __asm__("fsqrt" : "=t"(root) : "0"((long double)2));
    check("sqrt(2) (FSQRT)", root, 0x3fff, 0xb504f333f9de6484ULL);
    show("sqrt(2) (Newton)", newton_sqrt(2));

    check("1/3 (64-bit precision, nearest)", one / three, 0x3ffd, 0xaaaaaaaaaaaaaaabULL);
    set_control(0x077f); /* round down */
    check("1/3 (round down)", one / three, 0x3ffd, 0xaaaaaaaaaaaaaaaaULL);
    set_control(0x027f); /* 53-bit precision */
    check("1/3 (53-bit precision)", one / three, 0x3ffd, 0xaaaaaaaaaaaaa800ULL);
    set_control(0x007f); /* 24-bit precision */
    check("1/3 (24-bit precision)", one / three, 0x3ffd, 0xaaaaab0000000000ULL);
    set_control(0x037f);

    int32_t rounded;
    __asm__("fistpl %0" : "=m"(rounded) : "t"(two_and_a_half) : "st");
    printf("fistp(2.5) = %d\n", rounded);
    CHECK_EQ("fistp(2.5), round to nearest even", rounded, 2);
    int32_t truncated = (int32_t)(-two_and_a_half);
    CHECK_EQ("(int)-2.5", truncated, -2);

    /* Masked exceptions: the default responses, and the sticky flags (SDM vol. 1, 8.5). */
    clear_exceptions();
    check("1/0", one / zero, 0x7fff, 0x8000000000000000ULL);
    printf("status after 1/0: %04x\n", status() & 0x3f);
    CHECK_EQ("ZE after 1/0", status() & 0x3f, 0x04);
    clear_exceptions();
    long double invalid;
    __asm__("fsqrt" : "=t"(invalid) : "0"(minus_one));
    check("sqrt(-1)", invalid, 0xffff, 0xc000000000000000ULL);
    CHECK_EQ("IE after sqrt(-1)", status() & 0x3f, 0x01);
    clear_exceptions();
    long double sum = 0;
    for (int k = 1; k <= 1000; k++) sum += one / k;
    show("harmonic(1000)", sum);
    printf("status after the harmonic sum: %04x\n", status() & 0x3f);
    CHECK_EQ("PE after the harmonic sum", status() & 0x3f, 0x20);
}
