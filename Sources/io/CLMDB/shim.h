#ifndef INFRASTACK_CLMDB_SHIM_H
#define INFRASTACK_CLMDB_SHIM_H
#include <lmdb.h>
#endif
