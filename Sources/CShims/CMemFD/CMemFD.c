// The header's function is inline; SwiftPM wants one source file per C target.
#include "CMemFD.h"
