"""Emulators of FreshBooks and Cleo Integration Cloud, served over real HTTP on loopback.

They are the embedded default (no credentials needed) and what the tests run against. Nothing here imports
the connector's own client code: an emulator written from the same misunderstanding as the client would
prove nothing.
"""
