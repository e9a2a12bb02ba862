// libFuzzer target for the safetensors reader (md_safetensors_parse_buffer, which
// md_safetensors_open uses on the mapped file). Accepted inputs must satisfy the
// format's invariants: entries inside the data section, tiling it exactly, findable by
// name, with byte lengths matching shape x dtype.
#include <stdlib.h>
#include <string.h>

#include "tensor/safetensors.h"

static void check(int ok) {
    if (!ok) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    md_safetensors st;
    md_error err = {{0}};
    if (md_safetensors_parse_buffer(data, size, "fuzz.safetensors", &st, &err) != 0) {
        check(strncmp(err.msg, "fuzz.safetensors", 16) == 0);
        check(st.count == 0 && st.tensors == NULL && st.header == NULL);
        return 0;
    }
    check(st.data_start >= 8 && st.data_start <= size);
    size_t data_len = size - st.data_start, total = 0;
    for (size_t i = 0; i < st.count; i++) {
        const md_st_entry *e = &st.tensors[i];
        const uint8_t *p = e->data;
        check(p >= data + st.data_start && e->offset + e->nbytes <= data_len);
        check(p == data + st.data_start + e->offset);
        uint64_t n = e->elem_size;
        for (int d = 0; d < e->ndim; d++) n *= (uint64_t)e->shape[d];
        check(n == e->nbytes);
        check(md_safetensors_find(&st, e->name) == e);
        if (i) check(strcmp(st.tensors[i - 1].name, e->name) < 0);
        total += e->nbytes;
        md_tensor t;
        if (md_st_entry_view(&st, e, &t, &err) == 0) check(md_nbytes(&t) == e->nbytes);
    }
    check(total == data_len);  // no gaps and no overlaps
    for (size_t i = 0; i < st.n_meta; i++) check(md_safetensors_meta(&st, st.meta_keys[i]) != NULL);
    md_safetensors_close(&st);
    return 0;
}
