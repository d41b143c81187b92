"""False positives of `.venv/bin/vulture reconciler tests bench vulture_whitelist.py`, the
dead-code sweep of issue 9 (not part of `make lint`): names used in ways vulture cannot see,
each with who uses it. Real dead code is deleted, not listed here."""
# ruff: noqa: B018
_ = object()

# click commands, registered through the lazy command table of reconciler/cli/__init__.py
approve_command
decline_command
abort_command
pause_command
resume_command

# library hooks and attributes that the library reads
_.row_factory                   # sqlite3 connection (controller/index.py)
_.protocol_version              # http.server handler (demo/helloservice.py)
_.log_message                   # http.server handler hook
_.daemon_threads                # socketserver option
_.push_negotiation              # pygit2 RemoteCallbacks hook (gitstore/credentials.py)
_.push_update_reference         # pygit2 RemoteCallbacks hook
_.on_any_event                  # watchdog FileSystemEventHandler hook (gitstore/localwatch.py)
_.api_key                       # kubernetes Configuration (kube/client.py)
_.api_key_prefix
_.ssl_ca_cert
__getattr__                     # module __getattr__: lazy exports of reconciler/gitstore
_.converter                     # logging.Formatter.converter (logs.py: UTC timestamps)

# pydantic: validators run by the decorator, fields parsed from job/config.yaml (spec/)
_._duration
_._none_is_empty
_._null_properties
_._null_list
_._one_url
localhostProfile
capabilities
privileged
runAsUser
runAsGroup
runAsNonRoot
readOnlyRootFilesystem
allowPrivilegeEscalation
procMount
seccompProfile

# read by name
unknown_key                     # spec/lint/shipyard.py: spec/validate.py looks up `unknown_key` per kind
_.finished_at                   # engine/state.py: serialised through the field table of lane_document
