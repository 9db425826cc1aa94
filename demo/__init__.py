"""`make demo`: the whole Smart Sessions flow with keys in custody, on a local chain (see demo/run.py)."""
