/* The "dice" device of Examples/ThirdPartyDevice, a plugin (vmm --plugin libDicePlugin.so
 * --device dice,port=0x700): every roll is 1 to 6, the roll counter counts them, and reseeding
 * replays the same rolls. Without the device the ports read 0xff and the guest fails. */
#include "guest.h"

enum { DICE_ROLL = 0x700, DICE_COUNT = 0x701, ROLLS = 20, SEED = 7 };

void guest_main(void)
{
    uint8_t rolls[ROLLS];
    outb(DICE_ROLL, SEED);
    printf("dice:");
    for (unsigned i = 0; i < ROLLS; i++) {
        rolls[i] = inb(DICE_ROLL);
        if (rolls[i] < 1 || rolls[i] > 6) fail("roll %u is %u, not 1 to 6", i, rolls[i]);
        printf(" %u", rolls[i]);
    }
    printf("\n");
    CHECK_EQ("roll counter", inb(DICE_COUNT), ROLLS);
    outb(DICE_ROLL, SEED);
    for (unsigned i = 0; i < ROLLS; i++) CHECK_EQ("roll after reseeding", inb(DICE_ROLL), rolls[i]);
    printf("dice: ok\n");
}
