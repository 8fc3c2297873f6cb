"""Headless CLI face. Modules here import only the stdlib at import time (``--help`` must stay fast)."""
