# Fixture: an experiment whose last output is not $(RESULTS_DIR)/NAME/manifest.json, one seed.
EXPERIMENTS += exp-other
RESULT_exp-other = $(RESULTS_DIR)/other/out.json
.PHONY: exp-other
exp-other: $(RESULTS_DIR)/other/out.json
$(RESULTS_DIR)/other/out.json: configs/fake.cfg $(CLI) $(MODEL_FILE)
	$(TIMED) exp-other $(CLI) other-exp --model $(MODEL) --out $(RESULTS_DIR)/other
