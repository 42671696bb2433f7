"""Latency tables measured with `ofa-deploy lut build` and shipped with the package (data only):
latency_tables/<supernet>/<device>/{<res>_lookup_table.yaml, provenance.json, evaluate.json}."""
