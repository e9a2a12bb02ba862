// Loading byte-level BPE tokenizers: GPT-2's vocab.json + merges.txt, and Hugging
// Face's tokenizer.json (GPT-2, GPT-NeoX / Pythia). Every error names the file and what
// was wrong with it.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/bpe_internal.h"
#include "model/tokenizer.h"
#include "tensor/fileio.h"
#include "tensor/json.h"

// Decodes a vocabulary key. A byte-level key (every character in GPT-2's alphabet) gives
// the bytes it stands for; any other key (an added token written as plain text) stands
// for its own UTF-8 bytes. out needs room for n bytes.
static size_t key_to_bytes(const char *key, size_t n, uint8_t *out, bool *bytelevel) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int len;
        uint32_t cp = md_bpe_utf8_decode((const uint8_t *)key + i, n - i, &len);
        int b = cp == MD_BPE_INVALID ? -1 : md_bpe_char_to_byte(cp);
        if (b < 0) {
            memcpy(out, key, n);
            *bytelevel = false;
            return n;
        }
        out[k++] = (uint8_t)b;
        i += (size_t)len;
    }
    *bytelevel = true;
    return k;
}

// A short printable excerpt of a token for messages (control bytes as \xNN, long
// tokens cut with "...").
static const char *shown(const char *s, size_t n, char *buf, size_t cap) {
    size_t k = 0, i = 0;
    for (; i < n && k + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != 0x7f) buf[k++] = (char)c;
        else k += (size_t)snprintf(buf + k, cap - k, "\\x%02x", c);
    }
    if (i < n) memcpy(buf + k, "...", 3), k += 3;
    buf[k] = 0;
    return buf;
}

// Fills the vocabulary from a JSON object {"token": id} (vocab.json or model.vocab).
// names receives key -> id for resolving merges.
static int load_vocab(md_tokenizer *t, const md_json *vocab, const char *file, const char *field,
                      md_bpe_strmap *names, md_error *err) {
    if (!vocab || vocab->type != MD_JSON_OBJECT)
        return md_errorf(err, "%s: %s: expected an object {\"token\": id}, got %s", file, field,
                         vocab ? md_json_type_name(vocab->type) : "nothing");
    if (vocab->count == 0) return md_errorf(err, "%s: %s: the vocabulary is empty", file, field);
    size_t maxlen = 0;
    for (size_t i = 0; i < vocab->count; i++)
        if (vocab->key_lens[i] > maxlen) maxlen = vocab->key_lens[i];
    uint8_t *buf = malloc(maxlen + 1);
    if (!buf) return md_errorf(err, "%s: out of memory", file);
    char show[64];
    for (size_t i = 0; i < vocab->count; i++) {
        const md_json *v = &vocab->items[i];
        const char *key = vocab->keys[i];
        size_t klen = vocab->key_lens[i];
        if (v->type != MD_JSON_NUMBER || !v->is_integer || v->integer < 0 ||
            v->integer >= INT32_MAX / 2) {
            free(buf);
            return md_errorf(err, "%s: %s: token '%s': expected a non-negative integer id, got %s",
                             file, field, shown(key, klen, show, sizeof show),
                             v->type == MD_JSON_NUMBER ? "a number out of range"
                                                       : md_json_type_name(v->type));
        }
        if (klen == 0) {
            free(buf);
            return md_errorf(err, "%s: %s: empty token string (id %lld)", file, field,
                             (long long)v->integer);
        }
        bool bl;
        size_t n = key_to_bytes(key, klen, buf, &bl);
        int32_t id = (int32_t)v->integer;
        if (id < t->n_ids && t->tok_len[id] >= 0) {
            free(buf);
            size_t ol;
            const char *other = md_tokenizer_token(t, id, &ol);
            char show2[64];
            return md_errorf(err, "%s: %s: duplicate id %d: tokens '%s' and '%s'", file, field,
                             id, shown(other, ol, show2, sizeof show2),
                             shown(key, klen, show, sizeof show));
        }
        if (md_bpe_set_token(t, id, buf, n, bl, err)) {
            free(buf);
            return -1;
        }
        if (md_bpe_strmap_put(names, key, klen, id, NULL) < 0) {
            free(buf);
            return md_errorf(err, "%s: out of memory", file);
        }
    }
    free(buf);
    return 0;
}

