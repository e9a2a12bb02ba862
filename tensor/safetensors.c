// safetensors reader and writer (see tensor/safetensors.h for the format and the rules).
#include "tensor/safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader hands out raw views and needs a little-endian host"
#endif

// Longest tensor name quoted in an error message.
#define NAME_FMT "%.200s"

typedef struct st_dtype_info {
    const char *name;
    size_t size;
    md_dtype dtype;  // MD_DTYPE_COUNT: valid in safetensors, not held by the kit
} st_dtype_info;

static const st_dtype_info st_dtypes[] = {
    {"F32", 4, MD_F32},          {"BF16", 2, MD_BF16},        {"F16", 2, MD_F16},
    {"I32", 4, MD_I32},          {"I64", 8, MD_I64},          {"U8", 1, MD_U8},
    {"BOOL", 1, MD_BOOL},        {"F64", 8, MD_DTYPE_COUNT},  {"I8", 1, MD_DTYPE_COUNT},
    {"I16", 2, MD_DTYPE_COUNT},  {"U16", 2, MD_DTYPE_COUNT},  {"U32", 4, MD_DTYPE_COUNT},
    {"U64", 8, MD_DTYPE_COUNT},  {"F8_E4M3", 1, MD_DTYPE_COUNT},
    {"F8_E5M2", 1, MD_DTYPE_COUNT},
};
#define N_ST_DTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

const char *md_st_dtype_string(md_dtype dt) {
    for (size_t i = 0; i < N_ST_DTYPES; i++)
        if (st_dtypes[i].dtype == dt && dt != MD_DTYPE_COUNT) return st_dtypes[i].name;
    return NULL;
}

static uint64_t read_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void write_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

// ---------------------------------------------------------------- reader

// Sets st_dtype/dtype/elem_size from the JSON dtype string, or errors.
static int parse_dtype(const md_safetensors *st, const char *name, const md_json *v,
                       md_st_entry *e, md_error *err) {
    if (v->type != MD_JSON_STRING)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': field 'dtype': expected a string, got %s",
                         st->source, name, md_json_type_phrase(v->type));
    for (size_t i = 0; i < N_ST_DTYPES; i++) {
        if (strlen(st_dtypes[i].name) == v->len && strcmp(st_dtypes[i].name, v->str) == 0) {
            e->st_dtype = st_dtypes[i].name;
            e->dtype = st_dtypes[i].dtype;
            e->elem_size = st_dtypes[i].size;
            return 0;
        }
    }
    return md_errorf(err, "%s: tensor '" NAME_FMT "': field 'dtype': unknown dtype \"%.40s\" "
                     "(expected F32, BF16, F16, I32, I64, U8, BOOL, F64, I8, I16, U16, U32, U64, "
                     "F8_E4M3 or F8_E5M2)", st->source, name, v->str);
}

// A JSON value that is an integer in [0, INT64_MAX].
static bool is_count(const md_json *v) {
    return v->type == MD_JSON_NUMBER && v->is_integer && v->integer >= 0;
}

