"""Tests of the definition layer (``tideflow._flow``).

A package, so that its module names (``flow.test_decorators``, ...) cannot clash with
test modules of the same name in other folders.
"""
