// libelf (elfutils) through its public headers; pkg-config "libelf", Debian package libelf-dev.
#include <gelf.h>
#include <libelf.h>
