# Shared helpers for scripts/local-up, scripts/test and scripts/local-down. Source, don't run.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/incident-loop/target}"
# Every cargo command here compiles the workspace's own crates with clippy's driver (lints as
# errors): the one build is also the lint pass. The same wrapper everywhere keeps cargo from
# rebuilding them between the build, the tests and the local deploy.
export RUSTC_WORKSPACE_WRAPPER="$ROOT/scripts/clippy-rustc"
export STACK_NAME="${STACK_NAME:-incident-loop}"
export MINISTACK_PORT="${MINISTACK_PORT:-4566}"
ENDPOINT="http://127.0.0.1:$MINISTACK_PORT"

# The local stack's account and region: ministack maps the access key "test" to 000000000000.
local_aws_env() {
  export AWS_ENDPOINT_URL="$ENDPOINT" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
  export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
  unset AWS_PROFILE AWS_SESSION_TOKEN
}

# The local stack's member account (the emulator keeps accounts apart by access key): the forwarder
# template is deployed there, and evidence capture assumes its role with this external id.
LOCAL_MEMBER_ACCOUNT=111111111111
LOCAL_MEMBER_EXTERNAL_ID=local-member-external-id
# The local stack pages by e-mail too, from this address (a verified SES identity there).
LOCAL_PAGE_FROM=oncall-pages@example.com

SAM_VERSION=1.170.0
SAM_VENV="${SAM_VENV:-$HOME/.cache/incident-loop/sam-$SAM_VERSION}"

log() { printf '\033[1m==> %s %s\033[0m\n' "$(date +%T)" "$*" >&2; }

# Python tools, pinned together so that botocore stays consistent; node tools from tools/package.json.
install_tools() {
  log "installing tools (pip: ministack + cbor2 for CloudWatch's CBOR protocol, awscli, cfn-lint; npm: asl-validator)"
  python3 -m pip install --quiet --disable-pip-version-check \
    "ministack==1.5.33" "awscli==1.46.3" "aws-sam-translator==1.110.0" \
    "cfn-lint==1.58.0" "cfn-lint-serverless==0.3.6" "cbor2==6.3.0" >/dev/null
  (cd "$ROOT/tools" && npm install --no-audit --no-fund --silent >/dev/null)
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
    { echo "the web console's build (Vite) needs Node.js 20.19 or newer; this is $(node --version)" >&2; exit 1; }
  (cd "$ROOT/console" && npm ci --no-audit --no-fund --silent >/dev/null)
  # SAM CLI pins its own botocore and cfn-lint: it lives in a virtual environment of its own.
  if [ "$("$SAM_VENV/bin/sam" --version 2>/dev/null)" != "SAM CLI, version $SAM_VERSION" ]; then
    log "installing SAM CLI $SAM_VERSION into $SAM_VENV"
    python3 -m venv "$SAM_VENV"
    "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli==$SAM_VERSION" >/dev/null
  fi
  command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)" >&2; exit 1; }
}

# Debian's Chromium, for the browser checks of what people look at (the weekly review's page).
install_browser() {
  command -v chromium >/dev/null && return
  log "installing Debian's chromium (headless browser checks)"
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
}

