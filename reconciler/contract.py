"""The Git contract of DESIGN.md §2/§6 as constants, so no module spells them twice."""

RESULTS_BRANCH = "reconciler/results"
APPROVAL_PREFIX = "approve/"

TRAILER_CONTEXT = "Reconciler-Context"
TRAILER_EVENT = "Reconciler-Event"
TRAILER_RESULT = "Reconciler-Result"
TRAILER_SEQUENCE = "Reconciler-Sequence"
TRAILER_SKIP = "Reconciler-Skip"
# Our own addition: the idempotency key of a write-back (context/stage/task index/kind),
# so a restarted controller finds a commit it already made instead of making it twice.
TRAILER_STEP = "Reconciler-Step"

DEFAULT_BRANCHES = ("main", "master")
SHIPYARD_FILE = "shipyard.yaml"
SETTINGS_FILE = "reconciler.yaml"

BOT_NAME = "reconciler"
BOT_EMAIL = "reconciler@localhost"


def approval_branch(stage: str, service: str, context: str) -> str:
    """`approve/<stage>/<service>/<short context>` (the first 8 characters of the context)."""
    return f"{APPROVAL_PREFIX}{stage}/{service}/{context[:8]}"


def evaluation_path(stage: str, service: str, timestamp: str, context: str) -> str:
    return f"evaluations/{stage}/{service}/{timestamp}-{context}.json"


def sequence_path(stage: str, service: str, context: str) -> str:
    return f"sequences/{stage}/{service}/{context}.json"


DEFAULT_PROJECT = "project"


def project_name_from_repo(location: str | None) -> str:
    """The project's name from the config repository's URL or path: its last component
    without `.git` (`https://host/org/sockshop.git` → `sockshop`, `/srv/git/sockshop` →
    `sockshop`); DEFAULT_PROJECT when nothing is left."""
    text = (location or "").strip().rstrip("/")
    if text.endswith("/.git"):
        text = text[:-5]
    last = text.replace("\\", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    if last.endswith(".git"):
        last = last[:-4]
    return last or DEFAULT_PROJECT
