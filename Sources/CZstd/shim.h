#ifndef PARLEY_CZSTD_SHIM_H
#define PARLEY_CZSTD_SHIM_H
// The system libzstd (Debian: libzstd-dev), exposed to Swift as the module CZstd.
#include <zstd.h>
#endif
