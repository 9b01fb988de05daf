-- wrk script: GET one workflow run with an installation token.
-- Usage: GHSIM_TOKEN=ghs_... wrk -t1 -c32 -d10s -s run-get.lua \
--          http://127.0.0.1:PORT/repos/OWNER/REPO/actions/runs/ID
wrk.headers["Authorization"] = "Bearer " .. os.getenv("GHSIM_TOKEN")
wrk.headers["User-Agent"] = "envgate-bench"
wrk.headers["Accept"] = "application/vnd.github+json"
