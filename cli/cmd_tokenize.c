// `mechdrift tokenize`: text -> token ids (.npy int32), ids -> text (--decode), and
// training a byte-level BPE on a text file (--train VOCAB_SIZE).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "model/tokenizer.h"
#include "tensor/fileio.h"
#include "tensor/npy.h"
#include "tensor/threads.h"

static const char *usage =
    "usage: mechdrift tokenize --model DIR --text-file FILE --out IDS.npy [--special]\n"
    "       mechdrift tokenize --model DIR --decode --ids IDS.npy --out FILE\n"
    "       mechdrift tokenize --train VOCAB_SIZE --text-file FILE --model OUT_DIR\n\n"
    "Encodes a UTF-8 text file with the model's byte-level BPE (DIR/tokenizer.json, or\n"
    "DIR/vocab.json + DIR/merges.txt) into a 1-D int32 .npy array; or decodes such an array\n"
    "back to bytes; or trains a tokenizer on the text (256 byte tokens, merges, and\n"
    "<|endoftext|> as the last id) and writes OUT_DIR/vocab.json + OUT_DIR/merges.txt.\n"
    "\"<|endoftext|>\" in the text is plain text unless --special is given.";

static int encode_file(const char *model, const char *text_file, const char *out, bool special,
                       md_error *err) {
    md_tokenizer *t = md_tokenizer_load_dir(model, err);
    if (!t) return -1;
    char *text = NULL;
    size_t len = 0;
    md_token_ids ids = {0};
    int rc = -1;
    if (md_read_file(text_file, 0, &text, &len, err)) goto done;
    double t0 = md_now();
    if (md_tokenizer_encode(t, text, len, special ? MD_TOK_SPECIAL : 0, &ids, err)) {
        md_error_prefix(err, "%s: ", text_file);
        goto done;
    }
    double dt = md_now() - t0;
    md_tensor v = md_tensor_1d(MD_I32, ids.ids, (int64_t)ids.n);
    int32_t empty = 0;
    if (ids.n == 0) v.data = &empty;  // a valid pointer for a zero-length array
    if (md_npy_save(out, &v, err)) goto done;
    fprintf(stderr, "tokenize: %zu bytes -> %zu tokens (%.2f bytes/token, %.1f MB/s) -> %s\n",
            len, ids.n, ids.n ? (double)len / (double)ids.n : 0.0,
            dt > 0 ? (double)len / dt / 1e6 : 0.0, out);
    rc = 0;
done:
    free(text);
    md_token_ids_free(&ids);
    md_tokenizer_free(t);
    return rc;
}

static int decode_file(const char *model, const char *ids_file, const char *out, md_error *err) {
    md_tokenizer *t = md_tokenizer_load_dir(model, err);
    if (!t) return -1;
    md_tensor v;
    void *owned = NULL;
    char *text = NULL;
    size_t len;
    int rc = -1;
    if (md_npy_load(ids_file, &v, &owned, err)) goto done;
    if (v.dtype != MD_I32 || v.ndim != 1) {
        md_errorf(err, "%s: expected a 1-D int32 array of token ids, got %s with %d dimensions",
                  ids_file, md_dtype_name(v.dtype), v.ndim);
        goto done;
    }
    if (md_tokenizer_decode(t, v.data, (size_t)v.shape[0], &text, &len, err)) {
        md_error_prefix(err, "%s: ", ids_file);
        goto done;
    }
    if (strcmp(out, "-") == 0) {
        rc = fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0
                 ? 0
                 : md_errorf(err, "stdout: write failed");
    } else {
        rc = md_write_file_atomic(out, text, len, err);
    }
done:
    free(text);
    free(owned);
    md_tokenizer_free(t);
    return rc;
}

static int train_file(int64_t vocab_size, const char *text_file, const char *out_dir,
                      md_error *err) {
    char *text = NULL;
    size_t len = 0;
    if (md_read_file(text_file, 0, &text, &len, err)) return -1;
    if (vocab_size < 257 || vocab_size > (1 << 24)) {
        free(text);
        return md_errorf(err, "--train: vocab size %lld: expected 257..%d", (long long)vocab_size,
                         1 << 24);
    }
    md_bpe_train_opts opts = {2, true};
    md_tokenizer *t = md_bpe_train(text, len, (int)vocab_size, &opts, err);
    free(text);
    if (!t) return -1;
    int rc = md_tokenizer_save_gpt2(t, out_dir, err);
    if (rc == 0)
        fprintf(stderr, "tokenize: wrote %s/vocab.json (%d ids) and %s/merges.txt (%d merges)\n",
                out_dir, md_tokenizer_vocab_size(t), out_dir, md_tokenizer_num_merges(t));
    md_tokenizer_free(t);
    return rc;
}

static int run(int argc, char **argv) {
    const char *model = NULL, *text_file = NULL, *out = NULL, *ids_file = NULL;
    bool special = false, decode = false;
    int64_t train = 0;
    md_opt opts[] = {
        {"model", MD_OPT_STRING, &model, "DIR: the model folder (with --train: where to write)", true, false},
        {"text-file", MD_OPT_STRING, &text_file, "FILE: UTF-8 text to encode (or to train on)", false, false},
        {"out", MD_OPT_STRING, &out, "FILE: the .npy of ids (with --decode: the text, - for stdout)", false, false},
        {"special", MD_OPT_FLAG, &special, "match special tokens such as <|endoftext|> in the text", false, false},
        {"decode", MD_OPT_FLAG, &decode, "decode --ids into text instead", false, false},
        {"ids", MD_OPT_STRING, &ids_file, "IDS.npy: int32 ids to decode (with --decode)", false, false},
        {"train", MD_OPT_INT, &train, "VOCAB_SIZE: train a tokenizer on --text-file into --model", false, false},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    md_error err = {{0}};
    int rc = md_parse_opts(argc, argv, opts, nopts, usage, &err);
    if (rc) return rc > 0 ? 0 : md_cli_fail("tokenize", &err, 2);
    if (opts[6].seen) {
        if (!text_file || decode || ids_file || out) {
            md_errorf(&err, "--train takes --text-file and --model only");
            return md_cli_fail("tokenize", &err, 2);
        }
        return train_file(train, text_file, model, &err) ? md_cli_fail("tokenize", &err, 1) : 0;
    }
    if (decode) {
        if (!ids_file || !out || text_file) {
            md_errorf(&err, "--decode takes --ids IDS.npy and --out FILE (not --text-file)");
            return md_cli_fail("tokenize", &err, 2);
        }
        return decode_file(model, ids_file, out, &err) ? md_cli_fail("tokenize", &err, 1) : 0;
    }
    if (!text_file || !out || ids_file) {
        md_errorf(&err, "encoding takes --text-file FILE and --out IDS.npy (see --help)");
        return md_cli_fail("tokenize", &err, 2);
    }
    return encode_file(model, text_file, out, special, &err) ? md_cli_fail("tokenize", &err, 1) : 0;
}

const md_command md_cmd_tokenize = {"tokenize", "text <-> token ids with a model's BPE; train a BPE",
                                    run};
