// .npy reader and writer (see tensor/npy.h).
#include "tensor/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .npy reader/writer copies little-endian data as is and needs a little-endian host"
#endif

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

typedef struct npy_dtype {
    const char *descr;
    md_dtype dtype;
} npy_dtype;

// Accepted on read; the first entry per dtype is what the writer uses. One-byte types
// have no byte order: numpy writes '|' but '<' names the same type.
static const npy_dtype npy_dtypes[] = {
    {"<f4", MD_F32}, {"<f2", MD_F16}, {"<i4", MD_I32}, {"<i8", MD_I64},
    {"|u1", MD_U8},  {"<u1", MD_U8},  {"|b1", MD_BOOL}, {"<b1", MD_BOOL},
};
#define N_NPY_DTYPES (sizeof npy_dtypes / sizeof npy_dtypes[0])

const char *md_npy_descr(md_dtype dt) {
    for (size_t i = 0; i < N_NPY_DTYPES; i++)
        if (npy_dtypes[i].dtype == dt) return npy_dtypes[i].descr;
    return NULL;
}

static const char *shape_text(int ndim, const int64_t *shape, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (used < n) snprintf(buf + used, n - used, ndim == 1 ? ",)" : ")");
    return buf;
}

// ---------------------------------------------------------------- header parsing
// The header is a Python dict literal. The grammar accepted here is the subset numpy
// writes, parsed properly:
//   dict  := '{' ws [ item (ws ',' ws item)* [ws ','] ] ws '}' ws
//   item  := str ws ':' ws value
//   str   := '...' or "..." of printable ASCII without backslashes (at most 31 chars)
//   value := str | 'True' | 'False' | tuple
//   tuple := '(' ws ')' | '(' ws int ws ',' ws ')' | '(' ws int (ws ',' ws int)+ [ws ','] ws ')'
//   int   := '0' | [1-9][0-9]*  (fits in int64)

typedef struct hparser {
    const char *s;  // (n) header text
    size_t n, pos;
    size_t base;    // file offset of s[0], for messages
    const char *source;
    md_error *err;
} hparser;

static int hfail(hparser *p, const char *what) {
    char got[24];
    if (p->pos >= p->n) snprintf(got, sizeof got, "the end of the header");
    else if ((unsigned char)p->s[p->pos] >= 0x21 && (unsigned char)p->s[p->pos] < 0x7f)
        snprintf(got, sizeof got, "'%c'", p->s[p->pos]);
    else snprintf(got, sizeof got, "byte 0x%02X", (unsigned char)p->s[p->pos]);
    return md_errorf(p->err, "%s: header byte %zu: expected %s, got %s", p->source,
                     p->base + p->pos, what, got);
}

static void hws(hparser *p) {
    while (p->pos < p->n && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                             p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static bool hat(const hparser *p, char c) { return p->pos < p->n && p->s[p->pos] == c; }

static int hstring(hparser *p, char *out, size_t cap) {
    if (!hat(p, '\'') && !hat(p, '"')) return hfail(p, "a quoted string");
    char q = p->s[p->pos++];
    size_t k = 0;
    while (p->pos < p->n && p->s[p->pos] != q) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20 || c >= 0x7f || c == '\\') return hfail(p, "a printable character without escapes");
        if (k + 1 >= cap) return hfail(p, "a shorter string");
        out[k++] = (char)c;
        p->pos++;
    }
    if (p->pos >= p->n) return hfail(p, "a closing quote");
    p->pos++;
    out[k] = '\0';
    return 0;
}

static bool hdigit(const hparser *p) {
    return p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9';
}

static int hint(hparser *p, int64_t *out) {
    if (!hdigit(p)) return hfail(p, "a non-negative integer");
    size_t start = p->pos;
    int64_t v = 0;
    while (hdigit(p)) {
        int d = p->s[p->pos] - '0';
        if (v > (INT64_MAX - d) / 10) return hfail(p, "an integer that fits in int64");
        v = v * 10 + d;
        p->pos++;
    }
    if (p->s[start] == '0' && p->pos - start > 1) {
        p->pos = start;
        return hfail(p, "an integer without leading zeros");
    }
    *out = v;
    return 0;
}

