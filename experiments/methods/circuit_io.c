// Circuits on disk: JSON in EAP-IG's layout, scores as .npy, Graphviz DOT rendered to SVG
// and PNG with Debian's `dot`. Every file is written through a temporary name and renamed.
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiments/methods/circuit.h"
#include "tensor/fileio.h"
#include "tensor/json.h"
#include "tensor/npy.h"

extern char **environ;

int md_circuit_save_json(const md_circuit *c, const md_circuit_meta *meta, const char *path,
                         md_error *err) {
    const md_cgraph *g = c->g;
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    md_json_writer w;
    md_jw_init(&w, af.f, true);
    md_jw_object_begin(&w);
    md_jw_key(&w, "cfg");
    md_jw_object_begin(&w);
    md_jw_key(&w, "n_layers");
    md_jw_int(&w, g->n_layer);
    md_jw_key(&w, "n_heads");
    md_jw_int(&w, g->n_head);
    md_jw_key(&w, "parallel_attn_mlp");
    md_jw_bool(&w, g->parallel);
    md_jw_object_end(&w);
    if (meta) {
        md_jw_key(&w, "meta");
        md_jw_object_begin(&w);
        const char *keys[4] = {"method", "model", "task", "settings"};
        const char *vals[4] = {meta->method, meta->model, meta->task, meta->extra};
        for (int i = 0; i < 4; i++)
            if (vals[i]) {
                md_jw_key(&w, keys[i]);
                md_jw_string(&w, vals[i]);
            }
        md_jw_key(&w, "edges_in_graph");
        md_jw_int(&w, md_circuit_n_edges(c));
        md_jw_key(&w, "nodes_in_graph");
        md_jw_int(&w, md_circuit_n_nodes(c));
        md_jw_object_end(&w);
    }
    md_jw_key(&w, "nodes");
    md_jw_object_begin(&w);
    for (int v = 0; v < g->n_nodes; v++) {
        md_jw_key(&w, g->nodes[v].name);
        md_jw_object_begin(&w);
        md_jw_key(&w, "in_graph");
        md_jw_bool(&w, c->node_in[v] != 0);
        md_jw_object_end(&w);
    }
    md_jw_object_end(&w);
    md_jw_key(&w, "edges");
    md_jw_object_begin(&w);
    char name[96];
    for (int e = 0; e < g->n_edges; e++) {
        md_jw_key(&w, md_cgraph_edge_name(g, e, name, sizeof name));
        md_jw_object_begin(&w);
        md_jw_key(&w, "score");
        if (c->score) md_jw_number(&w, c->score[e]);
        else md_jw_null(&w);
        md_jw_key(&w, "in_graph");
        md_jw_bool(&w, c->edge_in[e] != 0);
        md_jw_object_end(&w);
    }
    md_jw_object_end(&w);
    md_jw_object_end(&w);
    fputc('\n', af.f);
    return md_atomic_commit(&af, err);
}

