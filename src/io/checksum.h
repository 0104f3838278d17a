// checksum — integrity of a finished run file (issue 14): `lensweep run` appends a trailer line
// with the SHA-256 of every byte before it, once the HDF5 file is closed and before it gets its
// final name; `export`, `report` and `plan` verify it before libhdf5 reads anything, so a file
// damaged later (disk, copy, partial overwrite) is refused as corrupt instead of hanging or
// crashing libhdf5 or giving wrong numbers. Layout (docs/HDF5.md, "Integrity"):
//
//   <HDF5 file, N bytes>\nlensweep-checksum-v1 sha256=<64 hex digits> bytes=<N, 20 digits>\n
//
// HDF5 ignores bytes past its end-of-allocation address, so h5py/h5dump read the file as usual.
// The root attribute `integrity` (written before `complete`) says a trailer was written, so a
// file whose trailer is damaged is found once libhdf5 has read the (then intact) metadata.
#ifndef LW_IO_CHECKSUM_H
#define LW_IO_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include "util/sha256.h"
#include "util/util.h"

#define RF_TRAILER_LEN 121 // "\n" + 28 + 64 + 7 + 20 + "\n": fixed width
#define RF_INTEGRITY_ATTR "sha256 trailer v1"

// Appends the trailer to the closed file at path (flushed to disk). 0, or -1 with err.
int runfile_seal(const char *path, LwError *err);

// 1: the trailer is present and matches; 0: no trailer (written by another program or an older
// lensweep); -1: corrupt, with `why` ("the SHA-256 of its 2517314 bytes is ..., the trailer
// says ..."); -2: unreadable (why = strerror).
int runfile_verify(const char *path, char *why, size_t why_len);

#endif
