#ifndef INFRASTACK_CZLIB_SHIM_H
#define INFRASTACK_CZLIB_SHIM_H
#include <zlib.h>
#endif
