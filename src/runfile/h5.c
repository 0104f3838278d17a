// h5 — see h5.h. Serial HDF5 (pkg-config hdf5-serial), one file handle, every call checked.
#include "runfile/h5.h"

#include "io/checksum.h"
#include "runfile/layout.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct H5Out {
    hid_t file;
    char *path, *tmp;
};

#define CHUNK_MIN_BYTES ((size_t)64 << 10)
#define CHUNK_TARGET_BYTES ((size_t)1 << 20)

// errno of the failed write() underneath HDF5 (ENOSPC, EFBIG, EDQUOT, EIO) when HDF5 kept it:
// every checked call clears errno first, so a value left here is that call's.
__attribute__((noreturn)) static void h5_fail(const H5Out *h, const char *what, const char *obj) {
    int e = errno;
    lw_die(LW_EXIT_RUNTIME, "check free disk space and that the output directory is writable",
           "%s: HDF5: cannot %s %s%s%s%s", h->tmp, what, obj, e ? " (" : "", e ? strerror(e) : "", e ? ")" : "");
}

#define H5_CALL(h, call, what, obj)                                                            \
    do {                                                                                       \
        errno = 0;                                                                             \
        if ((call) < 0) h5_fail(h, what, obj);                                                 \
    } while (0)

H5Out *h5_create(const char *path, LwError *err) {
    // A file whose writes failed (disk full) cannot be closed; HDF5's own exit handler would try
    // again and crash (H5F__close_cb, exit 139) after lw_die has removed the file. The run
    // closes its one file itself (h5_finish), so the library needs no exit handler. Must come
    // before the first other HDF5 call.
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); // our own messages name the file and the object
    H5Out *h = xcalloc(1, sizeof *h);
    h->path = xstrdup(path);
    h->tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    lw_cleanup_unlink_on_fail(h->tmp);
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_libver_bounds(fapl, H5F_LIBVER_EARLIEST, H5F_LIBVER_V18);
    h->file = H5Fcreate(h->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    H5Pclose(fcpl);
    H5Pclose(fapl);
    if (h->file < 0) {
        lw_err(err, "check that the output directory exists and is writable", "%s: cannot create HDF5 file", h->tmp);
        lw_cleanup_forget(h->tmp);
        free(h->path); free(h->tmp); free(h);
        return NULL;
    }
    return h;
}

const char *h5_tmp_path(const H5Out *h) { return h ? h->tmp : NULL; }

int h5_finish(H5Out *h, LwError *err) {
    if (!h) return 0;
    h5_attr_str(h, RF_ROOT, RF_INTEGRITY, RF_INTEGRITY_ATTR); // the trailer runfile_seal appends
    h5_attr_int(h, RF_ROOT, RF_COMPLETE, 1);
    errno = 0;
    if (H5Fclose(h->file) < 0) {
        int e = errno;
        return lw_err(err, "check free disk space", "%s: cannot close the HDF5 file%s%s%s", h->tmp, e ? " (" : "",
                      e ? strerror(e) : "", e ? ")" : "");
    }
    if (runfile_seal(h->tmp, err)) return -1;
    if (rename(h->tmp, h->path) != 0)
        return lw_err(err, "check permissions of the output directory", "%s: cannot rename to %s: %s", h->tmp, h->path,
                      strerror(errno));
    lw_cleanup_forget(h->tmp);
    free(h->path); free(h->tmp); free(h);
    return 0;
}

// ---------------------------------------------------------------------------- groups

static hid_t lcpl_intermediate(void) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    return lcpl;
}

static hid_t gcpl_untracked(void) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, 0);
    return gcpl;
}

void h5_group(H5Out *h, const char *path) {
    if (!h || !strcmp(path, "/")) return;
    htri_t ex = H5Lexists(h->file, path, H5P_DEFAULT);
    if (ex > 0) return;
    // H5Lexists fails when an intermediate group is missing: create the chain.
    hid_t lcpl = lcpl_intermediate(), gcpl = gcpl_untracked();
    hid_t g = H5Gcreate2(h->file, path, lcpl, gcpl, H5P_DEFAULT);
    H5Pclose(lcpl);
    H5Pclose(gcpl);
    if (g < 0) h5_fail(h, "create group", path);
    H5_CALL(h, H5Gclose(g), "close group", path);
}

static void parent_group(H5Out *h, const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    char *s = strrchr(buf, '/');
    if (!s || s == buf) return;
    *s = 0;
    h5_group(h, buf);
}

// ---------------------------------------------------------------------------- attributes

static void attr_write(H5Out *h, const char *obj, const char *name, hid_t type, hid_t space, const void *data) {
    if (strcmp(obj, "/")) {
        htri_t ex = H5Lexists(h->file, obj, H5P_DEFAULT);
        if (ex <= 0) h5_group(h, obj);
    }
    if (H5Aexists_by_name(h->file, obj, name, H5P_DEFAULT) > 0) H5Adelete_by_name(h->file, obj, name, H5P_DEFAULT);
    hid_t a = H5Acreate_by_name(h->file, obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) h5_fail(h, "create attribute", name);
    H5_CALL(h, H5Awrite(a, type, data), "write attribute", name);
    H5_CALL(h, H5Aclose(a), "close attribute", name);
}

