#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerates Fixtures/captures/*.pcapng from fixed seeds. Each run is deterministic: the
# same hvblob produces the same bytes (the test suite checks that plain.pcapng still does).
set -eu
cd "$(dirname "$0")/.."
swift build -c release --product hvblob >/dev/null
hv=.build/release/hvblob
out=Fixtures/captures
rec() {
	name=$1; shift
	# A hostile host makes the simulation itself report findings (exit 1): still a capture.
	"$hv" record -o "$out/$name.pcapng" --quiet "$@" >/dev/null || [ $? -eq 1 ]
	echo "$out/$name.pcapng: $("$hv" replay --list "$out/$name.pcapng" | wc -l) records"
}
rec plain --seed 1 --clients 4 --requests 8 --sizes 4096,16384
rec mpb-32mib --seed 11 --clients 1 --requests 1 --sizes 33546240
rec error-completions --seed 3 --clients 4 --requests 8 --sizes 4096 --faults error-status=0.5
rec rescind-in-flight --seed 4 --clients 4 --requests 8 --sizes 4096 --faults rescind=40
rec hostile-host --seed 5 --clients 4 --requests 8 --sizes 4096 \
	--faults zero-id=0.3,unknown-id=0.3,wrong-type=0.2,short-completion=0.2,oversized-response-len=0.2,duplicate=0.2,forged-id=0.1
