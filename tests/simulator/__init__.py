"""Tests of the Azure simulator, over real HTTP on 127.0.0.1."""