static hid_t str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

void h5_attr_str(H5Out *h, const char *obj, const char *name, const char *value) {
    if (!h) return;
    hid_t t = str_type(), s = H5Screate(H5S_SCALAR);
    const char *v = value ? value : "";
    attr_write(h, obj, name, t, s, &v);
    H5Tclose(t);
    H5Sclose(s);
}

void h5_attr_int(H5Out *h, const char *obj, const char *name, long value) {
    if (!h) return;
    hid_t s = H5Screate(H5S_SCALAR);
    int64_t v = value;
    attr_write(h, obj, name, H5T_NATIVE_INT64, s, &v);
    H5Sclose(s);
}

void h5_attr_f64(H5Out *h, const char *obj, const char *name, double value) {
    if (!h) return;
    hid_t s = H5Screate(H5S_SCALAR);
    attr_write(h, obj, name, H5T_NATIVE_DOUBLE, s, &value);
    H5Sclose(s);
}

static void attr_array(H5Out *h, const char *obj, const char *name, hid_t t, const void *v, int n) {
    hsize_t d = (hsize_t)n;
    hid_t s = n > 0 ? H5Screate_simple(1, &d, NULL) : H5Screate(H5S_NULL);
    attr_write(h, obj, name, t, s, v);
    H5Sclose(s);
}

void h5_attr_i32s(H5Out *h, const char *obj, const char *name, const int32_t *v, int n) {
    if (h) attr_array(h, obj, name, H5T_NATIVE_INT32, v, n);
}

void h5_attr_f64s(H5Out *h, const char *obj, const char *name, const double *v, int n) {
    if (h) attr_array(h, obj, name, H5T_NATIVE_DOUBLE, v, n);
}

// ---------------------------------------------------------------------------- datasets

static void write_dataset(H5Out *h, const char *path, int rank, const size_t *dims, hid_t mem_t, hid_t file_t,
                          size_t esz, const void *data) {
    LW_ASSERT(rank >= 1 && rank <= 8);
    parent_group(h, path);
    hsize_t hd[8] = {0}, chunk[8] = {0};
    size_t total = esz;
    for (int i = 0; i < rank; i++) { hd[i] = dims[i]; total *= dims[i]; }
    hid_t space = H5Screate_simple(rank, hd, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    if (total >= CHUNK_MIN_BYTES) {
        // Chunk along the first axis (layers): about 1 MiB per chunk.
        size_t row = total / (dims[0] ? dims[0] : 1);
        size_t rows = row ? CHUNK_TARGET_BYTES / row : 1;
        if (rows < 1) rows = 1;
        if (rows > dims[0]) rows = dims[0];
        chunk[0] = rows;
        for (int i = 1; i < rank; i++) chunk[i] = hd[i];
        if (rows * row > ((size_t)1 << 31)) { // a single huge row: chunk the second axis too
            chunk[1] = hd[1] > 1024 ? 1024 : hd[1];
        }
        H5Pset_chunk(dcpl, rank, chunk);
        H5Pset_deflate(dcpl, 4);
        // per-chunk checksum, a second line behind the file's trailer (HDF5 refuses it on
        // variable-length strings, whose chunks hold only heap references)
        if (H5Tis_variable_str(file_t) <= 0) H5Pset_fletcher32(dcpl);
    }
    hid_t ds = H5Dcreate2(h->file, path, file_t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds < 0) h5_fail(h, "create dataset", path);
    if (total > 0) H5_CALL(h, H5Dwrite(ds, mem_t, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write dataset", path);
    // closing writes the dataset's cached chunks: a full disk shows here, not in H5Dwrite
    H5_CALL(h, H5Dclose(ds), "write dataset", path);
    H5Pclose(dcpl);
    H5Sclose(space);
}

void h5_write_f64(H5Out *h, const char *path, int rank, const size_t *dims, const double *data) {
    if (h) write_dataset(h, path, rank, dims, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 8, data);
}

void h5_write_f32(H5Out *h, const char *path, int rank, const size_t *dims, const float *data) {
    if (h) write_dataset(h, path, rank, dims, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 4, data);
}

void h5_write_i32(H5Out *h, const char *path, int rank, const size_t *dims, const int32_t *data) {
    if (h) write_dataset(h, path, rank, dims, H5T_NATIVE_INT32, H5T_STD_I32LE, 4, data);
}

void h5_write_strs(H5Out *h, const char *path, size_t n, const char *const *s) {
    if (!h) return;
    const char **v = xmalloc(sizeof(char *) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) v[i] = s[i] ? s[i] : "";
    hid_t t = str_type();
    write_dataset(h, path, 1, &n, t, t, sizeof(char *), v);
    H5Tclose(t);
    free(v);
}
