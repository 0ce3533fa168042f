#!/bin/sh
# Enrolment, run once by the `init` service of compose.yaml before the server starts (and safe
# to run again): creates the admin and the principal Prometheus scrapes /metrics with, and one
# one-time enrolment token per node (valid a day), written to /secrets (read by the other
# services; never printed). Each agent enrols itself with its token at its first start
# (`suanwang agent enroll`): the agent principal, its token and its key binding are made then.
#
# By hand, on a database the server uses, the same steps are:
#   suanwang agent enrol-token --node NODE --tenant TENANT --database "$SUANWANG_DATABASE_URL"
#   suanwang agent enroll --server URL --enrol-token swe_... --node NODE --credentials NODE.json
set -eu
umask 077

token() {  # token NAME ARGS...: issue a token, write it to /secrets/NAME.token
    name=$1
    shift
    suanwang token create --create-database --json "$@" \
        | python -c 'import json, sys; print(json.load(sys.stdin)["token"])' >"/secrets/$name.token"
}

token admin --role admin --principal admin
token prometheus --role operator --principal prometheus
for node in ${SUANWANG_AGENT_NODES:?the nodes to enrol, space separated}; do
    suanwang agent enrol-token --json --node "$node" --tenant "${SUANWANG_AGENT_TENANT:-operator}" \
        --ttl 86400 | python -c 'import json, sys; print(json.load(sys.stdin)["token"])' \
        >"/secrets/enrol-$node.token"
done
echo "enrolled: admin, prometheus; enrolment tokens for ${SUANWANG_AGENT_NODES}"
