#!/usr/bin/env python3
"""Builds the runbooks stack: one AWS::SSM::Document per file in runbooks/, and the role
Automation assumes to run them, as the CloudFormation template runbooks/stack.json.

template.yaml deploys runbooks/stack.json as a nested stack (resource `Runbooks`, parameter
DeployRunbooks), so one `sam deploy` ships the runbooks with the loop. It stays a stack of its own
because the local emulator rejects AWS::SSM::Document: the local stack leaves it out. Member
accounts whose incidents the loop may mitigate deploy the same template (a StackSet beside the
forwarder's) with RoleName=<MemberRoleName>-ssm, so the loop can name the role it passes to SSM.

usage: runbooks_stack.py           rewrite runbooks/stack.json from runbooks/*.yaml
       runbooks_stack.py --check   fail if runbooks/stack.json is not what runbooks/*.yaml make
"""
import glob
import json
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STACK = os.path.join(ROOT, "runbooks", "stack.json")

# Exactly the API calls the runbooks make, and nothing else.
ACTIONS = [
    "arc-zonal-shift:StartZonalShift",
    "arc-zonal-shift:ListZonalShifts",
    "lambda:UpdateAlias",
    "lambda:GetAlias",
    "ecs:UpdateService",
    "ecs:DescribeServices",
    "ecs:ListTasks",
    "ecs:StopTask",
    "ecs:TagResource",
    "codedeploy:StopDeployment",
    "codedeploy:GetDeployment",
    "cloudformation:CancelUpdateStack",
    "cloudformation:DescribeStacks",
    "ssm:GetParameter",
    "ssm:PutParameter",
]


def main() -> str:
    resources = {
        "IncidentLoopRunbookRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": {"Service": "ssm.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                    }],
                },
                # Named in a member account, where the loop passes it by name; generated at home.
                "RoleName": {"Fn::If": [
                    "Named",
                    {"Fn::Sub": "${RoleName}-${AWS::Region}"},
                    {"Ref": "AWS::NoValue"},
                ]},
                "Policies": [{
                    "PolicyName": "incident-loop-runbooks",
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        # The runbooks act on the user's own resources, which this stack cannot
                        # name; every run is approved by a catalog approver first.
                        "Statement": [{"Effect": "Allow", "Action": ACTIONS, "Resource": "*"}],
                    },
                }],
            },
        }
    }
    outputs = {"RunbookRoleArn": {"Value": {"Fn::GetAtt": ["IncidentLoopRunbookRole", "Arn"]}}}
    for path in sorted(glob.glob(os.path.join(ROOT, "runbooks", "*.yaml"))):
        name = os.path.splitext(os.path.basename(path))[0]
        logical = name.replace("-", "")
        with open(path) as f:
            content = yaml.safe_load(f)
        resources[logical] = {
            "Type": "AWS::SSM::Document",
            "Properties": {
                "Name": name,
                "DocumentType": "Automation",
                "DocumentFormat": "YAML",
                "UpdateMethod": "NewVersion",
                "Content": content,
            },
        }
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "incident-loop mitigation runbooks (SSM Automation) and the role they run as.",
        "Parameters": {
            "RoleName": {
                "Type": "String",
                "Default": "",
                "MaxLength": 44,
                "AllowedPattern": "^[A-Za-z0-9+=,.@_-]*$",
                "Description": "In a member account, <MemberRoleName>-ssm: the role is then named "
                "<RoleName>-<region>, which the loop passes to SSM there. Empty (the home stack's "
                "nested stack): a generated name.",
            },
        },
        "Conditions": {"Named": {"Fn::Not": [{"Fn::Equals": [{"Ref": "RoleName"}, ""]}]}},
        "Resources": resources,
        "Outputs": outputs,
    }
    return json.dumps(template, indent=1) + "\n"


if __name__ == "__main__":
    built = main()
    if sys.argv[1:] == ["--check"]:
        with open(STACK) as f:
            if f.read() != built:
                sys.exit(f"{STACK} is out of date with runbooks/*.yaml: run scripts/runbooks_stack.py")
    elif sys.argv[1:]:
        sys.exit(__doc__)
    else:
        with open(STACK, "w") as f:
            f.write(built)