int md_circuit_load_json(md_circuit *c, const md_cgraph *g, const char *path, md_error *err) {
    md_json *j = md_json_parse_file(path, err);
    if (!j) return -1;
    int rc = -1;
    const md_json *cfg = md_json_get(j, "cfg");
    int64_t nl, nh;
    bool par = false;
    if (!cfg || md_json_get_int(cfg, "n_layers", path, &nl, err) ||
        md_json_get_int(cfg, "n_heads", path, &nh, err)) {
        if (!cfg) md_errorf(err, "%s: field 'cfg': missing (expected an object)", path);
        goto done;
    }
    if (md_json_get(cfg, "parallel_attn_mlp") &&
        md_json_get_bool(cfg, "parallel_attn_mlp", path, &par, err))
        goto done;
    if (nl != g->n_layer || nh != g->n_head || par != g->parallel) {
        md_errorf(err, "%s: cfg (%lld layers, %lld heads, parallel %d) does not match the model's "
                       "graph (%d layers, %d heads, parallel %d)",
                  path, (long long)nl, (long long)nh, par, g->n_layer, g->n_head, g->parallel);
        goto done;
    }
    const md_json *edges = md_json_get(j, "edges");
    if (!edges || edges->type != MD_JSON_OBJECT) {
        md_errorf(err, "%s: field 'edges': expected an object of edge name -> {score, in_graph}", path);
        goto done;
    }
    if (md_circuit_init(c, g, err)) goto done;
    c->score = calloc((size_t)(g->n_edges ? g->n_edges : 1), sizeof(float));
    if (!c->score) {
        md_errorf(err, "%s: out of memory", path);
        goto fail;
    }
    for (size_t i = 0; i < edges->count; i++) {
        const char *name = edges->keys[i];
        int e = md_cgraph_find_edge_name(g, name);
        if (e < 0) {
            md_errorf(err, "%s: edge '%s' is not an edge of this model's graph", path, name);
            goto fail;
        }
        const md_json *ej = &edges->items[i];
        bool in = false;
        if (md_json_get_bool(ej, "in_graph", path, &in, err)) goto fail;
        c->edge_in[e] = in;
        const md_json *sc = md_json_get(ej, "score");
        if (sc && sc->type == MD_JSON_NUMBER) c->score[e] = (float)sc->number;
        else if (sc && sc->type != MD_JSON_NULL) {
            md_errorf(err, "%s: edge '%s': field 'score': expected a number or null", path, name);
            goto fail;
        } else c->score[e] = NAN;
    }
    md_circuit_update_nodes(c);
    // Nodes listed in the file as in the graph stay in it (EAP-IG marks nodes explicitly).
    const md_json *nodes = md_json_get(j, "nodes");
    if (nodes && nodes->type == MD_JSON_OBJECT)
        for (size_t i = 0; i < nodes->count; i++) {
            int v = md_cgraph_find_node(g, nodes->keys[i]);
            if (v < 0) {
                md_errorf(err, "%s: node '%s' is not a node of this model's graph", path,
                          nodes->keys[i]);
                goto fail;
            }
            const md_json *nj = &nodes->items[i];
            const md_json *ig = nj->type == MD_JSON_OBJECT ? md_json_get(nj, "in_graph") : nj;
            if (ig && ig->type == MD_JSON_BOOL && ig->boolean) c->node_in[v] = 1;
        }
    rc = 0;
    goto done;
fail:
    md_circuit_free(c);
done:
    md_json_free(j);
    return rc;
}

int md_scores_save_npy(const float *score, int n, const char *path, md_error *err) {
    md_tensor t = md_tensor_1d(MD_F32, (void *)score, n);
    return md_npy_save(path, &t, err);
}

// ---------------------------------------------------------------- Graphviz
static const char *node_color(md_cnode_kind k) {
    switch (k) {
    case MD_CN_INPUT: return "#d9d9d9";
    case MD_CN_HEAD: return "#a6cee3";
    case MD_CN_MLP: return "#b2df8a";
    case MD_CN_LOGITS: return "#fb9a99";
    }
    return "#ffffff";
}

static const char *edge_color(const md_cgraph *g, int e) {
    if (g->nodes[g->edges[e].dst].kind != MD_CN_HEAD) return "#444444";
    static const char *const qkv[3] = {"#e41a1c", "#377eb8", "#4daf4a"};  // q k v
    return qkv[g->edges[e].slot];
}

