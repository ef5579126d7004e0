#!/bin/sh
# Copy the generated CRD (crds/celigoconnectors.yaml, the one source: `celigo-operator crd`) to the two places
# that cannot refer to it: kustomize refuses files outside a kustomization's root, and Helm's .Files only
# sees files inside the chart. tests/install/ fail while the copies differ. Run from anywhere.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cp "$root/crds/celigoconnectors.yaml" "$root/deploy/crds/celigoconnectors.yaml"
cp "$root/crds/celigoconnectors.yaml" "$root/charts/celigo-operator/files/crds/celigoconnectors.yaml"
