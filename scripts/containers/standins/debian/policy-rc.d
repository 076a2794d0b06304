#!/bin/sh
# A package's maintainer scripts never start a service inside an image
# build, as in the official Debian images.
exit 101
