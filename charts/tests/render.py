"""Lints and renders a Helm chart with Helm's own Go SDK (the PyPI package helm-python-sdk, which bundles it),
for operator/tests/chart.rs: no helm binary is needed.

    python render.py CHART RELEASE NAMESPACE VALUES_JSON

Prints one JSON object: {"lint": {...helm lint report...}, "schemaError": null | "...", "renderError": null | "...",
"manifests": {"<template path>": "<rendered YAML>"}}. Exits 2 when the chart cannot be rendered.
"""

import json
import sys

import helm_python as helm


def main() -> int:
    chart_dir, release, namespace, values_json = sys.argv[1:5]
    values = json.loads(values_json)
    report = {"lint": helm.lint(chart_dir, strict=True, values=values), "schemaError": None, "renderError": None, "manifests": {}}
    with helm.Chart.load(chart_dir) as chart:
        # Rendering checks the merged values against values.schema.json first, as `helm install` does.
        try:
            report["manifests"] = chart.render(values, name=release, namespace=namespace, is_install=True)
        except helm.HelmValuesError as error:
            report["schemaError"] = str(error)
        except helm.HelmRenderError as error:
            # A template's `fail`: values the schema cannot judge alone.
            report["renderError"] = str(error)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except helm.HelmError as error:
        print(f"helm: {error}", file=sys.stderr)
        sys.exit(2)