static int htuple(hparser *p, md_npy_info *info) {
    if (!hat(p, '(')) return hfail(p, "a tuple for 'shape', like (2, 3) or (5,) or ()");
    p->pos++;
    hws(p);
    info->ndim = 0;
    if (hat(p, ')')) {
        p->pos++;
        return 0;
    }
    bool comma = false;
    for (;;) {
        if (info->ndim == MD_NPY_MAX_DIMS) return hfail(p, "at most 32 dimensions");
        if (hint(p, &info->shape[info->ndim])) return -1;
        info->ndim++;
        hws(p);
        comma = hat(p, ',');
        if (comma) {
            p->pos++;
            hws(p);
        }
        if (hat(p, ')')) break;
        if (!comma) return hfail(p, "',' or ')' in the shape tuple");
    }
    // "(5)" is the integer 5 in Python, not a tuple.
    if (info->ndim == 1 && !comma) return hfail(p, "',' after the only dimension (a 1-D shape is (5,))");
    p->pos++;
    return 0;
}

static int parse_dict(hparser *p, md_npy_info *info) {
    bool have_descr = false, have_order = false, have_shape = false, fortran = false;
    hws(p);
    if (!hat(p, '{')) return hfail(p, "'{' (the header is a Python dict)");
    p->pos++;
    hws(p);
    while (!hat(p, '}')) {
        char key[32];
        size_t key_at = p->pos;
        if (hstring(p, key, sizeof key)) return -1;
        hws(p);
        if (!hat(p, ':')) return hfail(p, "':' after a dict key");
        p->pos++;
        hws(p);
        bool *seen;
        if (strcmp(key, "descr") == 0) {
            seen = &have_descr;
            if (!*seen) {
                if (!hat(p, '\'') && !hat(p, '"'))
                    return hfail(p, "a dtype string for 'descr' (structured dtypes are not supported)");
                if (hstring(p, info->descr, sizeof info->descr)) return -1;
            }
        } else if (strcmp(key, "fortran_order") == 0) {
            seen = &have_order;
            if (!*seen) {
                if (p->n - p->pos >= 4 && memcmp(p->s + p->pos, "True", 4) == 0) fortran = true, p->pos += 4;
                else if (p->n - p->pos >= 5 && memcmp(p->s + p->pos, "False", 5) == 0) p->pos += 5;
                else return hfail(p, "True or False for 'fortran_order'");
            }
        } else if (strcmp(key, "shape") == 0) {
            seen = &have_shape;
            if (!*seen && htuple(p, info)) return -1;
        } else {
            return md_errorf(p->err, "%s: header byte %zu: unexpected key '%s' (expected exactly "
                             "'descr', 'fortran_order' and 'shape')", p->source, p->base + key_at, key);
        }
        if (*seen)
            return md_errorf(p->err, "%s: header byte %zu: duplicate key '%s'", p->source,
                             p->base + key_at, key);
        *seen = true;
        hws(p);
        if (hat(p, ',')) {
            p->pos++;
            hws(p);
        } else if (!hat(p, '}')) {
            return hfail(p, "',' or '}' in the header dict");
        }
    }
    p->pos++;
    hws(p);
    if (p->pos != p->n) return hfail(p, "only spaces and a newline after the header dict");
    const char *missing = !have_descr ? "descr" : !have_order ? "fortran_order" : !have_shape ? "shape" : NULL;
    if (missing) return md_errorf(p->err, "%s: header has no '%s' key", p->source, missing);
    if (fortran)
        return md_errorf(p->err, "%s: fortran_order is True: only C-ordered arrays are supported "
                         "(save np.ascontiguousarray(a))", p->source);
    return 0;
}

static int resolve_dtype(md_npy_info *info, const char *source, md_error *err) {
    for (size_t i = 0; i < N_NPY_DTYPES; i++) {
        if (strcmp(info->descr, npy_dtypes[i].descr) == 0) {
            info->dtype = npy_dtypes[i].dtype;
            return 0;
        }
    }
    if (info->descr[0] == '>' && info->descr[1])
        return md_errorf(err, "%s: big-endian dtype '%s' is not supported (save it little-endian, "
                         "e.g. a.astype('<%s'))", source, info->descr, info->descr + 1);
    return md_errorf(err, "%s: unsupported dtype '%s' (expected '<f4', '<f2', '<i4', '<i8', '|u1' "
                     "or '|b1')", source, info->descr);
}