static int parse_entry(const md_safetensors *st, const char *name, const md_json *obj,
                       size_t data_len, const uint8_t *data, md_st_entry *e, md_error *err) {
    e->name = name;
    if (obj->type != MD_JSON_OBJECT)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': expected an object with dtype, shape and "
                         "data_offsets, got %s", st->source, name, md_json_type_phrase(obj->type));
    const md_json *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (size_t i = 0; i < obj->count; i++) {
        const char *k = obj->keys[i];
        bool plain = strlen(k) == obj->key_lens[i];
        if (plain && strcmp(k, "dtype") == 0) dtype = &obj->items[i];
        else if (plain && strcmp(k, "shape") == 0) shape = &obj->items[i];
        else if (plain && strcmp(k, "data_offsets") == 0) offsets = &obj->items[i];
        else
            return md_errorf(err, "%s: tensor '" NAME_FMT "': unexpected field '%.60s' (an entry "
                             "has exactly dtype, shape and data_offsets)", st->source, name, k);
    }
    const char *missing = !dtype ? "dtype" : !shape ? "shape" : !offsets ? "data_offsets" : NULL;
    if (missing)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': missing field '%s'", st->source, name,
                         missing);
    if (parse_dtype(st, name, dtype, e, err)) return -1;

    if (shape->type != MD_JSON_ARRAY)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': field 'shape': expected an array of "
                         "non-negative integers, got %s", st->source, name,
                         md_json_type_phrase(shape->type));
    if (shape->count > MD_ST_MAX_DIMS)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': field 'shape': %zu dimensions, at most %d "
                         "are supported", st->source, name, shape->count, MD_ST_MAX_DIMS);
    e->ndim = (int)shape->count;
    uint64_t numel = 1;
    bool overflow = false;
    for (size_t i = 0; i < shape->count; i++) {
        const md_json *d = &shape->items[i];
        if (!is_count(d))
            return md_errorf(err, "%s: tensor '" NAME_FMT "': field 'shape': item %zu: expected a "
                             "non-negative integer, got %s", st->source, name, i,
                             d->type == MD_JSON_NUMBER ? "a non-integer or negative number"
                                                       : md_json_type_phrase(d->type));
        e->shape[i] = d->integer;
        overflow |= __builtin_mul_overflow(numel, (uint64_t)d->integer, &numel);
    }
    for (int i = e->ndim; i < MD_ST_MAX_DIMS; i++) e->shape[i] = 1;
    uint64_t want = 0;
    overflow |= __builtin_mul_overflow(numel, (uint64_t)e->elem_size, &want);

    if (offsets->type != MD_JSON_ARRAY || offsets->count != 2 || !is_count(&offsets->items[0]) ||
        !is_count(&offsets->items[1]))
        return md_errorf(err, "%s: tensor '" NAME_FMT "': field 'data_offsets': expected an array of "
                         "two non-negative integers [begin, end]", st->source, name);
    uint64_t begin = (uint64_t)offsets->items[0].integer, end = (uint64_t)offsets->items[1].integer;
    if (begin > end)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': field 'data_offsets': begin %llu is after "
                         "end %llu", st->source, name, (unsigned long long)begin,
                         (unsigned long long)end);
    if (end > data_len)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': field 'data_offsets': end %llu is past the "
                         "%zu-byte data section", st->source, name, (unsigned long long)end, data_len);
    if (overflow || want != end - begin)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': shape x dtype %s is %s%llu bytes but "
                         "data_offsets span %llu", st->source, name, e->st_dtype,
                         overflow ? "more than " : "",
                         (unsigned long long)(overflow ? UINT64_MAX : want),
                         (unsigned long long)(end - begin));
    e->offset = (size_t)begin;
    e->nbytes = (size_t)(end - begin);
    e->data = data + begin;
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const md_st_entry *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const md_st_entry *)a)->name, ((const md_st_entry *)b)->name);
}

// Tensors, sorted by offset, must tile [0, data_len) exactly.
static int check_coverage(const md_safetensors *st, size_t data_len, md_error *err) {
    size_t covered = 0;
    const md_st_entry *prev = NULL;
    for (size_t i = 0; i < st->count; i++) {
        const md_st_entry *e = &st->tensors[i];
        if (e->offset < covered)
            return md_errorf(err, "%s: tensors '" NAME_FMT "' (data bytes %zu..%zu) and '" NAME_FMT
                             "' (data bytes %zu..%zu) overlap", st->source, prev->name,
                             prev->offset, prev->offset + prev->nbytes, e->name, e->offset,
                             e->offset + e->nbytes);
        if (e->offset > covered)
            return md_errorf(err, "%s: data bytes %zu..%zu are not covered by any tensor (a gap "
                             "before tensor '" NAME_FMT "')", st->source, covered, e->offset, e->name);
        covered = e->offset + e->nbytes;
        prev = e;
    }
    if (covered != data_len)
        return md_errorf(err, "%s: data bytes %zu..%zu are not covered by any tensor (the data "
                         "section has %zu bytes after the header)", st->source, covered, data_len,
                         data_len);
    return 0;
}

