// runfile_probe — see runfile_probe.h. The HDF5 C API directly (serial build), as run_read.c; the
// strings may be variable-length (lensweep, h5py's str) or fixed-length (h5py's numpy bytes).
#include "runfile/runfile_probe.h"

#include "runfile/layout.h"
#include "util/util.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

// A string root attribute (variable-length or fixed), malloc'd; NULL when absent or not a string.
static char *attr_string(hid_t f, const char *name) {
    if (H5Aexists(f, name) <= 0) return NULL;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t ty = H5Aget_type(a);
    char *out = NULL;
    if (ty >= 0 && H5Tget_class(ty) == H5T_STRING) {
        hid_t mt = H5Tcopy(ty); // same character set (HDF5 converts none between ASCII and UTF-8)
        if (H5Tis_variable_str(ty) > 0) {
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s) out = xstrdup(s);
            if (s) H5free_memory(s);
        } else {
            size_t sz = H5Tget_size(ty);
            char *s = xcalloc(sz + 1, 1);
            if (H5Aread(a, mt, s) >= 0) out = s;
            else free(s);
        }
        H5Tclose(mt);
    }
    if (ty >= 0) H5Tclose(ty);
    H5Aclose(a);
    return out;
}

// An integer root attribute. 0, or -1 when absent or not an integer.
static int attr_llong(hid_t f, const char *name, long long *v) {
    if (H5Aexists(f, name) <= 0) return -1;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    if (a < 0) return -1;
    hid_t ty = H5Aget_type(a);
    int rc = -1;
    if (ty >= 0 && H5Tget_class(ty) == H5T_INTEGER && H5Aread(a, H5T_NATIVE_LLONG, v) >= 0) rc = 0;
    if (ty >= 0) H5Tclose(ty);
    H5Aclose(a);
    return rc;
}

int runfile_probe(const char *path, RunfileSelf *out) {
    memset(out, 0, sizeof *out);
    H5E_auto2_t old_fn;
    void *old_data;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); // a truncated file is an expected case here
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) {
        out->hdf5 = 1;
        out->has_integrity = H5Aexists(f, RF_INTEGRITY) > 0;
        out->has_complete = attr_llong(f, RF_COMPLETE, &out->complete) == 0;
        out->config_hash = attr_string(f, RF_CONFIG_HASH);
        out->checkpoint_files = attr_string(f, RF_CHECKPOINT_FILES);
        out->checkpoint_sha256 = attr_string(f, RF_CHECKPOINT_SHA256);
        H5Fclose(f);
    }
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    return out->hdf5 ? 0 : -1;
}

void runfile_self_free(RunfileSelf *s) {
    free(s->config_hash);
    free(s->checkpoint_files);
    free(s->checkpoint_sha256);
    memset(s, 0, sizeof *s);
}
