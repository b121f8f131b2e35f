"""`make contract`: the plugin contract's cases, run over HTTP against a Canvas instance.

A plain program (`python -m contract`): no Django, `requests` with timeouts.
Without CONTRACT_BASE_URL it starts a sandbox of its own (contract/sandbox.py)
and stops it again. Tokens and note content never reach the terminal or the
report: cases record ids, codes, states and timings only.
"""