// One merge given as its two token strings; `where` says where for errors. cat has
// room for alen + blen bytes.
static int add_merge_strings(md_tokenizer *t, const md_bpe_strmap *names, const char *a,
                             size_t alen, const char *b, size_t blen, const char *file,
                             const char *where, char *cat, md_error *err) {
    int32_t ia = md_bpe_strmap_get(names, a, alen), ib = md_bpe_strmap_get(names, b, blen);
    memcpy(cat, a, alen);
    memcpy(cat + alen, b, blen);
    int32_t r = ia < 0 || ib < 0 ? -1 : md_bpe_strmap_get(names, cat, alen + blen);
    if (r < 0) {
        char s1[64], s2[64], s3[140];
        shown(a, alen, s1, sizeof s1);
        shown(b, blen, s2, sizeof s2);
        if (ia < 0 || ib < 0)
            return md_errorf(err, "%s: %s: merge '%s %s' uses token '%s', which is not in the "
                                  "vocabulary",
                             file, where, s1, s2, ia < 0 ? s1 : s2);
        return md_errorf(err, "%s: %s: merge '%s %s' makes '%s', which is not in the vocabulary",
                         file, where, s1, s2, shown(cat, alen + blen, s3, sizeof s3));
    }
    return md_bpe_add_merge(t, ia, ib, r, err);
}

static int add_special(md_tokenizer *t, const char *content, int32_t id, md_error *err) {
    md_bpe_added a = {(char *)content, strlen(content), id, true, false, false, false, false};
    return md_bpe_add_added(t, &a, err);
}

// After loading: index the byte tokens, and check there is one for every byte.
static int finish(md_tokenizer *t, const char *file, md_error *err) {
    md_bpe_index_bytes(t);
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] < 0)
            return md_errorf(err, "%s: the vocabulary has no token for byte 0x%02x (a byte-level "
                                  "BPE needs all 256 byte tokens)",
                             file, b);
    return 0;
}

// ---------------------------------------------------------------- vocab.json + merges.txt
static int parse_merges_txt(md_tokenizer *t, const md_bpe_strmap *names, const char *path,
                            md_error *err) {
    char *data;
    size_t len;
    if (md_read_file(path, 0, &data, &len, err)) return -1;
    char *cat = malloc(len + 1);
    if (!cat) {
        free(data);
        return md_errorf(err, "%s: out of memory", path);
    }
    int rc = 0;
    size_t line = 0;
    for (size_t p = 0; p < len && rc == 0;) {
        size_t e = p;
        while (e < len && data[e] != '\n') e++;
        size_t next = e + 1;
        line++;
        if (e > p && data[e - 1] == '\r') e--;
        if (e == p || (line == 1 && e - p >= 8 && memcmp(data + p, "#version", 8) == 0)) {
            p = next;
            continue;
        }
        const char *sp = memchr(data + p, ' ', e - p);
        char where[32];
        snprintf(where, sizeof where, "line %zu", line);
        if (!sp || sp == data + p || sp + 1 == data + e || memchr(sp + 1, ' ', (size_t)(data + e - sp - 1))) {
            char show[64];
            rc = md_errorf(err, "%s: %s: expected two tokens separated by one space, got '%s'",
                           path, where, shown(data + p, e - p, show, sizeof show));
            break;
        }
        rc = add_merge_strings(t, names, data + p, (size_t)(sp - (data + p)), sp + 1,
                               (size_t)(data + e - sp - 1), path, where, cat, err);
        p = next;
    }
    free(cat);
    free(data);
    return rc;
}

