#!/bin/sh
# Copy the alert rules and the Grafana dashboard (deploy/monitoring/, the one source) into the chart, whose
# .Files only sees files inside it: the PrometheusRule and the dashboard ConfigMap render these copies.
# tests/monitoring/ fail while the copies differ. Run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/../../charts/celigo-operator/files/monitoring"
mkdir -p "$dest"
cp "$here/celigo-operator.rules.yaml" "$here/celigo-operator.dashboard.json" "$dest/"
