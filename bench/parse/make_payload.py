#!/usr/bin/env python3
"""Builds a realistic deployment_protection_rule delivery body.

Shape: the octokit/webhooks.net fixture (full repository, deployment and
sender objects). Values: a real-looking run like ost-environment-gate's
fixture (api.github.com callback URL, 40-hex sha, ref "main", installation,
workflow_run). pull_requests is empty, as for a workflow_dispatch run.
Written compact, the way GitHub sends bodies.

usage: make_payload.py [FIXTURES_DIR] [OUT]
"""
import json
import sys

fixtures = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/fixtures/github"
out = sys.argv[2] if len(sys.argv) > 2 else \
    "tests/data/deployment_protection_rule.requested.realistic.json"

src = fixtures + "/webhook-deployment_protection_rule.requested.octokit-webhooks-net.payload.json"
with open(src) as f:
    text = f.read()

OWNER, REPO = "zaniebot", "release-authenticator-example"
text = text.replace("Codertocat/Hello-World", OWNER + "/" + REPO)
text = text.replace("Codertocat", OWNER)
text = text.replace("Hello-World", REPO)
d = json.loads(text)

RUN_ID = 23625057533
SHA = "47efb7196c2a1a2fd3f52f2c59f0e2dd3d0e4d54"
d["environment"] = "release"
d["event"] = "workflow_dispatch"
d["deployment_callback_url"] = (
    "https://api.github.com/repos/%s/%s/actions/runs/%d/deployment_protection_rule"
    % (OWNER, REPO, RUN_ID))
d["pull_requests"] = []
d["sha"] = SHA
d["ref"] = "main"
dep = d["deployment"]
dep["id"] = 4189575565
dep["node_id"] = "DE_kwDOR8pZQM75uCyN"
dep["url"] = "https://api.github.com/repos/%s/%s/deployments/%d" % (OWNER, REPO, dep["id"])
dep["statuses_url"] = dep["url"] + "/statuses"
dep["sha"] = SHA
dep["ref"] = "main"
dep["environment"] = dep["original_environment"] = "release"
dep["created_at"] = dep["updated_at"] = "2026-03-26T19:42:07Z"
for user in (dep["creator"], d["repository"]["owner"], d["sender"]):
    user["id"] = 242828183
    user["node_id"] = "U_kgDODnk2Fw"
    user["avatar_url"] = "https://avatars.githubusercontent.com/u/242828183?v=4"
repo = d["repository"]
repo["id"] = 1192056896
repo["node_id"] = "R_kgDORsyZQA"
repo["default_branch"] = "main"
repo["created_at"] = "2026-03-20T17:03:11Z"
repo["updated_at"] = "2026-03-26T19:40:55Z"
repo["pushed_at"] = "2026-03-26T19:40:52Z"
d["installation"] = {"id": 119022551,
                     "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMTE5MDIyNTUx"}
d["workflow_run"] = {"id": RUN_ID}

with open(out, "w") as f:
    f.write(json.dumps(d, separators=(",", ":")))
print("%s: %d bytes" % (out, len(json.dumps(d, separators=(",", ":")))))