static int parse_metadata(md_safetensors *st, const md_json *m, md_error *err) {
    if (m->type != MD_JSON_OBJECT)
        return md_errorf(err, "%s: '__metadata__': expected an object of strings, got %s",
                         st->source, md_json_type_phrase(m->type));
    st->meta_keys = calloc(m->count + 1, sizeof *st->meta_keys);
    st->meta_values = calloc(m->count + 1, sizeof *st->meta_values);
    if (!st->meta_keys || !st->meta_values) return md_errorf(err, "%s: out of memory", st->source);
    for (size_t i = 0; i < m->count; i++) {
        const md_json *v = &m->items[i];
        if (strlen(m->keys[i]) != m->key_lens[i])
            return md_errorf(err, "%s: '__metadata__': a key contains a NUL byte", st->source);
        if (v->type != MD_JSON_STRING)
            return md_errorf(err, "%s: '__metadata__': key '%.100s': expected a string value, got "
                             "%s", st->source, m->keys[i], md_json_type_phrase(v->type));
        if (strlen(v->str) != v->len)
            return md_errorf(err, "%s: '__metadata__': key '%.100s': the value contains a NUL byte",
                             st->source, m->keys[i]);
        st->meta_keys[i] = m->keys[i];
        st->meta_values[i] = v->str;
    }
    st->n_meta = m->count;
    return 0;
}

static int parse_buffer(const uint8_t *buf, size_t len, md_safetensors *st, md_error *err) {
    if (len < 8)
        return md_errorf(err, "%s: file is %zu bytes, too short for the 8-byte header length",
                         st->source, len);
    uint64_t n = read_le64(buf);
    if (n > MD_ST_MAX_HEADER_BYTES)
        return md_errorf(err, "%s: header length %llu is more than the %u-byte limit", st->source,
                         (unsigned long long)n, MD_ST_MAX_HEADER_BYTES);
    if (n > len - 8)
        return md_errorf(err, "%s: header length %llu is more than the %zu bytes after the length "
                         "field (truncated file?)", st->source, (unsigned long long)n, len - 8);
    char hsrc[600];
    snprintf(hsrc, sizeof hsrc, "%s header", st->source);
    st->header = md_json_parse((const char *)buf + 8, (size_t)n, hsrc, err);
    if (!st->header) return -1;
    const md_json *h = st->header;
    if (h->type != MD_JSON_OBJECT)
        return md_errorf(err, "%s: header: expected a JSON object, got %s", st->source,
                         md_json_type_phrase(h->type));
    st->data_start = 8 + (size_t)n;
    size_t data_len = len - st->data_start;
    const uint8_t *data = buf + st->data_start;

    st->tensors = calloc(h->count + 1, sizeof *st->tensors);
    if (!st->tensors) return md_errorf(err, "%s: out of memory", st->source);
    for (size_t i = 0; i < h->count; i++) {
        const char *name = h->keys[i];
        if (strcmp(name, "__metadata__") == 0 && h->key_lens[i] == 12) {
            if (parse_metadata(st, &h->items[i], err)) return -1;
            continue;
        }
        if (strlen(name) != h->key_lens[i])
            return md_errorf(err, "%s: tensor name '" NAME_FMT "...' contains a NUL byte",
                             st->source, name);
        if (parse_entry(st, name, &h->items[i], data_len, data, &st->tensors[st->count], err))
            return -1;
        st->count++;
    }
    qsort(st->tensors, st->count, sizeof *st->tensors, cmp_by_offset);
    if (check_coverage(st, data_len, err)) return -1;
    qsort(st->tensors, st->count, sizeof *st->tensors, cmp_by_name);
    return 0;
}

