#!/usr/bin/env bash
# The command-line front door: usage, version, unknown commands.
source tests/lib.sh
expect_exit 0 "help exits 0" -- "$LW" --help
expect_grep "commands:" "help lists commands"
expect_exit 0 "version exits 0" -- "$LW" --version
expect_grep "^lensweep [0-9]+\.[0-9]+\.[0-9]+" "version string"
expect_exit 2 "unknown command exits 2" -- "$LW" frobnicate
expect_grep "unknown command 'frobnicate'" "unknown command named"