static uint32_t le16(const uint8_t *b) { return (uint32_t)b[0] | (uint32_t)b[1] << 8; }
static uint32_t le32(const uint8_t *b) {
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

// Reads the magic, the version and the header length: sets *data_offset (the end of
// the header). Needs at most 12 bytes.
static int parse_preamble(const uint8_t *buf, size_t len, const char *source, md_npy_info *info,
                          size_t *len_bytes, md_error *err) {
    if (len > 0 && memcmp(buf, npy_magic, len < 6 ? len : 6) != 0)
        return md_errorf(err, "%s: not a .npy file (bad magic: expected \\x93NUMPY)", source);
    if (len < 8)
        return md_errorf(err, "%s: truncated: %zu bytes, before the end of the magic and version",
                         source, len);
    info->major = buf[6];
    info->minor = buf[7];
    if (info->minor != 0 || info->major < 1 || info->major > 3)
        return md_errorf(err, "%s: unsupported .npy format version %d.%d (expected 1.0, 2.0 or 3.0)",
                         source, info->major, info->minor);
    *len_bytes = info->major == 1 ? 2 : 4;
    if (len < 8 + *len_bytes)
        return md_errorf(err, "%s: truncated: %zu bytes, the header length field ends at byte %zu",
                         source, len, 8 + *len_bytes);
    uint32_t hlen = *len_bytes == 2 ? le16(buf + 8) : le32(buf + 8);
    if (hlen > MD_NPY_MAX_HEADER_BYTES)
        return md_errorf(err, "%s: header length %u is more than the %u bytes allowed (corrupt file?)",
                         source, hlen, MD_NPY_MAX_HEADER_BYTES);
    info->data_offset = 8 + *len_bytes + hlen;
    return 0;
}

int md_npy_parse_header(const uint8_t *buf, size_t len, const char *source, md_npy_info *info,
                        md_error *err) {
    memset(info, 0, sizeof *info);
    if (!source) source = "npy";
    size_t lb;
    if (parse_preamble(buf, len, source, info, &lb, err)) return -1;
    if (len < info->data_offset)
        return md_errorf(err, "%s: truncated: %zu bytes, the header ends at byte %zu", source, len,
                         info->data_offset);
    hparser p = {.s = (const char *)buf + 8 + lb, .n = info->data_offset - 8 - lb, .base = 8 + lb,
                 .source = source, .err = err};
    if (parse_dict(&p, info) || resolve_dtype(info, source, err)) return -1;
    uint64_t bytes = md_dtype_size(info->dtype);
    for (int i = 0; i < info->ndim; i++) {
        if (__builtin_mul_overflow(bytes, (uint64_t)info->shape[i], &bytes) || bytes > SIZE_MAX) {
            char sh[64];
            return md_errorf(err, "%s: shape %s x '%s' overflows the address space", source,
                             shape_text(info->ndim, info->shape, sh, sizeof sh), info->descr);
        }
    }
    info->nbytes = (size_t)bytes;
    return 0;
}

// The data region must be exactly nbytes.
static int check_data_len(const md_npy_info *info, size_t have, const char *source, md_error *err) {
    if (have == info->nbytes) return 0;
    char sh[160];
    shape_text(info->ndim, info->shape, sh, sizeof sh);
    if (have < info->nbytes)
        return md_errorf(err, "%s: truncated: shape %s of '%s' needs %zu data bytes, the file has %zu",
                         source, sh, info->descr, info->nbytes, have);
    return md_errorf(err, "%s: %zu data bytes but shape %s of '%s' needs %zu (trailing data)",
                     source, have, sh, info->descr, info->nbytes);
}

static int check_bools(const uint8_t *d, size_t n, const char *source, md_error *err) {
    for (size_t i = 0; i < n; i++)
        if (d[i] > 1)
            return md_errorf(err, "%s: bool element %zu has byte value %u (expected 0 or 1)", source,
                             i, d[i]);
    return 0;
}

int md_npy_parse(const uint8_t *buf, size_t len, const char *source, md_npy_info *info,
                 const void **data, md_error *err) {
    if (!source) source = "npy";
    if (md_npy_parse_header(buf, len, source, info, err)) return -1;
    if (check_data_len(info, len - info->data_offset, source, err)) return -1;
    const uint8_t *d = buf + info->data_offset;
    if (info->dtype == MD_BOOL && check_bools(d, info->nbytes, source, err)) return -1;
    *data = d;
    return 0;
}

// ---------------------------------------------------------------- loading

int md_npy_load_info(const char *path, md_tensor *out, void **owned_data, md_npy_info *info_out,
                     md_error *err) {
    *owned_data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return md_errorf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return md_errorf(err, "%s: not a regular file", path);
    }
    size_t fsize = (size_t)st.st_size;
    uint8_t pre[12];
    size_t got = fread(pre, 1, sizeof pre, f);
    md_npy_info info;
    size_t lb;
    uint8_t *head = NULL;
    void *data = NULL;
    if (parse_preamble(pre, got, path, &info, &lb, err)) goto fail;
    if (info.data_offset > fsize) {
        md_errorf(err, "%s: truncated: %zu bytes, the header ends at byte %zu", path, fsize,
                  info.data_offset);
        goto fail;
    }
    head = malloc(info.data_offset);
    if (!head) {
        md_errorf(err, "%s: out of memory", path);
        goto fail;
    }
    memcpy(head, pre, got < info.data_offset ? got : info.data_offset);
    if (info.data_offset > got &&
        fread(head + got, 1, info.data_offset - got, f) != info.data_offset - got) {
        md_errorf(err, "%s: read error in the header", path);
        goto fail;
    }
    if (md_npy_parse_header(head, info.data_offset, path, &info, err)) goto fail;
    if (check_data_len(&info, fsize - info.data_offset, path, err)) goto fail;
    if (info.ndim > MD_MAX_DIMS) {
        char sh[400];
        md_errorf(err, "%s: shape %s has %d dimensions; tensors hold at most %d", path,
                  shape_text(info.ndim, info.shape, sh, sizeof sh), info.ndim, MD_MAX_DIMS);
        goto fail;
    }
    if (posix_memalign(&data, 64, info.nbytes ? info.nbytes : 1) != 0) {
        data = NULL;
        md_errorf(err, "%s: out of memory for %zu data bytes", path, info.nbytes);
        goto fail;
    }
    if (fseek(f, (long)info.data_offset, SEEK_SET) != 0 ||
        fread(data, 1, info.nbytes, f) != info.nbytes) {
        md_errorf(err, "%s: read error in the data", path);
        goto fail;
    }
    if (info.dtype == MD_BOOL && check_bools(data, info.nbytes, path, err)) goto fail;
    fclose(f);
    free(head);
    *owned_data = data;
    *out = md_tensor_view(info.dtype, data, info.ndim, info.shape);
    if (info_out) *info_out = info;
    return 0;
fail:
    fclose(f);
    free(head);
    free(data);
    return -1;
}

