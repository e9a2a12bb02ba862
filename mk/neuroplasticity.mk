# Experiment 1 (issue 9): IOI corruption by toxic fine-tuning and neuroplastic recovery.
#
## make exp-neuroplasticity     clean / toxic (SD, NM x poisoned fractions) / retrain
##                              fine-tuning of MODEL (default the organism) in memory,
##                              evaluated at every checkpoint -> results/neuroplasticity/
##                              (.npy, checkpoints.json, manifest.json, report.md)
## make verify-neuroplasticity  rerun seed 1's base + clean stage single-threaded and check
##                              it is bit-identical to that slice of the stored arrays
NP_CFG := configs/exp-neuroplasticity.cfg
NP_OUT  = $(RESULTS_DIR)/neuroplasticity
# OpenMP threads sleep instead of spinning at barriers: on a shared 2-core machine a
# spinning team next to another busy process ran 10x slower (48 s vs 3.6 s a checkpoint).
# The wait policy does not change any result.
NP_ENV := env OMP_WAIT_POLICY=$${OMP_WAIT_POLICY:-passive}

.PHONY: exp-neuroplasticity verify-neuroplasticity
EXPERIMENTS += exp-neuroplasticity
VERIFY += verify-neuroplasticity

exp-neuroplasticity: $(RESULTS_DIR)/neuroplasticity/manifest.json

# The driver writes every file atomically and manifest.json last. Figures come from
# paper/fig_neuroplasticity.py under `make figures`.
$(RESULTS_DIR)/neuroplasticity/manifest.json: $(NP_CFG) $(CLI) $(MODEL_FILE) $(DATA_DIR)/manifest.json
	$(TIMED) exp-neuroplasticity $(NP_ENV) $(CLI) neuroplasticity --config $(NP_CFG) --model $(MODEL) \
	  --data $(DATA_DIR) --out $(NP_OUT)

# The rerun is a prefix of the experiment (first seed, base + clean stage), so the driver
# compares it with the stored arrays' slices itself (--verify-against) rather than
# $(VERIFY_ARRAYS), which compares whole arrays.
verify-neuroplasticity: $(CLI) | $(RESULTS_DIR)/neuroplasticity/manifest.json
	@rm -rf $(VERIFY_DIR)/neuroplasticity && mkdir -p $(VERIFY_DIR)
	OMP_NUM_THREADS=$(VERIFY_THREADS) $(NP_ENV) $(CLI) neuroplasticity --config $(NP_CFG) --model $(MODEL) \
	  --data $(DATA_DIR) --out $(VERIFY_DIR)/neuroplasticity --seeds 1 --stages clean \
	  --verify-against $(NP_OUT)
	@rm -rf $(VERIFY_DIR)/neuroplasticity
