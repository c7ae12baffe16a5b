// The header's functions are inline; SwiftPM wants one source file per C target.
#include "CHostDescriptors.h"
