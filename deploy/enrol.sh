#!/bin/sh
# Enrolment, run once by the `init` service of compose.yaml before the server starts (and safe
# to run again): creates the admin, the principal Prometheus scrapes /metrics with and one
# agent principal per node, each bound to its node and its agent's signing key, and writes
# their tokens to /secrets (read by the other services; never printed).
#
# By hand, on a database the server uses, the same steps are:
#   suanwang agent --node NODE --key-file NODE.key --print-key-id
#   suanwang token create --role agent --principal agent-NODE --tenant TENANT \
#       --node NODE --agent-key-id KEY_ID --database "$SUANWANG_DATABASE_URL"
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
    key_id=$(suanwang agent --node "$node" --key-file "/keys/$node.key" --print-key-id)
    token "agent-$node" --role agent --principal "agent-$node" --tenant "${SUANWANG_AGENT_TENANT:-operator}" \
        --node "$node" --agent-key-id "$key_id"
done
echo "enrolled: admin, prometheus, agents of ${SUANWANG_AGENT_NODES}"
