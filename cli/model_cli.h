// Shared by the model commands (info, logits, generate, cache): loading a model folder
// with optional weight processing, and reading the input tokens from --tokens or --text.
#ifndef MD_CLI_MODEL_CLI_H
#define MD_CLI_MODEL_CLI_H

#include "model/model.h"
#include "model/tokenizer.h"
#include "tensor/error.h"

// Loads DIR; process is a comma-separated weight-processing list (NULL or "" for none).
int md_cli_load_model(const char *dir, const char *process, md_model *m, md_error *err);

// Exactly one of tokens ("1,2,3") and text (encoded with DIR's tokenizer) must be given.
// Every id must be < vocab. The ids are malloc'd into *ids (free()).
int md_cli_read_tokens(const char *dir, const char *tokens, const char *text, int vocab,
                       int32_t **ids, int *n, md_error *err);

#endif
