"""Flows the integration tests run with Prefect's own engine (`prefect flow-run execute`), as a local process and
in the Prefect image."""
import os
import subprocess
import time

from prefect import flow


@flow(log_prints=True)
def hello():
    print("hello from a real flow")
    return 42


@flow(log_prints=True)
def sleeper():
    # a child process of the flow's own, so the test can see that cancelling ends the whole process group and not
    # only the process whose pid the worker reported
    child = subprocess.Popen(["sleep", "600"])
    with open(os.environ["PWORKER_IT_CHILD_PID"], "w") as f:
        f.write(str(child.pid))
    print("sleeping")
    time.sleep(600)
