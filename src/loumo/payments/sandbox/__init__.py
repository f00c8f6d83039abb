"""The pawaPay sandbox: a local emulation of pawaPay's v2 API, mounted only outside production.

Its state (deposits, refunds, the callbacks it sent) lives in the database, so that it behaves
the same behind a proxy with several API processes. It is reached over HTTP by the real
pawaPay adapter, and calls back, signed, through the job outbox.
"""
