"""A job executor compatible with keptn-contrib/job-executor-service (`job/config.yaml`, v2).

Pure: `jsonpath` (the JSONPath subset), `matching` (event type + jsonpath filter), `values`
(event value -> env text), `plan` (env resolution, `$(VAR)` expansion, injection guard),
`redact`, `output`, `files`, `result`. Effects: `local_runner` (subprocess, the default) and
`kube_runner` (a Kubernetes Job per task). Entry point: `executor.run_job`.
"""
from reconciler.tasks.jobs.executor import JobRunner, run_job  # noqa: F401
from reconciler.tasks.jobs.local_runner import LocalJobRunner  # noqa: F401
from reconciler.tasks.jobs.result import JobResult, TaskOutcome  # noqa: F401
