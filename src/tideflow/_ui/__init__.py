"""Watching runs: the ``tideflow ui`` web app and the live status block on a terminal.

The web app (:mod:`._app`, :mod:`._serve`) needs the ``tideflow[ui]`` extra; the terminal
view (:mod:`._terminal`) needs nothing beyond the core. Nothing is imported here, so a
task process that imports tideflow pays for neither.
"""
