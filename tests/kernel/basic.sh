#!/bin/sh
# The module loads, answers its version through libvloopback, refuses every
# malformed request cleanly, and unloads.
. "$VLB_SRC/tests/kernel/lib.sh"

load_module
check "version through libvloopback" "$VLB_BIN/tests/kernel/test_version"
check "malformed ioctls get clean errors" "$VLB_BIN/tests/kernel/test_uapi"
unload_module
finish
