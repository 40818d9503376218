#!/usr/bin/env bash
# Checks the deployment files without a container runtime or a cluster:
#   - deploy/kubernetes/*.yaml against Kubernetes' schemas, strictly (kubernetes-validate, from PyPI);
#   - every PartyLine container of docker/compose*.yaml and deploy/kubernetes/*.yaml: its environment (the
#     Dockerfile's ENV, the ConfigMap, its own variables, with Kubernetes' $(VAR) references filled in and
#     each mounted secret file made with a stand-in value) is loaded by `partyline config check`, which
#     fails on a bad value; each PARTYLINE_ variable must name a key it reads.
#   scripts/deploy-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v kubernetes-validate >/dev/null || python3 -m pip install -q kubernetes-validate pyyaml
kubernetes-validate --strict --quiet deploy/kubernetes/*.yaml
echo "deploy/kubernetes: valid against Kubernetes $(kubernetes-validate --version 2>/dev/null | tail -1)"
swift build --product partyline >/dev/null
bin="$(swift build --show-bin-path)/partyline"
work=$(mktemp -d /tmp/partyline-deploy.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$bin" "$work" <<'PY'
import glob, os, re, subprocess, sys, yaml
binary, work = sys.argv[1], sys.argv[2]

def dockerfile_env():
    text = open("docker/Dockerfile").read().replace("\\\n", " ")
    env = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(pair.split("=", 1) for pair in line[4:].split()))
    return env

def stand_in(path):
    # A mounted secret: a file with a value of the right shape.
    local = os.path.join(work, path.strip("/").replace("/", "_"))
    value = "postgres://partyline:x@127.0.0.1:5432/partyline" if "postgres" in path else "stand-in-secret-value"
    open(local, "w").write(value + "\n")
    return local

def check(name, env):
    env = {key: (stand_in(value) if key.endswith("_FILE") else value) for key, value in env.items()}
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("PARTYLINE_")}, **env}
    result = subprocess.run([binary, "config", "check"], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"{name}: {result.stdout}{result.stderr}")
        sys.exit(1)
    # Every PARTYLINE_ variable names a key the server read: a misspelt one would be ignored silently.
    read = sum(1 for line in result.stdout.splitlines() if line.endswith("(environment)"))
    given = sum(1 for key in env if key.startswith("PARTYLINE_"))
    if read != given:
        print(f"{name}: {given} PARTYLINE_ variables, but only {read} keys read:\n{result.stdout}")
        sys.exit(1)
    print(f"{name}: {result.stdout.strip().splitlines()[-1]}")

base = dockerfile_env()
for path in sorted(glob.glob("docker/compose*.yaml")):
    for name, service in yaml.safe_load(open(path))["services"].items():
        if "build" not in service:
            continue
        check(f"{path} {name}", {**base, **{k: str(v) for k, v in service.get("environment", {}).items()}})

documents = [d for path in sorted(glob.glob("deploy/kubernetes/*.yaml")) for d in yaml.safe_load_all(open(path)) if d]
config_maps = {d["metadata"]["name"]: d["data"] for d in documents if d["kind"] == "ConfigMap"}
for document in documents:
    if document["kind"] not in ("StatefulSet", "DaemonSet", "Deployment"):
        continue
    for container in document["spec"]["template"]["spec"]["containers"]:
        env = dict(base)
        for source in container.get("envFrom", []):
            env.update(config_maps[source["configMapRef"]["name"]])
        fields = {}
        for variable in container.get("env", []):
            if "valueFrom" in variable:
                fields[variable["name"]] = "node-1" if "name" in variable["valueFrom"]["fieldRef"]["fieldPath"] else "10.0.0.7"
            else:
                env[variable["name"]] = re.sub(r"\$\((\w+)\)", lambda m: fields[m.group(1)], variable["value"])
        mounts = {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}
        for key, value in env.items():
            if key.endswith("_FILE") and not any(value.startswith(p) for p in mounts.values()):
                print(f"{document['metadata']['name']}: {key} names {value}, which no volume mounts"); sys.exit(1)
        check(f"{document['kind']}/{document['metadata']['name']}", env)
PY
echo "deployment files checked"
