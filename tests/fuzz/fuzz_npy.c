// libFuzzer target for the .npy reader (md_npy_parse, the in-memory path md_npy_load
// shares its header parser with). Accepted inputs must be self-consistent.
#include <stdlib.h>
#include <string.h>

#include "tensor/npy.h"

static void check(int ok) {
    if (!ok) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    md_npy_info info;
    const void *payload = NULL;
    md_error err = {{0}};
    if (md_npy_parse(data, size, "fuzz.npy", &info, &payload, &err) != 0) {
        check(strncmp(err.msg, "fuzz.npy: ", 10) == 0);
        return 0;
    }
    check(info.data_offset <= size && info.data_offset + info.nbytes == size);
    check((const uint8_t *)payload == data + info.data_offset);
    check(info.ndim >= 0 && info.ndim <= MD_NPY_MAX_DIMS);
    uint64_t n = md_dtype_size(info.dtype);
    for (int i = 0; i < info.ndim; i++) {
        check(info.shape[i] >= 0);
        n *= (uint64_t)info.shape[i];
    }
    check(n == info.nbytes);
    if (info.dtype == MD_BOOL)
        for (size_t i = 0; i < info.nbytes; i++) check(((const uint8_t *)payload)[i] <= 1);
    // The header alone parses the same way.
    md_npy_info again;
    check(md_npy_parse_header(data, info.data_offset, "fuzz.npy", &again, &err) == 0);
    check(again.nbytes == info.nbytes && again.ndim == info.ndim);
    return 0;
}