int md_circuit_save_dot(const md_circuit *c, const char *title, const char *path, md_error *err) {
    const md_cgraph *g = c->g;
    md_atomic_file af;
    if (md_atomic_open(&af, path, err)) return -1;
    FILE *f = af.f;
    double smax = 0;
    if (c->score)
        for (int e = 0; e < g->n_edges; e++)
            if (c->edge_in[e] && isfinite(c->score[e])) smax = fmax(smax, fabs(c->score[e]));
    fprintf(f, "digraph circuit {\n  graph [rankdir=BT, splines=true, nodesep=0.25, ranksep=0.5");
    fprintf(f, ", labelloc=t, label=\"");
    for (const char *p = title ? title : ""; *p; p++) {
        if (*p == '"' || *p == '\\') fputc('\\', f);
        fputc(*p, f);
    }
    fprintf(f, "%sedges into heads: q red, k blue, v green; width |score|; dashed: negative "
               "score\"", title ? "\\n" : "");
    fprintf(f, "];\n  node [shape=box, style=\"filled,rounded\", fontname=\"Helvetica\", "
               "fontsize=11];\n  edge [arrowsize=0.6];\n");
    // One rank per layer keeps the drawing readable: input, then each layer, then logits.
    for (int l = -1; l <= g->n_layer; l++) {
        bool any = false;
        for (int v = 0; v < g->n_nodes; v++)
            any |= c->node_in[v] && g->nodes[v].layer == l && g->nodes[v].kind != MD_CN_MLP;
        if (!any) continue;
        fprintf(f, "  { rank=same;");
        for (int v = 0; v < g->n_nodes; v++)
            if (c->node_in[v] && g->nodes[v].layer == l && g->nodes[v].kind != MD_CN_MLP)
                fprintf(f, " \"%s\";", g->nodes[v].name);
        fprintf(f, " }\n");
    }
    for (int v = 0; v < g->n_nodes; v++)
        if (c->node_in[v])
            fprintf(f, "  \"%s\" [fillcolor=\"%s\"];\n", g->nodes[v].name, node_color(g->nodes[v].kind));
    for (int e = 0; e < g->n_edges; e++) {
        if (!c->edge_in[e]) continue;
        const md_cedge *E = &g->edges[e];
        double w = 1.0, sc = c->score ? c->score[e] : NAN;
        if (smax > 0 && isfinite(sc)) w = 0.6 + 4.0 * fabs(sc) / smax;
        fprintf(f, "  \"%s\" -> \"%s\" [color=\"%s\", penwidth=%.2f%s];\n", g->nodes[E->src].name,
                g->nodes[E->dst].name, edge_color(g, e), w,
                isfinite(sc) && sc < 0 ? ", style=dashed" : "");
    }
    fprintf(f, "}\n");
    return md_atomic_commit(&af, err);
}

// Runs dot -T<fmt> -o tmp src, then renames tmp to out.
static int run_dot(const char *dot, const char *fmt, const char *src, const char *out,
                   md_error *err) {
    char tmp[4200], tfmt[16];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", out, (int)getpid());
    snprintf(tfmt, sizeof tfmt, "-T%s", fmt);
    char *argv[] = {(char *)dot, tfmt, "-o", tmp, (char *)src, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, dot, NULL, NULL, argv, environ);
    if (rc != 0)
        return md_errorf(err, "graphviz: cannot run %s (%s); install Debian's graphviz or set "
                              "GRAPHVIZ_DOT", dot, strerror(rc));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            unlink(tmp);
            return md_errorf(err, "graphviz: waiting for %s: %s", dot, strerror(errno));
        }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        unlink(tmp);
        return md_errorf(err, "graphviz: %s %s failed on %s (exit status %d)", dot, tfmt, src,
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    if (rename(tmp, out) != 0) {
        unlink(tmp);
        return md_errorf(err, "graphviz: renaming the output to %s: %s", out, strerror(errno));
    }
    return 0;
}

int md_circuit_render(const char *dot_path, const char *svg_path, const char *png_path,
                      md_error *err) {
    const char *dot = getenv("GRAPHVIZ_DOT");
    if (!dot || !*dot) dot = "/usr/bin/dot";
    if (svg_path && run_dot(dot, "svg", dot_path, svg_path, err)) return -1;
    if (png_path && run_dot(dot, "png", dot_path, png_path, err)) return -1;
    return 0;
}
