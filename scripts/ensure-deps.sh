#!/usr/bin/env bash
# Installs what `make run` and `make test` need when it is missing: Go on PATH
# (expected at /usr/local/go) and the Debian packages zookeeper, kcat and
# netcat-openbsd. Run as root on Debian; does nothing when all is present.
set -euo pipefail

if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		echo "note: go is not on PATH; using /usr/local/go/bin/go" >&2
	else
		echo "error: Go not found (looked on PATH and in /usr/local/go/bin); install Go 1.26 first" >&2
		exit 1
	fi
fi

missing=()
[ -f /usr/share/java/zookeeper.jar ] || missing+=(zookeeper)
if [ "${1:-}" = "--test" ]; then
	command -v kcat >/dev/null 2>&1 || missing+=(kcat)
	command -v nc >/dev/null 2>&1 || missing+=(netcat-openbsd)
fi
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "error: missing Debian packages: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "installing ${missing[*]} ..." >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v java >/dev/null 2>&1; then
	echo "error: java not found although zookeeper is installed; install a JRE (apt-get install -y default-jre-headless)" >&2
	exit 1
fi