md_tokenizer *md_tokenizer_load_gpt2(const char *vocab_json, const char *merges_txt,
                                     md_error *err) {
    md_tokenizer *t = md_bpe_new(vocab_json, err);
    if (!t) return NULL;
    md_bpe_strmap names = {0};
    md_json *vocab = md_json_parse_file(vocab_json, err);
    if (!vocab || load_vocab(t, vocab, vocab_json, "top level", &names, err) ||
        parse_merges_txt(t, &names, merges_txt, err) || finish(t, vocab_json, err))
        goto fail;
    int32_t eot = md_tokenizer_eot(t);
    if (eot >= 0 && add_special(t, "<|endoftext|>", eot, err)) goto fail;
    md_json_free(vocab);
    md_bpe_strmap_free(&names);
    return t;
fail:
    md_json_free(vocab);
    md_bpe_strmap_free(&names);
    md_tokenizer_free(t);
    return NULL;
}

// ---------------------------------------------------------------- tokenizer.json
static bool is_null_or_empty_string(const md_json *j) {
    return !j || j->type == MD_JSON_NULL || (j->type == MD_JSON_STRING && j->len == 0);
}

static int opt_bool(const md_json *obj, const char *key, bool dflt, bool *out, const char *file,
                    const char *where, md_error *err) {
    const md_json *j = md_json_get(obj, key);
    if (!j || j->type == MD_JSON_NULL) {
        *out = dflt;
        return 0;
    }
    if (j->type != MD_JSON_BOOL)
        return md_errorf(err, "%s: %s.%s: expected true or false, got %s", file, where, key,
                         md_json_type_name(j->type));
    *out = j->boolean;
    return 0;
}

static int check_type(const md_json *obj, const char *expected, const char *file,
                      const char *where, md_error *err) {
    const md_json *ty = md_json_get(obj, "type");
    if (!ty || ty->type != MD_JSON_STRING)
        return md_errorf(err, "%s: %s.type: expected a string", file, where);
    if (strcmp(ty->str, expected) != 0)
        return md_errorf(err, "%s: %s.type is '%s': only '%s' is supported", file, where, ty->str,
                         expected);
    return 0;
}