int md_npy_load(const char *path, md_tensor *out, void **owned_data, md_error *err) {
    return md_npy_load_info(path, out, owned_data, NULL, err);
}

// ---------------------------------------------------------------- writing

// Builds preamble + header into out (cap bytes), padded with spaces so its total length is
// the smallest multiple of 64 >= max(own length, min_total). Returns the length or 0.
static size_t build_header(md_dtype dt, int ndim, const int64_t *shape, size_t min_total,
                           char *out, size_t cap) {
    char sh[MD_NPY_MAX_DIMS * 22 + 8];
    char dict[sizeof sh + 96];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                      md_npy_descr(dt), shape_text(ndim, shape, sh, sizeof sh));
    if (dl < 0 || (size_t)dl >= sizeof dict) return 0;
    size_t need = 10 + (size_t)dl + 1;  // version 1.0 preamble, dict, '\n'
    if (need < min_total) need = min_total;
    size_t total = (need + 63) / 64 * 64;
    int major = 1;
    if (total - 10 > 65535) {  // does not fit a 2-byte length: version 2.0
        major = 2;
        need = 12 + (size_t)dl + 1;
        if (need < min_total) need = min_total;
        total = (need + 63) / 64 * 64;
    }
    if (total > cap) return 0;
    size_t pre = major == 1 ? 10 : 12, hlen = total - pre;
    memcpy(out, npy_magic, 6);
    out[6] = (char)major;
    out[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) out[8 + i] = (char)(uint8_t)(hlen >> (8 * i));
    memcpy(out + pre, dict, (size_t)dl);
    memset(out + pre + dl, ' ', total - pre - (size_t)dl - 1);
    out[total - 1] = '\n';
    return total;
}

#define HEADER_CAP 4096

