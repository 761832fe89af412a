#!/bin/sh
set -e
# The official Node image's entrypoint, so the local stand-in behaves the same:
# run the command with node if the first argument contains a "-" or is not a
# system command. The last part inside the "{}" is a workaround for
# https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=874264 in ash/dash.
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
