# Containers (issues 4 and 12): Dockerfiles, compose.yaml, Envoy. `make test`
# builds and runs both images and the compose stack on a real Docker engine
# (Debian's docker.io, started here when none answers). Where no image registry
# answers, as on the project's test machines, the base images are stand-ins
# built from Debian's packages (scripts/containers/standins/). Envoy stays
# statically checked: no Envoy binary can be had here. The scripts that set up
# the engine and build images live in scripts/containers/; tests/repo/containers
# and `make images` both use them.
CONTAINERS_CACHE ?= .cache/containers
CONTAINER_DOCKERFILES := Dockerfile frontend/Dockerfile
CONTAINER_SCRIPTS_DIR := scripts/containers
STANDIN_DOCKERFILES := $(wildcard $(CONTAINER_SCRIPTS_DIR)/standins/*/Dockerfile)
CONTAINER_SCRIPTS := scripts/image-tag.sh $(wildcard $(CONTAINER_SCRIPTS_DIR)/*.sh) \
	$(CONTAINER_SCRIPTS_DIR)/standins/build.sh $(wildcard $(CONTAINER_SCRIPTS_DIR)/standins/*/*.sh) \
	$(CONTAINER_SCRIPTS_DIR)/standins/debian/policy-rc.d
IMAGE_ENV ?= local

SETUP += containers-tools containers-engine containers-standins
# tests/repo/containers/test_frontend_nginx.py runs nginx outside Docker: fast.
FAST_SETUP += containers-tools
HELP_Containers += images image-tag lint-containers
HELP_Setup += containers-engine containers-standins containers-tools
LINT_TARGETS += lint-containers

.PHONY: containers-tools containers-engine containers-standins lint-containers images image-tag

containers-tools: $(CONTAINERS_CACHE)/nginx/usr/sbin/nginx ## fetch nginx for tests/repo/containers (Debian .deb, unpacked, nothing started)

# apt-get download + dpkg-deb -x: the binary without the package's service
# scripts, so nothing is started or left running on this machine.
$(CONTAINERS_CACHE)/nginx/usr/sbin/nginx:
	rm -rf $(CONTAINERS_CACHE)/debs && mkdir -p $(CONTAINERS_CACHE)/debs
	cd $(CONTAINERS_CACHE)/debs && { apt-get download nginx nginx-common 2>/dev/null \
		|| { apt-get update -qq && apt-get download nginx nginx-common; }; }
	for deb in $(CONTAINERS_CACHE)/debs/*.deb; do dpkg-deb -x "$$deb" $(CONTAINERS_CACHE)/nginx; done
	$@ -v

containers-engine: ## a Docker engine that answers: Debian's docker.io, Compose and debootstrap installed when missing, dockerd started when not running
	$(CONTAINER_SCRIPTS_DIR)/engine-up.sh

containers-standins: containers-engine ## the base images the Dockerfiles and compose.yaml name: pulled, or else stand-ins built from Debian's packages
	$(CONTAINER_SCRIPTS_DIR)/standins/build.sh

lint-containers: ## hadolint the Dockerfiles (stand-ins too), shellcheck the container scripts
	$(VENV)/bin/hadolint $(CONTAINER_DOCKERFILES) $(STANDIN_DOCKERFILES)
	$(VENV)/bin/shellcheck $(CONTAINER_SCRIPTS)

image-tag: ## print the image tag for IMAGE_ENV (default local): <env>-<git short sha>
	@scripts/image-tag.sh $(IMAGE_ENV)

images: ## build the app and frontend images tagged <IMAGE_ENV>-<sha> (needs a Docker engine)
	tag=$$(scripts/image-tag.sh $(IMAGE_ENV)) && docker=$$($(CONTAINER_SCRIPTS_DIR)/docker-client.sh) && \
	DOCKER_BUILDKIT=1 "$$docker" build -t countq:$$tag . && \
	DOCKER_BUILDKIT=1 "$$docker" build -f frontend/Dockerfile -t countq-frontend:$$tag .