int md_safetensors_parse_buffer(const uint8_t *buf, size_t len, const char *source,
                                md_safetensors *st, md_error *err) {
    memset(st, 0, sizeof *st);
    snprintf(st->source, sizeof st->source, "%s", source ? source : "safetensors");
    if (parse_buffer(buf, len, st, err)) {
        md_safetensors_close(st);
        return -1;
    }
    return 0;
}

int md_safetensors_open(const char *path, md_safetensors *st, md_error *err) {
    memset(st, 0, sizeof *st);
    md_mapped_file m;
    if (md_map_file(path, &m, err)) return -1;
    if (md_safetensors_parse_buffer(m.data, m.len, path, st, err)) {
        md_unmap_file(&m);
        return -1;
    }
    st->map = m;
    return 0;
}

void md_safetensors_close(md_safetensors *st) {
    md_json_free(st->header);
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_values);
    md_unmap_file(&st->map);
    char source[sizeof st->source];
    memcpy(source, st->source, sizeof source);
    memset(st, 0, sizeof *st);
    memcpy(st->source, source, sizeof source);
}

const md_st_entry *md_safetensors_find(const md_safetensors *st, const char *name) {
    size_t lo = 0, hi = st->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->tensors[mid].name, name);
        if (c == 0) return &st->tensors[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *md_safetensors_meta(const md_safetensors *st, const char *key) {
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

int md_st_entry_view(const md_safetensors *st, const md_st_entry *e, md_tensor *out,
                     md_error *err) {
    if (e->dtype == MD_DTYPE_COUNT)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': dtype %s is not supported (expected F32, "
                         "BF16, F16, I32, I64, U8 or BOOL)", st->source, e->name, e->st_dtype);
    if (e->ndim > MD_MAX_DIMS)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': %d dimensions, at most %d are supported",
                         st->source, e->name, e->ndim, MD_MAX_DIMS);
    if ((uintptr_t)e->data % e->elem_size != 0)
        return md_errorf(err, "%s: tensor '" NAME_FMT "': data at file offset %zu is not aligned "
                         "to its %zu-byte elements (rewrite the file with an aligned writer)",
                         st->source, e->name, st->data_start + e->offset, e->elem_size);
    *out = md_tensor_view(e->dtype, (void *)e->data, e->ndim, e->shape);
    return 0;
}

int md_safetensors_get(const md_safetensors *st, const char *name, md_dtype dt, int ndim,
                       const int64_t *shape, md_tensor *out, md_error *err) {
    const md_st_entry *e = md_safetensors_find(st, name);
    if (!e) return md_errorf(err, "%s: no tensor named '" NAME_FMT "'", st->source, name);
    if (md_st_entry_view(st, e, out, err)) return -1;
    char what[800];
    snprintf(what, sizeof what, "%s: tensor '" NAME_FMT "'", st->source, name);
    return md_tensor_expect(out, what, dt, ndim, shape, err);
}

// ---------------------------------------------------------------- writer

void md_stw_init(md_safetensors_writer *w) { memset(w, 0, sizeof *w); }

void md_stw_free(md_safetensors_writer *w) {
    for (size_t i = 0; i < w->count; i++) free(w->items[i].name);
    for (size_t i = 0; i < w->n_meta; i++) free(w->meta_keys[i]), free(w->meta_values[i]);
    free(w->items);
    free(w->meta_keys);
    free(w->meta_values);
    memset(w, 0, sizeof *w);
}

