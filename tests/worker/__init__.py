"""Tests of task execution (``tideflow._worker``).

A package, so that its module names cannot clash with test modules of the same name in
other folders.
"""
