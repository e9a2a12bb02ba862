#include "tensor/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int md_read_file(const char *path, size_t max_bytes, char **data, size_t *len, md_error *err) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return md_errorf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return md_errorf(err, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    if (max_bytes && n > max_bytes) {
        fclose(f);
        return md_errorf(err, "%s: file is %zu bytes, more than the %zu allowed", path, n,
                         max_bytes);
    }
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return md_errorf(err, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(buf, 1, n, f);
    int rerr = ferror(f);
    fclose(f);
    if (got != n || rerr) {
        free(buf);
        return md_errorf(err, "%s: read %zu of %zu bytes", path, got, n);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

int md_atomic_open(md_atomic_file *af, const char *path, md_error *err) {
    static unsigned counter;
    memset(af, 0, sizeof *af);
    if (strlen(path) + 40 >= sizeof af->tmp_path)
        return md_errorf(err, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    unsigned n = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    snprintf(af->tmp_path, sizeof af->tmp_path, "%s.tmp.%ld.%u", path, (long)getpid(), n);
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f) return md_errorf(err, "%s: cannot create: %s", af->tmp_path, strerror(errno));
    return 0;
}

int md_atomic_commit(md_atomic_file *af, md_error *err) {
    if (!af->f) return md_errorf(err, "%s: atomic file not open", af->path);
    int bad = ferror(af->f) || fflush(af->f) != 0 || fsync(fileno(af->f)) != 0;
    int saved = errno;
    if (fclose(af->f) != 0) bad = 1, saved = errno;
    af->f = NULL;
    if (bad) {
        unlink(af->tmp_path);
        return md_errorf(err, "%s: write failed: %s", af->path, strerror(saved));
    }
    if (rename(af->tmp_path, af->path) != 0) {
        saved = errno;
        unlink(af->tmp_path);
        return md_errorf(err, "%s: cannot rename into place: %s", af->path, strerror(saved));
    }
    return 0;
}

void md_atomic_abort(md_atomic_file *af) {
    if (af->f) fclose(af->f);
    af->f = NULL;
    if (af->tmp_path[0]) unlink(af->tmp_path);
}

int md_write_file_atomic(const char *path, const void *data, size_t len, md_error *err) {
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    if (len && fwrite(data, 1, len, af.f) != len) {
        int e = errno;
        md_atomic_abort(&af);
        return md_errorf(err, "%s: write failed: %s", path, strerror(e));
    }
    return md_atomic_commit(&af, err);
}

int md_map_file(const char *path, md_mapped_file *m, md_error *err) {
    m->data = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return md_errorf(err, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return md_errorf(err, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {  // mmap of 0 bytes fails; an empty mapping is still valid
        close(fd);
        return 0;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return md_errorf(err, "%s: cannot map: %s", path, strerror(e));
    m->data = p;
    m->len = (size_t)st.st_size;
    return 0;
}

void md_unmap_file(md_mapped_file *m) {
    if (m->data) munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

int md_mkdirs(const char *path, md_error *err) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return md_errorf(err, "mkdir: invalid path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return md_errorf(err, "%s: cannot create directory: %s", buf, strerror(errno));
            buf[i] = c;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return md_errorf(err, "%s: exists and is not a directory", path);
    return 0;
}
