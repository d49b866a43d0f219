#!/usr/bin/env python3
"""Lays out the built binaries the way `sam build` does for BuildMethod rust-cargolambda.

usage: package_local.py TEMPLATE BIN_DIR OUT_DIR

For every AWS::Serverless::Function whose Metadata names BuildProperties.Binary, copies
BIN_DIR/<binary> to OUT_DIR/<LogicalId>/bootstrap and points CodeUri there; state machine
DefinitionUri and nested application Location paths are made absolute. Writes OUT_DIR/template.json (the same template, with
intrinsic functions in their long form) for `aws cloudformation package`.

LOCAL_STATE_TIMEOUTS="State=seconds,…" shortens the TimeoutSeconds of the named callback states in
a copy of the state machine definition: the emulator's SFN_WAIT_SCALE shortens Wait states but not
callback timeouts, and the tests exercise the timeout paths (e.g. an approval nobody answers).

The emulator does not implement TimeoutSecondsPath (a callback waits for its 99,999 s default), so
in the local copy every TimeoutSecondsPath becomes a fixed TimeoutSeconds: the named override, or
LOCAL_PATH_TIMEOUT (default 300 s, SEV1's acknowledgement time). On AWS the template's definition is
deployed as it is.
"""
import json
import os
import shutil
import sys

from cfnlint.decode import decode  # reads CloudFormation YAML, short-form tags included


def with_timeouts(definition_path: str, out_dir: str) -> str:
    overrides = dict(
        item.split("=", 1) for item in os.environ.get("LOCAL_STATE_TIMEOUTS", "").split(",") if "=" in item
    )
    with open(definition_path) as f:
        definition = json.load(f)
    path_default = int(os.environ.get("LOCAL_PATH_TIMEOUT", "300"))

    def visit(states: dict) -> None:
        for name, state in states.items():
            if state.pop("TimeoutSecondsPath", None) is not None:
                state["TimeoutSeconds"] = path_default
            if name in overrides:
                state["TimeoutSeconds"] = int(overrides[name])
            for branch in state.get("Branches", []):
                visit(branch["States"])

    visit(definition["States"])
    copy = os.path.join(out_dir, os.path.basename(definition_path))
    with open(copy, "w") as f:
        json.dump(definition, f, indent=1)
    return copy


def main(template_path: str, bin_dir: str, out_dir: str) -> None:
    template, matches = decode(template_path)
    if matches:
        sys.exit(f"cannot read {template_path}: {matches}")
    base = os.path.dirname(os.path.abspath(template_path))
    os.makedirs(out_dir, exist_ok=True)
    for logical_id, resource in template["Resources"].items():
        kind = resource.get("Type")
        props = resource.get("Properties", {})
        if kind == "AWS::Serverless::Function":
            binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            if not binary:
                sys.exit(f"{logical_id}: Metadata.BuildProperties.Binary is required")
            target = os.path.join(out_dir, logical_id)
            os.makedirs(target, exist_ok=True)
            shutil.copy2(os.path.join(bin_dir, binary), os.path.join(target, "bootstrap"))
            os.chmod(os.path.join(target, "bootstrap"), 0o755)
            props["CodeUri"] = target
        elif kind == "AWS::Serverless::Application" and isinstance(props.get("Location"), str):
            props["Location"] = os.path.join(base, props["Location"])
        elif kind == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["DefinitionUri"] = with_timeouts(os.path.join(base, props["DefinitionUri"]), out_dir)
    with open(os.path.join(out_dir, "template.json"), "w") as f:
        json.dump(template, f, indent=1, default=str)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