int md_stw_add(md_safetensors_writer *w, const char *name, md_dtype dt, int ndim,
               const int64_t *shape, const void *data, md_error *err) {
    if (!name || !*name) return md_errorf(err, "safetensors writer: empty tensor name");
    if (strcmp(name, "__metadata__") == 0)
        return md_errorf(err, "safetensors writer: '__metadata__' cannot name a tensor");
    if (!md_st_dtype_string(dt))
        return md_errorf(err, "safetensors writer: tensor '" NAME_FMT "': invalid dtype %d", name, (int)dt);
    if (ndim < 0 || ndim > MD_ST_MAX_DIMS)
        return md_errorf(err, "safetensors writer: tensor '" NAME_FMT "': %d dimensions, expected 0..%d",
                         name, ndim, MD_ST_MAX_DIMS);
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->items[i].name, name) == 0)
            return md_errorf(err, "safetensors writer: tensor '" NAME_FMT "' added twice", name);
    md_stw_item it = {.dtype = dt, .ndim = ndim, .data = data};
    uint64_t bytes = md_dtype_size(dt);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(bytes, (uint64_t)shape[i], &bytes))
            return md_errorf(err, "safetensors writer: tensor '" NAME_FMT "': bad dimension %d = %lld",
                             name, i, (long long)shape[i]);
        it.shape[i] = shape[i];
    }
    if (bytes > SIZE_MAX)
        return md_errorf(err, "safetensors writer: tensor '" NAME_FMT "' is too large", name);
    it.nbytes = (size_t)bytes;
    if (it.nbytes && !data)
        return md_errorf(err, "safetensors writer: tensor '" NAME_FMT "': no data", name);
    if (w->count == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        md_stw_item *items = realloc(w->items, cap * sizeof *items);
        if (!items) return md_errorf(err, "safetensors writer: out of memory");
        w->items = items;
        w->cap = cap;
    }
    it.name = strdup(name);
    if (!it.name) return md_errorf(err, "safetensors writer: out of memory");
    w->items[w->count++] = it;
    return 0;
}

int md_stw_add_tensor(md_safetensors_writer *w, const char *name, const md_tensor *t,
                      md_error *err) {
    return md_stw_add(w, name, t->dtype, t->ndim, t->shape, t->data, err);
}

int md_stw_meta(md_safetensors_writer *w, const char *key, const char *value, md_error *err) {
    for (size_t i = 0; i < w->n_meta; i++) {
        if (strcmp(w->meta_keys[i], key) == 0) {
            char *v = strdup(value);
            if (!v) return md_errorf(err, "safetensors writer: out of memory");
            free(w->meta_values[i]);
            w->meta_values[i] = v;
            return 0;
        }
    }
    if (w->n_meta == w->meta_cap) {
        size_t cap = w->meta_cap ? 2 * w->meta_cap : 8;
        char **k = realloc(w->meta_keys, cap * sizeof *k);
        if (!k) return md_errorf(err, "safetensors writer: out of memory");
        w->meta_keys = k;
        char **v = realloc(w->meta_values, cap * sizeof *v);
        if (!v) return md_errorf(err, "safetensors writer: out of memory");
        w->meta_values = v;
        w->meta_cap = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k), free(v);
        return md_errorf(err, "safetensors writer: out of memory");
    }
    w->meta_keys[w->n_meta] = k;
    w->meta_values[w->n_meta] = v;
    w->n_meta++;
    return 0;
}

// The documented layout order: larger elements first (keeps every tensor aligned to its
// element size), then by name.
static int cmp_layout(const void *a, const void *b) {
    const md_stw_item *x = *(const md_stw_item *const *)a, *y = *(const md_stw_item *const *)b;
    size_t sx = md_dtype_size(x->dtype), sy = md_dtype_size(y->dtype);
    if (sx != sy) return sx > sy ? -1 : 1;
    return strcmp(x->name, y->name);
}