static int read_model(md_tokenizer *t, const md_json *model, const char *file,
                      md_bpe_strmap *names, md_error *err) {
    if (!model || model->type != MD_JSON_OBJECT)
        return md_errorf(err, "%s: model: expected an object", file);
    const md_json *ty = md_json_get(model, "type");
    if (ty && check_type(model, "BPE", file, "model", err)) return -1;
    const md_json *dropout = md_json_get(model, "dropout");
    if (dropout && dropout->type != MD_JSON_NULL &&
        !(dropout->type == MD_JSON_NUMBER && dropout->number == 0.0))
        return md_errorf(err, "%s: model.dropout: expected null (BPE dropout makes encoding "
                              "random; it is not supported)",
                         file);
    if (!is_null_or_empty_string(md_json_get(model, "continuing_subword_prefix")))
        return md_errorf(err, "%s: model.continuing_subword_prefix: expected null (not supported)",
                         file);
    if (!is_null_or_empty_string(md_json_get(model, "end_of_word_suffix")))
        return md_errorf(err, "%s: model.end_of_word_suffix: expected null (not supported)", file);
    bool byte_fallback;
    if (opt_bool(model, "byte_fallback", false, &byte_fallback, file, "model", err) ||
        opt_bool(model, "ignore_merges", false, &t->ignore_merges, file, "model", err))
        return -1;
    if (byte_fallback)
        return md_errorf(err, "%s: model.byte_fallback: expected false (not supported)", file);
    if (load_vocab(t, md_json_get(model, "vocab"), file, "model.vocab", names, err)) return -1;

    const md_json *merges = md_json_get(model, "merges");
    if (!merges || merges->type != MD_JSON_ARRAY)
        return md_errorf(err, "%s: model.merges: expected an array, got %s", file,
                         merges ? md_json_type_name(merges->type) : "nothing");
    size_t maxlen = 0;
    for (size_t i = 0; i < merges->count; i++) {
        const md_json *m = &merges->items[i];
        size_t l = m->type == MD_JSON_STRING ? m->len
                   : m->type == MD_JSON_ARRAY && m->count == 2 &&
                           m->items[0].type == MD_JSON_STRING && m->items[1].type == MD_JSON_STRING
                       ? m->items[0].len + m->items[1].len
                       : 0;
        if (l > maxlen) maxlen = l;
    }
    char *cat = malloc(maxlen + 1);
    if (!cat) return md_errorf(err, "%s: out of memory", file);
    int rc = 0;
    for (size_t i = 0; i < merges->count && rc == 0; i++) {
        const md_json *m = &merges->items[i];
        char where[48];
        snprintf(where, sizeof where, "model.merges[%zu]", i);
        if (m->type == MD_JSON_STRING) {
            const char *sp = memchr(m->str, ' ', m->len);
            if (!sp || sp == m->str || sp + 1 == m->str + m->len ||
                memchr(sp + 1, ' ', (size_t)(m->str + m->len - sp - 1))) {
                rc = md_errorf(err, "%s: %s: expected \"a b\" (two tokens, one space)", file, where);
                break;
            }
            rc = add_merge_strings(t, names, m->str, (size_t)(sp - m->str), sp + 1,
                                   (size_t)(m->str + m->len - sp - 1), file, where, cat, err);
        } else if (m->type == MD_JSON_ARRAY && m->count == 2 &&
                   m->items[0].type == MD_JSON_STRING && m->items[1].type == MD_JSON_STRING) {
            rc = add_merge_strings(t, names, m->items[0].str, m->items[0].len, m->items[1].str,
                                   m->items[1].len, file, where, cat, err);
        } else {
            rc = md_errorf(err, "%s: %s: expected \"a b\" or [\"a\", \"b\"], got %s", file, where,
                           md_json_type_name(m->type));
        }
    }
    free(cat);
    return rc;
}

static int read_added(md_tokenizer *t, const md_json *added, const char *file, md_error *err) {
    if (!added || added->type == MD_JSON_NULL) return 0;
    if (added->type != MD_JSON_ARRAY)
        return md_errorf(err, "%s: added_tokens: expected an array", file);
    for (size_t i = 0; i < added->count; i++) {
        const md_json *a = &added->items[i];
        char where[48];
        snprintf(where, sizeof where, "added_tokens[%zu]", i);
        if (a->type != MD_JSON_OBJECT) return md_errorf(err, "%s: %s: expected an object", file, where);
        int64_t id;
        const char *content;
        char src[600];
        snprintf(src, sizeof src, "%s: %s", file, where);
        if (md_json_get_int(a, "id", src, &id, err) || md_json_get_string(a, "content", src, &content, err))
            return -1;
        if (id < 0 || id >= INT32_MAX / 2)
            return md_errorf(err, "%s: id: %lld out of range", src, (long long)id);
        const md_json *cj = md_json_get(a, "content");
        md_bpe_added d = {(char *)content, cj->len, (int32_t)id, false, true, false, false, false};
        if (opt_bool(a, "special", false, &d.special, file, where, err) ||
            opt_bool(a, "normalized", !d.special, &d.normalized, file, where, err) ||
            opt_bool(a, "lstrip", false, &d.lstrip, file, where, err) ||
            opt_bool(a, "rstrip", false, &d.rstrip, file, where, err) ||
            opt_bool(a, "single_word", false, &d.single_word, file, where, err))
            return -1;
        // The token's id must stand for its content: the same as model.vocab has, if any.
        size_t ol;
        const char *other = md_tokenizer_token(t, d.id, &ol);
        if (other && (ol != d.len || memcmp(other, d.content, ol) != 0)) {
            char s1[64], s2[64];
            return md_errorf(err, "%s: id %lld is '%s' in model.vocab but this added token's "
                                  "content is '%s'",
                             src, (long long)id, shown(other, ol, s1, sizeof s1),
                             shown(d.content, d.len, s2, sizeof s2));
        }
        if (md_bpe_set_token(t, d.id, d.content, d.len, false, err)) return -1;
        if (md_bpe_add_added(t, &d, err)) return -1;
    }
    return 0;
}

