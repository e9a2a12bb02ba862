// Progress output: on a terminal one line redrawn in place (a bar, step, loss, lr,
// tokens/s, ETA), throttled to 10 redraws a second; otherwise (a file, a pipe, CI) a
// plain line every log_every steps, so logs stay readable and greppable.
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "model/train.h"
#include "tensor/threads.h"

void md_progress_init(md_progress *p, FILE *f, int64_t start_step, int64_t total,
                      int64_t log_every) {
    memset(p, 0, sizeof *p);
    p->f = f ? f : stderr;
    p->tty = isatty(fileno(p->f)) == 1;
    p->total = total;
    p->start_step = start_step;
    p->log_every = log_every > 0 ? log_every : 1;
    p->t_start = md_now();
    p->t_last_draw = -1e30;
}

void md_progress_set_tty(md_progress *p, bool tty) { p->tty = tty; }

const char *md_format_duration(double s, char *buf, size_t n) {
    if (!(s >= 0) || s > 1e9) {
        snprintf(buf, n, "?");
    } else if (s < 60) {
        snprintf(buf, n, "%.1fs", s);
    } else if (s < 3600) {
        long t = (long)(s + 0.5);
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    } else {
        long t = (long)(s / 60 + 0.5);
        snprintf(buf, n, "%ldh%02ldm", t / 60, t % 60);
    }
    return buf;
}

void md_progress_update(md_progress *p, int64_t step, double loss, double lr,
                        double tokens_per_s) {
    double now = md_now(), elapsed = now - p->t_start;
    int64_t done = step - p->start_step, left = p->total - step;
    double eta = done > 0 ? elapsed / (double)done * (double)left : -1;
    char eta_s[32], el_s[32];
    md_format_duration(eta, eta_s, sizeof eta_s);
    md_format_duration(elapsed, el_s, sizeof el_s);
    bool last = step >= p->total;
    if (p->tty) {
        if (!last && now - p->t_last_draw < 0.1) return;
        p->t_last_draw = now;
        enum { W = 24 };
        char bar[W + 1];
        int fill = p->total > 0 ? (int)((double)W * (double)step / (double)p->total) : W;
        for (int i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
        bar[W] = 0;
        // \r and "erase to end of line" redraw in place.
        fprintf(p->f, "\r[%s] step %lld/%lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s\033[K", bar,
                (long long)step, (long long)p->total, loss, lr, tokens_per_s, eta_s);
        p->drawn = true;
        if (last) {
            fputc('\n', p->f);
            p->drawn = false;
        }
        fflush(p->f);
    } else if (step % p->log_every == 0 || last || done == 1) {
        fprintf(p->f, "step %lld/%lld loss %.4f lr %.3e tok/s %.0f elapsed %s eta %s\n",
                (long long)step, (long long)p->total, loss, lr, tokens_per_s, el_s, eta_s);
        fflush(p->f);
    }
}

void md_progress_message(md_progress *p, const char *fmt, ...) {
    if (p->drawn) {
        // Erase the bar; the message takes its line and the next update redraws below it.
        fputs("\r\033[K", p->f);
        p->drawn = false;
        p->t_last_draw = -1e30;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->f, fmt, ap);
    va_end(ap);
    fputc('\n', p->f);
    fflush(p->f);
}

void md_progress_finish(md_progress *p) {
    if (p->drawn) {
        fputc('\n', p->f);
        p->drawn = false;
        fflush(p->f);
    }
}
