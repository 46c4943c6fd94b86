"""Run a flow from a script with the blocking Runner API, and read its results.

``Runner('slowflow.py').run(...)`` starts the run and returns once it has ended. The
``ExecutingRun`` it returns holds the status, the console output and the client ``Run``.
Top-level options (the flow's command-line options before ``run``) go to ``Runner``;
parameters and run options (``tags``, ``max_workers``...) go to ``run()``.

Run it from this folder: ``python runner_blocking.py``.
"""

from tideflow import Runner

# show_output=False: keep the run's console to ourselves instead of echoing it.
with Runner("slowflow.py", show_output=False, pylint=False).run(
    seconds=2, tags=["example"], max_workers=1
) as running:
    print(f"{running.run} ended: status {running.status}, returncode {running.returncode}")
    print(f"the flow waited for {running.run.data.secs} seconds")
    print(f"its tags: {sorted(running.run.user_tags)}")
    print("the last line of its console:", running.stdout.splitlines()[-1])

# A wrong parameter is refused before anything starts.
try:
    Runner("slowflow.py").run(seconds="two")
except TypeError as error:
    print(f"refused: {error}")
