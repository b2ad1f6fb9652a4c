"""Helm through PyPI's helm-python-sdk (Helm v4 embedded as a library; no helm binary needed).

usage: helm_chart.py lint CHART VALUES_JSON
       helm_chart.py render CHART VALUES_JSON RELEASE NAMESPACE
lint prints helm_python.lint(strict=True)'s report as JSON: {"messages": [{"severity", "path",
"error"}], "errors": [...]} (severity 1 info, 2 warning, 3 error).
render prints {template path: rendered text} as JSON, as `helm template` renders for an install.
"""
import json
import sys

import helm_python

command, chart, values = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if command == "lint":
    report = helm_python.lint(chart, values, strict=True)
    print(json.dumps(report))
elif command == "render":
    release, namespace = sys.argv[4], sys.argv[5]
    loaded = helm_python.Chart.load(chart)
    print(json.dumps(loaded.render(values, name=release, namespace=namespace, is_install=True)))
else:
    sys.exit(f"unknown command {command}")