int md_stw_write(md_safetensors_writer *w, const char *path, md_error *err) {
    md_stw_item **order = malloc((w->count + 1) * sizeof *order);
    if (!order) return md_errorf(err, "%s: out of memory", path);
    for (size_t i = 0; i < w->count; i++) order[i] = &w->items[i];
    qsort(order, w->count, sizeof *order, cmp_layout);

    char *header = NULL;
    size_t hlen = 0;
    FILE *mf = open_memstream(&header, &hlen);
    if (!mf) {
        free(order);
        return md_errorf(err, "%s: out of memory", path);
    }
    md_json_writer jw;
    md_jw_init(&jw, mf, false);
    md_jw_object_begin(&jw);
    if (w->n_meta) {
        md_jw_key(&jw, "__metadata__");
        md_jw_object_begin(&jw);
        for (size_t i = 0; i < w->n_meta; i++) {
            md_jw_key(&jw, w->meta_keys[i]);
            md_jw_string(&jw, w->meta_values[i]);
        }
        md_jw_object_end(&jw);
    }
    size_t offset = 0;
    for (size_t i = 0; i < w->count; i++) {
        const md_stw_item *it = order[i];
        md_jw_key(&jw, it->name);
        md_jw_object_begin(&jw);
        md_jw_key(&jw, "dtype");
        md_jw_string(&jw, md_st_dtype_string(it->dtype));
        md_jw_key(&jw, "shape");
        md_jw_array_begin(&jw);
        for (int d = 0; d < it->ndim; d++) md_jw_int(&jw, it->shape[d]);
        md_jw_array_end(&jw);
        md_jw_key(&jw, "data_offsets");
        md_jw_array_begin(&jw);
        md_jw_int(&jw, (int64_t)offset);
        md_jw_int(&jw, (int64_t)(offset + it->nbytes));
        md_jw_array_end(&jw);
        md_jw_object_end(&jw);
        offset += it->nbytes;
    }
    md_jw_object_end(&jw);
    // Pad with spaces so the data section starts 8-byte aligned.
    while ((8 + ftell(mf)) % 8 != 0) fputc(' ', mf);
    bool bad = ferror(mf) != 0;
    if (fclose(mf) != 0) bad = true;
    if (bad || hlen > MD_ST_MAX_HEADER_BYTES) {
        free(order);
        free(header);
        return md_errorf(err, "%s: %s", path, bad ? "out of memory building the header"
                                                  : "header is larger than 100 MB");
    }

    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) {
        free(order);
        free(header);
        return -1;
    }
    uint8_t len8[8];
    write_le64(len8, hlen);
    bad = fwrite(len8, 1, 8, af.f) != 8 || fwrite(header, 1, hlen, af.f) != hlen;
    for (size_t i = 0; i < w->count && !bad; i++)
        if (order[i]->nbytes) bad = fwrite(order[i]->data, 1, order[i]->nbytes, af.f) != order[i]->nbytes;
    int e = errno;
    free(order);
    free(header);
    if (bad) {
        md_atomic_abort(&af);
        return md_errorf(err, "%s: write failed: %s", path, strerror(e));
    }
    return md_atomic_commit(&af, err);
}

// ---------------------------------------------------------------- sharded checkpoints