int md_npy_writer_open(md_npy_writer *w, const char *path, md_dtype dt, int ndim,
                       const int64_t *shape, md_error *err) {
    memset(w, 0, sizeof *w);
    if (!md_npy_descr(dt))
        return md_errorf(err, "%s: cannot save dtype %s in .npy (numpy has no bfloat16: convert "
                         "to f32)", path, md_dtype_name(dt));
    if (ndim < 0 || ndim > MD_NPY_MAX_DIMS)
        return md_errorf(err, "%s: %d dimensions, expected 0..%d", path, ndim, MD_NPY_MAX_DIMS);
    w->dtype = dt;
    w->ndim = ndim;
    w->open_ended = ndim > 0 && shape[0] == -1;
    uint64_t row = md_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        w->shape[i] = shape[i];
        if (i == 0 && w->open_ended) continue;
        if (shape[i] < 0 || __builtin_mul_overflow(row, (uint64_t)shape[i], &row))
            return md_errorf(err, "%s: bad dimension %d = %lld", path, i, (long long)shape[i]);
    }
    if (w->open_ended) {
        w->row_bytes = row;
        if (row == 0)
            return md_errorf(err, "%s: an open-ended first dimension needs the others non-zero", path);
    } else {
        w->expected = row;
    }
    // Reserve room for the largest first dimension so the header can be rewritten in place.
    int64_t reserve[MD_NPY_MAX_DIMS];
    memcpy(reserve, w->shape, sizeof reserve);
    if (w->open_ended) reserve[0] = INT64_MAX;
    char header[HEADER_CAP];
    size_t reserved = build_header(dt, ndim, reserve, 0, header, sizeof header);
    size_t hb = build_header(dt, ndim, w->shape, reserved, header, sizeof header);
    if (!hb || !reserved) return md_errorf(err, "%s: header too long", path);
    w->header_bytes = hb;
    if (md_atomic_open(&w->af, path, err)) return -1;
    if (fwrite(header, 1, hb, w->af.f) != hb) {
        int e = errno;
        md_atomic_abort(&w->af);
        return md_errorf(err, "%s: write failed: %s", path, strerror(e));
    }
    w->active = true;
    return 0;
}

void md_npy_writer_abort(md_npy_writer *w) {
    if (w->active) md_atomic_abort(&w->af);
    w->active = false;
}

int md_npy_writer_append(md_npy_writer *w, const void *data, size_t nbytes, md_error *err) {
    if (!w->active) return md_errorf(err, "%s: npy writer is not open", w->af.path);
    if (!w->open_ended && nbytes > w->expected - w->written) {
        md_npy_writer_abort(w);
        return md_errorf(err, "%s: appending %zu bytes would pass the %llu bytes the shape holds",
                         w->af.path, nbytes, (unsigned long long)w->expected);
    }
    if (nbytes && fwrite(data, 1, nbytes, w->af.f) != nbytes) {
        int e = errno;
        md_npy_writer_abort(w);
        return md_errorf(err, "%s: write failed: %s", w->af.path, strerror(e));
    }
    w->written += nbytes;
    return 0;
}

int md_npy_writer_commit(md_npy_writer *w, md_error *err) {
    if (!w->active) return md_errorf(err, "%s: npy writer is not open", w->af.path);
    if (w->open_ended) {
        if (w->written % w->row_bytes != 0) {
            md_npy_writer_abort(w);
            return md_errorf(err, "%s: %llu bytes written is not a whole number of %llu-byte rows",
                             w->af.path, (unsigned long long)w->written,
                             (unsigned long long)w->row_bytes);
        }
        w->shape[0] = (int64_t)(w->written / w->row_bytes);
        char header[HEADER_CAP];
        size_t hb = build_header(w->dtype, w->ndim, w->shape, w->header_bytes, header, sizeof header);
        if (hb != w->header_bytes || fseek(w->af.f, 0, SEEK_SET) != 0 ||
            fwrite(header, 1, hb, w->af.f) != hb) {
            md_npy_writer_abort(w);
            return md_errorf(err, "%s: could not finalize the header", w->af.path);
        }
    } else if (w->written != w->expected) {
        md_npy_writer_abort(w);
        return md_errorf(err, "%s: %llu data bytes written, the shape needs %llu", w->af.path,
                         (unsigned long long)w->written, (unsigned long long)w->expected);
    }
    w->active = false;
    return md_atomic_commit(&w->af, err);
}

int md_npy_save(const char *path, const md_tensor *t, md_error *err) {
    md_npy_writer w;
    if (t->ndim < 0 || t->ndim > MD_MAX_DIMS)
        return md_errorf(err, "%s: tensor has %d dimensions", path, t->ndim);
    if (md_npy_writer_open(&w, path, t->dtype, t->ndim, t->shape, err)) return -1;
    if (md_npy_writer_append(&w, t->data, (size_t)w.expected, err)) return -1;
    return md_npy_writer_commit(&w, err);
}
