"""``workbench fleet``: the same benchmark across many boards through Ansible (types.py: the typed per-host rows and
run both faces read)."""
