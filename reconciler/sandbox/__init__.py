"""Running code from the config repository on this host without handing it the controller.

A job config or a `local.yaml` is code that whoever may push to a stage branch chooses. Run on
the controller's host it must not reach the controller's secrets, nor outlive its task:
`launch` builds the command line of the supervisor (`supervise`) that contains one job, and
`hardening` makes the controller itself unreadable to other processes of its user.
"""
