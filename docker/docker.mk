# docker/: prove the image's build steps without a Docker engine.
.PHONY: test-docker
test-docker: all
	@echo "== docker: the image's build stage, then a smoke test of the staged install"
	$(Q)rm -rf $(BUILD)/docker-stage
	$(Q)BUILD=$(BUILD) docker/build-stage.sh $(CURDIR)/$(BUILD)/docker-stage
	$(Q)docker/smoke-test $(CURDIR)/$(BUILD)/docker-stage
	$(Q)docker/fleet-smoke-test $(CURDIR)/$(BUILD)/docker-stage $(BUILD)
TEST_STEPS += test-docker
