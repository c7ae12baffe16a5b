#define _XOPEN_SOURCE 600
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pseudo_terminal.h"

int vmm_test_open_pseudo_terminal(char *path, size_t size)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0)
        return -1;
    const char *name = (grantpt(master) == 0 && unlockpt(master) == 0) ? ptsname(master) : NULL;
    if (name == NULL || strlen(name) >= size) {
        close(master);
        return -1;
    }
    strcpy(path, name);
    return master;
}
