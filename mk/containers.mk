# Containers (issue 4): Dockerfiles, compose.yaml, Envoy. No Docker engine runs
# in CI, so these are checked statically (tests/repo/containers) and by running the
# frontend's nginx.conf in a real nginx taken from Debian's package.
CONTAINERS_CACHE ?= .cache/containers
CONTAINER_DOCKERFILES := Dockerfile frontend/Dockerfile
IMAGE_ENV ?= local

TEST_SETUP += containers-tools
LINT_TARGETS += lint-containers

.PHONY: containers-tools lint-containers images image-tag

containers-tools: $(CONTAINERS_CACHE)/nginx/usr/sbin/nginx ## fetch nginx for tests/repo/containers (Debian .deb, unpacked, nothing started)

# apt-get download + dpkg-deb -x: the binary without the package's service
# scripts, so nothing is started or left running on this machine.
$(CONTAINERS_CACHE)/nginx/usr/sbin/nginx:
	rm -rf $(CONTAINERS_CACHE)/debs && mkdir -p $(CONTAINERS_CACHE)/debs
	cd $(CONTAINERS_CACHE)/debs && { apt-get download nginx nginx-common 2>/dev/null \
		|| { apt-get update -qq && apt-get download nginx nginx-common; }; }
	for deb in $(CONTAINERS_CACHE)/debs/*.deb; do dpkg-deb -x "$$deb" $(CONTAINERS_CACHE)/nginx; done
	$@ -v

lint-containers: ## hadolint the Dockerfiles, shellcheck scripts/image-tag.sh
	.venv/bin/hadolint $(CONTAINER_DOCKERFILES)
	.venv/bin/shellcheck scripts/image-tag.sh

image-tag: ## print the image tag for IMAGE_ENV (default local): <env>-<git short sha>
	@scripts/image-tag.sh $(IMAGE_ENV)

images: ## build the app and frontend images tagged <IMAGE_ENV>-<sha> (needs a Docker engine)
	tag=$$(scripts/image-tag.sh $(IMAGE_ENV)) && \
	docker build -t countq:$$tag . && \
	docker build -f frontend/Dockerfile -t countq-frontend:$$tag .