static int read_pipeline(md_tokenizer *t, const md_json *root, const char *file, md_error *err) {
    const md_json *norm = md_json_get(root, "normalizer");
    if (norm && norm->type != MD_JSON_NULL) {
        if (norm->type != MD_JSON_OBJECT) return md_errorf(err, "%s: normalizer: expected an object or null", file);
        const md_json *ty = md_json_get(norm, "type");
        const md_json *seq = md_json_get(norm, "normalizers");
        if (ty && ty->type == MD_JSON_STRING && strcmp(ty->str, "Sequence") == 0 && seq &&
            seq->type == MD_JSON_ARRAY && seq->count <= 1) {
            if (seq->count == 1) norm = &seq->items[0];
            else norm = NULL;
        }
        if (norm && check_type(norm, "NFC", file, "normalizer", err)) return -1;
        t->nfc = norm != NULL;
    }
    const md_json *pre = md_json_get(root, "pre_tokenizer");
    if (!pre || pre->type != MD_JSON_OBJECT)
        return md_errorf(err, "%s: pre_tokenizer: expected an object of type ByteLevel", file);
    const md_json *ty = md_json_get(pre, "type");
    const md_json *seq = md_json_get(pre, "pretokenizers");
    if (ty && ty->type == MD_JSON_STRING && strcmp(ty->str, "Sequence") == 0 && seq &&
        seq->type == MD_JSON_ARRAY && seq->count == 1)
        pre = &seq->items[0];
    if (check_type(pre, "ByteLevel", file, "pre_tokenizer", err) ||
        opt_bool(pre, "add_prefix_space", false, &t->add_prefix_space, file, "pre_tokenizer", err) ||
        opt_bool(pre, "use_regex", true, &t->use_regex, file, "pre_tokenizer", err))
        return -1;
    return 0;
}

md_tokenizer *md_tokenizer_load_hf(const char *tokenizer_json, md_error *err) {
    md_tokenizer *t = md_bpe_new(tokenizer_json, err);
    if (!t) return NULL;
    md_bpe_strmap names = {0};
    md_json *root = md_json_parse_file(tokenizer_json, err);
    if (!root) goto fail;
    if (root->type != MD_JSON_OBJECT) {
        md_errorf(err, "%s: expected a JSON object at the top level", tokenizer_json);
        goto fail;
    }
    if (read_model(t, md_json_get(root, "model"), tokenizer_json, &names, err) ||
        read_added(t, md_json_get(root, "added_tokens"), tokenizer_json, err) ||
        read_pipeline(t, root, tokenizer_json, err) || finish(t, tokenizer_json, err))
        goto fail;
    md_json_free(root);
    md_bpe_strmap_free(&names);
    return t;
fail:
    md_json_free(root);
    md_bpe_strmap_free(&names);
    md_tokenizer_free(t);
    return NULL;
}

md_tokenizer *md_tokenizer_load_dir(const char *dir, md_error *err) {
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/tokenizer.json", dir);
    if (access(a, F_OK) == 0) return md_tokenizer_load_hf(a, err);
    snprintf(a, sizeof a, "%s/vocab.json", dir);
    snprintf(b, sizeof b, "%s/merges.txt", dir);
    if (access(a, F_OK) != 0 || access(b, F_OK) != 0) {
        md_errorf(err, "%s: no tokenizer: expected tokenizer.json, or vocab.json and merges.txt",
                  dir);
        return NULL;
    }
    return md_tokenizer_load_gpt2(a, b, err);
}
