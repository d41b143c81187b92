"""Built-in task executors (deployment, test/job, evaluation, approval, get-action, action, …).

Each executor turns a task's `.triggered` event into its `.finished` data. `jobs` is the
job-executor-service-compatible runner of `job/config.yaml`.
"""
