# Fixture: an experiment with two seeds and a verify rerun (tests/fake_pipeline).
EXPERIMENTS += exp-fake
SEEDS_exp-fake := 1 2
VERIFY += verify-fake
.PHONY: exp-fake verify-fake
ifneq ($(SEEDS),)
exp-fake: $(foreach s,$(SEEDS),$(RESULTS_DIR)/fake/seed$(s)/manifest.json)
else
exp-fake: $(RESULTS_DIR)/fake/manifest.json
endif
$(RESULTS_DIR)/fake/manifest.json: configs/fake.cfg $(CLI) $(MODEL_FILE) $(DATA_DIR)/manifest.json
	$(TIMED) exp-fake $(CLI) fake-exp --config configs/fake.cfg --model $(MODEL) --out $(RESULTS_DIR)/fake
$(RESULTS_DIR)/fake/seed%/manifest.json: configs/fake.cfg $(CLI) $(MODEL_FILE) $(DATA_DIR)/manifest.json
	$(TIMED) exp-fake $(CLI) fake-exp --config configs/fake.cfg --seed $* --model $(MODEL) --out $(RESULTS_DIR)/fake/seed$*
verify-fake: $(CLI) | $(RESULTS_DIR)/fake/manifest.json
	rm -rf $(VERIFY_DIR)/fake
	$(CLI) fake-exp --config configs/fake.cfg --model $(MODEL) --out $(VERIFY_DIR)/fake
	$(VERIFY_ARRAYS) $(RESULTS_DIR)/fake $(VERIFY_DIR)/fake