static bool is_dir(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

static bool is_file(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

void md_safetensors_set_close(md_safetensors_set *set) {
    for (size_t i = 0; i < set->n_shards; i++) md_safetensors_close(&set->shards[i]);
    free(set->shards);
    memset(set, 0, sizeof *set);
}

const md_st_entry *md_safetensors_set_find(const md_safetensors_set *set, const char *name,
                                           const md_safetensors **shard) {
    for (size_t i = 0; i < set->n_shards; i++) {
        const md_st_entry *e = md_safetensors_find(&set->shards[i], name);
        if (e) {
            if (shard) *shard = &set->shards[i];
            return e;
        }
    }
    return NULL;
}

static int open_single(const char *path, md_safetensors_set *set, md_error *err) {
    set->shards = calloc(1, sizeof *set->shards);
    if (!set->shards) return md_errorf(err, "%s: out of memory", path);
    if (md_safetensors_open(path, &set->shards[0], err)) {
        free(set->shards);
        set->shards = NULL;
        return -1;
    }
    set->n_shards = 1;
    return 0;
}

static int open_index(const char *index_path, md_safetensors_set *set, md_error *err) {
    md_json *idx = md_json_parse_file(index_path, err);
    if (!idx) return -1;
    int rc = -1;
    size_t *shard_of = NULL;  // (weight_map count) index into set->shards
    const md_json *map = md_json_get(idx, "weight_map");
    if (!map || map->type != MD_JSON_OBJECT) {
        md_errorf(err, "%s: field 'weight_map': expected an object of tensor name -> shard file",
                  index_path);
        goto done;
    }
    char dir[4096];
    const char *slash = strrchr(index_path, '/');
    if (slash) snprintf(dir, sizeof dir, "%.*s", (int)(slash - index_path), index_path);
    else snprintf(dir, sizeof dir, ".");
    shard_of = calloc(map->count + 1, sizeof *shard_of);
    set->shards = calloc(map->count + 1, sizeof *set->shards);
    if (!shard_of || !set->shards) {
        md_errorf(err, "%s: out of memory", index_path);
        goto done;
    }
    // Distinct shard files in first-seen order; each opened once.
    const char **files = calloc(map->count + 1, sizeof *files);
    if (!files) {
        md_errorf(err, "%s: out of memory", index_path);
        goto done;
    }
    for (size_t i = 0; i < map->count; i++) {
        const md_json *v = &map->items[i];
        if (v->type != MD_JSON_STRING || v->len == 0 || strlen(v->str) != v->len ||
            strchr(v->str, '/') || strcmp(v->str, "..") == 0 || strcmp(v->str, ".") == 0) {
            md_errorf(err, "%s: weight_map['" NAME_FMT "']: expected a shard file name in the same "
                      "directory", index_path, map->keys[i]);
            free(files);
            goto done;
        }
        size_t s = 0;
        while (s < set->n_shards && strcmp(files[s], v->str) != 0) s++;
        if (s == set->n_shards) {
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, v->str);
            if (md_safetensors_open(path, &set->shards[s], err)) {
                free(files);
                goto done;
            }
            files[s] = v->str;
            set->n_shards++;
        }
        shard_of[i] = s;
    }
    for (size_t i = 0; i < map->count; i++) {
        if (!md_safetensors_find(&set->shards[shard_of[i]], map->keys[i])) {
            md_errorf(err, "%s: weight_map says tensor '" NAME_FMT "' is in %s, which does not "
                      "contain it", index_path, map->keys[i], files[shard_of[i]]);
            free(files);
            goto done;
        }
    }
    // A tensor in two shards would make lookups ambiguous.
    for (size_t s = 1; s < set->n_shards; s++) {
        for (size_t t = 0; t < set->shards[s].count; t++) {
            const char *name = set->shards[s].tensors[t].name;
            for (size_t r = 0; r < s; r++) {
                if (md_safetensors_find(&set->shards[r], name)) {
                    md_errorf(err, "%s: tensor '" NAME_FMT "' is in both %s and %s", index_path,
                              name, files[r], files[s]);
                    free(files);
                    goto done;
                }
            }
        }
    }
    free(files);
    rc = 0;
done:
    if (rc) md_safetensors_set_close(set);
    free(shard_of);
    md_json_free(idx);
    return rc;
}

int md_safetensors_open_set(const char *path, md_safetensors_set *set, md_error *err) {
    memset(set, 0, sizeof *set);
    char buf[4096 + 64];
    if (is_dir(path)) {
        snprintf(buf, sizeof buf, "%s/model.safetensors.index.json", path);
        if (is_file(buf)) return open_index(buf, set, err);
        snprintf(buf, sizeof buf, "%s/model.safetensors", path);
        if (is_file(buf)) return open_single(buf, set, err);
        return md_errorf(err, "%s: no model.safetensors.index.json or model.safetensors in this "
                         "directory", path);
    }
    size_t n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, ".json") == 0) return open_index(path, set, err);
    return open_single(path, set, err);
}
