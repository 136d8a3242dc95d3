#!/bin/sh
# pkg-config-hiding.sh - pkg-config, except that the modules named in
# NR_HIDE_PKG (space-separated) do not exist. The install checks configure
# the consumers with it (-DPKG_CONFIG_EXECUTABLE=...) to show that a
# component needs only its own dependencies, and that a missing one is named.
for arg in "$@"; do
    for hidden in ${NR_HIDE_PKG:-}; do
        case $arg in
        "$hidden" | "$hidden "[\<\>=]*)
            echo "Package '$hidden' not found (hidden by $(basename "$0"))" >&2
            exit 1
            ;;
        esac
    done
done
exec pkg-config "$@"