lint_templates() {
  log "sam validate --lint (samconfig.toml, template.yaml and the SAM transform)"
  (cd "$ROOT" && SAM_CLI_TELEMETRY=0 "$SAM_VENV/bin/sam" validate --lint --region us-east-1)
  log "cfn-lint (with cfn-lint-serverless rules) on template.yaml"
  cfn-lint --append-rules cfn_lint_serverless.rules -- "$ROOT/template.yaml"
  log "cfn-lint on forwarder/template.yaml (the member accounts' stack)"
  cfn-lint -- "$ROOT/forwarder/template.yaml"
  log "the runbooks' nested stack: up to date with runbooks/*.yaml, and cfn-lint"
  python3 "$ROOT/scripts/runbooks_stack.py" --check
  cfn-lint -- "$ROOT/runbooks/stack.json"
  log "asl-validator on statemachines/*.asl.json"
  for f in "$ROOT"/statemachines/*.asl.json; do
    "$ROOT/tools/node_modules/.bin/asl-validator" --json-path "$f"
  done
}

# Starts ministack in the background unless it already answers. SFN_WAIT_SCALE shortens Step
# Functions waits (acknowledgement timeouts) for tests; 1 keeps real time.
start_emulator() {
  mkdir -p "$LOCAL"
  if curl -fsS "$ENDPOINT/_ministack/health" >/dev/null 2>&1; then
    log "ministack already running on $ENDPOINT"
    return
  fi
  local ssm_port=$((MINISTACK_PORT + 1))
  log "starting the SSM Automation test double on 127.0.0.1:$ssm_port (tests/ssm_double.py)"
  python3 "$ROOT/tests/ssm_double.py" --port "$ssm_port" --sts "$ENDPOINT" >"$LOCAL/ssm-double-$MINISTACK_PORT.log" 2>&1 &
  echo $! >"$LOCAL/ssm-double-$MINISTACK_PORT.pid"
  export SSM_DOUBLE_URL="http://127.0.0.1:$ssm_port"
  log "starting ministack on $ENDPOINT (log: .local/ministack-$MINISTACK_PORT.log)"
  (
    local_aws_env
    # The functions inherit the emulator's environment: SSM goes to the test double. AUTH=true
    # makes the emulator check signatures and IAM policies, for people and for the functions (each
    # runs with its execution role's credentials).
    cd "$LOCAL" && BIND_HOST=127.0.0.1 GATEWAY_PORT="$MINISTACK_PORT" IOT_MTLS_ENABLED=0 CLOUDTRAIL_RECORDING=1 \
      AUTH=true \
      AWS_ENDPOINT_URL_SSM="$SSM_DOUBLE_URL" \
      SFN_WAIT_SCALE="${SFN_WAIT_SCALE:-1}" nohup ministack >"$LOCAL/ministack-$MINISTACK_PORT.log" 2>&1 &
    echo $! >"$LOCAL/ministack-$MINISTACK_PORT.pid"
  )
  for _ in $(seq 1 60); do
    curl -fsS "$ENDPOINT/_ministack/health" >/dev/null 2>&1 && return
    sleep 0.5
  done
  echo "ministack did not become healthy; see $LOCAL/ministack-$MINISTACK_PORT.log" >&2
  tail -20 "$LOCAL/ministack-$MINISTACK_PORT.log" >&2
  exit 1
}

# Stops the emulator this checkout started (and its Lambda workers), and nothing else: another
# emulator on another port keeps running.
stop_emulator() {
  if [ -f "$LOCAL/ssm-double-$MINISTACK_PORT.pid" ]; then
    kill "$(cat "$LOCAL/ssm-double-$MINISTACK_PORT.pid")" 2>/dev/null || true
    rm -f "$LOCAL/ssm-double-$MINISTACK_PORT.pid"
  fi
  if [ -f "$LOCAL/ministack-$MINISTACK_PORT.pid" ]; then
    local pid
    pid=$(cat "$LOCAL/ministack-$MINISTACK_PORT.pid")
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    rm -f "$LOCAL/ministack-$MINISTACK_PORT.pid"
    for _ in $(seq 1 20); do
      curl -fsS "$ENDPOINT/_ministack/health" >/dev/null 2>&1 || return 0
      sleep 0.25
    done
  fi
}

# One compilation serves clippy, the deploy and the tests: every target of the workspace (clippy's
# --all-targets) is built through clippy's driver (RUSTC_WORKSPACE_WRAPPER above), and building the
# test targets with the functions resolves the SDK crates' features as `cargo test --workspace`
# does (the adapters' tests add `test-util`), so the tests that follow rebuild nothing; without
# them every SDK crate would be compiled a second time.
build_functions() {
  log "building and linting (clippy, -D warnings) every target of the workspace (debug, x86_64; target dir $CARGO_TARGET_DIR)"
  (cd "$ROOT" && cargo build --workspace --all-targets --locked)
}

# Deploys the real template.yaml: what `sam build` does for rust-cargolambda (one bootstrap per
# function, named by its BuildProperties.Binary) is done with the binaries just built, then the
# template is packaged and deployed through CloudFormation with the SAM transform.
deploy_stack() {
  local_aws_env
  local build="$LOCAL/build-$MINISTACK_PORT"  # one per emulator: scripts/test deploys two at once
  log "packaging template.yaml with the built binaries"
  python3 "$ROOT/scripts/package_local.py" "$ROOT/template.yaml" "$CARGO_TARGET_DIR/debug" "$build"
  aws --endpoint-url "$ENDPOINT" s3 mb "s3://$STACK_NAME-artifacts" >/dev/null 2>&1 || true
  aws --endpoint-url "$ENDPOINT" cloudformation package --template-file "$build/template.json" \
    --s3-bucket "$STACK_NAME-artifacts" --output-template-file "$build/packaged.json" --use-json \
    >"$build/package.log" 2>&1 || { cat "$build/package.log" >&2; exit 1; }
  # The packaged template goes through S3, as `sam deploy` sends it (inline bodies stop at 51,200
  # bytes); its whitespace is dropped all the same.
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); json.dump(d, open(sys.argv[1], "w"), separators=(",", ":"))' \
    "$build/packaged.json"
  log "deploying stack $STACK_NAME to the local stack"
  aws --endpoint-url "$ENDPOINT" cloudformation deploy --template-file "$build/packaged.json" \
    --stack-name "$STACK_NAME" --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
    --s3-bucket "$STACK_NAME-artifacts" --no-fail-on-empty-changeset \
    --parameter-overrides Architecture=x86_64 DeployRunbooks=false ConsoleViewerProtocol=allow-all \
    "RunbookRoleArn=arn:aws:iam::000000000000:role/$STACK_NAME-local-runbooks" "CorrelationWindowMinutes=${CORRELATION_WINDOW_MINUTES:-15}" \
    "MultiServiceThreshold=${MULTI_SERVICE_THRESHOLD:-3}" \
    "RecoveryStabilisationSeconds=${RECOVERY_STABILISATION_SECONDS:-300}" \
    "MaxSignalAgeDays=${MAX_SIGNAL_AGE_DAYS:-7}" \
    "MemberExternalId=$LOCAL_MEMBER_EXTERNAL_ID" "PageFromAddress=$LOCAL_PAGE_FROM" >/dev/null
  apply_bucket_settings_locally
  allow_email_pages_locally
  console_cors_locally
  aws --endpoint-url "$ENDPOINT" cloudformation describe-stacks --stack-name "$STACK_NAME" \
    --query 'Stacks[0].Outputs' --output table
}

# The web console (console/): built with Vite, then published to the stack's bucket with its
# config.json and the page's Content-Security-Policy naming exactly the origins it calls.
build_console() {
  log "building the web console (console/, vite)"
  (cd "$ROOT/console" && npx vite build --logLevel warn)
}

# console_url [local]: CloudFront's address on AWS; the emulator's `<label>.cloudfront.localhost`.
console_url() {
  local domain
  domain=$(stack_output ConsoleUrl)
  if [ "${1:-}" = local ]; then
    domain=${domain#https://}
    echo "http://${domain%%.*}.cloudfront.localhost:${ENDPOINT##*:}"
  else
    echo "$domain"
  fi
}

# publish_console [local]: `local` points the console at the emulator's API and Cognito.
publish_console() {
  local bucket region api cognito connect config pool
  bucket=$(stack_output ConsoleBucketName)
  pool=$(stack_output ConsoleUserPoolId)
  region=${pool%%_*}                                  # a user pool id is <region>_<id>
  if [ "${1:-}" = local ]; then
    api="$ENDPOINT/_aws/execute-api/$(stack_output CommandApiId)"
    cognito="$ENDPOINT/"
    connect="$ENDPOINT"
  else
    api=$(stack_output CommandApiUrl)
    cognito=""
    connect="$api https://cognito-idp.$region.amazonaws.com https://cognito-identity.$region.amazonaws.com"
  fi
  config=$(python3 -c 'import json,sys; a=sys.argv; print(json.dumps({"region": a[1], "apiUrl": a[2],
    "userPoolId": a[3], "userPoolClientId": a[4], "identityPoolId": a[5], "cognitoEndpoint": a[6] or None,
    "identityEndpoint": a[6] or None}))' "$region" "$api" "$pool" \
    "$(stack_output ConsoleUserPoolClientId)" "$(stack_output ConsoleIdentityPoolId)" "$cognito")
  rm -rf "$LOCAL/console" && mkdir -p "$LOCAL/console" && cp -r "$ROOT/console/dist/." "$LOCAL/console/"
  python3 - "$LOCAL/console/index.html" "$connect" <<'PY'
import sys
path, connect = sys.argv[1], sys.argv[2]
page = open(path).read()
assert "__CONNECT_SRC__" in page, "the built page has no connect-src placeholder"
open(path, "w").write(page.replace("__CONNECT_SRC__", connect))
PY
  printf '%s\n' "$config" >"$LOCAL/console/config.json"
  log "publishing the web console to s3://$bucket"
  aws ${ENDPOINT:+--endpoint-url "$ENDPOINT"} s3 sync --delete --only-show-errors \
    --cache-control "no-cache" "$LOCAL/console/" "s3://$bucket/"
}

# The emulator keeps CloudFormation's CorsConfiguration where its request path never reads it: set
# the same configuration through the API, with the console's local origin.
console_cors_locally() {
  local cors
  cors=$(python3 -c 'import json,sys; print(json.dumps({"AllowOrigins": [sys.argv[1]], "AllowMethods": ["GET", "POST"],
    "AllowHeaders": ["authorization", "content-type", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"],
    "MaxAge": 600}))' "$(console_url local)")
  aws --endpoint-url "$ENDPOINT" apigatewayv2 update-api --api-id "$(stack_output CommandApiId)" \
    --cors-configuration "$cors" >/dev/null
}

# A console user (user pool) in `group` with a permanent password: signs in without a challenge.
console_user() {
  local name=$1 group=$2 password=$3 pool
  pool=$(stack_output ConsoleUserPoolId)
  aws --endpoint-url "$ENDPOINT" cognito-idp admin-create-user --user-pool-id "$pool" --username "$name" \
    --message-action SUPPRESS >/dev/null 2>&1 || true
  aws --endpoint-url "$ENDPOINT" cognito-idp admin-set-user-password --user-pool-id "$pool" --username "$name" \
    --password "$password" --permanent
  aws --endpoint-url "$ENDPOINT" cognito-idp admin-add-user-to-group --user-pool-id "$pool" --username "$name" \
    --group-name "$group"
}

# The local console's people: ana (checkout's approver), chen (a responder, not an approver), mira
# (read-only), all with PASSWORD.
console_users() {
  console_user ana responders "$1"
  console_user chen responders "$1"
  console_user mira readers "$1"
}

stack_output() {
  aws --endpoint-url "$ENDPOINT" cloudformation describe-stacks --stack-name "$STACK_NAME" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

# The emulator creates the buckets but ignores its ObjectLockConfiguration, BucketEncryption
# and LifecycleConfiguration (they apply on AWS). Apply the template's own defaults through the S3
# API so that the local stack enforces Object Lock like AWS does.
apply_bucket_settings_locally() {
  local bucket
  bucket=$(stack_output EvidenceBucketName)
  aws --endpoint-url "$ENDPOINT" s3api put-object-lock-configuration --bucket "$bucket" \
    --object-lock-configuration '{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":{"Mode":"GOVERNANCE","Days":90}}}'
  aws --endpoint-url "$ENDPOINT" s3api put-bucket-encryption --bucket "$bucket" \
    --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
  aws --endpoint-url "$ENDPOINT" s3api put-bucket-lifecycle-configuration --bucket "$bucket" \
    --lifecycle-configuration '{"Rules":[{"ID":"archive-evidence","Status":"Enabled","Filter":{"Prefix":"evidence/"},"Transitions":[{"Days":30,"StorageClass":"GLACIER"}],"NoncurrentVersionTransitions":[{"NoncurrentDays":30,"StorageClass":"GLACIER"}]}]}' >/dev/null
  bucket=$(stack_output PostmortemBucketName)
  aws --endpoint-url "$ENDPOINT" s3api put-bucket-versioning --bucket "$bucket" \
    --versioning-configuration Status=Enabled
  aws --endpoint-url "$ENDPOINT" s3api put-bucket-encryption --bucket "$bucket" \
    --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
  drop_tls_only_statements_locally
}

# E-mail pages need a verified sender: the local SES marks an identity verified when it is
# created. The emulator names no resource for SendEmail and does not supply the `ses:FromAddress`
# condition key, so the template's statement (identity/*, from the page sender only) can never
# match there: locally, and only there, the engage role gets ses:SendEmail on "*" beside it.
allow_email_pages_locally() {
  aws --endpoint-url "$ENDPOINT" sesv2 create-email-identity --email-identity "$LOCAL_PAGE_FROM" >/dev/null 2>&1 || true
  local role
  role=$(aws --endpoint-url "$ENDPOINT" cloudformation describe-stack-resources --stack-name "$STACK_NAME" \
    --logical-resource-id EngageFunctionRole --query 'StackResources[0].PhysicalResourceId' --output text)
  aws --endpoint-url "$ENDPOINT" iam put-role-policy --role-name "$role" --policy-name local-email-pages \
    --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"*"}]}'
}

# The local stack speaks plain HTTP, and under AUTH=true it evaluates resource policies: the
# template's TLS-only denies (aws:SecureTransport false) would refuse every request to the buckets
# and the dead-letter queues. Locally, and only there, those statements are removed; every other
# statement stays and is enforced. (On AWS they apply as written.)
drop_tls_only_statements_locally() {
  python3 - "$ENDPOINT" "$STACK_NAME" <<'PY'
import json, subprocess, sys
endpoint, stack = sys.argv[1], sys.argv[2]
def aws(*args):
    out = subprocess.run(["aws", "--endpoint-url", endpoint, *args], capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else None
resources = json.loads(aws("cloudformation", "describe-stack-resources", "--stack-name", stack))["StackResources"]
def without_tls(policy):
    policy["Statement"] = [s for s in policy.get("Statement", []) if s.get("Sid") != "TlsOnly"]
    return policy
for r in resources:
    if r["ResourceType"] == "AWS::S3::Bucket":
        text = aws("s3api", "get-bucket-policy", "--bucket", r["PhysicalResourceId"], "--output", "json")
        if not text:
            continue
        policy = without_tls(json.loads(json.loads(text)["Policy"]))
        if policy["Statement"]:
            aws("s3api", "put-bucket-policy", "--bucket", r["PhysicalResourceId"], "--policy", json.dumps(policy))
        else:
            aws("s3api", "delete-bucket-policy", "--bucket", r["PhysicalResourceId"])
    elif r["ResourceType"] == "AWS::SQS::Queue":
        text = aws("sqs", "get-queue-attributes", "--queue-url", r["PhysicalResourceId"], "--attribute-names", "Policy", "--output", "json")
        policy = (json.loads(text or "{}").get("Attributes") or {}).get("Policy")
        if policy:
            attrs = json.dumps({"Policy": json.dumps(without_tls(json.loads(policy)))})
            aws("sqs", "set-queue-attributes", "--queue-url", r["PhysicalResourceId"], "--attributes", attrs)
PY
}

# The example catalog pages SNS topics named incident-loop-<team>: create them locally.
# forwarder/template.yaml in the local member account, as a StackSet would deploy it there: its
# role is what evidence capture assumes for an incident of that account. (The emulator keeps the
# forwarding rule but delivers nothing across accounts; the e2e tests hand ingest the forwarded
# event as the loop's bus would.)
deploy_member_account() {
  local_aws_env
  log "deploying forwarder/template.yaml to the member account $LOCAL_MEMBER_ACCOUNT"
  AWS_ACCESS_KEY_ID=$LOCAL_MEMBER_ACCOUNT aws --endpoint-url "$ENDPOINT" cloudformation deploy \
    --template-file "$ROOT/forwarder/template.yaml" --stack-name "$STACK_NAME-member" \
    --capabilities CAPABILITY_NAMED_IAM --no-fail-on-empty-changeset \
    --parameter-overrides HomeAccountId=000000000000 HomeRegion=us-east-1 "HomeStackName=$STACK_NAME" \
    "ExternalId=$LOCAL_MEMBER_EXTERNAL_ID" EmulatedHome=true Runbooks=true >"$LOCAL/member-$MINISTACK_PORT.log" 2>&1 || { cat "$LOCAL/member-$MINISTACK_PORT.log" >&2; exit 1; }
}

create_team_topics() {
  local_aws_env
  for team in $(python3 -c "import yaml,sys; print(' '.join(t['name'] for t in yaml.safe_load(open(sys.argv[1]))['teams']))" "$1"); do
    aws --endpoint-url "$ENDPOINT" sns create-topic --name "incident-loop-$team" >/dev/null
  done
  # The chat channels' topics (the teams' and the incident channel).
  for topic in $(python3 -c "
import yaml, sys
c = yaml.safe_load(open(sys.argv[1]))
chats = [t['chat'] for t in c['teams'] if t.get('chat')] + [c['settings'].get('incident_channel') or {}]
print(' '.join(ch['topic'].rsplit(':', 1)[1] for ch in chats if ch.get('topic')))" "$1"); do
    aws --endpoint-url "$ENDPOINT" sns create-topic --name "$topic" >/dev/null
  done
}

incidentctl() {
  "$CARGO_TARGET_DIR/debug/incidentctl" --stack "$STACK_NAME" "$@"
}

# Runs a command as the local IAM user NAME, holding the stack's managed policy POLICY_OUTPUT
# (created on first use, with a fresh access key each time): a person, as IAM and the command API
# see them.
as_person() {
  local name=$1 policy=$2 key
  shift 2
  aws --endpoint-url "$ENDPOINT" iam get-user --user-name "$name" >/dev/null 2>&1 ||
    aws --endpoint-url "$ENDPOINT" iam create-user --user-name "$name" >/dev/null
  aws --endpoint-url "$ENDPOINT" iam attach-user-policy --user-name "$name" --policy-arn "$(stack_output "$policy")"
  key=$(aws --endpoint-url "$ENDPOINT" iam create-access-key --user-name "$name" --output json)
  AWS_ACCESS_KEY_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessKey"]["AccessKeyId"])' <<<"$key") \
    AWS_SECRET_ACCESS_KEY=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["AccessKey"]["SecretAccessKey"])' <<<"$key") \
    "$@"
}
