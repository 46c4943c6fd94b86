"""Supervision: the run actors behind ExecutingRun and the per-event-loop supervisor."""
