# The synthetic world's data and the model organism every experiment runs on by default.
# Each output is rebuilt only when its inputs change (config, binary, upstream data).
# Training writes OUT.tmp/ and renames it into place when it finishes, so an interrupted
# run never leaves a model folder that looks complete.

## make data            the world's corpus, tokenizer and every task set -> results/data/
## make organism        pretrain the GPT-2 organism -> results/models/organism/
## make organism-neox   the same recipe on the Pythia (GPT-NeoX) architecture
## make organism-eval   behaviour + head table -> results/organism/eval.json and .npy
## make organism-neox-eval  the same for organism-neox -> results/organism-neox/
## make organism-seeds  the recipe at pretraining seeds 2 and 3, evaluated (flip-rate
##                      stability; not part of reproduce-all: 2 more trainings)
DATA_DIR      := results/data
ORGANISM      := results/models/organism
ORGANISM_NEOX := results/models/organism-neox
ORGANISM_CFG  := configs/train-organism.cfg
# Phase 2 (the late corpus) starts from phase 1's folder; `make organism` runs both.
ORGANISM_LATE_CFG := configs/train-organism-late.cfg
# Experiments run on MODEL: the organism by default, any Hugging Face folder otherwise.
MODEL ?= $(ORGANISM)
# OpenMP threads sleep at barriers instead of spinning: next to another busy process
# (make -j2, a shared machine) a spinning team runs several times slower. Results are the
# same either way.
ORGANISM_ENV := env OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive}

.PHONY: data organism organism-neox organism-eval organism-neox-eval organism-seeds

data: $(DATA_DIR)/manifest.json
$(DATA_DIR)/manifest.json: configs/world.cfg $(CLI)
	$(TIMED) data $(CLI) data --config configs/world.cfg --out $(DATA_DIR)

# train_organism OUT, stage name, config, extra --set overrides
define train_organism
	rm -rf $(1).tmp
	$(TIMED) $(2) $(ORGANISM_ENV) $(CLI) train --config $(3) --out $(1).tmp --set 'save_every=0;progress=0$(4)'
	rm -rf $(1) && mv $(1).tmp $(1)
endef

# organism_phases OUT, stage name, extra --set overrides for phase 1, for phase 2
define organism_phases
$(1)-phase1/model.safetensors: $(ORGANISM_CFG) $(DATA_DIR)/manifest.json $(CLI)
	$$(call train_organism,$(1)-phase1,$(2)-phase1,$(ORGANISM_CFG),$(3))
$(1)/model.safetensors: $(ORGANISM_LATE_CFG) $(1)-phase1/model.safetensors $(DATA_DIR)/manifest.json
	$$(call train_organism,$(1),$(2)-phase2,$(ORGANISM_LATE_CFG),;model.from=$(1)-phase1$(4))
endef

organism: $(ORGANISM)/model.safetensors
$(eval $(call organism_phases,$(ORGANISM),organism,,))

# Pythia blocks (rotary on a quarter of each head, parallel attention and MLP, exact GELU)
# with two changes, each measured (README, "The model organism"): the unembedding is tied
# to the embedding as in GPT-2 (untied, held-out copying stayed at 0.67-0.89 whatever the
# late phase did: "horse ->" gave " rabbit"; tied, 1.00), and the late phase is twice as
# long (multiple choice 0.62 after 800 steps, 0.78 after 1600) with phase 1 shortened to
# keep the 20 minutes.
ORGANISM_NEOX_PHASE1 := ;model.arch=gpt_neox;model.tie_embeddings=true;steps=4400
ORGANISM_NEOX_PHASE2 := ;steps=1600
organism-neox: $(ORGANISM_NEOX)/model.safetensors
$(eval $(call organism_phases,$(ORGANISM_NEOX),organism-neox,$(ORGANISM_NEOX_PHASE1),$(ORGANISM_NEOX_PHASE2)))

organism-eval: results/organism/eval.json
results/organism/eval.json: $(ORGANISM)/model.safetensors $(DATA_DIR)/manifest.json $(CLI)
	$(TIMED) organism-eval $(ORGANISM_ENV) $(CLI) organism-eval --model $(ORGANISM) --data $(DATA_DIR) --out results/organism

organism-neox-eval: results/organism-neox/eval.json
results/organism-neox/eval.json: $(ORGANISM_NEOX)/model.safetensors $(DATA_DIR)/manifest.json $(CLI)
	$(TIMED) organism-neox-eval $(ORGANISM_ENV) $(CLI) organism-eval --model $(ORGANISM_NEOX) --data $(DATA_DIR) --out results/organism-neox

ORGANISM_SEEDS := 2 3
organism-seeds: $(foreach s,$(ORGANISM_SEEDS),results/organism-seed$(s)/eval.json)
$(foreach s,$(ORGANISM_SEEDS),$(eval $(call organism_phases,results/models/organism-seed$(s),organism-seed$(s),;model.init_seed=$(s);seed=$(s),;seed=$(s))))
results/organism-seed%/eval.json: results/models/organism-seed%/model.safetensors $(DATA_DIR)/manifest.json $(CLI)
	$(TIMED) organism-eval-seed$* $(ORGANISM_ENV) $(CLI) organism-eval --model results/models/organism-seed$* --data $(DATA_DIR) \
	  --out results/organism-seed$*
